#include "player/room_menu.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "platform/cli/account.hpp"
#include "platform/cli/cli_common.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "platform/protocol/lobby_mirror.hpp"
#include "player/game_client.hpp"
#include "player/player_store.hpp"
#include "player/rooms.hpp"

namespace gamestore::cli::player {

using nlohmann::json;

namespace {

// Thrown from the event handler after a match to abandon the prompt the
// player was at: run_menu prints the sentence and shows the room screen
// again, fresh.
class BackInRoom : public CliFailure {
  public:
    explicit BackInRoom(const std::string& message) : CliFailure(kExitOk, message) {}
};

// How long a match started from the menus may take, client included.
constexpr auto kMenuMatchBound = std::chrono::hours(2);

struct RoomScreen {
    json room;
    std::string last_description;
    std::string user;
};

void on_room_event(ToolSession& session, RoomScreen& screen, const protocol::Event& event) {
    const auto follow = [&screen](const protocol::Event& e) {
        if (e.name == "room.updated" && room_id_of(e.data) == room_id_of(screen.room)) {
            screen.room = e.data;
        }
        if (!protocol::is_lobby_delta(e.name)) {
            std::cout << "\n";
            print_room_event(e, screen.last_description);
        }
    };
    follow(event);
    if (event.name == "room.updated" && room_id_of(event.data) == room_id_of(screen.room) &&
        string_or(event.data, "state", "") == "IN_GAME" && event.data.contains("launch")) {
        MatchRunOptions options;
        options.deadline = std::chrono::steady_clock::now() + kMenuMatchBound;
        const auto run = run_match(session, event.data, options, follow);
        std::cout << "\n";
        print_match_result(run, screen.user, false, std::cout);
        if (run.connection_lost) {
            throw SessionEnded(kExitUnreachable, "The connection to the server was lost.");
        }
        throw BackInRoom("Back in room " + std::to_string(room_id_of(screen.room)) + ".");
    }
}

// Puts the general session watch back when the room screen ends, however it
// ends (the room screen's handler refers to its local state).
class RoomWatch {
  public:
    RoomWatch(Console& console, SignedInClient& server,
              std::function<void(const protocol::Event&)> handler)
        : console_(console), server_(server) {
        watch_session(console_, server_, std::move(handler));
    }
    ~RoomWatch() { watch_session(console_, server_, nullptr); }
    RoomWatch(const RoomWatch&) = delete;
    RoomWatch& operator=(const RoomWatch&) = delete;

