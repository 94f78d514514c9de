// Fuzzing the control-plane acceptance rules (report_rules.hpp) behind the
// report parser: whatever a line parses to, judged against one small fixed
// match in every state, the verdict follows the documented order (stale,
// token, ended, then the status's rules), an accepted END names players only
// and each result once, a refusal names what is actually wrong, and its
// sentence makes one valid reply line.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/protocol/report.hpp"
#include "platform/protocol/report_rules.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::protocol;

// The match of the seed corpus (tests/fuzz/corpus/report_rules).
constexpr std::int64_t kRoom = 3;
constexpr const char* kMatchId = "m-20240101-000042";
constexpr const char* kToken = "3f9a1c0e5b7d42a8a1b2c3d4e5f60718";
constexpr int kPort = 40001;
const std::vector<std::string> kPlayers{"alice", "bob", "carol"};

bool is_player(const std::vector<std::string>& players, const std::string& name) {
    return std::find(players.begin(), players.end(), name) != players.end();
}

bool same_verdict(const std::optional<Refusal>& a, const std::optional<Refusal>& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    return !a || (a->reason == b->reason && refusal_sentence(*a) == refusal_sentence(*b));
}

void check_refusal_reply(const Refusal& refusal) {
    const std::string_view name = to_string(refusal.reason);
    FUZZ_CHECK(!name.empty() && name != "unknown");
    FUZZ_CHECK(report_refusal_from_string(name) == refusal.reason);
    const std::string sentence = refusal_sentence(refusal);
    FUZZ_CHECK(!sentence.empty());
    const std::string reply = encode_report_reply_error(sentence);
    FUZZ_CHECK(!reply.empty() && reply.back() == '\n' && reply.find('\n') == reply.size() - 1);
    const auto json = nlohmann::json::parse(reply);
    FUZZ_CHECK(json.at("ok") == false);
    FUZZ_CHECK(json.at("error") == sentence);
}

// check_end's verdict against `players`, checked for what it claims.
std::optional<Refusal> judged_end(const Report& report, const std::vector<std::string>& players) {
    const auto verdict = check_end(report, players);
    FUZZ_CHECK(same_verdict(verdict, check_end(report, players)));
    if (!verdict) {
        for (const auto* name : {&report.winner, &report.loser}) {
            FUZZ_CHECK(!*name || is_player(players, **name));
        }
        FUZZ_CHECK(!report.winner || !report.loser || *report.winner != *report.loser);
        if (report.results) {
            std::set<std::string> named;
            for (const auto& result : *report.results) {
                FUZZ_CHECK(is_player(players, result.player));
                FUZZ_CHECK(named.insert(result.player).second);
            }
        }
        return verdict;
    }
    check_refusal_reply(*verdict);
    const Refusal& refusal = *verdict;
    // The player named in "results[i].player", or nullptr for another field.
    auto result_named = [&]() -> const PlayerResult* {
        if (!report.results) {
            return nullptr;
        }
        for (std::size_t i = 0; i < report.results->size(); ++i) {
            if (refusal.field == "results[" + std::to_string(i) + "].player") {
                return &(*report.results)[i];
            }
        }
        return nullptr;
    };
    FUZZ_CHECK(refusal.reason == ReportRefusal::NotAPlayer ||
               refusal.reason == ReportRefusal::NamedTwice ||
               refusal.reason == ReportRefusal::WinnerIsLoser);
    switch (refusal.reason) {
        case ReportRefusal::NotAPlayer: {
            FUZZ_CHECK(!is_player(players, refusal.player));
            if (refusal.field == "winner") {
                FUZZ_CHECK(report.winner == refusal.player);
            } else if (refusal.field == "loser") {
                FUZZ_CHECK(report.loser == refusal.player);
            } else {
                const PlayerResult* result = result_named();
                FUZZ_CHECK(result != nullptr && result->player == refusal.player);
            }
            break;
        }
        case ReportRefusal::NamedTwice: {
            FUZZ_CHECK(is_player(players, refusal.player));
            const PlayerResult* result = result_named();
            FUZZ_CHECK(result != nullptr && result->player == refusal.player);
            FUZZ_CHECK(std::count_if(report.results->data(), result, [&](const PlayerResult& r) {
                           return r.player == refusal.player;
                       }) == 1);
            break;
        }
        case ReportRefusal::WinnerIsLoser:
            FUZZ_CHECK(report.winner == refusal.player && report.loser == refusal.player);
            FUZZ_CHECK(is_player(players, refusal.player));
            break;
        default:
            break;
    }
    return verdict;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parsed = parse_report(input);
    const Report* report = std::get_if<Report>(&parsed);
    if (report == nullptr) {
        return 0;  // the parser's own invariants are fuzz_report's
    }

    const auto end_verdict = judged_end(*report, kPlayers);
    // More players can only accept more: nothing becomes a stranger or a
    // duplicate. No players accept no names at all.
    if (!end_verdict) {
        std::vector<std::string> more = kPlayers;
        more.push_back("zed");
        FUZZ_CHECK(!judged_end(*report, more));
    }
    const bool names_anyone =
        report->winner || report->loser || (report->results && !report->results->empty());
    FUZZ_CHECK(judged_end(*report, {}).has_value() == names_anyone);

    const bool current = report->room_id == kRoom && report->match_id == kMatchId;
    const bool token = report->report_token == kToken;
    for (int state = 0; state < 8; ++state) {
        MatchFacts match;
        match.room_id = kRoom;
        match.match_id = kMatchId;
        match.players = kPlayers;
        match.port = kPort;
        match.started = (state & 1) != 0;
        match.ended = (state & 2) != 0;
        match.server_exited = (state & 4) != 0;
        const auto verdict = check_report(*report, match, token);
        if (verdict) {
            check_refusal_reply(*verdict);
        }
        if (!current) {
            FUZZ_CHECK(verdict && verdict->reason == ReportRefusal::StaleMatch);
            continue;
        }
        if (!token) {
            FUZZ_CHECK(verdict && verdict->reason == ReportRefusal::WrongToken);
            continue;
        }
        if (match.ended) {
            FUZZ_CHECK(verdict && verdict->reason == ReportRefusal::MatchEnded);
            continue;
        }
        switch (report->status) {
            case ReportStatus::Started:
                FUZZ_CHECK(same_verdict(verdict, check_started(*report, match)));
                FUZZ_CHECK(verdict.has_value() ==
                           (match.started || match.server_exited || report->port != kPort));
                break;
            case ReportStatus::End:
                FUZZ_CHECK(same_verdict(verdict, end_verdict));
                break;
            case ReportStatus::Heartbeat:
            case ReportStatus::Error:
                FUZZ_CHECK(!verdict);
                break;
        }
    }

    // A room without a current match refuses everything as stale.
    MatchFacts none;
    none.room_id = kRoom;
    const auto stale = check_report(*report, none, token);
    FUZZ_CHECK(stale && stale->reason == ReportRefusal::StaleMatch);
    return 0;
}
