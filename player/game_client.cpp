#include "player/game_client.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "platform/cli/cli_common.hpp"
#include "platform/cli/fs_util.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/cli/tool_session.hpp"
#include "platform/launch/process_launcher.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/packages/launch_info.hpp"
#include "platform/packages/manifest.hpp"
#include "player/installer.hpp"
#include "player/player_store.hpp"
#include "player/stop_signals.hpp"

namespace gamestore::cli::player {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// While a CLI game owns the terminal, Ctrl-C and Ctrl-\ are for the game
// (its process group is ours, so it gets them too); like a shell, we ignore
// them until it exits. The launcher resets them to default in the child.
class TerminalSignalsIgnored {
  public:
    explicit TerminalSignalsIgnored(bool active) : active_(active) {
        if (!active_) {
            return;
        }
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(SIGINT, &ignore, &old_int_);
        ::sigaction(SIGQUIT, &ignore, &old_quit_);
    }
    ~TerminalSignalsIgnored() {
        if (active_) {
            ::sigaction(SIGINT, &old_int_, nullptr);
            ::sigaction(SIGQUIT, &old_quit_, nullptr);
        }
    }
    TerminalSignalsIgnored(const TerminalSignalsIgnored&) = delete;
    TerminalSignalsIgnored& operator=(const TerminalSignalsIgnored&) = delete;

  private:
    bool active_;
    struct sigaction old_int_ {};
    struct sigaction old_quit_ {};
};

// A spawned game client: its pid, a pidfd to poll on (-1 when the kernel has
// none: then we look at it with WNOHANG on every wake-up) and its group when
// it has one of its own.
class ClientProcess {
  public:
    ClientProcess(pid_t pid, pid_t own_group) : pid_(pid), own_group_(own_group) {
        // Through syscall(2): glibc 2.36's <sys/pidfd.h> wrapper is not
        // usable from C++ here. -1 (ENOSYS on old kernels) is handled.
        pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    }
    ~ClientProcess() {
        if (running()) {
            terminate();
        }
        if (pidfd_ >= 0) {
            ::close(pidfd_);
        }
    }
    ClientProcess(const ClientProcess&) = delete;
    ClientProcess& operator=(const ClientProcess&) = delete;

    int pidfd() const { return pidfd_; }
    bool running() const { return !status_; }
    std::optional<int> status() const { return status_; }

    // Reaps the client when it has exited; true then.
    bool poll_exit() {
        if (status_) {
            return true;
        }
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = status;
            return true;
        }
        if (r < 0 && errno != EINTR) {
            status_ = 0;  // not our child any more (cannot happen): treat as gone
            return true;
        }
        return false;
    }

    // SIGTERM (and SIGCONT) to the client, 3 s to go, then SIGKILL.
    void terminate() {
        send(SIGTERM);
        send(SIGCONT);
        if (!wait_exit(std::chrono::milliseconds(3000))) {
            send(SIGKILL);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            status_ = status;
        }
    }

    // Waits up to `timeout` for the client to exit.
    bool wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!poll_exit()) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                return false;
            }
            if (pidfd_ >= 0) {
                pollfd p{pidfd_, POLLIN, 0};
                ::poll(&p, 1, static_cast<int>(left.count()));
            } else {
                pollfd none{-1, 0, 0};
                ::poll(&none, 0, static_cast<int>(std::min<long long>(left.count(), 50)));
            }
        }
        return true;
    }

  private:
    void send(int signo) {
        // A GUI client has a group of its own: signal all of it. A CLI
        // client shares ours, so only the client itself.
        if (own_group_ > 0) {
            ::kill(-own_group_, signo);
        } else {
            ::kill(pid_, signo);
        }
    }

    pid_t pid_;
    pid_t own_group_;
    int pidfd_ = -1;
    std::optional<int> status_;
};

std::string describe_status(int status) {
    if (WIFEXITED(status)) {
        return "exited with code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const int signo = WTERMSIG(status);
        const char* name = ::sigabbrev_np(signo);
        return "was killed by signal " + std::to_string(signo) +
               (name ? std::string(" (SIG") + name + ")" : "");
    }
    return "ended with wait status " + std::to_string(status);
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return -WTERMSIG(status);
    }
    return -1;
}

