// Fuzzing the control-plane report codec: any line either parses or yields a
// classified error naming the field; a parsed report re-encodes to one line
// that parses back to the same report (encoding is a fixed point after one
// round), and every reply is one valid JSON line.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "platform/protocol/report.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace gamestore::protocol;

void check_one_line(const std::string& line) {
    FUZZ_CHECK(!line.empty() && line.back() == '\n');
    FUZZ_CHECK(line.find('\n') == line.size() - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto parsed = parse_report(input);

    if (const auto* error = std::get_if<ReportError>(&parsed)) {
        FUZZ_CHECK(!error->message.empty());
        const bool names_field = error->kind != ReportError::Kind::BadJson &&
                                 error->kind != ReportError::Kind::NotObject;
        FUZZ_CHECK(names_field == !error->field.empty());
        if (names_field) {
            FUZZ_CHECK(error->message.find(error->field) != std::string::npos);
        }
        const std::string reply = encode_report_reply_error(error->message);
        check_one_line(reply);
        const auto json = nlohmann::json::parse(reply);
        FUZZ_CHECK(json.at("ok") == false);
        FUZZ_CHECK(json.at("error") == error->message);
        return 0;
    }

    const Report& report = std::get<Report>(parsed);
    FUZZ_CHECK(!report.report_token.empty() && !report.match_id.empty());
    FUZZ_CHECK(report.room_id >= 0);
    if (report.status == ReportStatus::Started) {
        FUZZ_CHECK(report.port && *report.port >= 1 && *report.port <= 65535);
    }
    if (report.status == ReportStatus::Error) {
        FUZZ_CHECK(report.err_msg.has_value());
    }

    const std::string encoded = encode_report(report);
    check_one_line(encoded);
    auto reparsed = parse_report(encoded);
    FUZZ_CHECK(std::holds_alternative<Report>(reparsed));
    const Report& again = std::get<Report>(reparsed);
    FUZZ_CHECK(again.room_id == report.room_id);
    FUZZ_CHECK(again.report_token == report.report_token);
    FUZZ_CHECK(again.match_id == report.match_id);
    FUZZ_CHECK(again.status == report.status);
    FUZZ_CHECK(again.port == report.port);
    FUZZ_CHECK(again.protocol_version == report.protocol_version);
    FUZZ_CHECK(again.err_msg == report.err_msg);
    FUZZ_CHECK(again.results.has_value() == report.results.has_value());
    if (report.results) {
        FUZZ_CHECK(again.results->size() == report.results->size());
        for (std::size_t i = 0; i < report.results->size(); ++i) {
            FUZZ_CHECK((*again.results)[i].player == (*report.results)[i].player);
            FUZZ_CHECK((*again.results)[i].outcome == (*report.results)[i].outcome);
            FUZZ_CHECK((*again.results)[i].rank == (*report.results)[i].rank);
        }
    }
    FUZZ_CHECK(encode_report(again) == encoded);
    return 0;
}
