#pragma once
// --log-format json: one JSON object per line, for journald or a log
// shipper: {"time","level","message"} and, when the message is about one,
// "room_id" and "match_id" (docs/OPERATIONS.md "Logs"). Log lines name a
// room as "room N:" and a match by its id ("m-" and hex digits), so both
// are read from the message rather than threaded through every call.

#include <memory>

#include <spdlog/formatter.h>

namespace gamestore::server {

class JsonLogFormatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace gamestore::server