void set_env(std::vector<std::pair<std::string, std::string>>& env, const std::string& key,
             std::string value) {
    for (auto& entry : env) {
        if (entry.first == key) {
            entry.second = std::move(value);
            return;
        }
    }
    env.emplace_back(key, std::move(value));
}

// The last lines of a GUI client's log, so a failure is explained before the
// match directory (and the log in it) is removed.
std::string log_tail(const fs::path& log, std::size_t max_lines) {
    std::ifstream in(log);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line.size() > 300 ? line.substr(0, 300) + "…" : line);
        if (lines.size() > max_lines) {
            lines.erase(lines.begin());
        }
    }
    std::string out;
    for (const auto& l : lines) {
        out += "  | " + l + "\n";
    }
    return out;
}

struct Launched {
    std::unique_ptr<ClientProcess> process;
    bool terminal = false;     // a CLI game: it owns the terminal
    fs::path log;              // GUI games only
    std::string window_title;  // GUI games only: the title proposed to the game
};

// What a GUI game's window is called, so the player can find it among their
// windows: the game and whose window it is (two players on one desktop).
std::string window_title_for(const std::string& game, const std::string& player) {
    return game + " - " + player;
}

// Renders and spawns the client; throws CliFailure with the reason when it
// cannot start.
Launched launch_client(ToolSession& session, const json& room, const fs::path& match_dir,
                       const MatchRunOptions& options) {
    const auto& launch = room.at("launch");
    const std::string game = string_or(room, "game", "");
    const std::string version = string_or(room, "version", "");
    const auto installed = ensure_installed_version(session, game, version);
    const auto parsed = packages::load_manifest(installed.package_root / "manifest.json");
    if (!parsed.ok()) {
        std::string reasons;
        for (const auto& issue : parsed.issues) {
            reasons += " " + as_sentence(packages::format_issue(issue));
        }
        throw CliFailure(kExitUsage, "The installed manifest of " + game + " " + version +
                                         " does not load:" + reasons + " Reinstall it with: " +
                                         program_name() + " install \"" + game + "\"");
    }
    const auto& manifest = *parsed.manifest;

    packages::LaunchContext context;
    try {
        context =
            packages::client_context_from_launch(launch, room, session.identity().user, match_dir);
    } catch (const packages::LaunchInfoError& e) {
        throw CliFailure(kExitRefused, "The server's launch information is incomplete: " +
                                           std::string(e.what()) + ".");
    }

    // A directory left by an earlier run of this match id (impossible unless
    // we were killed mid-match) is replaced.
    ensure_private_dir(match_dir.parent_path());
    remove_quietly(match_dir);
    try {
        launch::create_private_dir(match_dir);
        launch::write_private_file(context.client_token_path, context.client_token);
    } catch (const std::exception& e) {
        throw CliFailure(kExitUsage, as_sentence(e.what()));
    }

    packages::LaunchSpec spec;
    try {
        spec = packages::render_client_launch(manifest, context, installed.package_root);
    } catch (const std::exception& e) {
        throw CliFailure(kExitUsage, "The client command of " + game + " " + version +
                                         " cannot be prepared: " + as_sentence(e.what()));
    }
    if (packages::argv_contains_secret(spec.argv, {context.client_token})) {
        throw CliFailure(
            kExitUsage,
            "The client command of " + game + " " + version +
                " would put the client token on the command line; refusing to start it.");
    }

    launch::ProcessSpec process;
    process.argv = spec.argv;
    process.env = launch::base_environment();
    // The player's own bot settings reach the client (games let a script or
    // a test play for the player with these).
    for (const char* name : {"GAMESTORE_BOT", "GAMESTORE_BOT_SEED"}) {
        if (const char* value = std::getenv(name)) {
            set_env(process.env, name, value);
        }
    }
    for (const auto& [key, value] : spec.env) {
        set_env(process.env, key, value);
    }
    process.cwd = spec.cwd;
    process.new_session = false;
    Launched launched;
    if (manifest.type == packages::GameType::Cli) {
        launched.terminal = true;
        process.inherit_stdin = true;
        if (options.json) {
            process.output_fd = STDERR_FILENO;  // stdout is for the result object
        }
    } else {
        process.new_process_group = true;
        launched.log = match_dir / "client.log";
        process.output_file = launched.log;
        launched.window_title = window_title_for(game, session.identity().user);
        set_env(process.env, "GAMESTORE_WINDOW_TITLE", launched.window_title);
    }
    std::cout.flush();
    std::cerr.flush();
    auto spawned = launch::spawn_process(process);
    if (auto* error = std::get_if<std::string>(&spawned)) {
        throw CliFailure(kExitUsage, "The game client of " + game + " " + version +
                                         " could not start: " + as_sentence(*error));
    }
    const auto& child = std::get<launch::SpawnedProcess>(spawned);
    launched.process =
        std::make_unique<ClientProcess>(child.pid, process.new_process_group ? child.pgid : 0);
    return launched;
}

