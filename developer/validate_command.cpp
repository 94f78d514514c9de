// `gamestore-dev validate`: runs validate_game_package as a child process,
// with every one of its options passed through.
// The validator is a program of its own (nothing under platform/ or the
// tools links it), so the tool finds it beside itself in build/bin/ and
// launches it with the one launcher (argv only, no shell); its report goes
// straight to our stdout/stderr.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include <CLI/CLI.hpp>

#include "developer/dev_commands.hpp"
#include "developer/validate_command.hpp"
#include "platform/cli/cli_common.hpp"
#include "platform/launch/process_launcher.hpp"

namespace gamestore::cli::developer {

namespace fs = std::filesystem;

namespace {

constexpr const char* kValidator = "validate_game_package";

bool is_executable_file(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// While the validator runs, Ctrl-C is for it (it stops the game's processes
// and removes its temp dir before exiting); we wait for its verdict.
class InterruptsIgnored {
  public:
    InterruptsIgnored() {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(SIGINT, &ignore, &old_int_);
        ::sigaction(SIGQUIT, &ignore, &old_quit_);
    }
    ~InterruptsIgnored() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGQUIT, &old_quit_, nullptr);
    }
    InterruptsIgnored(const InterruptsIgnored&) = delete;
    InterruptsIgnored& operator=(const InterruptsIgnored&) = delete;

  private:
    struct sigaction old_int_ {};
    struct sigaction old_quit_ {};
};

}  // namespace

fs::path find_validator() {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) {
        return {};
    }
    const auto dir = self.parent_path();
    // Installed side by side, as in the build tree (build/bin/).
    const auto candidate = dir / kValidator;
    return is_executable_file(candidate) ? candidate : fs::path{};
}

CLI::App* add_validate_command(CLI::App& app, ValidateCommand& command) {
    auto* validate =
        app.add_subcommand("validate",
                           "run validate_game_package on a package: the checks the platform relies "
                           "on (exit 0 = all passed); "
                           "every option is validate_game_package's (docs/VALIDATOR.md)");
    validate->add_option("PACKAGE", command.package, "package directory or zip file")->required();
    validate
        ->add_option("--players", command.players,
                     "players in the test match (default: the game's min_players); also launches "
                     "their clients "
                     "with GAMESTORE_BOT=1 and plays the match to its END")
        ->type_name("N")
        ->check(CLI::Range(1, 64));
    validate
        ->add_option_function<std::vector<std::string>>(
            "--client-input",
            [&command](const std::vector<std::string>& values) {
                for (const auto& value : values) {
                    command.passed_through.emplace_back("--client-input", value);
                }
            },
            "with --players: PLAYER=FILE feeds that player's client FILE as stdin (repeatable)")
        ->type_name("PLAYER=FILE");
    validate->add_flag("--no-clients", command.no_clients,
                       "with --players: do not launch clients (server checks only)");
    validate->add_flag("--json", command.json, "print the results as JSON instead of a table");
    validate->add_option("--junit", command.junit, "also write the results as JUnit XML to FILE")
        ->type_name("FILE");
    validate
        ->add_option("--grace", command.grace,
                     "seconds the server gets to exit after SIGTERM (default 5)")
        ->type_name("SEC")
        ->check(CLI::Range(0.0, 600.0));
    validate
        ->add_option("--heartbeat-cycles", command.heartbeat_cycles,
                     "heartbeat intervals to watch (default 3)")
        ->type_name("K")
        ->check(CLI::Range(1, 100));
    validate
        ->add_option("--timeout-scale", command.timeout_scale,
                     "multiply every timeout (slow machines, sanitizers; default 1)")
        ->type_name("X")
        ->check(CLI::Range(0.01, 100.0));
    validate
        ->add_option("--match-timeout", command.match_timeout,
                     "seconds the clients' match may take to reach END (default 60)")
        ->type_name("SEC")
        ->check(CLI::Range(1.0, 3600.0));
    validate
        ->add_option("--max-package-bytes", command.max_package_bytes,
                     "largest zip the server accepts (gamestore-server --max-package-bytes)")
        ->type_name("BYTES")
        ->check(CLI::PositiveNumber);
    validate
        ->add_option(
            "--max-package-entries", command.max_package_entries,
            "most files and directories in one package (gamestore-server --max-package-entries)")
        ->type_name("N")
        ->check(CLI::PositiveNumber);
    validate
        ->add_option(
            "--max-package-uncompressed", command.max_package_uncompressed,
            "largest unpacked size of one package (gamestore-server --max-package-uncompressed)")
        ->type_name("BYTES")
        ->check(CLI::PositiveNumber);
    validate->add_flag("--static-only", command.static_only,
                       "only the static checks (no process is started)");
    validate->add_flag("--keep-temp", command.keep_temp,
                       "keep the validator's temp dir (logs, match directory, unpacked zip)");
    // The game sandbox's options, as validate_game_package and
    // gamestore-server name them (docs/SERVER.md "The game sandbox").
    static const std::pair<const char*, const char*> kSandboxOptions[] = {
        {"--sandbox", "bwrap (default) or none: the sandbox the game server runs in"},
        {"--sandbox-user", "account the sandbox runs as when started by root"},
        {"--sandbox-bwrap", "the bubblewrap executable"},
        {"--sandbox-init", "gamestore-sandbox-init"},
        {"--game-open-files", "open files per game server process"},
        {"--game-file-size-mib", "largest file a game server may write, MiB"},
        {"--game-memory-mib", "address space per game server process, MiB"},
        {"--game-processes", "processes and threads per match"},
        {"--game-cpu-seconds", "CPU time per game server process"},
        {"--game-writable-mib", "what the game server may write beside its package, MiB"},
        {"--game-nice", "niceness added to the game server"},
    };
    for (const auto& [name, help] : kSandboxOptions) {
        const std::string flag = name;
        validate
            ->add_option_function<std::string>(
                flag,
                [&command, flag](const std::string& value) {
                    command.passed_through.emplace_back(flag, value);
                },
                help)
            ->type_name("VALUE")
            ->group("Game sandbox (docs/SECURITY.md)");
    }
    return validate;
}