  private:
    Console& console_;
    SignedInClient& server_;
};

// The room screen, until the player leaves the room (or input ends).
MenuStep room_screen(ToolSession& session, json room) {
    auto& console = session.console();
    auto& server = session.server();
    RoomScreen screen{std::move(room), "", session.identity().user};
    screen.last_description = describe_room(screen.room);
    ensure_installed_version(session, string_or(screen.room, "game", ""),
                             string_or(screen.room, "version", ""));
    RoomWatch watch(console, server,
                    [&](const protocol::Event& event) { on_room_event(session, screen, event); });
    // After an action: the server pushed the room's new state before it
    // answered, so the queued events are applied now, in order (a
    // response's snapshot may be older than events queued behind it). Our
    // own room changes are shown by the next title rather than echoed.
    const auto settle = [&] {
        while (auto event = server.raw().next_event(std::chrono::milliseconds(0))) {
            if (event->name == "room.updated" &&
                room_id_of(event->data) == room_id_of(screen.room) &&
                !(string_or(event->data, "state", "") == "IN_GAME" &&
                  event->data.contains("launch"))) {
                screen.room = event->data;
                screen.last_description = describe_room(screen.room);
                continue;
            }
            on_room_event(session, screen, *event);
        }
    };
    const auto me_ready = [&] {
        for (const auto& member : array_or_empty(screen.room, "members")) {
            if (string_or(member, "name", "") == screen.user) {
                return bool_or(member, "ready", false);
            }
        }
        return false;
    };
    bool left = false;
    const std::vector<MenuEntry> entries = {
        {"Ready / not ready",
         [&] {
             const bool ready = !me_ready();
             server.call("room.ready", {{"ready", ready}}, "Changing readiness");
             std::cout << (ready ? "You are ready.\n" : "You are not ready.\n");
             settle();
             return MenuStep::Stay;
         }},
        {"Start the match (host)",
         [&] {
             server.call("room.start", json::object(), "Starting the match");
             std::cout << "The match is starting; the game opens once its server is up.\n";
             settle();
             return MenuStep::Stay;
         }},
        {"Send a chat message",
         [&] {
             const auto text = console.read_line("Message: ");
             if (text && !text->empty()) {
                 server.call("room.chat", {{"text", *text}}, "Sending the message");
             }
             return MenuStep::Stay;
         }},
        {"Show the room",
         [&] {
             settle();
             screen.room =
                 object_or_empty(server.call("room.get", {{"room_id", room_id_of(screen.room)}},
                                             "Looking at the room"),
                                 "room");
             return MenuStep::Stay;
         }},
        {"Leave the room",
         [&] {
             server.call("room.leave", json::object(), "Leaving the room");
             std::cout << "You left room " << room_id_of(screen.room) << ".\n";
             left = true;
             return MenuStep::Leave;
         }},
    };
    const auto title = [&] {
        screen.last_description = describe_room(screen.room);
        return screen.last_description + "\n" +
               (is_host(screen.room, screen.user) ? "You are the host; you are " : "You are ") +
               (me_ready() ? "ready." : "not ready.");
    };
    bool more = true;
    for (;;) {
        try {
            more = run_menu(console, title, entries);
            break;
        } catch (const BackInRoom& back) {
            // A match ran while the screen waited; show the room afresh.
            std::cout << back.what() << "\n";
        }
    }
    if (!left && !more && server.raw().connected()) {
        // End of input: do not stay behind in the room.
        server.call_raw("room.leave", nlohmann::json::object());
    }
    return more ? MenuStep::Stay : MenuStep::Leave;
}

MenuStep list_and_join(ToolSession& session) {
    const auto data = session.server().call("room.list", json::object(), "Listing the rooms");
    const auto rooms = array_or_empty(data, "rooms");
    if (rooms.empty()) {
        std::cout << "No rooms are open; create one.\n";
        return MenuStep::Stay;
    }
    std::vector<std::string> lines;
    for (const auto& room : rooms) {
        lines.push_back(describe_room(room));
    }
    const auto choice = session.console().choose("Rooms:", lines, "Join which room");
    if (!choice) {
        return MenuStep::Leave;
    }
    if (*choice == 0) {
        return MenuStep::Stay;
    }
    const auto id = room_id_of(rooms[*choice - 1]);
    const auto joined =
        session.server().call("room.join", {{"room_id", id}}, "Joining room " + std::to_string(id));
    std::cout << "You joined room " << id << ".\n";
    return room_screen(session, object_or_empty(joined, "room"));
}

MenuStep create_room(ToolSession& session) {
    const auto games = installed_games(session).list();
    if (games.empty()) {
        std::cout << "No games are installed; install one from the store first.\n";
        return MenuStep::Stay;
    }
    std::vector<std::string> lines;
    for (const auto& game : games) {
        lines.push_back(game.game + " " + game.version);
    }
    const auto choice = session.console().choose("Create a room for:", lines, "Choose a game");
    if (!choice) {
        return MenuStep::Leave;
    }
    if (*choice == 0) {
        return MenuStep::Stay;
    }
    const auto& game = games[*choice - 1];
    const auto created =
        session.server().call("room.create", {{"game", game.game}, {"version", game.version}},
                              "Creating a room for " + game.game);
    const auto room = object_or_empty(created, "room");
    std::cout << "You created room " << room_id_of(room) << " and are its host.\n";
    return room_screen(session, room);
}

MenuStep join_by_id(ToolSession& session) {
    const auto id = session.console().read_number("Room id (0 to go back): ", 0, 1'000'000'000);
    if (!id) {
        return MenuStep::Leave;
    }
    if (*id == 0) {
        return MenuStep::Stay;
    }
    const auto joined = session.server().call("room.join", {{"room_id", *id}},
                                              "Joining room " + std::to_string(*id));
    std::cout << "You joined room " << *id << ".\n";
    return room_screen(session, object_or_empty(joined, "room"));
}

}  // namespace

MenuStep rooms_menu(ToolSession& session) {
    const bool more = run_menu(
        session.console(),
        [&session] { return "Rooms (signed in as player " + session.identity().user + ")"; },
        {
            {"List the rooms and join one", [&session] { return list_and_join(session); }},
            {"Create a room for an installed game", [&session] { return create_room(session); }},
            {"Join a room by its id", [&session] { return join_by_id(session); }},
            {"Players online",
             [&session] {
                 list_players(session, false);
                 return MenuStep::Stay;
             }},
            {"Back", [] { return MenuStep::Leave; }},
        });
    return more ? MenuStep::Stay : MenuStep::Leave;
}

}  // namespace gamestore::cli::player