// Tells the platform whether this player's game client runs, so a match
// every player has left can be stopped (docs/PROTOCOL.md, match.client).
// Best effort: without a connection, or on a server without the op, the
// match goes on as before.
void tell_client_state(ToolSession& session, const std::string& match_id, bool running) {
    if (!session.has_server() || !session.server().raw().connected()) {
        return;
    }
    session.server().call_raw("match.client",
                              {{"match_id", match_id}, {"state", running ? "running" : "exited"}});
}

// The lobby connection dropped mid-match: sign in again with the saved
// session (attempts with a growing pause until `give_up`) and re-enter the
// room, so the platform counts the player back in and, when the match ended
// meanwhile, pushes its match.ended. False when no connection came back;
// `in_room` says whether the player is still a member of the room.
bool reconnect(ToolSession& session, std::int64_t room_id, Clock::time_point give_up,
               bool& in_room) {
    std::cout << "The connection to the server was lost; reconnecting.\n";
    std::cout.flush();
    auto pause = std::chrono::milliseconds(250);
    for (;;) {
        session.drop_server();
        try {
            session.server();
            break;
        } catch (const SessionEnded&) {
            throw;
        } catch (const CliFailure& failure) {
            if (failure.code() != kExitUnreachable || Clock::now() + pause >= give_up ||
                stop_requested()) {
                std::cout << "Could not reconnect: " << as_sentence(failure.what()) << "\n";
                return false;
            }
        }
        // A pause between connection attempts, not a wait for an event.
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
    const auto joined = session.server().call_raw("room.join", {{"room_id", room_id}});
    in_room = joined.ok;
    if (in_room) {
        std::cout << "Reconnected; still in room " << room_id << ".\n";
    } else {
        std::cout << "Reconnected, but no longer in room " << room_id << ": "
                  << as_sentence(joined.message) << "\n";
    }
    return true;
}

}  // namespace

InstalledGame ensure_installed_version(ToolSession& session, const std::string& game,
                                       const std::string& version) {
    auto library = installed_games(session);
    if (auto installed = library.find(game); installed && installed->version == version) {
        return *installed;
    }
    std::cout << "This room plays " << game << " " << version << "; installing it first.\n";
    install_game(session, game, version);
    auto installed = library.find(game);
    if (!installed || installed->version != version) {
        throw CliFailure(kExitUsage, game + " " + version + " did not install.");
    }
    return *installed;
}

