#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/report.hpp"

using namespace gamestore::protocol;
using nlohmann::json;
using Kind = ReportError::Kind;

namespace {

const std::string kToken = "3f9a1c0e5b7d42a8a1b2c3d4e5f60718";

json base(const char* status) {
    return {{"room_id", 3}, {"report_token", kToken}, {"match_id", "m-42"}, {"status", status}};
}

json valid(const std::string& status) {
    json j = base(status.c_str());
    if (status == "STARTED") {
        j["port"] = 40001;
    } else if (status == "ERROR") {
        j["err_msg"] = "boom";
    }
    return j;
}

Report parse_ok(const json& j) {
    auto result = parse_report(j.dump());
    if (const auto* error = std::get_if<ReportError>(&result)) {
        FAIL("unexpected error: " << error->message);
    }
    return std::get<Report>(result);
}

ReportError parse_error(const std::string& line) {
    auto result = parse_report(line);
    REQUIRE(std::holds_alternative<ReportError>(result));
    return std::get<ReportError>(result);
}

ReportError parse_error(const json& j) {
    return parse_error(j.dump());
}

}  // namespace

TEST_CASE("report: valid reports of each status", "[report]") {
    SECTION("STARTED") {
        json j = valid("STARTED");
        j["protocol_version"] = 1;
        const Report r = parse_ok(j);
        CHECK(r.room_id == 3);
        CHECK(r.report_token == kToken);
        CHECK(r.match_id == "m-42");
        CHECK(r.status == ReportStatus::Started);
        CHECK(r.port == 40001);
        CHECK(r.protocol_version == 1);
        CHECK_FALSE(r.timestamp);
    }
    SECTION("STARTED protocol_version defaults to 1") {
        CHECK(parse_ok(valid("STARTED")).protocol_version == 1);
        json j = valid("STARTED");
        j["protocol_version"] = 2;
        CHECK(parse_ok(j).protocol_version == 2);
    }
    SECTION("HEARTBEAT with ts") {
        json j = valid("HEARTBEAT");
        j["ts"] = 1717171717.25;
        const Report r = parse_ok(j);
        CHECK(r.status == ReportStatus::Heartbeat);
        CHECK(r.timestamp == 1717171717.25);
        CHECK_FALSE(r.port);
    }
    SECTION("END with results and the optional fields") {
        json j = valid("END");
        j["results"] =
            json::array({{{"player", "alice"}, {"outcome", "WIN"}, {"rank", 1}, {"score", 10}},
                         {{"player", "bob"},
                          {"outcome", "LOSE"},
                          {"rank", nullptr},
                          {"score", 2.5},
                          {"player_id", 7},
                          {"extra", {{"guesses", 6}}}},
                         {{"player", "carl"}, {"outcome", "QUIT"}}});
        j["winner"] = "alice";
        j["loser"] = "bob";
        j["reason"] = "solved";
        j["stats"] = {{"turns", 12}};
        j["details"] = {{"log", "ok"}};
        j["timestamp"] = 100;
        const Report r = parse_ok(j);
        CHECK(r.status == ReportStatus::End);
        REQUIRE(r.results);
        REQUIRE(r.results->size() == 3);
        const auto& alice = (*r.results)[0];
        CHECK(alice.player == "alice");
        CHECK(alice.outcome == Outcome::Win);
        CHECK(alice.rank == 1);
        CHECK(alice.score == 10.0);
        CHECK_FALSE(alice.player_id);
        CHECK(alice.extra.is_null());
        const auto& bob = (*r.results)[1];
        CHECK(bob.outcome == Outcome::Lose);
        CHECK_FALSE(bob.rank);
        CHECK(bob.score == 2.5);
        CHECK(bob.player_id == 7);
        CHECK(bob.extra == json{{"guesses", 6}});
        const auto& carl = (*r.results)[2];
        CHECK(carl.outcome == Outcome::Quit);
        CHECK_FALSE(carl.rank);
        CHECK_FALSE(carl.score);
        CHECK(r.winner == "alice");
        CHECK(r.loser == "bob");
        CHECK(r.reason == "solved");
        CHECK(r.stats == json{{"turns", 12}});
        CHECK(r.details == json{{"log", "ok"}});
        CHECK(r.timestamp == 100.0);
    }
    SECTION("END with nothing but the common fields") {
        const Report r = parse_ok(valid("END"));
        CHECK_FALSE(r.results);
        CHECK_FALSE(r.winner);
        CHECK(r.stats.is_null());
    }
    SECTION("ERROR") {
        const Report r = parse_ok(valid("ERROR"));
        CHECK(r.status == ReportStatus::Error);
        CHECK(r.err_msg == "boom");
    }
}

