#include "sim/checkers.hpp"

#include <algorithm>

#include "platform/protocol/redact.hpp"
#include "sim/scenario.hpp"
#include "sim/tolerant.hpp"

namespace gamestore::sim {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kKeptViolations = 20;

// True if any object key anywhere in `value` is one of the secret-bearing names.
bool has_secret_key(const json& value, std::string* found) {
    if (value.is_object()) {
        for (const auto& [key, item] : value.items()) {
            if (key == "client_token" || key == "report_token" || key == "launch") {
                *found = key;
                return true;
            }
            if (has_secret_key(item, found)) {
                return true;
            }
        }
    } else if (value.is_array()) {
        for (const auto& item : value) {
            if (has_secret_key(item, found)) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace

const char* inv_name(Inv inv) {
    static const char* const names[] = {"I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9"};
    return names[static_cast<int>(inv)];
}

double Checkers::now_ms() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
}

void Checkers::check(Inv inv, std::uint64_t times) {
    inv_[static_cast<int>(inv)].checks += times;
}

void Checkers::violate(Inv inv, std::string message) {
    auto& result = inv_[static_cast<int>(inv)];
    ++result.checks;
    ++result.violation_count;
    if (result.violations.size() < kKeptViolations) {
        result.violations.push_back({now_ms(), std::move(message)});
    }
}

void Checkers::on_room_view(const std::string& player, const json& room) {
    if (!room.is_object() || !room.contains("room_id")) {
        return;
    }
    const auto room_id = num(room, "room_id");
    const auto state = str(room, "state");
    const auto where = "room " + std::to_string(room_id) + " as seen by " + player;

    // I2: the launch details exist exactly when IN_GAME.
    std::string secret_key;
    if (state == "IN_GAME") {
        const auto& launch = sub(room, "launch");
        if (!launch.is_object() || num(launch, "port") <= 0 || str(launch, "client_token").empty() ||
            str(launch, "match_id").empty()) {
            violate(Inv::I2, where + " is IN_GAME without a port and client token: " + room.dump());
        } else {
            check(Inv::I2);
            in_game_seen_[{player, str(launch, "match_id")}] = launch;
        }
    } else if (has_secret_key(room, &secret_key)) {
        violate(Inv::I2, where + " is " + state + " but carries '" + secret_key + "'");
    } else {
        check(Inv::I2);
    }

    // I3: leaving a match (any exit path) lands in WAITING with ready cleared.
    auto& track = rooms_[{player, room_id}];
    if (state == "STARTING" || state == "IN_GAME" || state == "ENDING") {
        track.in_match = true;
        track.match_id = str(room, "match_id");
    } else if (state == "WAITING" && track.in_match) {
        track.in_match = false;
        std::vector<std::string> still_ready;
        for (const auto& member : list(room, "members")) {
            if (sub(member, "ready") == json(true)) {
                still_ready.push_back(str(member, "name"));
            }
        }
        if (still_ready.empty()) {
            check(Inv::I3);
        } else {
            std::string names;
            for (const auto& name : still_ready) {
                names += (names.empty() ? "" : ", ") + name;
            }
            violate(Inv::I3, where + " returned to WAITING after match " + track.match_id +
                                 " with ready still set for " + names);
        }
    }
}

void Checkers::on_public_payload(const std::string& player, const json& payload, const std::string& what) {
    std::string key;
    if (has_secret_key(payload, &key)) {
        violate(Inv::I2, what + " sent to " + player + " carries '" + key + "'");
    } else {
        check(Inv::I2);
    }
}

void Checkers::on_match_ended(const std::string& player, const json& ended) {
    const auto match_id = str(ended, "match_id");
    const int count = ++ends_[{match_id, player}];
    if (count > 1) {
        violate(Inv::I8, player + " received match.ended for " + match_id + " " + std::to_string(count) +
                             " times (last status " + str(ended, "status") + ")");
    } else {
        check(Inv::I8);
    }
}

void Checkers::on_client_launch(const std::string& player, const json& launch) {
    const auto match_id = str(launch, "match_id");
    const auto seen = in_game_seen_.find({player, match_id});
    if (seen == in_game_seen_.end()) {
        violate(Inv::I1, "a client of " + player + " was launched for " + match_id +
                             " before that player saw the room IN_GAME");
    } else if (num(seen->second, "port") != num(launch, "port") ||
               str(seen->second, "client_token") != str(launch, "client_token")) {
        violate(Inv::I1, "the client of " + player + " for " + match_id +
                             " was launched with a port or token the IN_GAME view did not carry");
    } else {
        check(Inv::I1);
    }
}

void Checkers::on_client_result(const std::string& player, const std::string& match_id, const json& result) {
    if (str(result, "result") == "connect_failed") {
        violate(Inv::I1, "the client of " + player + " launched on IN_GAME of " + match_id +
                             " could not connect: the game server was not accepting yet (" + result.dump() + ")");
    } else {
        check(Inv::I1);
    }
}

void Checkers::expect_one_end(const std::string& match_id, const std::vector<std::string>& players) {
    for (const auto& player : players) {
        if (ends_seen(match_id, player) == 1) {
            check(Inv::I8);
        } else {
            violate(Inv::I8, player + " received " + std::to_string(ends_seen(match_id, player)) +
                                 " match.ended events for " + match_id + " (expected exactly one)");
        }
    }
}

std::uint64_t Checkers::ends_seen(const std::string& match_id, const std::string& player) const {
    const auto it = ends_.find({match_id, player});
    return it == ends_.end() ? 0 : static_cast<std::uint64_t>(it->second);
}

void Checkers::add_secret(const std::string& secret, const std::string& what) {
    if (secret.size() < 16) {
        return;  // not a token of ours; too short to search for meaningfully
    }
    live_secrets_[secret] = what;
    all_secrets_[secret] = what;
}

void Checkers::retire_secret(const std::string& secret) {
    live_secrets_.erase(secret);
}

void Checkers::scan_argv() {
    if (live_secrets_.empty()) {
        return;
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto cmdline = read_text(entry.path() / "cmdline");
        if (cmdline.empty()) {
            continue;
        }
        bool clean = true;
        for (const auto& [secret, what] : live_secrets_) {
            if (cmdline.find(secret) != std::string::npos) {
                auto shown = cmdline;
                std::replace(shown.begin(), shown.end(), '\0', ' ');
                violate(Inv::I9, "process " + name + " has " + what + " " + protocol::redact_token(secret) +
                                     " in its argv: " + shown.substr(0, 200));
                clean = false;
            }
        }
        if (clean) {
            check(Inv::I9);
        }
    }
}

void Checkers::scan_files(const std::vector<fs::path>& files) {
    for (const auto& file : files) {
        const auto text = read_text(file);
        bool clean = true;
        for (const auto& [secret, what] : all_secrets_) {
            if (text.find(secret) != std::string::npos) {
                violate(Inv::I9, file.string() + " contains " + what + " " + protocol::redact_token(secret) +
                                     " in full");
                clean = false;
            }
        }
        if (clean) {
            check(Inv::I9);
        }
    }
}

std::vector<InvariantResult> Checkers::results(const std::vector<std::string>& checked,
                                               const std::vector<std::string>& expected_broken) const {
    std::vector<InvariantResult> out;
    for (int i = 0; i < 9; ++i) {
        InvariantResult result = inv_[i];
        result.name = inv_name(static_cast<Inv>(i));
        if (!checked.empty() && std::find(checked.begin(), checked.end(), result.name) == checked.end()) {
            continue;
        }
        result.expected_broken =
            std::find(expected_broken.begin(), expected_broken.end(), result.name) != expected_broken.end();
        out.push_back(std::move(result));
    }
    return out;
}

}  // namespace gamestore::sim
