#include "platform/server/admin.hpp"

#include "platform/server/catalog_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "platform/server/blocking.hpp"
#include "platform/server/cluster_service.hpp"
#include "platform/server/lobby_server.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/room_service.hpp"
#include "platform/store/sql_store.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCookieName = "gamestore_admin";
constexpr std::size_t kMaxCookieKeys = 64;
constexpr std::size_t kEndedShown = 10;
constexpr std::size_t kLogTailBytes = 4096;
constexpr int kLogTailLines = 8;
constexpr int kChartMinutes = 30;

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(bytes * 2, '0');
    sodium_bin2hex(hex.data(), hex.size() + 1, raw.data(), raw.size());
    return hex;
}

bool same_secret(const std::string& a, const std::string& b) {
    return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string load_or_create_token(const fs::path& path) {
    if (fs::exists(path)) {
        std::ifstream in(path);
        std::string token;
        std::getline(in, token);
        if (token.size() < 32) {
            throw std::runtime_error("the admin token in " + path.string() +
                                     " is shorter than 32 characters; delete the file to get a "
                                     "new one, or give --admin-token");
        }
        struct stat info {};
        if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
            spdlog::warn("admin: {} is readable by other users; chmod 600 it", path.string());
        }
        return token;
    }
    const std::string token = random_hex(32);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw std::runtime_error("cannot create the admin token file " + path.string());
    }
    const std::string line = token + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!written) {
        throw std::runtime_error("cannot write the admin token file " + path.string());
    }
    spdlog::warn("admin: a new admin token is in {} (mode 0600); /admin asks for it",
                 path.string());
    return token;
}

std::map<std::string, std::string> cookies(const std::string& header) {
    std::map<std::string, std::string> out;
    std::istringstream in(header);
    for (std::string part; std::getline(in, part, ';');) {
        const auto start = part.find_first_not_of(' ');
        const auto eq = part.find('=');
        if (start == std::string::npos || eq == std::string::npos || eq < start) {
            continue;
        }
        out[part.substr(start, eq - start)] = part.substr(eq + 1);
    }
    return out;
}

