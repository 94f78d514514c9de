#include "platform/server/store_views.hpp"

namespace gamestore::server {

using nlohmann::json;

json account_json(const store::Account& account) {
    return {{"id", account.id}, {"name", account.name}, {"role", std::string(store::to_string(account.role))}};
}

json rating_json(const store::RatingSummary& rating) {
    return {{"average", rating.average}, {"count", rating.count}};
}

json game_summary_json(const store::Game& game, const store::RatingSummary& rating) {
    return {{"id", game.id},
            {"name", game.name},
            {"author", game.owner_name},
            {"type", std::string(store::to_string(game.type))},
            {"description", game.description},
            {"min_players", game.min_players},
            {"max_players", game.max_players},
            {"live_version", game.live_version ? json(*game.live_version) : json(nullptr)},
            {"delisted", game.delisted},
            {"rating", rating_json(rating)}};
}

json game_summaries_json(const std::vector<store::GameSummary>& games) {
    json list = json::array();
    for (const auto& summary : games) {
        list.push_back(game_summary_json(summary.game, summary.rating));
    }
    return list;
}

json version_json(const store::Version& version) {
    return {{"version", version.version},     {"notes", version.notes},
            {"size", version.size_bytes},     {"sha256", version.sha256},
            {"published_at", version.published_at}, {"live", version.live},
            {"hidden", version.hidden}};
}

json review_json(const store::Review& review) {
    return {{"author", review.author_name}, {"rating", review.rating},
            {"text", review.text},          {"version", review.version},
            {"created_at", review.created_at}, {"updated_at", review.updated_at}};
}

protocol::ErrorCode to_error_code(store::StoreError::Code code) {
    using C = store::StoreError::Code;
    using E = protocol::ErrorCode;
    switch (code) {
        case C::NotFound: return E::NotFound;
        case C::Conflict: return E::Conflict;
        case C::Forbidden: return E::Forbidden;
        case C::Invalid: return E::BadRequest;
        case C::Unauthenticated: return E::Unauthenticated;
        case C::Internal: return E::Internal;
    }
    return E::Internal;
}

}  // namespace gamestore::server