TEST_CASE("report: tolerance rules", "[report]") {
    SECTION("GAME.REPORT from older games, with unknown extra fields") {
        json j = valid("HEARTBEAT");
        j["type"] = "GAME.REPORT";
        j["game"] = "Wordle";
        j["uptime_sec"] = 12;
        j["nested"] = {{"anything", json::array({1, 2, 3})}};
        CHECK(parse_ok(j).status == ReportStatus::Heartbeat);
    }
    SECTION("type other than GAME.REPORT is refused") {
        json j = valid("HEARTBEAT");
        j["type"] = "CHAT";
        const auto e = parse_error(j);
        CHECK(e.kind == Kind::InvalidValue);
        CHECK(e.field == "type");
        CHECK(e.message ==
              "HEARTBEAT report field 'type' must be \"GAME.REPORT\" when present, "
              "got \"CHAT\"");
    }
    SECTION("room_id and port as strings of decimal digits") {
        json j = valid("STARTED");
        j["room_id"] = "17";
        j["port"] = "40001";
        const Report r = parse_ok(j);
        CHECK(r.room_id == 17);
        CHECK(r.port == 40001);
    }
    SECTION("timestamp or ts, timestamp first") {
        json j = valid("END");
        j["ts"] = 5;
        CHECK(parse_ok(j).timestamp == 5.0);
        j["timestamp"] = 6.5;
        CHECK(parse_ok(j).timestamp == 6.5);
    }
    SECTION("a timestamp that is not a number is ignored, and noted") {
        json j = valid("HEARTBEAT");
        j["ts"] = "2026-12-05T21:30:00.123456";
        Report r = parse_ok(j);
        CHECK_FALSE(r.timestamp);
        REQUIRE(r.tolerated.size() == 1);
        CHECK(r.tolerated[0] == "ts is string, not a number of seconds; it was ignored");
        j = valid("END");
        j["timestamp"] = true;
        CHECK_FALSE(parse_ok(j).timestamp);
        j["timestamp"] = json::object({{"iso", "2026-12-05"}});
        CHECK_FALSE(parse_ok(j).timestamp);
        j["timestamp"] = 12;
        r = parse_ok(j);
        CHECK(r.timestamp == 12.0);
        CHECK(r.tolerated.empty());
    }
    SECTION("numeric strings where a number is expected") {
        json j = valid("STARTED");
        j["protocol_version"] = "1";
        j["port"] = "17001";
        j["room_id"] = "3";
        Report r = parse_ok(j);
        CHECK(r.protocol_version == 1);
        CHECK(r.port == 17001);
        CHECK(r.room_id == 3);
        j = valid("END");
        j["results"] = json::array({{{"player", "alice"},
                                     {"outcome", "WIN"},
                                     {"rank", "1"},
                                     {"score", "10.5"},
                                     {"player_id", "7"}}});
        r = parse_ok(j);
        REQUIRE(r.results);
        CHECK((*r.results)[0].rank == 1);
        CHECK((*r.results)[0].score == 10.5);
        CHECK((*r.results)[0].player_id == 7);
    }
    SECTION("an empty winner or loser is absent (a draw), and noted") {
        json j = valid("END");
        j["winner"] = "";
        j["loser"] = "";
        const Report r = parse_ok(j);
        CHECK_FALSE(r.winner);
        CHECK_FALSE(r.loser);
        CHECK(r.tolerated.size() == 2);
    }
    SECTION("ERROR message aliases, first present wins") {
        json j = base("ERROR");
        CHECK(parse_ok(j).err_msg == "");
        j["error"] = "from error";
        CHECK(parse_ok(j).err_msg == "from error");
        j["message"] = "from message";
        CHECK(parse_ok(j).err_msg == "from message");
        j["err_msg"] = "from err_msg";
        CHECK(parse_ok(j).err_msg == "from err_msg");
    }
    SECTION("null optional fields count as absent") {
        json j = valid("END");
        j["results"] = nullptr;
        j["winner"] = nullptr;
        j["ts"] = nullptr;
        j["type"] = nullptr;
        const Report r = parse_ok(j);
        CHECK_FALSE(r.results);
        CHECK_FALSE(r.winner);
        CHECK_FALSE(r.timestamp);
    }
    SECTION("CRLF-terminated line and surrounding whitespace") {
        auto result = parse_report("  " + valid("HEARTBEAT").dump() + " \r\n");
        CHECK(std::holds_alternative<Report>(result));
    }
    SECTION("fields meant for another status are ignored") {
        json j = valid("HEARTBEAT");
        j["port"] = "not a port";
        j["results"] = "not results";
        CHECK(parse_ok(j).status == ReportStatus::Heartbeat);
    }
}

