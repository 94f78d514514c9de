#include "player/rooms.hpp"

#include <algorithm>
#include <iostream>

#include "platform/cli/cli_common.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "player/game_client.hpp"
#include "player/player_store.hpp"
#include "player/stop_signals.hpp"

namespace gamestore::cli::player {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// With --json, stdout carries exactly one JSON object: everything the flow
// says on the way goes to stderr until the result is printed.
class StdoutToStderr {
  public:
    explicit StdoutToStderr(bool active) {
        if (active) {
            std::cout.flush();
            saved_ = std::cout.rdbuf(std::cerr.rdbuf());
        }
    }
    ~StdoutToStderr() { restore(); }
    void restore() {
        if (saved_) {
            std::cout.rdbuf(saved_);
            saved_ = nullptr;
        }
    }
    StdoutToStderr(const StdoutToStderr&) = delete;
    StdoutToStderr& operator=(const StdoutToStderr&) = delete;

  private:
    std::streambuf* saved_ = nullptr;
};

std::string member_list(const json& room) {
    std::string text;
    for (const auto& member : array_or_empty(room, "members")) {
        std::string flags;
        if (bool_or(member, "ready", false)) {
            flags += "ready";
        }
        if (!bool_or(member, "connected", true)) {
            flags += std::string(flags.empty() ? "" : ", ") + "disconnected";
        }
        text += (text.empty() ? "" : ", ") + string_or(member, "name", "?") +
                (flags.empty() ? "" : " (" + flags + ")");
    }
    return text.empty() ? "nobody" : text;
}

// Joins the oldest open room of the game (or the one asked for), or creates
// one; returns the room.
// The room of a room.create/room.join answer; says so when the server took
// the player out of a room an ended session of theirs had left behind.
json entered_room(const json& data) {
    if (const auto left = object_or_empty(data, "left_room"); !left.empty()) {
        std::cout << "You were still in room " << room_id_of(left) << " ("
                  << string_or(left, "game", "?")
                  << ") from an earlier session that ended; you left it.\n";
    }
    return object_or_empty(data, "room");
}

json enter_room(ToolSession& session, const PlayOptions& options) {
    auto& server = session.server();
    if (options.join) {
        return entered_room(server.call("room.join", {{"room_id", *options.join}},
                                        "Joining room " + std::to_string(*options.join)));
    }
    if (!options.new_room) {
        const auto listed = server.call("room.list", json::object(), "Listing the rooms");
        std::vector<json> open;
        for (const auto& room : array_or_empty(listed, "rooms")) {
            if (string_or(room, "game", "") == options.game &&
                string_or(room, "state", "") == "WAITING" &&
                number_or(room, "player_count", 0) < number_or(room, "max_players", 0)) {
                open.push_back(room);
            }
        }
        // Room ids grow with time: the lowest id is the oldest room.
        std::sort(open.begin(), open.end(),
                  [](const json& a, const json& b) { return room_id_of(a) < room_id_of(b); });
        for (const auto& room : open) {
            const auto response = server.call_raw("room.join", {{"room_id", room_id_of(room)}});
            if (response.ok) {
                return entered_room(response.data);
            }
            // Filled up, started or closed since the listing: try the next one.
            if (response.error_code != "CONFLICT" && response.error_code != "NOT_FOUND") {
                require_ok(response, "Joining room " + std::to_string(room_id_of(room)));
            }
            std::cout << "Room " << room_id_of(room)
                      << " cannot be joined any more: " << as_sentence(response.message) << "\n";
        }
    }
    return entered_room(server.call("room.create", {{"game", options.game}},
                                    "Creating a room for " + options.game));
}

}  // namespace

std::int64_t room_id_of(const json& room) {
    return static_cast<std::int64_t>(number_or(room, "room_id", 0));
}

int ready_count(const json& room) {
    int ready = 0;
    for (const auto& member : array_or_empty(room, "members")) {
        ready += bool_or(member, "ready", false) ? 1 : 0;
    }
    return ready;
}

bool is_host(const json& room, const std::string& user) {
    return string_or(room, "host", "") == user;
}

std::string describe_room(const json& room) {
    return "Room " + std::to_string(room_id_of(room)) + ": " + string_or(room, "game", "?") + " " +
           string_or(room, "version", "?") + ", " + string_or(room, "state", "?") + ", host " +
           string_or(room, "host", "?") + "; " + member_list(room);
}

void print_room_event(const protocol::Event& event, std::string& last_description) {
    if (event.name == "room.updated") {
        const auto description = describe_room(event.data);
        if (description != last_description) {
            std::cout << description << "\n";
            last_description = description;
        }
    } else if (event.name == "room.chat") {
        std::cout << "[room " << static_cast<std::int64_t>(number_or(event.data, "room_id", 0))
                  << "] " << string_or(event.data, "from", "?") << ": "
                  << string_or(event.data, "text", "") << "\n";
    } else if (event.name == "match.ended") {
        std::cout << "Match " << string_or(event.data, "match_id", "?")
                  << " ended: " << string_or(event.data, "status", "?") << ". "
                  << as_sentence(string_or(event.data, "reason", "")) << "\n";
    } else if (event.name == "server.shutdown") {
        std::cout << "The server is shutting down: "
                  << as_sentence(string_or(event.data, "message", "")) << "\n";
    }
    std::cout.flush();
}

