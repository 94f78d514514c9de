// The GUI reference game end to end on a private virtual display: the real
// server (seeded like ./ci/serve) and both players' `gamestore-player play
// "Dots and Boxes"` with GAMESTORE_BOT=1, whose windows open on an Xvfb the
// test starts (never the user's display). Mid-match both clients are frozen
// (SIGSTOP) and each window is captured with xwd; at the end again; a helper
// checks each screenshot against the board and result the client logged,
// with the game's own layout. The screenshots (PNG) and client logs are kept
// in <build>/test-artifacts/gui_game/ for CI.

#include <signal.h>

#include <regex>

#include <catch2/catch.hpp>

#include "platform/launch/virtual_display.hpp"
#include "platform/packages/command_template.hpp"
#include "platform/store/sqlite_store.hpp"
#include "tests/cli/cli_harness.hpp"
#include "tests/support/platform_harness.hpp"

using namespace gamestore::cli_test;
using namespace std::chrono_literals;
using gamestore::testing::ChildProcess;
using gamestore::testing::ServerFixture;
using gamestore::testing::TestPlayer;
using nlohmann::json;

namespace {

constexpr const char* kGame = "Dots and Boxes";

std::optional<fs::path> program_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    return gamestore::packages::resolve_program(
        gamestore::packages::LaunchSpec{{name}, {}, fs::current_path()},
        path ? path : "/usr/bin:/bin");
}

bool pygame_installed() {
    gamestore::testing::SpawnOptions options;
    options.argv = {"/usr/bin/python3", "-c", "import pygame"};
    options.stdout_file = "/dev/null";
    options.stderr_file = "/dev/null";
    ChildProcess probe(options);
    return probe.wait_exit_code(60s) == 0;
}

// The last value of `key=` on the client log's "window:" line.
std::string window_field(const std::string& log, const std::string& key) {
    const std::regex pattern("^window: .* " + key + "=(\\S+)", std::regex::multiline);
    std::smatch match;
    return std::regex_search(log, match, pattern) ? match[1].str() : std::string();
}

// Keeps the game clients stopped (SIGSTOP) while screenshots are taken, and
// lets them go on however the scope is left.
class Frozen {
  public:
    explicit Frozen(std::vector<pid_t> pids) : pids_(std::move(pids)) {
        for (const pid_t pid : pids_)
            ::kill(pid, SIGSTOP);
    }
    ~Frozen() {
        for (const pid_t pid : pids_)
            ::kill(pid, SIGCONT);
    }
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;

  private:
    std::vector<pid_t> pids_;
};

struct Window {
    std::string player;
    std::string match_id;
    fs::path log;
    pid_t pid = -1;
    std::string id;
    std::string title;
};

// xwd of one window, then the checker; returns the checker's JSON verdict.
json screenshot(const std::string& display, const Window& window, const std::string& when,
                const fs::path& artifacts, const fs::path& package) {
    const auto xwd_file = artifacts / (when + "-" + window.player + ".xwd");
    gamestore::testing::SpawnOptions grab;
    grab.argv = {program_in_path("xwd")->string(),
                 "-display",
                 display,
                 "-id",
                 window.id,
                 "-out",
                 xwd_file.string()};
    grab.stdout_file = artifacts / "xwd.log";
    grab.stderr_file = artifacts / "xwd.log";
    ChildProcess xwd(grab);
    REQUIRE(xwd.wait_exit_code(60s) == 0);

    // A copy of the log as it was while the client was frozen.
    const auto log_copy = artifacts / (when + "-" + window.player + ".log");
    fs::copy_file(window.log, log_copy, fs::copy_options::overwrite_existing);
    gamestore::testing::SpawnOptions check;
    check.argv = {
        "/usr/bin/python3",
        (gamestore::testing::source_dir() / "tests" / "cli" / "gui_screenshot.py").string(),
        "--xwd",
        xwd_file.string(),
        "--png",
        (artifacts / (when + "-" + window.player + ".png")).string(),
        "--package",
        package.string(),
        "--log",
        log_copy.string(),
        "--when",
        when};
    const auto verdict_file = artifacts / (when + "-" + window.player + ".json");
    check.stdout_file = verdict_file;
    check.stderr_file = artifacts / (when + "-" + window.player + ".err");
    ChildProcess checker(check);
    const auto code = checker.wait_exit_code(120s);
    const auto text = gamestore::testing::read_file(verdict_file);
    INFO(text << gamestore::testing::read_file(artifacts / (when + "-" + window.player + ".err")));
    CHECK(code == 0);
    fs::remove(xwd_file);  // the PNG is the artifact
    return json::parse(text);
}

}  // namespace

