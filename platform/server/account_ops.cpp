// auth.*: register, login (one active session per account), resume, logout.

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>

#include "platform/protocol/rate_limit.hpp"
#include "platform/server/blocking.hpp"
#include "platform/server/cluster_service.hpp"
#include "platform/server/lobby_session.hpp"
#include "platform/server/platform_services.hpp"
#include "platform/server/request_args.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorCode;

namespace {

// Counts one sign-up or login in LobbyServer::auth_in_flight() while it lives.
// The queue is bounded (--max-auth-queue): past it the request is refused at
// once, so after a restart thousands of logins cannot queue for minutes
// behind each other's hashes; the client retries, and sessions that can
// resume (auth.resume) need no hash at all.
class AuthInFlight {
public:
  explicit AuthInFlight(LobbyServer& lobby) : count_(lobby.auth_in_flight()) {
      if (count_ >= lobby.config().max_auth_queue) {
          throw LobbyError(ErrorCode::Unavailable, "the server is busy checking passwords (" +
                                                       std::to_string(count_) +
                                                       " waiting); try again in a second");
      }
      ++count_;
  }
    ~AuthInFlight() { --count_; }
    AuthInFlight(const AuthInFlight&) = delete;
    AuthInFlight& operator=(const AuthInFlight&) = delete;

private:
    std::size_t& count_;
};

store::Role require_role(const json& args) {
    const auto text = require_string(args, "role", 32);
    const auto role = store::parse_role(text);
    if (!role) {
        throw LobbyError(ErrorCode::BadRequest, "'role' must be \"player\" or \"developer\"");
    }
    return *role;
}

AccountRole to_session_role(store::Role role) {
    return role == store::Role::Developer ? AccountRole::Developer : AccountRole::Player;
}

std::string lower(std::string text) {
    for (auto& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
}

// Failed logins are limited per account and per client address, so neither
// a spray across accounts nor a hammer on one account gets far, while a
// correct password is never slowed down (many players behind one address
// log in freely). Buckets live on the lobby thread; full ones are dropped.
class LoginLimiter {
public:
    // May this attempt go ahead? Attempts on the same account still being
    // checked count as failures in waiting, so a burst of guesses sent at
    // once cannot all slip past while the (slow) hash runs. Per address only
    // finished failures count: many players behind one address (a NAT, a
    // test rig) log in at the same moment. A true answer must be paired
    // with end().
    bool begin(const std::string& account_key, const std::string& address) {
        const auto now = std::chrono::steady_clock::now();
        prune(now);
        auto& pending = pending_[account_key];
        const bool allowed =
            bucket(accounts_, account_key, 0.2, 5).available(now) >= 1.0 + static_cast<double>(pending) &&
            bucket(addresses_, address, 1.0, 20).available(now) >= 1.0;
        if (allowed) {
            ++pending;
        } else if (pending == 0) {
            pending_.erase(account_key);
        }
        return allowed;
    }
    void end(const std::string& account_key, const std::string& address, bool failed) {
        auto it = pending_.find(account_key);
        if (it != pending_.end() && --it->second <= 0) {
            pending_.erase(it);
        }
        if (failed) {
            const auto now = std::chrono::steady_clock::now();
            bucket(accounts_, account_key, 0.2, 5).try_take(now);
            bucket(addresses_, address, 1.0, 20).try_take(now);
        }
    }

private:
    using Buckets = std::map<std::string, protocol::TokenBucket>;

    static protocol::TokenBucket& bucket(Buckets& buckets, const std::string& key, double rate, double burst) {
        auto it = buckets.find(key);
        if (it == buckets.end()) {
            it = buckets.emplace(key, protocol::TokenBucket(rate, burst)).first;
        }
        return it->second;
    }

    void prune(std::chrono::steady_clock::time_point now) {
        if (++calls_ % 256 != 0) {
            return;
        }
        for (auto* buckets : {&accounts_, &addresses_}) {
            for (auto it = buckets->begin(); it != buckets->end();) {
                it = it->second.available(now) >= 5.0 ? buckets->erase(it) : std::next(it);
            }
        }
    }

    std::map<std::string, int> pending_;  // attempts being checked, by account
    Buckets accounts_;
    Buckets addresses_;
    std::uint64_t calls_ = 0;
};

// Ends an attempt begun with LoginLimiter::begin on every way out of the
// login handler; `failed` is set once the password was checked.
struct LoginAttempt {
    LoginAttempt(LoginLimiter& limiter, std::string key, std::string address)
        : limiter(limiter), key(std::move(key)), address(std::move(address)) {}
    LoginAttempt(const LoginAttempt&) = delete;
    LoginAttempt& operator=(const LoginAttempt&) = delete;
    ~LoginAttempt() { limiter.end(key, address, failed); }

    LoginLimiter& limiter;
    std::string key;
    std::string address;
    bool failed = false;
};

std::string address_only(const std::string& endpoint) {
    const auto colon = endpoint.rfind(':');
    return colon == std::string::npos ? endpoint : endpoint.substr(0, colon);
}

}  // namespace

void register_account_ops(PlatformServices& services) {
    auto& lobby = services.lobby;
    auto& store = services.store;
    auto limiter = std::make_shared<LoginLimiter>();

    lobby.ops().add("auth.register", OpSpec{[&store, &lobby](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto role = require_role(ctx.request.args);
        const auto name = require_string(ctx.request.args, "name", 256);
        const auto password = require_string(ctx.request.args, "password", 1024);
        AuthInFlight counted(lobby);
        auto account = unwrap(co_await run_blocking(lobby.auth_pool(), [&] {
            return store.create_account(role, name, password, store::unix_ms_now());
        }));
        spdlog::info("auth: registered {} '{}'", store::to_string(role), account.name);
        co_return Reply{{{"account", account_json(account)}}, std::nullopt};
    }, Access::Anyone, 0});

    lobby.ops().add(
        "auth.login",
        OpSpec{
            [&store, &lobby, &services, limiter](RequestContext& ctx) -> asio::awaitable<Reply> {
                const auto role = require_role(ctx.request.args);
                const auto name = require_string(ctx.request.args, "name", 256);
                const auto password = require_string(ctx.request.args, "password", 1024);
                const std::string key = std::string(store::to_string(role)) + ":" + lower(name);
                const std::string address = address_only(ctx.session.remote_endpoint());
                if (!limiter->begin(key, address)) {
                    throw LobbyError(ErrorCode::RateLimited,
                                     "too many login attempts; wait a few seconds and try again");
                }
                LoginAttempt attempt(*limiter, key, address);
                struct LoginResult {
                    store::Account account;
                    store::NewSession session;
                };
                AuthInFlight counted(lobby);
                auto result =
                    co_await run_blocking(lobby.auth_pool(), [&]() -> store::Result<LoginResult> {
                        auto account = store.verify_login(role, name, password);
                        if (!account) {
                            return account.error();
                        }
                        auto session = store.create_session(account->id, store::unix_ms_now());
                        if (!session) {
                            return session.error();
                        }
                        return LoginResult{std::move(*account), std::move(*session)};
                    });
                attempt.failed =
                    !result.ok() && result.error().code == store::StoreError::Code::Unauthenticated;
                auto login = unwrap(std::move(result));
                // One active session per account: every connection on a session this
                // login revoked is told why and closed.
                const auto& revoked = login.session.revoked_session_ids;
                lobby.for_each_session([&](LobbySession& other) {
                    const auto& who = other.signed_in();
                    if (&other == &ctx.session || !who) {
                        return;
                    }
                    const bool was_revoked =
                        std::find(revoked.begin(), revoked.end(), who->session_id) != revoked.end();
                    if (was_revoked || (who->account_id == login.account.id &&
                                        who->session_id != login.session.id)) {
                        other.clear_signed_in();
                        other.close_with_event(
                            "session.revoked",
                            {{"reason", "this account signed in from another connection"}});
                    }
                });
                ctx.session.set_signed_in(SignedIn{login.account.id, login.account.name,
                                                   to_session_role(role), login.session.id});
                if (services.cluster) {
                    services.cluster->signed_in(login.account.id, login.session.id, revoked);
                }
                spdlog::info("auth: {} '{}' signed in (session {})", store::to_string(role),
                             login.account.name, login.session.id);
                co_return Reply{
                    {{"token", login.session.token}, {"account", account_json(login.account)}},
                    std::nullopt};
            },
            Access::Anyone, 0});

    lobby.ops().add("auth.resume", OpSpec{[&store, &lobby](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto token = require_string(ctx.request.args, "token", 256);
        auto resumed = unwrap(co_await run_blocking(lobby.blocking_pool(), [&] {
            return store.resume_session(token, store::unix_ms_now());
        }));
        ctx.session.set_signed_in(SignedIn{resumed.account.id, resumed.account.name,
                                           to_session_role(resumed.account.role), resumed.id});
        co_return Reply{{{"account", account_json(resumed.account)}}, std::nullopt};
    }, Access::Anyone, 0});

    lobby.ops().add(
        "auth.logout",
        OpSpec{[&store, &lobby, &services](RequestContext& ctx) -> asio::awaitable<Reply> {
                   const auto session_id = ctx.session.signed_in()->session_id;
                   unwrap(co_await run_blocking(lobby.blocking_pool(), [&] {
                       return store.revoke_session(session_id, store::unix_ms_now());
                   }));
                   ctx.session.clear_signed_in();
                   if (services.cluster) {
                       services.cluster->sessions_ended({session_id});
                   }
                   co_return Reply{};
               },
               Access::Authenticated, 0});

    lobby.ops().add("auth.whoami", OpSpec{[](RequestContext& ctx) -> asio::awaitable<Reply> {
        const auto& who = *ctx.session.signed_in();
        co_return Reply{{{"account",
                          {{"id", who.account_id},
                           {"name", who.name},
                           {"role", who.role == AccountRole::Developer ? "developer" : "player"}}}},
                        std::nullopt};
    }, Access::Authenticated, 0});
}

}  // namespace gamestore::server