std::vector<std::string> validator_arguments(const ValidateCommand& command) {
    std::vector<std::string> args{fs::absolute(command.package).lexically_normal().string()};
    auto value = [&](const char* flag, const std::optional<std::string>& given) {
        if (given) {
            args.push_back(flag);
            args.push_back(*given);
        }
    };
    auto flag = [&](const char* name, bool given) {
        if (given) {
            args.push_back(name);
        }
    };
    value("--players", command.players);
    flag("--no-clients", command.no_clients);
    flag("--json", command.json);
    value("--junit", command.junit);
    value("--grace", command.grace);
    value("--heartbeat-cycles", command.heartbeat_cycles);
    value("--timeout-scale", command.timeout_scale);
    value("--match-timeout", command.match_timeout);
    value("--max-package-bytes", command.max_package_bytes);
    value("--max-package-entries", command.max_package_entries);
    value("--max-package-uncompressed", command.max_package_uncompressed);
    flag("--static-only", command.static_only);
    flag("--keep-temp", command.keep_temp);
    for (const auto& [name, given] : command.passed_through) {
        args.push_back(name);
        args.push_back(given);
    }
    return args;
}

int run_validate_command(const ValidateCommand& command) {
    std::error_code ec;
    if (!fs::exists(command.package, ec)) {
        throw CliFailure(
            kExitUsage, command.package + " does not exist; give a package directory or zip file.");
    }
    launch::ProcessSpec spec;
    const auto found = find_validator();
    // Not next to us nor in the build tree: the launcher looks the name up in PATH.
    spec.argv.push_back(found.empty() ? std::string(kValidator) : found.string());
    for (auto& arg : validator_arguments(command)) {
        spec.argv.push_back(std::move(arg));
    }
    spec.env = launch::base_environment();
    // Relative paths (--junit FILE) mean what they meant to the user.
    spec.cwd = fs::current_path(ec);
    // Same session and group: it is a foreground tool of ours, and it puts
    // the game's processes in groups of their own.
    spec.new_session = false;
    spec.inherit_stdin = false;
    std::cout.flush();
    InterruptsIgnored interrupts_go_to_the_validator;
    auto spawned = launch::spawn_process(spec);
    if (auto* error = std::get_if<std::string>(&spawned)) {
        throw CliFailure(kExitUsage,
                         "Cannot run the validator: " + as_sentence(*error) +
                             " Build the validate_game_package target, or put it in PATH.");
    }
    const pid_t pid = std::get<launch::SpawnedProcess>(spawned).pid;
    int status = 0;
    // The validator bounds every check with its own timeouts.
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw CliFailure(kExitUsage, "Lost track of the validator process.");
        }
    }
    if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        // 0 passed, 1 a check failed, 2 the package could not be checked.
        return code <= 2 ? code : kExitUsage;
    }
    throw CliFailure(kExitUsage, "The validator was killed by signal " +
                                     std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) +
                                     ".");
}

}  // namespace gamestore::cli::developer
