#include "validator/validator.hpp"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>

#include "platform/launch/process_launcher.hpp"
#include "platform/launch/virtual_display.hpp"
#include "validator/check_book.hpp"
#include "validator/check_names.hpp"
#include "validator/dynamic_checks.hpp"
#include "validator/match_processes.hpp"
#include "validator/static_checks.hpp"

namespace gamestore::validator {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A GUI package's clients need a screen, as on a player's desktop: the
// DISPLAY the validator was given, else a private Xvfb of its own (the
// user's display is never guessed at). Without either, the clients are not
// launched and the client checks say why; the server is still checked with
// the validator's own probes.
std::unique_ptr<launch::VirtualDisplay> prepare_gui_display(DynamicRun& run,
                                                            const fs::path& work_dir) {
    if (const char* given = std::getenv("DISPLAY"); given && *given) {
        run.client_display = given;
        return nullptr;
    }
    launch::VirtualDisplayOptions options;
    options.log_file = work_dir / "xvfb.log";
    auto started = launch::VirtualDisplay::start(options);
    if (auto* display = std::get_if<std::unique_ptr<launch::VirtualDisplay>>(&started)) {
        run.client_display = (*display)->name();
        run.display_pid = (*display)->pid();
        return std::move(*display);
    }
    run.launch_clients = false;
    run.clients_skipped =
        "this is a GUI game and its clients need a display: DISPLAY is not set and " +
        std::get<std::string>(started) +
        "; install it, or run the validator in a desktop session, to play the match with its "
        "clients)";
    return nullptr;
}

void check_options(const ValidationOptions& options) {
    if (options.package.empty()) {
        throw std::invalid_argument("no package given: pass a package directory or a .zip");
    }
    if (options.players && *options.players < 1) {
        throw std::invalid_argument("--players must be at least 1");
    }
    for (const auto& [player, file] : options.client_input) {
        const bool named =
            options.players && player.rfind("player", 0) == 0 && player.size() > 6 &&
            player.size() <= 8 && player.find_first_not_of("0123456789", 6) == std::string::npos &&
            std::stoi(player.substr(6)) >= 1 && std::stoi(player.substr(6)) <= *options.players;
        if (!named) {
            throw std::invalid_argument("--client-input " + player +
                                        "=...: the players are player1..playerN of --players N");
        }
    }
    if (options.heartbeat_cycles < 1 || options.heartbeat_cycles > 100) {
        throw std::invalid_argument("--heartbeat-cycles must be between 1 and 100");
    }
    if (!(options.timeout_scale > 0.0) || options.timeout_scale > 100.0) {
        throw std::invalid_argument("--timeout-scale must be greater than 0 and at most 100");
    }
    if (options.grace.count() < 0 || options.grace > std::chrono::minutes(10)) {
        throw std::invalid_argument("--grace must be between 0 and 600 seconds");
    }
    if (options.match_timeout.count() <= 0) {
        throw std::invalid_argument("--match-timeout must be greater than 0");
    }
    if (options.zip_limits.max_archive_bytes == 0 || options.zip_limits.max_entries == 0 ||
        options.zip_limits.max_total_uncompressed == 0) {
        throw std::invalid_argument("--max-package-bytes, --max-package-entries and --max-package-uncompressed "
                                    "must be greater than 0");
    }
}

// Temp dirs of validations in progress (for abort_running_validations).
std::mutex g_work_dirs_mutex;
std::set<fs::path> g_work_dirs;

class WorkDirRegistration {
  public:
    WorkDirRegistration(fs::path dir, bool keep) : dir_(std::move(dir)), keep_(keep) {
        if (!keep_) {
            std::lock_guard lock(g_work_dirs_mutex);
            g_work_dirs.insert(dir_);
        }
    }
    ~WorkDirRegistration() {
        std::lock_guard lock(g_work_dirs_mutex);
        g_work_dirs.erase(dir_);
    }
    WorkDirRegistration(const WorkDirRegistration&) = delete;
    WorkDirRegistration& operator=(const WorkDirRegistration&) = delete;

  private:
    fs::path dir_;
    bool keep_;
};

// A private (0700) working directory for one validation.
fs::path make_work_dir() {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) {
        base = "/tmp";
    }
    std::string pattern = (base / "gamestore-validate-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
        throw std::runtime_error("cannot create a temporary directory in " + base.string() + ": " +
                                 std::strerror(errno));
    }
    return pattern;
}

}  // namespace