// application/x-www-form-urlencoded: the value of `name`, decoded.
std::string form_value(const std::string& body, const std::string& name) {
    std::istringstream in(body);
    for (std::string pair; std::getline(in, pair, '&');) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || pair.substr(0, eq) != name) {
            continue;
        }
        std::string value;
        for (std::size_t i = eq + 1; i < pair.size(); ++i) {
            if (pair[i] == '+') {
                value += ' ';
            } else if (pair[i] == '%' && i + 2 < pair.size()) {
                value += static_cast<char>(std::stoi(pair.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else {
                value += pair[i];
            }
        }
        return value;
    }
    return {};
}

HttpResponse page(int status, std::string html) {
    HttpResponse response;
    response.status = status;
    response.content_type = "text/html; charset=utf-8";
    response.body = std::move(html);
    // The page loads nothing from elsewhere, and may not be framed.
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                  "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return response;
}

HttpResponse json_reply(int status, const json& body) {
    return json_text_response(status,
                              body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string log_tail(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return {};
    }
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in.tellg());
    const auto start = size > kLogTailBytes ? size - kLogTailBytes : 0;
    in.seekg(static_cast<std::streamoff>(start));
    std::string text(size - start, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    std::size_t cut = text.size();
    for (int lines = 0; lines <= kLogTailLines && cut > 0; ++lines) {
        const auto newline = text.rfind('\n', cut - 1);
        if (newline == std::string::npos) {
            cut = 0;
            break;
        }
        cut = newline;
    }
    return cut == 0 ? text : text.substr(cut + 1);
}

}  // namespace

AdminConsole::AdminConsole(const ServerConfig& config) {
    if (!config.admin_token.empty()) {
        if (config.admin_token.size() < 32) {
            throw std::runtime_error("--admin-token must be at least 32 characters");
        }
        token_ = config.admin_token;
    } else {
        token_ = load_or_create_token(config.data_dir / "admin_token");
    }
}

bool AdminConsole::authorized(const HttpRequest& request) const {
    const auto authorization = request.header("authorization");
    if (authorization.rfind("Bearer ", 0) == 0) {
        return same_secret(authorization.substr(7), token_);
    }
    const auto jar = cookies(request.header("cookie"));
    const auto cookie = jar.find(kCookieName);
    if (cookie == jar.end()) {
        return false;
    }
    bool found = false;
    for (const auto& key : cookie_keys_) {
        found = same_secret(cookie->second, key) || found;
    }
    return found;
}

asio::awaitable<std::optional<HttpResponse>> AdminConsole::handle(const OperationsView& view,
                                                                  const HttpRequest& request) {
    if (request.path != "/admin" && request.path.rfind("/admin/", 0) != 0) {
        co_return std::nullopt;
    }
    if (request.method == "POST" && request.path == "/admin/login") {
        if (!same_secret(form_value(request.body, "token"), token_)) {
            spdlog::warn("admin: login from {} refused (wrong token)", request.peer);
            co_return page(401, kAdminPage);
        }
        cookie_keys_.push_back(random_hex(32));
        if (cookie_keys_.size() > kMaxCookieKeys) {
            cookie_keys_.erase(cookie_keys_.begin());
        }
        spdlog::info("admin: login from {}", request.peer);
        HttpResponse response;
        response.status = 303;
        response.headers.emplace_back("Location", "/admin");
        response.headers.emplace_back("Set-Cookie", std::string(kCookieName) + "=" +
                                                        cookie_keys_.back() +
                                                        "; Path=/admin; HttpOnly; SameSite=Strict");
        co_return response;
    }
    if (!authorized(request)) {
        spdlog::warn("admin: {} {} from {} refused (no valid token)", request.method, request.path,
                     request.peer);
        auto refused = page(401, kAdminPage);
        refused.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"gamestore admin\"");
        co_return refused;
    }
    spdlog::info("admin: {} {} from {}", request.method, request.path, request.peer);
    if (request.method == "GET" && request.path == "/admin") {
        co_return page(200, kAdminPage);
    }
    if (request.method == "GET" && request.path == "/admin/state") {
        auto state = co_await snapshot(view);
        HttpResponse response = json_reply(200, nullptr);
        response.body = std::move(state) + "\n";
        co_return response;
    }
    if (request.method == "GET" && request.path == "/admin/events") {
        HttpResponse response;
        response.content_type = "text/event-stream";
        // The view only names parts of the server, which outlive every
        // connection (stop() closes them first).
        response.stream = [this, view](const HttpResponse::Send& send) -> asio::awaitable<void> {
            asio::steady_timer tick(view.lobby.io());
            // One snapshot a second, for a day at most; the browser reconnects.
            for (int i = 0; i < 86'400 && !view.stopping.load(); ++i) {
                // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
                const std::string state = co_await snapshot(view);
                const std::string event = "data: " + state + "\n\n";
                if (!co_await send(event)) {
                    break;
                }
                tick.expires_after(std::chrono::seconds(1));
                boost::system::error_code ec;
                co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
        };
        co_return response;
    }
    if (request.method == "POST") {
        co_return co_await act(view, request);
    }
    co_return json_reply(404, {{"error", "no such admin page"}});
}

asio::awaitable<std::string> AdminConsole::snapshot(const OperationsView& view) {
    const auto now_ms = store::unix_ms_now();
    json state = {{"time_ms", now_ms},
                  {"players", view.rooms.lobby_players()},
                  {"rooms", view.rooms.admin_view()},
                  {"cluster", view.cluster ? view.cluster->admin_view() : json(nullptr)}};
    const auto& ends = view.metrics.recent_ends;
    std::vector<EndedMatch> shown(
        ends.end() - static_cast<std::ptrdiff_t>(std::min(ends.size(), kEndedShown)), ends.end());
    const auto logs = view.lobby.config().data_dir / "logs";
    auto tails = co_await run_blocking(view.lobby.blocking_pool(), [&shown, &logs] {
        std::vector<std::string> out;
        for (const auto& end : shown) {
            out.push_back(log_tail(logs / (end.match_id + ".log")));
        }
        return out;
    });
    json ended = json::array();
    for (std::size_t i = shown.size(); i-- > 0;) {
        const auto& end = shown[i];
        ended.push_back({{"match_id", end.match_id},
                         {"room_id", end.room_id},
                         {"game", end.game},
                         {"version", end.version},
                         {"status", end.status},
                         {"reason", end.reason},
                         {"ended_at_ms", end.ended_at_ms},
                         {"log_tail", tails[i]}});
    }
    state["ended"] = std::move(ended);
    json publishes = json::array();
    for (auto it = view.metrics.recent_publishes.rbegin();
         it != view.metrics.recent_publishes.rend() && publishes.size() < 10; ++it) {
        publishes.push_back({{"game", it->game},
                             {"version", it->version},
                             {"bytes", it->bytes},
                             {"at_ms", it->at_ms}});
    }
    state["publishes"] = std::move(publishes);
    const auto latency = view.metrics.launch_latency.snapshot();
    state["launch_latency"] = {
        {"bounds", latency.bounds}, {"buckets", latency.buckets}, {"count", latency.count}};
    // Matches per minute by status, the last kChartMinutes minutes, oldest first.
    const std::int64_t minute_ms = 60'000;
    const std::int64_t this_minute = now_ms / minute_ms;
    json per_minute = json::array();
    for (int m = kChartMinutes - 1; m >= 0; --m) {
        per_minute.push_back(
            {{"minute_ms", (this_minute - m) * minute_ms}, {"counts", json::object()}});
    }
    for (const auto& end : ends) {
        const auto age = this_minute - end.ended_at_ms / minute_ms;
        if (age >= 0 && age < kChartMinutes) {
            auto& counts = per_minute[static_cast<std::size_t>(kChartMinutes - 1 - age)]["counts"];
            counts[end.status] = counts.value(end.status, 0) + 1;
        }
    }
    state["per_minute"] = std::move(per_minute);
    co_return state.dump(-1, ' ', false, json::error_handler_t::replace);
}

asio::awaitable<HttpResponse> AdminConsole::act(const OperationsView& view,
                                                const HttpRequest& request) {
    // JSON bodies only: a cross-site form cannot send one without the
    // browser asking first, and the cookie is SameSite=Strict besides.
    if (request.header("content-type").rfind("application/json", 0) != 0) {
        co_return json_reply(415, {{"error", "send application/json"}});
    }
    const auto args = json::parse(request.body, nullptr, false);
    if (!args.is_object()) {
        co_return json_reply(400, {{"error", "the body is not a JSON object"}});
    }
    if (request.path == "/admin/stop-match") {
        const auto room_id = args.value("room_id", std::int64_t{0});
        const bool stopped = view.rooms.admin_stop_match(room_id);
        spdlog::warn("admin: stop match of room {} from {}: {}", room_id, request.peer,
                     stopped ? "stopped" : "no running match");
        co_return json_reply(stopped ? 200 : 404, {{"stopped", stopped}});
    }
    if (request.path == "/admin/delist") {
        const auto name = args.value("game", std::string());
        auto& store = view.store;
        auto delisted = co_await run_blocking(view.lobby.blocking_pool(), [&store, &name] {
            auto game = store.find_game(name);
            return game ? store.delist_game(game->owner_id, game->id) : game;
        });
        if (delisted) {
            co_await view.catalog.refresh(delisted->id);
        }
        spdlog::warn("admin: delist game '{}' from {}: {}", name, request.peer,
                     delisted ? "delisted" : delisted.error().message);
        co_return delisted ? json_reply(200, {{"delisted", name}})
                           : json_reply(404, {{"error", delisted.error().message}});
    }
    if (request.path == "/admin/revoke") {
        const auto name = args.value("player", std::string());
        std::vector<std::shared_ptr<LobbySession>> sessions;
        std::vector<std::int64_t> session_ids;
        view.lobby.for_each_session([&](LobbySession& session) {
            const auto& who = session.signed_in();
            if (who && who->role == AccountRole::Player && who->name == name) {
                sessions.push_back(session.shared_from_this());
                session_ids.push_back(who->session_id);
            }
        });
        auto& store = view.store;
        const int failed =
            co_await run_blocking(view.lobby.blocking_pool(), [&store, &session_ids] {
                int failures = 0;
                for (const auto id : session_ids) {
                    if (!store.revoke_session(id, store::unix_ms_now())) {
                        ++failures;
                    }
                }
                return failures;
            });
        if (failed > 0) {
            spdlog::error("admin: {} session(s) of '{}' could not be revoked in the database",
                          failed, name);
        }
        for (const auto& session : sessions) {
            session->close();
        }
        if (view.cluster) {
            view.cluster->sessions_ended(session_ids);
        }
        spdlog::warn("admin: signed out player '{}' from {} ({} connection(s))", name, request.peer,
                     sessions.size());
        co_return json_reply(sessions.empty() ? 404 : 200, {{"revoked", session_ids.size()}});
    }
    co_return json_reply(404, {{"error", "no such admin action"}});
}

}  // namespace gamestore::server
