#include "platform/protocol/report.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

#include "platform/protocol/json_codec.hpp"
#include "platform/protocol/redact.hpp"

namespace gamestore::protocol {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<ReportStatus, std::string_view>, 4> kStatusNames{{
    {ReportStatus::Started, "STARTED"},
    {ReportStatus::Heartbeat, "HEARTBEAT"},
    {ReportStatus::End, "END"},
    {ReportStatus::Error, "ERROR"},
}};

constexpr std::array<std::pair<Outcome, std::string_view>, 5> kOutcomeNames{{
    {Outcome::Win, "WIN"},
    {Outcome::Lose, "LOSE"},
    {Outcome::Draw, "DRAW"},
    {Outcome::Quit, "QUIT"},
    {Outcome::Error, "ERROR"},
}};

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// Thrown inside the parser only; parse_report turns it into a ReportError so
// the many early exits stay one line each.
struct Failure {
    ReportError::Kind kind;
    std::string field;
    std::string message;
};

class ReportParser {
  public:
    explicit ReportParser(const json& object) : object_(object) {}

    Report parse() {
        report_.status = parse_status();
        subject_ = std::string(to_string(report_.status)) + " report";
        check_type();

        report_.room_id = parse_room_id();
        report_.report_token = required_non_empty_string("report_token");
        report_.match_id = required_non_empty_string("match_id");
        report_.timestamp = parse_timestamp();
        if (const json* details = member(object_, "details")) {
            report_.details = *details;
        }

        switch (report_.status) {
            case ReportStatus::Started:
                parse_started();
                break;
            case ReportStatus::Heartbeat:
                break;
            case ReportStatus::End:
                parse_end();
                break;
            case ReportStatus::Error:
                parse_error();
                break;
        }
        return std::move(report_);
    }

  private:
    // A member, treating an explicit null like an absent member: games often
    // serialise unset optionals as null.
    static const json* member(const json& object, std::string_view key) {
        const auto it = object.find(key);
        if (it == object.end() || it->is_null()) {
            return nullptr;
        }
        return &*it;
    }

    [[noreturn]] void missing(const std::string& field) const {
        throw Failure{ReportError::Kind::MissingField, field,
                      subject_ + " is missing required field '" + field + "'"};
    }

    [[noreturn]] void wrong_type(const std::string& field, std::string_view expected,
                                 const json& got) const {
        throw Failure{ReportError::Kind::WrongType, field,
                      subject_ + " field '" + field + "' must be " + std::string(expected) +
                          ", got " + std::string(json_type_name(got))};
    }

    [[noreturn]] void invalid(const std::string& field, const std::string& why) const {
        throw Failure{ReportError::Kind::InvalidValue, field,
                      subject_ + " field '" + field + "' " + why};
    }

    void check_type() const {
        const json* type = member(object_, "type");
        if (type == nullptr) {
            return;
        }
        if (!type->is_string()) {
            wrong_type("type", "the string \"GAME.REPORT\"", *type);
        }
        if (type->get_ref<const std::string&>() != "GAME.REPORT") {
            invalid("type", "must be \"GAME.REPORT\" when present, got \"" +
                                printable(type->get_ref<const std::string&>()) + "\"");
        }
    }

    ReportStatus parse_status() const {
        const json* status = member(object_, "status");
        if (status == nullptr) {
            missing("status");
        }
        if (!status->is_string()) {
            wrong_type("status", "a string (STARTED, HEARTBEAT, END or ERROR)", *status);
        }
        const auto& text = status->get_ref<const std::string&>();
        if (auto known = report_status_from_string(text)) {
            return *known;
        }
        std::string message = "Report status \"" + printable(text) +
                              "\" is not one of STARTED, HEARTBEAT, END, ERROR";
        if (report_status_from_string(upper(text))) {
            message += " (status names are upper case)";
        }
        throw Failure{ReportError::Kind::UnknownStatus, "status", std::move(message)};
    }

    // An integer, or a string of decimal digits: games often forward the
    // ROOM_ID/PORT they were given as text without converting it.
    std::int64_t integer_or_digits(const std::string& field, const json& value) const {
        constexpr std::string_view expected = "an integer or a string of decimal digits";
        if (value.is_number_integer()) {
            const auto v = json_to_int64(value);
            if (!v) {
                invalid(field, "is too large");
            }
            return *v;
        }
        if (!value.is_string()) {
            wrong_type(field, expected, value);
        }
        const auto& text = value.get_ref<const std::string&>();
        const auto v = decimal_digits_to_int64(text);
        if (!v) {
            const bool digits =
                !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
            if (digits) {
                invalid(field, "is too large");
            }
            invalid(field,
                    "must be " + std::string(expected) + ", got \"" + printable(text) + "\"");
        }
        return *v;
    }

