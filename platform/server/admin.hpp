#pragma once
// /admin on the HTTP port (docs/OPERATIONS.md "The admin dashboard"): the
// live dashboard page, its server-sent events, the login and the admin
// actions (stop a match, delist a game, sign a player out). Every request
// needs the admin token, as `Authorization: Bearer TOKEN` or as the cookie
// the login form sets; every one is logged.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "platform/server/http_endpoint.hpp"
#include "platform/server/operations.hpp"
#include "platform/server/server_config.hpp"

namespace gamestore::server {

class AdminConsole {
  public:
    // The token: config.admin_token, else DATA/admin_token, created with a
    // fresh random token (mode 0600) when missing. Throws when the file
    // cannot be read or written.
    explicit AdminConsole(const ServerConfig& config);

    // Answers every path under /admin; nullopt for other paths.
    boost::asio::awaitable<std::optional<HttpResponse>> handle(const OperationsView& view,
                                                               const HttpRequest& request);

  private:
    bool authorized(const HttpRequest& request) const;
    boost::asio::awaitable<std::string> snapshot(const OperationsView& view);
    boost::asio::awaitable<HttpResponse> act(const OperationsView& view,
                                             const HttpRequest& request);

    std::string token_;
    // Random keys of the cookies the login form handed out (newest last).
    std::vector<std::string> cookie_keys_;
};

// The page itself (admin_page.cpp): HTML, CSS and JS in one document.
extern const char* const kAdminPage;

}  // namespace gamestore::server