void abort_running_validations() {
    kill_running_games_from_signal_handler();
    // Whatever escaped the groups is still our descendant (we are a
    // subreaper): a few rounds, since a dying parent's children are
    // reparented to us only after it is gone.
    for (int round = 0; round < 3; ++round) {
        std::set<pid_t> ours{::getpid()};
        bool killed = false;
        const auto table = read_process_table();
        // Parents before children is not guaranteed by pid order: iterate to a fixpoint.
        for (bool grew = true; grew;) {
            grew = false;
            for (const auto& [pid, info] : table) {
                if (!ours.count(pid) && ours.count(info.ppid)) {
                    ours.insert(pid);
                    grew = true;
                }
            }
        }
        for (const pid_t pid : ours) {
            if (pid != ::getpid() && table.at(pid).alive()) {
                ::kill(pid, SIGKILL);
                killed = true;
            }
        }
        if (!killed) {
            break;
        }
        ::poll(nullptr, 0, 50);  // let the kernel reparent orphans to us
    }
    std::lock_guard lock(g_work_dirs_mutex);
    for (const auto& dir : g_work_dirs) {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
}

Summary ValidationReport::summary() const {
    Summary s;
    for (const auto& check : checks) {
        switch (check.status) {
            case CheckStatus::Pass:
                ++s.passed;
                break;
            case CheckStatus::Fail:
                ++s.failed;
                break;
            case CheckStatus::Warn:
                ++s.warned;
                break;
            case CheckStatus::Skipped:
                ++s.skipped;
                break;
        }
    }
    return s;
}

int ValidationReport::exit_code() const {
    if (!checkable) {
        return 2;
    }
    return summary().failed > 0 ? 1 : 0;
}

const CheckResult* ValidationReport::find(std::string_view name) const {
    for (const auto& check : checks) {
        if (check.name == name) {
            return &check;
        }
    }
    return nullptr;
}

ValidationReport validate_package(const ValidationOptions& options) {
    check_options(options);
    const auto started = Clock::now();
    // Escaped grandchildren of the game server must be reparented to us, not
    // to init, so they can be found and stopped.
    launch::become_child_subreaper();

    ValidationReport report;
    report.package = options.package.string();
    const fs::path work_dir = make_work_dir();
    const WorkDirRegistration registration(work_dir, options.keep_temp);
    CheckBook book(options.on_check);
    std::string undecided = "not run";
    try {
        // Absolute: the launcher runs the game with the package root as its
        // working directory and resolves relative programs against it.
        const auto outcome = run_static_checks(fs::absolute(options.package), work_dir, options.zip_limits, book);
        report.game_name = outcome.game_name;
        report.version = outcome.version;
        if (!outcome.checkable) {
            report.checkable = false;
            report.fatal_error = outcome.fatal_error;
        } else if (options.static_only) {
            undecided = "--static-only";
        } else if (!outcome.runnable) {
            undecided = "the package cannot be launched: " + outcome.not_runnable_reason;
        } else {
            const auto& manifest = *outcome.manifest;
            const int players = options.players.value_or(manifest.min_players);
            if (players < manifest.min_players || players > manifest.max_players) {
                report.checkable = false;
                report.fatal_error = "--players " + std::to_string(players) + " is outside the manifest's range: " +
                                     "min_players " + std::to_string(manifest.min_players) + ", max_players " +
                                     std::to_string(manifest.max_players);
            } else {
                // Checked before the match: a machine where the sandbox cannot
                // start games cannot say whether the platform would run this one.
                const launch::Sandbox sandbox(options.sandbox);
                DynamicRun run{
                    options,  manifest, outcome.package_root,
                    work_dir, players,  options.players.has_value() && options.launch_clients,
                    {},       -1,       {},
                    sandbox};
                // Kept until the match is over: the GUI clients' screen.
                std::unique_ptr<launch::VirtualDisplay> display;
                if (run.launch_clients && manifest.type == packages::GameType::Gui) {
                    display = prepare_gui_display(run, work_dir);
                }
                const auto dynamic = run_dynamic_checks(run, book);
                report.match_id = dynamic.match_id;
                if (book.any_dynamic_failed()) {
                    report.server_log_tail = dynamic.server_log_tail;
                }
            }
        }
    } catch (const std::exception& e) {
        report.checkable = false;
        report.fatal_error = std::string("the validator could not run the checks: ") + e.what();
    }
    if (report.checkable) {
        report.checks = book.ordered(undecided);
    }
    if (options.keep_temp) {
        report.kept_temp_dir = work_dir;
    } else {
        std::error_code ec;
        fs::remove_all(work_dir, ec);
    }
    report.elapsed = elapsed_ms(started, Clock::now());
    return report;
}

}  // namespace gamestore::validator
