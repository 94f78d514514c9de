#include "platform/protocol/redirect.hpp"

namespace gamestore::protocol {

std::optional<Redirect> redirect_of(const Response& response, std::string* error) {
    if (response.ok || response.error_code != "MOVED") {
        return std::nullopt;
    }
    const auto& details = response.details;
    const auto text = [&](const char* key) -> std::string {
        if (!details.is_object()) {
            return {};
        }
        const auto it = details.find(key);
        return it != details.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    Redirect redirect{text("node_id"), text("address"), std::nullopt};
    if (redirect.node_id.empty() || redirect.address.empty()) {
        if (error) {
            *error =
                "the server answered MOVED without saying where to (details need node_id and "
                "address)";
        }
        return std::nullopt;
    }
    if (const auto it = details.find("room_id"); it != details.end() && it->is_number_integer()) {
        redirect.room_id = it->get<std::int64_t>();
    }
    return redirect;
}

}  // namespace gamestore::protocol
