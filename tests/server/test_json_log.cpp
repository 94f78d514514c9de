// --log-format json: one parseable object per line, with room_id and
// match_id read from the messages that name them.

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "platform/server/json_log.hpp"

using nlohmann::json;

namespace {

std::vector<json> log_lines(const std::vector<std::string>& messages) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("json-test", sink);
    logger.set_formatter(std::make_unique<gamestore::server::JsonLogFormatter>());
    for (const auto& message : messages) {
        logger.warn(message);
    }
    logger.flush();
    std::vector<json> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
        lines.push_back(json::parse(line));
    }
    return lines;
}

}  // namespace

TEST_CASE("json log lines carry time, level, message, and the room and match they are about",
          "[json_log][unit]") {
    const auto lines = log_lines({
        "room 7: STARTING -> IN_GAME (match m-5d0c2b9e71a4f386c1e08d27, port 40001)",
        "gamestore-server listening: lobby 127.0.0.1:16534",
        "the bedroom 5 has no room id; nor has my-m-5d0c2b9e71a4f386 text",
        "a \"quoted\" line\twith \x01 control and invalid \xff UTF-8",
    });
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].at("level") == "warning");
    CHECK(lines[0].at("room_id") == 7);
    CHECK(lines[0].at("match_id") == "m-5d0c2b9e71a4f386c1e08d27");
    CHECK(lines[0].at("message") ==
          "room 7: STARTING -> IN_GAME (match m-5d0c2b9e71a4f386c1e08d27, port 40001)");
    const auto time = lines[0].at("time").get<std::string>();
    CHECK(time.size() == 24);  // 2026-01-02T03:04:05.678Z
    CHECK(time.back() == 'Z');
    CHECK_FALSE(lines[1].contains("room_id"));
    CHECK_FALSE(lines[1].contains("match_id"));
    CHECK_FALSE(lines[2].contains("room_id"));
    CHECK_FALSE(lines[2].contains("match_id"));
    CHECK(lines[3].at("message").get<std::string>().find("\"quoted\"") != std::string::npos);
}
