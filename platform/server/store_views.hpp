#pragma once
// How store records look on the wire (docs/PROTOCOL.md, "Lobby operations"),
// and the mapping of store errors to lobby errors.

#include <vector>

#include <nlohmann/json.hpp>

#include "platform/server/lobby_error.hpp"
#include "platform/store/result.hpp"
#include "platform/store/types.hpp"

namespace gamestore::server {

nlohmann::json account_json(const store::Account& account);
nlohmann::json game_summary_json(const store::Game& game, const store::RatingSummary& rating);
nlohmann::json game_summaries_json(const std::vector<store::GameSummary>& games);
nlohmann::json version_json(const store::Version& version);
nlohmann::json review_json(const store::Review& review);
nlohmann::json rating_json(const store::RatingSummary& rating);

protocol::ErrorCode to_error_code(store::StoreError::Code code);

// The value, or a LobbyError carrying the store's sentence.
template <class T>
T unwrap(store::Result<T>&& result) {
    if (!result.ok()) {
        throw LobbyError(to_error_code(result.error().code), result.error().message);
    }
    return std::move(result).value();
}

inline void unwrap(store::Result<void>&& result) {
    if (!result.ok()) {
        throw LobbyError(to_error_code(result.error().code), result.error().message);
    }
}

}  // namespace gamestore::server