MatchRun run_match(ToolSession& session, const json& room, const MatchRunOptions& options,
                   const std::function<void(const protocol::Event&)>& on_event) {
    MatchRun run;
    run.room_id = static_cast<std::int64_t>(number_or(room, "room_id", 0));
    run.game = string_or(room, "game", "");
    run.version = string_or(room, "version", "");
    const auto launch_info = object_or_empty(room, "launch");
    run.match_id = string_or(launch_info, "match_id", string_or(room, "match_id", ""));
    if (run.match_id.empty() || !is_safe_component(run.match_id)) {
        throw CliFailure(kExitRefused, "The server announced a match without a usable match id.");
    }
    const fs::path match_dir = session.identity().user_dir() / "matches" / run.match_id;

    std::cout << "Room " << run.room_id << " is IN_GAME: starting the " << run.game << " "
              << run.version << " client (match " << run.match_id << ").\n";
    Launched launched;
    try {
        launched = launch_client(session, room, match_dir, options);
        run.client_launched = true;
        tell_client_state(session, run.match_id, true);
        if (!launched.terminal) {
            std::cout << run.game << " is playing in a window: \"" << launched.window_title
                      << "\". The result is printed here when the match ends.\n";
            if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
                std::cout << "DISPLAY is not set, so the game may have no screen to open its "
                             "window on (run play from a terminal of your desktop session).\n";
            }
        }
    } catch (const SessionEnded&) {
        throw;
    } catch (const CliFailure& failure) {
        if (failure.code() == kExitUnreachable) {
            throw;
        }
        run.client_problem = failure.what();
        std::cout << run.client_problem << "\nYou stay in room " << run.room_id
                  << "; the match goes on without your client until the platform ends it.\n";
    }
    TerminalSignalsIgnored ignore_terminal_signals(launched.terminal);

    std::optional<Clock::time_point> linger_until;
    const auto handle_exit = [&] {
        run.client_exit_code = exit_code_of(*launched.process->status());
        const int status = *launched.process->status();
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            run.client_problem = "Your game client " + describe_status(status) + ".";
            if (!launched.log.empty()) {
                const auto tail = log_tail(launched.log, 10);
                if (!tail.empty()) {
                    run.client_problem += " Its last output:\n" + tail;
                }
            }
            if (!run.ended) {
                std::cout << run.client_problem << "\nYou stay in room " << run.room_id
                          << " until the platform ends the match.\n";
            }
        }
        if (!run.ended) {
            tell_client_state(session, run.match_id, false);
        }
    };
    // After a reconnect that found the room gone: how long match.ended
    // (pushed at sign-in when the match ended meanwhile) may take.
    // max(): not waiting for one.
    Clock::time_point result_wait_until = Clock::time_point::max();
    for (;;) {
        if (const int signal_number = stop_requested()) {
            run.stop_signal = signal_number;
            if (launched.process && launched.process->running()) {
                std::cout << "Stopping the game client (" << stop_signal_name(signal_number)
                          << ").\n";
                launched.process->terminate();
                handle_exit();
            }
            break;
        }
        const bool client_running = launched.process && launched.process->running();
        if (!client_running && (run.ended || run.connection_lost)) {
            break;
        }
        const auto now = Clock::now();
        if (!run.ended && now >= result_wait_until) {
            run.connection_lost = true;
            result_wait_until = Clock::time_point::max();
            continue;
        }
        if (now >= options.deadline) {
            run.timed_out = true;
            break;
        }
        if (run.ended && client_running) {
            if (!linger_until) {
                linger_until = now + options.client_linger;
            } else if (now >= *linger_until) {
                std::cout
                    << "The match is over but the game client is still running; stopping it.\n";
                launched.process->terminate();
                handle_exit();
                continue;
            }
        }
        auto wait =
            std::min(options.deadline - now, Clock::duration(std::chrono::milliseconds(500)));
        if (linger_until) {
            wait = std::min(wait, *linger_until - now);
        }
        if (result_wait_until != Clock::time_point::max()) {
            wait = std::min(wait, Clock::duration(result_wait_until - now));
        }
        pollfd fds[2] = {{-1, POLLIN, 0}, {-1, POLLIN, 0}};
        const bool have_connection = !run.connection_lost && session.has_server();
        if (have_connection) {
            fds[0].fd = session.server().raw().event_fd();
        }
        if (client_running) {
            fds[1].fd = launched.process->pidfd();
        }
        const auto wait_ms = std::max<long long>(
            1, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
        // Without a pidfd the 500 ms cap bounds how late an exit is seen.
        const int ready = ::poll(fds, 2, static_cast<int>(wait_ms));
        if (ready < 0 && errno != EINTR) {
            throw CliFailure(kExitUsage, std::string("Waiting for the match failed: ") +
                                             std::strerror(errno) + ".");
        }
        if (client_running && launched.process->poll_exit()) {
            handle_exit();
        }
        if (!have_connection) {
            continue;
        }
        auto& client = session.server().raw();
        while (auto event = client.next_event(std::chrono::milliseconds(0))) {
            if (event->name == "match.ended" &&
                string_or(event->data, "match_id", "") == run.match_id) {
                run.ended = event->data;
                continue;
            }
            if (on_event) {
                on_event(*event);
            }
        }
        if (!client.connected() && !run.ended && options.reconnect_window.count() > 0) {
            const auto give_up =
                std::min(options.deadline, Clock::now() + options.reconnect_window);
            bool in_room = false;
            if (!reconnect(session, run.room_id, give_up, in_room)) {
                run.connection_lost = true;
            } else {
                run.out_of_room = !in_room;
                if (!in_room) {
                    result_wait_until = Clock::now() + std::chrono::seconds(5);
                } else {
                    tell_client_state(session, run.match_id,
                                      launched.process && launched.process->running());
                }
            }
        } else if (!client.connected()) {
            run.connection_lost = true;
        }
    }
    if (launched.process && launched.process->running()) {
        std::cout << (run.timed_out ? "Time is up; stopping the game client.\n"
                                    : "Stopping the game client.\n");
        launched.process->terminate();
        handle_exit();
    }
    remove_quietly(match_dir);
    return run;
}

