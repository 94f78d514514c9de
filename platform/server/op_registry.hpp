#pragma once
// The table of lobby operations: each op names its handler and what a caller
// must be to use it. Handlers are coroutines on the lobby executor.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/asio/asio.hpp"
#include "platform/protocol/lobby.hpp"

namespace gamestore::server {

class LobbySession;

// Who may call an op.
enum class Access {
    Anyone,         // before authentication too (ping, login, register, resume)
    Authenticated,  // any signed-in account
    Player,         // a signed-in player account
    Developer,      // a signed-in developer account
};

struct RequestContext {
    LobbySession& session;
    const protocol::Request& request;
    // Set for ops that take a blob: the received bytes, already on disk.
    std::optional<std::filesystem::path> upload;
};

// A reply: data for the response, optionally followed by a byte range of a
// file as a blob frame.
struct Reply {
    nlohmann::json data = nlohmann::json::object();
    struct Blob {
        std::filesystem::path file;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    std::optional<Blob> blob;
    // When set, the response's data as JSON text, sent instead of `data`
    // (answers kept serialised, such as the catalogue's): shared with the
    // keeper, written to the socket without a copy.
    std::shared_ptr<const std::string> data_text = nullptr;
};

using Handler = std::function<boost::asio::awaitable<Reply>(RequestContext&)>;

struct OpSpec {
    Handler handler;
    Access access = Access::Authenticated;
    // 0: the op takes no blob. Otherwise the largest blob it accepts.
    std::uint64_t max_blob_bytes = 0;
};

class OpRegistry {
public:
    void add(std::string op, OpSpec spec) { ops_[std::move(op)] = std::move(spec); }
    const OpSpec* find(const std::string& op) const {
        const auto it = ops_.find(op);
        return it == ops_.end() ? nullptr : &it->second;
    }
    const std::map<std::string, OpSpec>& all() const { return ops_; }

private:
    std::map<std::string, OpSpec> ops_;
};

}  // namespace gamestore::server
