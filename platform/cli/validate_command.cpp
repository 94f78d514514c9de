// `gamestore-dev validate`: runs validate_game_package as a child process.
// The dependency rule (DESIGN.md 2) keeps the validator out of platform/, so
// the tool finds the program and launches it with the one launcher (argv
// only, no shell); its report goes straight to our stdout/stderr.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "platform/cli/cli_common.hpp"
#include "platform/cli/dev_commands.hpp"
#include "platform/launch/process_launcher.hpp"

namespace gamestore::cli {

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
    // Installed side by side, or the build tree (build/platform/cli -> build/validator).
    for (const auto& candidate : {dir / kValidator, dir / ".." / ".." / "validator" / kValidator}) {
        if (is_executable_file(candidate)) {
            return candidate.lexically_normal();
        }
    }
    return {};
}

int validate_package(const fs::path& package, const ValidateOptions& options) {
    std::error_code ec;
    if (!fs::exists(package, ec)) {
        throw CliFailure(kExitUsage, package.string() + " does not exist; give a package directory or zip file.");
    }
    launch::ProcessSpec spec;
    const auto found = find_validator();
    // Not next to us nor in the build tree: the launcher looks the name up in PATH.
    spec.argv.push_back(found.empty() ? std::string(kValidator) : found.string());
    spec.argv.push_back(fs::absolute(package).lexically_normal().string());
    if (options.players > 0) {
        spec.argv.push_back("--players");
        spec.argv.push_back(std::to_string(options.players));
    }
    if (options.no_clients) {
        spec.argv.push_back("--no-clients");
    }
    if (options.json) {
        spec.argv.push_back("--json");
    }
    spec.env = launch::base_environment();
    spec.cwd = fs::current_path(ec);
    // Same session and group: it is a foreground tool of ours, and it puts
    // the game's processes in groups of their own.
    spec.new_session = false;
    spec.inherit_stdin = false;
    std::cout.flush();
    InterruptsIgnored interrupts_go_to_the_validator;
    auto spawned = launch::spawn_process(spec);
    if (auto* error = std::get_if<std::string>(&spawned)) {
        throw CliFailure(kExitUsage, "Cannot run the validator: " + as_sentence(*error) +
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
                                     std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + ".");
}

}  // namespace gamestore::cli