int match_exit_code(const MatchRun& run) {
    if (!run.ended) {
        return run.connection_lost ? kExitUnreachable : kExitRefused;
    }
    const bool client_ok =
        run.client_launched && run.client_exit_code == 0 && run.client_problem.empty();
    return string_or(*run.ended, "status", "") == "END" && client_ok ? kExitOk : kExitRefused;
}

json match_result_json(const MatchRun& run, const std::string& player) {
    json you = nullptr;
    json results = json::array();
    if (run.ended) {
        results = array_or_empty(*run.ended, "results");
        for (const auto& entry : results) {
            if (string_or(entry, "player", "") == player) {
                you = entry;
            }
        }
    }
    return {{"room_id", run.room_id},
            {"match_id", run.match_id},
            {"game", run.game},
            {"version", run.version},
            {"player", player},
            {"status", run.ended ? json(string_or(*run.ended, "status", "")) : json(nullptr)},
            {"reason", run.ended ? json(string_or(*run.ended, "reason", "")) : json(nullptr)},
            {"results", results},
            {"you", you},
            {"client",
             {{"launched", run.client_launched},
              {"exit_code", run.client_exit_code ? json(*run.client_exit_code) : json(nullptr)},
              {"problem", run.client_problem.empty() ? json(nullptr) : json(run.client_problem)}}},
            {"timed_out", run.timed_out},
            {"connection_lost", run.connection_lost},
            {"exit_code", match_exit_code(run)}};
}

void print_match_result(const MatchRun& run, const std::string& player, bool as_json,
                        std::ostream& out) {
    if (as_json) {
        out << match_result_json(run, player).dump() << "\n";
        return;
    }
    if (!run.ended) {
        if (run.timed_out) {
            out << "Gave up waiting for match " << run.match_id
                << " to end: the --timeout passed.\n";
        } else if (run.connection_lost) {
            out << "The connection to the server was lost before match " << run.match_id
                << " ended.\n";
        }
        return;
    }
    const auto& ended = *run.ended;
    const std::string status = string_or(ended, "status", "?");
    out << "Match " << run.match_id << " of " << run.game << " " << run.version << " in room "
        << run.room_id << " ended: " << status << ". "
        << as_sentence(string_or(ended, "reason", "")) << "\n";
    const auto results = array_or_empty(ended, "results");
    if (!results.empty()) {
        TextTable table({"", "PLAYER", "OUTCOME", "RANK", "SCORE"});
        for (const auto& entry : results) {
            const std::string name = string_or(entry, "player", "?");
            const bool me = name == player;
            const auto number = [&](const char* key) {
                if (!entry.contains(key) || !entry[key].is_number()) {
                    return std::string("-");
                }
                std::ostringstream text;
                text << entry[key].get<double>();
                return text.str();
            };
            table.add_row({me ? "->" : "", me ? name + " (you)" : name,
                           string_or(entry, "outcome", "?"), number("rank"), number("score")});
        }
        table.print(out);
    }
    if (!run.client_problem.empty()) {
        out << run.client_problem << "\n";
    }
}

}  // namespace gamestore::cli::player