TEST_CASE(
    "Dots and Boxes: two bots play in windows on a private Xvfb through gamestore-player play",
    "[gui][games][cli][integration]") {
    const auto xvfb = program_in_path("Xvfb");
    const auto xwd = program_in_path("xwd");
    if (!xvfb || !xwd || !pygame_installed()) {
        WARN(
            "Xvfb, xwd or pygame is not installed (ci/bootstrap installs xvfb, x11-apps and "
            "python3-pygame); "
            "the GUI game test is skipped");
        return;
    }
    const auto artifacts = gamestore::testing::build_dir() / "test-artifacts" / "gui_game";
    fs::remove_all(artifacts);
    fs::create_directories(artifacts);

    gamestore::launch::VirtualDisplayOptions display_options;
    display_options.log_file = artifacts / "xvfb.log";
    auto started = gamestore::launch::VirtualDisplay::start(display_options);
    if (auto* error = std::get_if<std::string>(&started)) {
        FAIL("the virtual display did not start: " << *error);
    }
    const auto display =
        std::move(std::get<std::unique_ptr<gamestore::launch::VirtualDisplay>>(started));
    const char* own = std::getenv("DISPLAY");
    CHECK((own == nullptr || display->name() != own));  // a private display, never the user's

    // The server publishes the game as ./ci/serve does (--seed-games).
    gamestore::testing::TempDir seed("gui-seed");
    const auto package = gamestore::testing::build_dir() / "games" / "packages" / "dots_and_boxes";
    REQUIRE(fs::exists(package / "manifest.json"));
    fs::copy(package, seed.path() / "dots_and_boxes", fs::copy_options::recursive);
    std::vector<std::string> args = {"--fast-password-hash", "--seed-games", seed.path().string()};
    const auto ports = gamestore::testing::unique_game_ports_args();
    args.insert(args.end(), ports.begin(), ports.end());
    ServerFixture server(args);
    CliHarness cli(server);
    TestPlayer observer(server, "gui-watcher");

    const std::vector<std::string> players = {"alice", "bob"};
    std::vector<RunningCli> plays;
    for (std::size_t i = 0; i < players.size(); ++i) {
        const auto& name = players[i];
        REQUIRE(cli.player({"--user", name, "account", "register"}).code == 0);
        std::vector<std::string> words = {"--user", name, "play", kGame};
        if (i == 0) {
            words.insert(words.end(), {"--start-at", "2"});
        } else {
            REQUIRE(observer.wait_lobby_room(kGame, true, 60s));  // join the host's room
        }
        plays.push_back(cli.start_player(words, {{"GAMESTORE_BOT", "1"},
                                                 {"GAMESTORE_BOT_SEED", std::to_string(11 + i)},
                                                 {"DISPLAY", display->name()}}));
    }

    // What the plays and the windows said so far, for a failure's message.
    std::vector<Window> windows;
    const auto diagnostics = [&] {
        std::string text;
        for (std::size_t i = 0; i < plays.size(); ++i) {
            text += "--- " + players[i] + "'s play:\n" +
                    gamestore::testing::read_file(plays[i].out_file) +
                    gamestore::testing::read_file(plays[i].err_file);
        }
        for (const auto& window : windows) {
            text += "--- " + window.player + "'s client.log:\n" +
                    gamestore::testing::read_file(window.log);
        }
        return text;
    };
    const auto require_text = [&](const fs::path& file, const std::string& needle,
                                  std::chrono::seconds timeout) {
        if (!gamestore::testing::wait_for_text(file, needle, timeout)) {
            FAIL("no \"" << needle << "\" in " << file.string() << " within " << timeout.count()
                         << " s\n"
                         << diagnostics());
        }
    };

    // "playing in a window" with the title, then the match directory's client.log.
    for (std::size_t i = 0; i < players.size(); ++i) {
        Window window;
        window.player = players[i];
        const auto title = std::string(kGame) + " - " + players[i];
        const auto announced = std::string(kGame) + " is playing in a window: \"" + title + "\"";
        require_text(plays[i].out_file, announced, 120s);
        std::smatch match;
        const auto out = gamestore::testing::read_file(plays[i].out_file);
        REQUIRE(std::regex_search(out, match, std::regex("\\(match (m-[0-9a-f]+)\\)")));
        window.match_id = match[1].str();
        window.log = cli.player_dir(players[i]) / "matches" / window.match_id / "client.log";
        require_text(window.log, "window: ", 60s);
        const auto log = gamestore::testing::read_file(window.log);
        CHECK(log.find("window: \"" + title + "\"") != std::string::npos);  // the title it was told
        CHECK(window_field(log, "display") == display->name());
        window.pid = std::stoi(window_field(log, "pid"));
        window.id = window_field(log, "id");
        REQUIRE(window.id.rfind("0x", 0) == 0);
        windows.push_back(window);
    }

    // Mid-match: both windows once each has shown half of the 40 moves.
    for (const auto& window : windows) {
        require_text(window.log, "state: move=20 ", 120s);
    }
    {
        Frozen frozen({windows[0].pid, windows[1].pid});
        for (const auto& window : windows) {
            const auto verdict = screenshot(display->name(), window, "mid", artifacts, package);
            CHECK(verdict.at("seen").at("logged") == "state");
            CHECK(verdict.at("seen").at("drawn_on_screen").get<int>() >= 20);
        }
    }
    // GAMESTORE_GUI_SCREENSHOT=PATH keeps alice's mid-match window (docs/GAMES.md shows one).
    if (const char* keep = std::getenv("GAMESTORE_GUI_SCREENSHOT")) {
        fs::copy_file(artifacts / "mid-alice.png", keep, fs::copy_options::overwrite_existing);
    }

    // The end: each client is frozen as soon as its window shows the result
    // and its log says so to the last line ("Result: ..."); a client closes
    // 2 s later, and gamestore-player then removes the match directory. Only
    // then are the screenshots taken.
    std::map<std::string, std::string> shown_outcome;
    {
        std::vector<std::unique_ptr<Frozen>> frozen;
        std::vector<bool> shown(windows.size(), false);
        const auto deadline = std::chrono::steady_clock::now() + 180s;
        // Both logs in turn, briefly each, so neither client waits for the
        // other's result to be noticed. Bounded by the deadline.
        while (frozen.size() < windows.size() && std::chrono::steady_clock::now() < deadline) {
            for (std::size_t i = 0; i < windows.size(); ++i) {
                if (!shown[i] &&
                    gamestore::testing::wait_for_text(windows[i].log, "\nResult: ", 100ms)) {
                    shown[i] = true;
                    frozen.push_back(std::make_unique<Frozen>(std::vector<pid_t>{windows[i].pid}));
                }
            }
        }
        if (frozen.size() < windows.size()) {
            FAIL("not every window showed its result within 180 s\n" << diagnostics());
        }
        for (const auto& window : windows) {
            const auto verdict = screenshot(display->name(), window, "end", artifacts, package);
            shown_outcome[window.player] = verdict.at("seen").value("outcome", "");
        }
    }

    // Both plays end normally and print the result.
    for (std::size_t i = 0; i < plays.size(); ++i) {
        const auto result = plays[i].finish(120s);
        INFO(players[i] << ": " << result.text());
        CHECK(result.code == 0);
        CHECK(result.out.find("ended: END.") != std::string::npos);
        CHECK(result.out.find(players[i] + " (you)") != std::string::npos);
    }

    // What the platform recorded agrees with what the windows showed.
    auto store = gamestore::store::SqliteStore::open(server.data_dir() / "gamestore.db");
    REQUIRE(store.ok());
    CHECK(windows[0].match_id == windows[1].match_id);
    auto recorded = (*store)->get_match(windows[0].match_id);
    REQUIRE(recorded.ok());
    CHECK(gamestore::store::to_string(recorded->status) == "END");
    const auto results = json::parse(recorded->results_json);
    REQUIRE(results.size() == 2);
    int boxes = 0;
    for (const auto& row : results) {
        const auto name = row.at("player").get<std::string>();
        INFO(row.dump());
        CHECK(row.at("outcome") == shown_outcome[name]);
        boxes += row.at("extra").at("boxes").get<int>();
    }
    CHECK(boxes == 16);
}