    // A number, or a string that is one whole decimal number ("12.5"):
    // games that build their reports from text.
    double number_or_numeric_text(const std::string& field, const json& value) const {
        if (value.is_number()) {
            return value.get<double>();
        }
        if (!value.is_string()) {
            wrong_type(field, "a number or a string of one", value);
        }
        const auto& text = value.get_ref<const std::string&>();
        double parsed = 0.0;
        const auto* first = text.data();
        const auto* last = text.data() + text.size();
        const auto [end, ec] = std::from_chars(first, last, parsed);
        if (text.empty() || ec != std::errc() || end != last || !std::isfinite(parsed)) {
            invalid(field, "must be a number, got \"" + printable(text) + "\"");
        }
        return parsed;
    }

    std::int64_t parse_room_id() const {
        const json* value = member(object_, "room_id");
        if (value == nullptr) {
            missing("room_id");
        }
        const std::int64_t room_id = integer_or_digits("room_id", *value);
        if (room_id < 0) {
            invalid("room_id", "must not be negative, got " + std::to_string(room_id));
        }
        return room_id;
    }

    std::string required_non_empty_string(const std::string& field) const {
        const json* value = member(object_, field);
        if (value == nullptr) {
            missing(field);
        }
        if (!value->is_string()) {
            wrong_type(field, "a string", *value);
        }
        if (value->get_ref<const std::string&>().empty()) {
            invalid(field, "must not be empty");
        }
        return value->get<std::string>();
    }

    std::optional<std::string> optional_string(const std::string& field) const {
        const json* value = member(object_, field);
        if (value == nullptr) {
            return std::nullopt;
        }
        if (!value->is_string()) {
            wrong_type(field, "a string", *value);
        }
        return value->get<std::string>();
    }

    // winner/loser: an empty string is how many games write "nobody" (a
    // draw), so it counts as absent like null.
    std::optional<std::string> optional_name(const std::string& field) {
        auto name = optional_string(field);
        if (name && name->empty()) {
            report_.tolerated.push_back(field +
                                        " is \"\"; it was read as absent (omit it, or send "
                                        "null, when there is none)");
            return std::nullopt;
        }
        return name;
    }

    std::optional<double> parse_timestamp() {
        // Games call it "timestamp" in general and "ts" in HEARTBEAT (the
        // original prototype's names); accept either in every report,
        // "timestamp" first. It is informational, so a value of another type
        // (an ISO date string, say) is ignored rather than refusing the
        // report.
        for (const char* field : {"timestamp", "ts"}) {
            if (const json* value = member(object_, field)) {
                if (value->is_number()) {
                    return value->get<double>();
                }
                report_.tolerated.push_back(std::string(field) + " is " +
                                            std::string(json_type_name(*value)) +
                                            ", not a number of seconds; it was ignored");
                return std::nullopt;
            }
        }
        return std::nullopt;
    }

    void parse_started() {
        const json* port = member(object_, "port");
        if (port == nullptr) {
            missing("port");
        }
        const std::int64_t value = integer_or_digits("port", *port);
        if (value < 1 || value > 65535) {
            invalid("port", "must be between 1 and 65535, got " + std::to_string(value));
        }
        report_.port = static_cast<int>(value);

        if (const json* version = member(object_, "protocol_version")) {
            const std::int64_t v = integer_or_digits("protocol_version", *version);
            if (v < 1 || v > 1'000'000) {
                invalid("protocol_version",
                        "must be an integer from 1 to 1000000, got " + dump_json(*version));
            }
            report_.protocol_version = static_cast<int>(v);
        }
    }

    PlayerResult parse_result(const json& entry, const std::string& at) const {
        if (!entry.is_object()) {
            wrong_type(at, "an object", entry);
        }
        PlayerResult result;

        const json* player = member(entry, "player");
        if (player == nullptr) {
            missing(at + ".player");
        }
        if (!player->is_string()) {
            wrong_type(at + ".player", "a string", *player);
        }
        if (player->get_ref<const std::string&>().empty()) {
            invalid(at + ".player", "must not be empty");
        }
        result.player = player->get<std::string>();

        const json* outcome = member(entry, "outcome");
        if (outcome == nullptr) {
            missing(at + ".outcome");
        }
        if (!outcome->is_string()) {
            wrong_type(at + ".outcome", "a string (WIN, LOSE, DRAW, QUIT or ERROR)", *outcome);
        }
        const auto& outcome_text = outcome->get_ref<const std::string&>();
        const auto parsed_outcome = outcome_from_string(outcome_text);
        if (!parsed_outcome) {
            std::string why = "must be one of WIN, LOSE, DRAW, QUIT, ERROR, got \"" +
                              printable(outcome_text) + "\"";
            if (outcome_from_string(upper(outcome_text))) {
                why += " (outcome names are upper case)";
            }
            invalid(at + ".outcome", why);
        }
        result.outcome = *parsed_outcome;

        if (const json* rank = member(entry, "rank")) {
            result.rank = integer_or_digits(at + ".rank", *rank);
        }
        if (const json* score = member(entry, "score")) {
            result.score = number_or_numeric_text(at + ".score", *score);
        }
        if (const json* player_id = member(entry, "player_id")) {
            result.player_id = integer_or_digits(at + ".player_id", *player_id);
        }
        if (const json* extra = member(entry, "extra")) {
            if (!extra->is_object()) {
                wrong_type(at + ".extra", "an object", *extra);
            }
            result.extra = *extra;
        }
        return result;
    }