TEST_CASE("report: every missing required field is named", "[report]") {
    const std::vector<std::pair<std::string, std::vector<std::string>>> required{
        {"STARTED", {"room_id", "report_token", "match_id", "status", "port"}},
        {"HEARTBEAT", {"room_id", "report_token", "match_id", "status"}},
        {"END", {"room_id", "report_token", "match_id", "status"}},
        {"ERROR", {"room_id", "report_token", "match_id", "status"}},
    };
    for (const auto& [status, fields] : required) {
        for (const auto& field : fields) {
            for (const bool as_null : {false, true}) {
                json j = valid(status);
                if (as_null) {
                    j[field] = nullptr;
                } else {
                    j.erase(field);
                }
                INFO(status << " without " << field << (as_null ? " (null)" : ""));
                const auto e = parse_error(j);
                CHECK(e.kind == Kind::MissingField);
                CHECK(e.field == field);
                const std::string subject = field == "status" ? "Report" : status + " report";
                CHECK(e.message == subject + " is missing required field '" + field + "'");
                CHECK(e.match_id == (field == "match_id" ? "" : "m-42"));
            }
        }
    }
    SECTION("the brief's example sentence") {
        json j = valid("STARTED");
        j.erase("port");
        CHECK(parse_error(j).message == "STARTED report is missing required field 'port'");
    }
    SECTION("results entries name their missing fields") {
        json j = valid("END");
        j["results"] = json::array({{{"player", "a"}, {"outcome", "WIN"}}, {{"outcome", "LOSE"}}});
        auto e = parse_error(j);
        CHECK(e.kind == Kind::MissingField);
        CHECK(e.field == "results[1].player");
        CHECK(e.message == "END report is missing required field 'results[1].player'");
        j["results"][1] = {{"player", "b"}};
        e = parse_error(j);
        CHECK(e.field == "results[1].outcome");
    }
}

