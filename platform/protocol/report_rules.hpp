#pragma once
// Whether a well-formed control-plane report (report.hpp) is accepted for a
// match: the rules of docs/PROTOCOL.md "Control plane", as pure functions of
// the report and what the caller knows about the match. The platform's
// report endpoint decides its replies with them; any other judge of a game's
// reports (one that has the match's ids and players, not the platform's
// rooms) gets the same verdicts and the same sentences.
//
// ReportRefusal is a closed set: games and tests read the sentences, the
// platform counts refusals per value (server.stats). A new value changes the
// protocol: add it here, to the name table in report_rules.cpp, to
// kReportRefusals and to docs/PROTOCOL.md "Refusals" together.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/protocol/report.hpp"

namespace gamestore::protocol {

enum class ReportRefusal {
    // The room has no current match, or the report's room_id/match_id is not
    // it: a late report of an earlier match, or a guess. Checked first.
    StaleMatch,
    // The right room and match, but not the match's report_token (forged, or
    // a token of another match).
    WrongToken,
    // The match already has its result: an END or ERROR was accepted, or the
    // platform ended it (exit, timeout, abort). The first result stands.
    MatchEnded,
    // A second STARTED after one was accepted for the match.
    AlreadyStarted,
    // STARTED after the game server's process exited: players would be sent
    // to a server that is gone.
    ServerExited,
    // STARTED whose port is not the one the match was given (PORT).
    WrongPort,
    // END names someone who is not a player of the match, in winner, loser
    // or a results[i].player.
    NotAPlayer,
    // END's results name one player in two entries.
    NamedTwice,
    // END's winner and loser are the same player.
    WinnerIsLoser,
};

inline constexpr std::size_t kReportRefusalCount = 9;

// Every value once, in declaration order: the index of a value is its
// position here (counters are arrays indexed by it).
inline constexpr std::array<ReportRefusal, kReportRefusalCount> kReportRefusals{
    ReportRefusal::StaleMatch,     ReportRefusal::WrongToken,   ReportRefusal::MatchEnded,
    ReportRefusal::AlreadyStarted, ReportRefusal::ServerExited, ReportRefusal::WrongPort,
    ReportRefusal::NotAPlayer,     ReportRefusal::NamedTwice,   ReportRefusal::WinnerIsLoser,
};

constexpr std::size_t index_of(ReportRefusal refusal) {
    return static_cast<std::size_t>(refusal);
}

// The stable snake_case name, e.g. "stale_match" (server.stats keys, logs).
std::string_view to_string(ReportRefusal refusal);

// Inverse of to_string (exact match); nullopt for unknown text.
std::optional<ReportRefusal> report_refusal_from_string(std::string_view text);

// What the judge knows about the match a report claims to speak for.
struct MatchFacts {
    std::int64_t room_id = 0;
    // The room's current match; empty when the room has none (or does not
    // exist), which makes every report stale.
    std::string match_id;
    std::vector<std::string> players;  // the match's player names (exact spelling)
    int port = 0;                      // the port the game server was given
    bool started = false;              // a STARTED was accepted
    bool ended = false;                // the match has its result (see MatchEnded)
    bool server_exited = false;        // the game server's process is known to have exited
};

// A refused report: why, and what the sentence names. Only the members the
// reason's sentence uses are set.
struct Refusal {
    ReportRefusal reason = ReportRefusal::StaleMatch;
    // StaleMatch: the report's match_id and room_id; otherwise the match's id.
    std::string match_id;
    std::int64_t room_id = 0;
    int port = 0;        // WrongPort: the port the match was given
    std::string field;   // NotAPlayer, NamedTwice: "winner", "loser" or "results[i].player"
    std::string player;  // NotAPlayer, NamedTwice, WinnerIsLoser: the name as the report wrote it
};

// The sentence sent to the game as {"ok":false,"error":"..."}, e.g.
// "winner 'mallory' is not a player of this match". Untrusted text in it
// goes through printable().
std::string refusal_sentence(const Refusal& refusal);

// END's rules about names: winner and loser (in that order) must be players
// and not the same one; each results[i].player must be a player, named
// once. The first broken rule refuses the whole report. nullopt accepts.
// Only `players` matters here, so a caller that checks results alone
// needs no other facts.
std::optional<Refusal> check_end(const Report& report, const std::vector<std::string>& players);

// The match's players an accepted END records no outcome for: not in its
// results, or (without results) neither its winner nor its loser. The
// platform accepts such an END and records outcomes for the others only;
// docs/PROTOCOL.md says END SHOULD name every player.
std::vector<std::string> unnamed_players(const Report& report,
                                         const std::vector<std::string>& players);

// STARTED's rules: the first one only, while the game server runs, echoing
// the match's port. nullopt accepts.
std::optional<Refusal> check_started(const Report& report, const MatchFacts& match);

// Every rule, in the order the platform applies them: the current match,
// then the token, then the match not having ended, then the rules of the
// report's status (check_started, check_end; HEARTBEAT and ERROR have none).
// `token_matches` is the caller's comparison of report.report_token with the
// match's token (the platform compares secrets in constant time); it is
// not consulted for a stale report. nullopt accepts.
std::optional<Refusal> check_report(const Report& report, const MatchFacts& match,
                                    bool token_matches);

}  // namespace gamestore::protocol