TEST_CASE(
    "the validator plays a GUI package's clients on its own Xvfb, and says why it skips them "
    "without one",
    "[gui][validator][integration]") {
    const auto xvfb = program_in_path("Xvfb");
    if (!xvfb || !pygame_installed()) {
        WARN(
            "Xvfb or pygame is not installed (ci/bootstrap installs xvfb and python3-pygame); "
            "skipped");
        return;
    }
    const auto built = gamestore::testing::build_dir() / "games" / "packages" / "dots_and_boxes";
    REQUIRE(fs::exists(built / "manifest.json"));
    gamestore::testing::TempDir work("gui-validate");
    // A copy: the clients' Python writes __pycache__ beside them, and the
    // built package is what ci/serve publishes.
    const auto package = work.path() / "dots_and_boxes";
    fs::copy(built, package, fs::copy_options::recursive);
    const auto validate = [&](const std::string& name,
                              const std::map<std::string, std::string>& env) {
        gamestore::testing::SpawnOptions options;
        options.argv = {gamestore::testing::binary("validate_game_package").string(),
                        package.string(), "--players", "2", "--json"};
        options.env = env;
        options.env["DISPLAY"] = "";  // no display given: the validator decides
        options.env["TMPDIR"] = work.path().string();
        options.stdout_file = work.path() / (name + ".json");
        options.stderr_file = work.path() / (name + ".err");
        ChildProcess validator(options);
        const auto code = validator.wait_exit_code(300s);
        const auto text = gamestore::testing::read_file(work.path() / (name + ".json"));
        INFO(text << gamestore::testing::read_file(work.path() / (name + ".err")));
        REQUIRE(code == 0);
        std::map<std::string, json> checks;
        const auto report = json::parse(text);
        for (const auto& check : report.at("checks")) {
            checks[check.at("name").get<std::string>()] = check;
        }
        return checks;
    };

    // Xvfb installed: the clients play the match to its END on a private display.
    auto played = validate("with-xvfb", {});
    CHECK(played.at("match_plays_to_end").at("status") == "pass");
    CHECK(played.at("match_plays_to_end")
              .at("message")
              .get<std::string>()
              .find("GUI clients on the validator's virtual display :") != std::string::npos);
    CHECK(played.at("client_handshake").at("status") == "pass");
    CHECK(played.at("nothing_left_running").at("status") == "pass");  // its Xvfb is not the game's

    // Neither DISPLAY nor Xvfb (a PATH without it): the server is still
    // checked, the clients are skipped with the reason.
    const auto bin = work.path() / "bin";
    fs::create_directories(bin);
    fs::create_symlink("/usr/bin/python3", bin / "python3");
    auto skipped = validate("without-display", {{"PATH", bin.string()}});
    for (const char* check : {"client_handshake", "match_plays_to_end"}) {
        INFO(check);
        CHECK(skipped.at(check).at("status") == "skipped");
        const auto message = skipped.at(check).at("message").get<std::string>();
        CHECK(message.find("GUI game and its clients need a display") != std::string::npos);
        CHECK(message.find("Xvfb is not installed") != std::string::npos);
    }
    CHECK(skipped.at("started_within_timeout").at("status") == "pass");
    CHECK(skipped.at("handshake_accepts_valid_client").at("status") == "pass");
}