TEST_CASE("report: wrong types are rejected naming the field", "[report]") {
    struct Case {
        std::string status;
        std::string field;  // field to set
        json value;
        Kind kind;
        std::string named;  // field the error must name
    };
    const json player = {{"player", "p"}, {"outcome", "WIN"}};
    auto results_with = [&](const std::string& key, const json& value) {
        json r = json::array({player, player, player});
        r[2][key] = value;
        return r;
    };
    const std::vector<Case> cases{
        {"HEARTBEAT", "room_id", true, Kind::WrongType, "room_id"},
        {"HEARTBEAT", "room_id", 1.5, Kind::WrongType, "room_id"},
        {"HEARTBEAT", "room_id", json::array({1}), Kind::WrongType, "room_id"},
        {"HEARTBEAT", "room_id", "12a", Kind::InvalidValue, "room_id"},
        {"HEARTBEAT", "room_id", "-3", Kind::InvalidValue, "room_id"},
        {"HEARTBEAT", "room_id", -3, Kind::InvalidValue, "room_id"},
        {"HEARTBEAT", "room_id", "99999999999999999999", Kind::InvalidValue, "room_id"},
        {"HEARTBEAT", "report_token", 5, Kind::WrongType, "report_token"},
        {"HEARTBEAT", "report_token", "", Kind::InvalidValue, "report_token"},
        {"HEARTBEAT", "match_id", json::object(), Kind::WrongType, "match_id"},
        {"HEARTBEAT", "match_id", "", Kind::InvalidValue, "match_id"},
        {"HEARTBEAT", "status", 1, Kind::WrongType, "status"},
        {"STARTED", "port", true, Kind::WrongType, "port"},
        {"STARTED", "port", 40001.5, Kind::WrongType, "port"},
        {"STARTED", "port", "http", Kind::InvalidValue, "port"},
        {"STARTED", "port", 0, Kind::InvalidValue, "port"},
        {"STARTED", "port", 65536, Kind::InvalidValue, "port"},
        {"STARTED", "port", "70000", Kind::InvalidValue, "port"},
        {"STARTED", "protocol_version", 0, Kind::InvalidValue, "protocol_version"},
        {"STARTED", "protocol_version", "v1", Kind::InvalidValue, "protocol_version"},
        {"STARTED", "protocol_version", 1.5, Kind::WrongType, "protocol_version"},
        {"END", "results", results_with("rank", "first"), Kind::InvalidValue, "results[2].rank"},
        {"END", "results", results_with("score", "ten"), Kind::InvalidValue, "results[2].score"},
        {"END", "results", results_with("score", "10 "), Kind::InvalidValue, "results[2].score"},
        {"END", "results", results_with("score", true), Kind::WrongType, "results[2].score"},
        {"END", "results", json::object(), Kind::WrongType, "results"},
        {"END", "results", json::array({player, "alice"}), Kind::WrongType, "results[1]"},
        {"END", "results", results_with("player", 5), Kind::WrongType, "results[2].player"},
        {"END", "results", results_with("player", ""), Kind::InvalidValue, "results[2].player"},
        {"END", "results", results_with("outcome", 3), Kind::WrongType, "results[2].outcome"},
        {"END", "results", results_with("outcome", "TIE"), Kind::InvalidValue,
         "results[2].outcome"},
        {"END", "results", results_with("outcome", "win"), Kind::InvalidValue,
         "results[2].outcome"},
        {"END", "results", results_with("rank", 1.5), Kind::WrongType, "results[2].rank"},
        {"END", "results", results_with("extra", json::array()), Kind::WrongType,
         "results[2].extra"},
        {"END", "winner", 1, Kind::WrongType, "winner"},
        {"END", "loser", json::array({"b"}), Kind::WrongType, "loser"},
        {"END", "reason", false, Kind::WrongType, "reason"},
        {"ERROR", "err_msg", 5, Kind::WrongType, "err_msg"},
        {"HEARTBEAT", "type", 5, Kind::WrongType, "type"},
    };
    for (const auto& c : cases) {
        json j = valid(c.status);
        j[c.field] = c.value;
        INFO(c.status << " with " << c.field << " = " << c.value.dump());
        const auto e = parse_error(j);
        CHECK(e.kind == c.kind);
        CHECK(e.field == c.named);
        CHECK(e.message.find("'" + c.named + "'") != std::string::npos);
    }
    SECTION("sentences say what was expected and what came") {
        json j = valid("STARTED");
        j["port"] = true;
        CHECK(parse_error(j).message ==
              "STARTED report field 'port' must be an integer or a string of decimal digits, "
              "got boolean");
        j["port"] = 70000;
        CHECK(parse_error(j).message ==
              "STARTED report field 'port' must be between 1 and 65535, got 70000");
        j = valid("END");
        j["results"] = json::array({{{"player", "a"}, {"outcome", "win"}}});
        CHECK(parse_error(j).message ==
              "END report field 'results[0].outcome' must be one of WIN, LOSE, DRAW, QUIT, "
              "ERROR, got \"win\" (outcome names are upper case)");
    }
    SECTION("an ERROR alias of the wrong type is named") {
        json j = base("ERROR");
        j["message"] = json::object();
        const auto e = parse_error(j);
        CHECK(e.kind == Kind::WrongType);
        CHECK(e.field == "message");
    }
}