int list_rooms(ToolSession& session, bool as_json) {
    const auto data = session.server().call("room.list", json::object(), "Listing the rooms");
    const auto rooms = array_or_empty(data, "rooms");
    if (as_json) {
        std::cout << json{{"rooms", rooms}}.dump() << "\n";
        return kExitOk;
    }
    if (rooms.empty()) {
        std::cout << "No rooms are open. Create one with: " << program_name() << " play GAME\n";
        return kExitOk;
    }
    TextTable table({"ROOM", "GAME", "VERSION", "HOST", "PLAYERS", "STATE", "MEMBERS"});
    for (const auto& room : rooms) {
        table.add_row({std::to_string(room_id_of(room)), string_or(room, "game", "?"),
                       string_or(room, "version", "?"), string_or(room, "host", "?"),
                       std::to_string(static_cast<int>(number_or(room, "player_count", 0))) + "/" +
                           std::to_string(static_cast<int>(number_or(room, "max_players", 0))),
                       string_or(room, "state", "?"), member_list(room)});
    }
    table.print(std::cout);
    return kExitOk;
}

int list_players(ToolSession& session, bool as_json) {
    const auto data = session.server().call("lobby.players", json::object(), "Listing the players");
    const auto players = array_or_empty(data, "players");
    if (as_json) {
        std::cout << json{{"players", players}}.dump() << "\n";
        return kExitOk;
    }
    if (players.empty()) {
        std::cout << "No players are online.\n";
        return kExitOk;
    }
    TextTable table({"PLAYER", "ROOM", "STATE"});
    for (const auto& player : players) {
        const auto room = player.contains("room_id") && player["room_id"].is_number()
                              ? std::to_string(player["room_id"].get<std::int64_t>())
                              : std::string("-");
        std::string state = string_or(player, "state", "?");
        if (!bool_or(player, "connected", true)) {
            state += " (disconnected)";
        }
        table.add_row({string_or(player, "name", "?"), room, state});
    }
    table.print(std::cout);
    return kExitOk;
}

namespace {

// A stop signal came while `play` was in a room: leave it (as Ctrl-C on the
// room screen would) and exit the way a shell reports a signalled job.
[[noreturn]] void leave_after_signal(ToolSession& session, std::int64_t room_id,
                                     int signal_number) {
    std::string left = "left room " + std::to_string(room_id);
    if (session.has_server() && session.server().raw().connected()) {
        const auto response = session.server().call_raw("room.leave", json::object());
        if (!response.ok) {
            left = "room " + std::to_string(room_id) + " could not be left (" +
                   as_sentence(response.message) + ")";
        }
    } else {
        left = "no connection to leave room " + std::to_string(room_id) +
               " (the server takes you out of it when you next enter a room)";
    }
    throw CliFailure(128 + signal_number, std::string("Stopped by ") +
                                              stop_signal_name(signal_number) + "; " + left + ".");
}

}  // namespace

