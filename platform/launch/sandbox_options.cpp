#include "platform/launch/sandbox_options.hpp"

#include <CLI/CLI.hpp>

namespace gamestore::launch {

void add_sandbox_options(CLI::App& app, SandboxSettings& settings, SandboxOptionValues& values) {
    const auto* group = "Game sandbox (docs/SECURITY.md)";
    auto& limits = settings.limits;
    values.mode = std::string(sandbox_mode_name(settings.mode));
    values.file_size_mib = limits.file_size_bytes >> 20;
    values.memory_mib = limits.address_space_bytes >> 20;
    values.writable_mib = limits.writable_bytes >> 20;
    app.add_option("--sandbox", values.mode,
                   "bwrap: every game server in a bubblewrap sandbox; none: unconfined (trusted "
                   "games only)")
        ->envname("GAMESTORE_SANDBOX")
        ->capture_default_str()
        ->check(CLI::IsMember({"bwrap", "none"}))
        ->group(group);
    app.add_option("--sandbox-user", settings.user,
                   "account the sandbox runs as when started by root")
        ->envname("GAMESTORE_SANDBOX_USER")
        ->capture_default_str()
        ->group(group);
    app.add_option("--sandbox-bwrap", settings.bwrap, "the bubblewrap executable")
        ->envname("GAMESTORE_SANDBOX_BWRAP")
        ->capture_default_str()
        ->group(group);
    app.add_option("--sandbox-init", settings.init_program,
                   "gamestore-sandbox-init (default: beside this program)")
        ->envname("GAMESTORE_SANDBOX_INIT")
        ->group(group);
    app.add_option("--game-open-files", limits.open_files,
                   "open files per game server process (0: no limit)")
        ->envname("GAMESTORE_GAME_OPEN_FILES")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-file-size-mib", values.file_size_mib,
                   "largest file a game server may write, MiB (0: no limit)")
        ->envname("GAMESTORE_GAME_FILE_SIZE_MIB")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-memory-mib", values.memory_mib,
                   "address space per game server process, MiB (0: no limit)")
        ->envname("GAMESTORE_GAME_MEMORY_MIB")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-processes", limits.processes,
                   "processes and threads per match (0: no limit)")
        ->envname("GAMESTORE_GAME_PROCESSES")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-cpu-seconds", limits.cpu_seconds,
                   "CPU time per game server process (0: no limit)")
        ->envname("GAMESTORE_GAME_CPU_SECONDS")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-writable-mib", values.writable_mib,
                   "what a game server may write beside its package, in /tmp and its home, MiB (0: "
                   "no limit)")
        ->envname("GAMESTORE_GAME_WRITABLE_MIB")
        ->capture_default_str()
        ->group(group);
    app.add_option("--game-nice", limits.nice,
                   "niceness added to game servers (0-19): below the lobby's priority")
        ->envname("GAMESTORE_GAME_NICE")
        ->capture_default_str()
        ->check(CLI::Range(0, 19))
        ->group(group);
}

void finish_sandbox_options(SandboxSettings& settings, const SandboxOptionValues& values) {
    const auto mode = parse_sandbox_mode(values.mode);
    if (!mode) {
        throw CLI::ValidationError("--sandbox",
                                   "expected bwrap or none, got '" + values.mode + "'");
    }
    settings.mode = *mode;
    settings.limits.file_size_bytes = values.file_size_mib << 20;
    settings.limits.address_space_bytes = values.memory_mib << 20;
    settings.limits.writable_bytes = values.writable_mib << 20;
}

}  // namespace gamestore::launch