TEST_CASE("report: unknown status", "[report]") {
    json j = valid("HEARTBEAT");
    j["status"] = "PAUSED";
    auto e = parse_error(j);
    CHECK(e.kind == Kind::UnknownStatus);
    CHECK(e.field == "status");
    CHECK(e.match_id == "m-42");  // so the caller can warn with it
    CHECK(e.message == "Report status \"PAUSED\" is not one of STARTED, HEARTBEAT, END, ERROR");

    j["status"] = "started";  // statuses are case-sensitive per spec
    e = parse_error(j);
    CHECK(e.kind == Kind::UnknownStatus);
    CHECK(e.message.find("upper case") != std::string::npos);
}

TEST_CASE("report: lines that are not reports", "[report]") {
    auto e = parse_error(std::string("{\"room_id\":3,\"status\":"));
    CHECK(e.kind == Kind::BadJson);
    CHECK(e.field.empty());
    CHECK(e.message.rfind("Report is not valid JSON", 0) == 0);

    e = parse_error(std::string(""));
    CHECK(e.kind == Kind::BadJson);
    CHECK(e.message == "Report is empty");

    e = parse_error(std::string("[1,2]"));
    CHECK(e.kind == Kind::NotObject);
    CHECK(e.message == "Report must be a JSON object, got array");

    e = parse_error(std::string("\"HEARTBEAT\""));
    CHECK(e.kind == Kind::NotObject);

    // Invalid UTF-8 inside a string is not JSON.
    e = parse_error(std::string("{\"match_id\":\"\xff\"}"));
    CHECK(e.kind == Kind::BadJson);

    // Pathological nesting is refused before it reaches the recursive parts
    // of the JSON library.
    e = parse_error("{\"details\":" + std::string(100, '[') + std::string(100, ']') + "}");
    CHECK(e.kind == Kind::BadJson);
    CHECK(e.message.find("deeper than") != std::string::npos);
}