    void parse_end() {
        if (const json* results = member(object_, "results")) {
            if (!results->is_array()) {
                wrong_type("results", "an array", *results);
            }
            std::vector<PlayerResult> parsed;
            parsed.reserve(results->size());
            for (std::size_t i = 0; i < results->size(); ++i) {
                parsed.push_back(parse_result((*results)[i], "results[" + std::to_string(i) + "]"));
            }
            report_.results = std::move(parsed);
        }
        report_.winner = optional_name("winner");
        report_.loser = optional_name("loser");
        report_.reason = optional_string("reason");
        if (const json* stats = member(object_, "stats")) {
            report_.stats = *stats;
        }
    }

    void parse_error() {
        // Games written before the spec say "message" or "error"; the first
        // present wins. No message at all is allowed: the status says enough.
        report_.err_msg = std::string();
        for (const char* field : {"err_msg", "message", "error"}) {
            if (const json* value = member(object_, field)) {
                if (!value->is_string()) {
                    wrong_type(field, "a string", *value);
                }
                report_.err_msg = value->get<std::string>();
                return;
            }
        }
    }

    const json& object_;
    Report report_;
    std::string subject_ = "Report";
};

}  // namespace

std::string_view to_string(ReportStatus status) {
    for (const auto& [value, name] : kStatusNames) {
        if (value == status) {
            return name;
        }
    }
    return "UNKNOWN";
}

std::string_view to_string(Outcome outcome) {
    for (const auto& [value, name] : kOutcomeNames) {
        if (value == outcome) {
            return name;
        }
    }
    return "UNKNOWN";
}

std::optional<ReportStatus> report_status_from_string(std::string_view text) {
    for (const auto& [value, name] : kStatusNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

std::optional<Outcome> outcome_from_string(std::string_view text) {
    for (const auto& [value, name] : kOutcomeNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

std::variant<Report, ReportError> parse_report(std::string_view line) {
    std::string error;
    auto parsed = parse_json_text(line, error);
    if (!parsed) {
        return ReportError{ReportError::Kind::BadJson, {}, "Report " + error, {}};
    }
    if (!parsed->is_object()) {
        return ReportError{
            ReportError::Kind::NotObject,
            {},
            "Report must be a JSON object, got " + std::string(json_type_name(*parsed)),
            {}};
    }
    std::string match_id;
    if (const auto it = parsed->find("match_id"); it != parsed->end() && it->is_string()) {
        match_id = it->get<std::string>();
    }
    try {
        return ReportParser(*parsed).parse();
    } catch (Failure& failure) {
        return ReportError{failure.kind, std::move(failure.field), std::move(failure.message),
                           std::move(match_id)};
    }
}

std::string encode_report(const Report& report) {
    JsonLineWriter writer;
    writer.field("type", "GAME.REPORT")
        .field("room_id", report.room_id)
        .field("report_token", report.report_token)
        .field("match_id", report.match_id)
        .field("status", to_string(report.status));
    switch (report.status) {
        case ReportStatus::Started:
            if (report.port) {
                writer.field("port", *report.port);
            }
            writer.field("protocol_version", report.protocol_version);
            break;
        case ReportStatus::Heartbeat:
            break;
        case ReportStatus::End:
            if (report.results) {
                json results = json::array();
                for (const auto& r : *report.results) {
                    json entry = {{"player", r.player},
                                  {"outcome", to_string(r.outcome)},
                                  {"rank", r.rank ? json(*r.rank) : json(nullptr)},
                                  {"score", r.score ? json(*r.score) : json(nullptr)}};
                    if (r.player_id) {
                        entry["player_id"] = *r.player_id;
                    }
                    if (!r.extra.is_null()) {
                        entry["extra"] = r.extra;
                    }
                    results.push_back(std::move(entry));
                }
                writer.field("results", results);
            }
            if (report.winner) {
                writer.field("winner", *report.winner);
            }
            if (report.loser) {
                writer.field("loser", *report.loser);
            }
            if (report.reason) {
                writer.field("reason", *report.reason);
            }
            if (!report.stats.is_null()) {
                writer.field("stats", report.stats);
            }
            break;
        case ReportStatus::Error:
            if (report.err_msg) {
                writer.field("err_msg", *report.err_msg);
            }
            break;
    }
    if (report.timestamp) {
        writer.field(report.status == ReportStatus::Heartbeat ? "ts" : "timestamp",
                     *report.timestamp);
    }
    if (!report.details.is_null()) {
        writer.field("details", report.details);
    }
    return writer.finish();
}

std::string encode_report_reply_ok() {
    return "{\"ok\":true}\n";
}

std::string encode_report_reply_error(std::string_view sentence) {
    return JsonLineWriter().field("ok", false).field("error", sentence).finish();
}

}  // namespace gamestore::protocol
