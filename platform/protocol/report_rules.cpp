#include "platform/protocol/report_rules.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "platform/protocol/redact.hpp"

namespace gamestore::protocol {

namespace {

constexpr std::array<std::pair<ReportRefusal, std::string_view>, kReportRefusalCount> kNames{{
    {ReportRefusal::StaleMatch, "stale_match"},
    {ReportRefusal::WrongToken, "wrong_token"},
    {ReportRefusal::MatchEnded, "match_ended"},
    {ReportRefusal::AlreadyStarted, "already_started"},
    {ReportRefusal::ServerExited, "server_exited"},
    {ReportRefusal::WrongPort, "wrong_port"},
    {ReportRefusal::NotAPlayer, "not_a_player"},
    {ReportRefusal::NamedTwice, "named_twice"},
    {ReportRefusal::WinnerIsLoser, "winner_is_loser"},
}};

constexpr bool tables_agree() {
    for (std::size_t i = 0; i < kReportRefusalCount; ++i) {
        if (index_of(kReportRefusals[i]) != i || kNames[i].first != kReportRefusals[i]) {
            return false;
        }
    }
    return true;
}
static_assert(tables_agree(),
              "kReportRefusals and the name table must list every ReportRefusal in declaration "
              "order");

Refusal refuse(ReportRefusal reason, std::string match_id) {
    Refusal refusal;
    refusal.reason = reason;
    refusal.match_id = std::move(match_id);
    return refusal;
}

Refusal refuse_name(ReportRefusal reason, std::string field, std::string player) {
    Refusal refusal;
    refusal.reason = reason;
    refusal.field = std::move(field);
    refusal.player = std::move(player);
    return refusal;
}

}  // namespace

std::string_view to_string(ReportRefusal refusal) {
    const std::size_t index = index_of(refusal);
    // Only out of range through a cast of a foreign integer.
    return index < kNames.size() ? kNames[index].second : std::string_view("unknown");
}

std::optional<ReportRefusal> report_refusal_from_string(std::string_view text) {
    for (const auto& [value, name] : kNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

std::string refusal_sentence(const Refusal& refusal) {
    const std::string match = printable(refusal.match_id);
    switch (refusal.reason) {
        case ReportRefusal::StaleMatch:
            return "match " + match + " is not the current match of room " +
                   std::to_string(refusal.room_id);
        case ReportRefusal::WrongToken:
            return "wrong report_token for match " + match;
        case ReportRefusal::MatchEnded:
            return "match " + match + " has already ended";
        case ReportRefusal::AlreadyStarted:
            return "STARTED was already accepted for match " + match;
        case ReportRefusal::ServerExited:
            return "the game server of match " + match + " has already exited";
        case ReportRefusal::WrongPort:
            return "STARTED must echo the assigned port " + std::to_string(refusal.port);
        case ReportRefusal::NotAPlayer:
            return refusal.field + " '" + printable(refusal.player) +
                   "' is not a player of this match";
        case ReportRefusal::NamedTwice:
            return refusal.field + " '" + printable(refusal.player) + "' is named twice";
        case ReportRefusal::WinnerIsLoser:
            return "winner and loser are the same player '" + printable(refusal.player) + "'";
    }
    return "report refused (" + std::string(to_string(refusal.reason)) + ")";
}

std::optional<Refusal> check_end(const Report& report, const std::vector<std::string>& players) {
    auto is_player = [&](const std::string& name) {
        return std::find(players.begin(), players.end(), name) != players.end();
    };
    for (const auto& [field, name] :
         {std::pair{"winner", &report.winner}, std::pair{"loser", &report.loser}}) {
        if (*name && !is_player(**name)) {
            return refuse_name(ReportRefusal::NotAPlayer, field, **name);
        }
    }
    if (report.winner && report.loser && *report.winner == *report.loser) {
        return refuse_name(ReportRefusal::WinnerIsLoser, "", *report.winner);
    }
    if (report.results) {
        std::set<std::string_view> named;
        for (std::size_t i = 0; i < report.results->size(); ++i) {
            const auto& player = (*report.results)[i].player;
            const std::string field = "results[" + std::to_string(i) + "].player";
            if (!is_player(player)) {
                return refuse_name(ReportRefusal::NotAPlayer, field, player);
            }
            if (!named.insert(player).second) {
                return refuse_name(ReportRefusal::NamedTwice, field, player);
            }
        }
    }
    return std::nullopt;
}

std::vector<std::string> unnamed_players(const Report& report,
                                         const std::vector<std::string>& players) {
    std::set<std::string_view> named;
    if (report.results) {
        for (const auto& result : *report.results) {
            named.insert(result.player);
        }
    } else {
        for (const auto* name : {&report.winner, &report.loser}) {
            if (*name) {
                named.insert(**name);
            }
        }
    }
    std::vector<std::string> unnamed;
    for (const auto& player : players) {
        if (!named.count(player)) {
            unnamed.push_back(player);
        }
    }
    return unnamed;
}

std::optional<Refusal> check_started(const Report& report, const MatchFacts& match) {
    if (match.started) {
        return refuse(ReportRefusal::AlreadyStarted, match.match_id);
    }
    if (match.server_exited) {
        return refuse(ReportRefusal::ServerExited, match.match_id);
    }
    if (!report.port || *report.port != match.port) {
        Refusal refusal = refuse(ReportRefusal::WrongPort, match.match_id);
        refusal.port = match.port;
        return refusal;
    }
    return std::nullopt;
}

std::optional<Refusal> check_report(const Report& report, const MatchFacts& match,
                                    bool token_matches) {
    if (match.match_id.empty() || report.room_id != match.room_id ||
        report.match_id != match.match_id) {
        Refusal refusal = refuse(ReportRefusal::StaleMatch, report.match_id);
        refusal.room_id = report.room_id;
        return refusal;
    }
    if (!token_matches) {
        return refuse(ReportRefusal::WrongToken, match.match_id);
    }
    if (match.ended) {
        return refuse(ReportRefusal::MatchEnded, match.match_id);
    }
    switch (report.status) {
        case ReportStatus::Started:
            return check_started(report, match);
        case ReportStatus::End:
            return check_end(report, match.players);
        case ReportStatus::Heartbeat:
        case ReportStatus::Error:
            return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace gamestore::protocol