TEST_CASE("report: encode then parse gives the report back", "[report]") {
    Report started;
    started.room_id = 9;
    started.report_token = kToken;
    started.match_id = "m-1";
    started.status = ReportStatus::Started;
    started.port = 40100;
    started.timestamp = 12.5;

    Report end = started;
    end.status = ReportStatus::End;
    end.port.reset();
    end.results = std::vector<PlayerResult>{
        {"alice", Outcome::Win, 1, 10.0, std::nullopt, nullptr},
        {"bob", Outcome::Draw, std::nullopt, std::nullopt, 4, json{{"k", "v"}}},
    };
    end.winner = "alice";
    end.reason = "done";
    end.stats = {{"turns", 3}};
    end.details = {{"why", "test"}};

    Report error = started;
    error.status = ReportStatus::Error;
    error.port.reset();
    error.err_msg = "line one\nline two";

    Report heartbeat = started;
    heartbeat.status = ReportStatus::Heartbeat;
    heartbeat.port.reset();

    for (const Report* original : {&started, &end, &error, &heartbeat}) {
        const std::string line = encode_report(*original);
        INFO(line);
        REQUIRE(line.back() == '\n');
        CHECK(line.find('\n') == line.size() - 1);
        const Report r = parse_ok(json::parse(line));
        CHECK(r.room_id == original->room_id);
        CHECK(r.report_token == original->report_token);
        CHECK(r.match_id == original->match_id);
        CHECK(r.status == original->status);
        CHECK(r.port == original->port);
        CHECK(r.protocol_version == original->protocol_version);
        CHECK(r.timestamp == original->timestamp);
        CHECK(r.winner == original->winner);
        CHECK(r.reason == original->reason);
        CHECK(r.stats == original->stats);
        CHECK(r.details == original->details);
        CHECK(r.err_msg.value_or("") == original->err_msg.value_or(""));
        REQUIRE(r.results.has_value() == original->results.has_value());
        if (r.results) {
            REQUIRE(r.results->size() == original->results->size());
            for (std::size_t i = 0; i < r.results->size(); ++i) {
                const auto& a = (*r.results)[i];
                const auto& b = (*original->results)[i];
                CHECK(a.player == b.player);
                CHECK(a.outcome == b.outcome);
                CHECK(a.rank == b.rank);
                CHECK(a.score == b.score);
                CHECK(a.player_id == b.player_id);
                CHECK(a.extra == b.extra);
            }
        }
    }

    SECTION("wire shape follows docs/PROTOCOL.md") {
        const json s = json::parse(encode_report(started));
        CHECK(s["type"] == "GAME.REPORT");
        CHECK(s["status"] == "STARTED");
        CHECK(s["port"] == 40100);
        CHECK(s["protocol_version"] == 1);
        CHECK(s["timestamp"] == 12.5);
        const json h = json::parse(encode_report(heartbeat));
        CHECK(h["ts"] == 12.5);
        CHECK_FALSE(h.contains("timestamp"));
        CHECK_FALSE(h.contains("port"));
        const json e = json::parse(encode_report(end));
        CHECK(e["results"][0]["rank"] == 1);
        CHECK(e["results"][1]["rank"].is_null());
        CHECK(e["results"][1]["score"].is_null());
        CHECK_FALSE(e["results"][0].contains("extra"));
        CHECK(encode_report(started).rfind("{\"type\":\"GAME.REPORT\",\"room_id\":9,", 0) == 0);
    }
}

TEST_CASE("report: replies", "[report]") {
    CHECK(encode_report_reply_ok() == "{\"ok\":true}\n");
    CHECK(encode_report_reply_error("STARTED report is missing required field 'port'") ==
          "{\"ok\":false,\"error\":\"STARTED report is missing required field 'port'\"}\n");
    // Never a raw newline, never a throw on bad UTF-8.
    const std::string reply = encode_report_reply_error("a\nb \xff");
    CHECK(reply.find('\n') == reply.size() - 1);
    CHECK(json::parse(reply)["error"] == "a\nb \xEF\xBF\xBD");
}

TEST_CASE("report: names", "[report]") {
    for (const auto status :
         {ReportStatus::Started, ReportStatus::Heartbeat, ReportStatus::End, ReportStatus::Error}) {
        CHECK(report_status_from_string(to_string(status)) == status);
    }
    for (const auto outcome :
         {Outcome::Win, Outcome::Lose, Outcome::Draw, Outcome::Quit, Outcome::Error}) {
        CHECK(outcome_from_string(to_string(outcome)) == outcome);
    }
    CHECK(to_string(ReportStatus::Heartbeat) == "HEARTBEAT");
    CHECK(to_string(Outcome::Draw) == "DRAW");
    CHECK_FALSE(outcome_from_string("Win"));
    CHECK_FALSE(report_status_from_string("end"));
}