int play_game(ToolSession& session, const PlayOptions& options) {
    StdoutToStderr quiet_stdout(options.json);
    const auto deadline = Clock::now() + options.timeout;
    const std::string user = session.identity().user;
    // The connection is looked up on every use: a match's run may replace
    // it (reconnect, game_client.cpp).
    const auto server = [&session]() -> SignedInClient& { return session.server(); };

    // 1. The live version, installed or updated.
    install_game(session, options.game, std::nullopt);

    // 2. A room, and the package of the room's version. From here on a
    // stop signal leaves the room before gamestore-player exits.
    json room = enter_room(session, options);
    StopSignals stop_signals;
    const auto room_id = room_id_of(room);
    if (string_or(room, "game", "") != options.game) {
        server().call_raw("room.leave", json::object());
        throw CliFailure(kExitUsage, "Room " + std::to_string(room_id) + " plays " +
                                         string_or(room, "game", "?") + ", not " + options.game +
                                         "; left it again.");
    }
    std::cout << "You are in room " << room_id
              << (is_host(room, user) ? " (you are the host)." : ".") << "\n";
    ensure_installed_version(session, options.game, string_or(room, "version", ""));
    const int max_players = static_cast<int>(number_or(room, "max_players", 0));
    const int min_players = static_cast<int>(number_or(room, "min_players", 1));
    const int start_at = options.start_at.value_or(min_players);
    if (start_at > max_players || start_at < min_players) {
        server().call_raw("room.leave", nlohmann::json::object());
        throw CliFailure(kExitUsage, "--start-at " + std::to_string(start_at) + " does not fit " +
                                         options.game + ": it plays with " +
                                         std::to_string(min_players) + " to " +
                                         std::to_string(max_players) + " players.");
    }

    // 3. Ready. From here on the room is followed through room.updated
    // events only: the server pushes them before it answers, so a response's
    // snapshot is older than events still queued behind it and must not be
    // applied after them.
    server().call("room.ready", {{"ready", true}}, "Getting ready");
    std::string last_description;  // the first event prints the room
    if (is_host(room, user)) {
        std::cout << "Waiting until " << start_at << (start_at == 1 ? " player is" : " players are")
                  << " ready, then starting the match.\n";
    } else {
        std::cout << "Waiting for the host (" << string_or(room, "host", "?")
                  << ") to start the match.\n";
    }

    const auto follow = [&](const protocol::Event& event) {
        if (event.name == "room.updated" && room_id_of(event.data) == room_id) {
            room = event.data;
        }
        if (event.name != "match.ended") {  // the result is printed at the end
            print_room_event(event, last_description);
        }
    };

    std::optional<MatchRun> run;
    bool start_tried = false;  // room.start was asked for on the current snapshot
    std::optional<Clock::time_point> back_deadline;
    for (;;) {
        if (const int signal_number = stop_requested()) {
            leave_after_signal(session, room_id, signal_number);
        }
        const auto now = Clock::now();
        const std::string state = string_or(room, "state", "");
        if (run) {
            // The platform cleans up (ENDING) before the room is WAITING again.
            if (state == "WAITING" || run->timed_out || run->connection_lost || run->out_of_room) {
                break;
            }
            if (!back_deadline) {
                back_deadline = std::min(deadline, now + std::chrono::seconds(30));
            }
            if (now >= *back_deadline) {
                break;
            }
        } else if (now >= deadline) {
            server().call_raw("room.leave", nlohmann::json::object());
            throw CliFailure(kExitRefused, "No match ended within the --timeout of " +
                                               std::to_string(options.timeout.count()) +
                                               " s; left room " + std::to_string(room_id) + ".");
        } else if (state == "IN_GAME" && room.contains("launch")) {
            // Only now do a port and a token exist; STARTING means "wait".
            MatchRunOptions match_options;
            match_options.json = options.json;
            match_options.deadline = deadline;
            match_options.reconnect_window = std::chrono::seconds(60);
            run = run_match(session, room, match_options, follow);
            continue;
        } else if (state == "WAITING" && is_host(room, user) && !start_tried &&
                   ready_count(room) >= start_at) {
            start_tried = true;
            const int ready = ready_count(room);
            std::cout << ready << (ready == 1 ? " player is" : " players are")
                      << " ready: starting the match.\n";
            const auto response = server().call_raw("room.start", json::object());
            if (response.ok) {
                std::cout << "The match is starting: waiting for its game server.\n";
            } else if (response.error_code == "CONFLICT" || response.error_code == "UNAVAILABLE") {
                std::cout << "The match cannot start yet: " << as_sentence(response.message)
                          << "\n";
            } else {
                require_ok(response, "Starting the match");
            }
        }
        const auto limit = back_deadline ? *back_deadline : deadline;
        const auto wait =
            std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()),
                       std::chrono::milliseconds(1), std::chrono::milliseconds(500));
        if (run && run->stop_signal) {
            continue;  // the run stopped for a signal: leave at the top
        }
        auto& client = server().raw();
        if (auto event = client.next_event(wait)) {
            if (event->name == "room.updated" && room_id_of(event->data) == room_id) {
                start_tried = false;
            }
            if (event->name == "match.ended" && !run && room_id_of(event->data) == room_id) {
                // The match failed before IN_GAME (startup timeout, launch
                // failure): no client was ever started.
                MatchRun failed;
                failed.room_id = room_id;
                failed.game = string_or(room, "game", "");
                failed.version = string_or(room, "version", "");
                failed.match_id = string_or(event->data, "match_id", "");
                failed.ended = event->data;
                failed.client_problem = "";
                run = std::move(failed);
            }
            follow(*event);
        }
        if (!client.connected()) {
            if (run) {
                run->connection_lost = !run->ended;
                break;
            }
            throw CliFailure(kExitUnreachable, "The connection to the server was lost.");
        }
    }

    if (run->ended && string_or(room, "state", "") == "WAITING") {
        std::cout << "Back in room " << room_id << " (WAITING).\n";
    }
    quiet_stdout.restore();
    print_match_result(*run, user, options.json, std::cout);
    const int code = match_exit_code(*run);
    if (code != kExitOk && !options.json && run->ended) {
        const std::string status = string_or(*run->ended, "status", "?");
        if (status != "END") {
            std::cerr << program_name() << ": the match ended with " << status << ": "
                      << as_sentence(string_or(*run->ended, "reason", "")) << "\n";
        } else if (!run->client_problem.empty() || !run->client_launched) {
            std::cerr << program_name() << ": the match ended, but your game client failed.\n";
        }
    }
    return code;
}

}  // namespace gamestore::cli::player
