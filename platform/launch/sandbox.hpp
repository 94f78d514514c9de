#pragma once
// The sandbox every game server runs in (docs/SECURITY.md): bubblewrap gives
// it its own user, PID, mount, IPC and UTS namespaces; the network is shared
// (it binds its port and reaches the control plane). Inside it sees the
// system directories read-only, its package as a private writable copy on a
// size-limited tmpfs (/sandbox/game), its match directory on the same tmpfs
// (/sandbox/match: the match files read-only, room for scratch files), and
// nothing else of the machine.
// gamestore-sandbox-init, run first inside,
// copies the package in, applies the limits and execs the game.
//
// The platform and validate_game_package both launch through this class, so
// a package that passes validation runs the same way on the platform.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "platform/launch/process_launcher.hpp"

namespace gamestore::launch {

enum class SandboxMode { Bwrap, None };

// "bwrap" or "none"; nullopt for anything else.
std::optional<SandboxMode> parse_sandbox_mode(std::string_view text);
std::string_view sandbox_mode_name(SandboxMode mode);

// Per game server. 0 means "no limit" for every field but nice.
struct SandboxLimits {
    std::uint64_t open_files = 1024;
    std::uint64_t file_size_bytes = 256ull << 20;    // largest file it may write
    std::uint64_t address_space_bytes = 4ull << 30;  // virtual memory per process
    std::uint64_t processes = 64;                    // processes and threads of the match
    std::uint64_t cpu_seconds = 3600;                // CPU time per process
    std::uint64_t writable_bytes = 64ull << 20;      // what it may add to its package view
    int nice = 10;                                   // added niceness (lower CPU priority)
};

struct SandboxSettings {
    SandboxMode mode = SandboxMode::Bwrap;
    SandboxLimits limits;
    // The bubblewrap executable: a path, or a name looked up in PATH.
    std::string bwrap = "bwrap";
    // When the launcher runs as root, the sandbox runs as this account.
    std::string user = "nobody";
    // gamestore-sandbox-init; empty: the one beside the running executable.
    std::filesystem::path init_program;
};

// Paths as the game sees them inside the sandbox.
inline constexpr std::string_view kSandboxGameDir = "/sandbox/game";
inline constexpr std::string_view kSandboxMatchDir = "/sandbox/match";
inline constexpr std::string_view kSandboxHomeDir = "/sandbox/home";

// A descriptor that closes itself.
class Descriptor {
  public:
    Descriptor() = default;
    explicit Descriptor(int fd) noexcept : fd_(fd) {}
    Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Descriptor& operator=(Descriptor&& other) noexcept;
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    ~Descriptor();
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

// A file the game finds read-only in its match directory.
struct MatchFile {
    std::string name;  // e.g. "report_token"
    std::string content;
};

// What a sandboxed launch needs besides the game's own process spec.
struct SandboxRequest {
    std::filesystem::path package_root;    // the store's extracted copy (host path)
    std::uint64_t package_bytes = 0;       // its size in tmpfs pages: package_view_bytes()
    std::filesystem::path cwd_in_package;  // relative to the package root
    std::vector<MatchFile> files;
};

// The process to spawn, and the descriptors it is handed (kept open here
// until spawn_process has returned; destroying this closes them).
struct SandboxedLaunch {
    ProcessSpec process;
    std::vector<Descriptor> descriptors;
};

// The bytes a package's files take on a tmpfs (each file rounded up to a
// page): what the writable view needs before the game writes anything.
// Blocking (walks the tree). Throws std::filesystem::filesystem_error.
std::uint64_t package_view_bytes(const std::filesystem::path& package_root);

// The bwrap command line for one launch, descriptors numbered as
// spawn_process passes them (3: the package directory, 4: the init program,
// 5...: `files` in order). Pure; exposed for tests.
struct BwrapPlan {
    std::string bwrap;
    std::vector<std::string> game_argv;
    std::filesystem::path cwd_in_package;
    std::vector<std::string> file_names;
    std::uint64_t tmpfs_bytes = 0;
    SandboxLimits limits;
    // Host paths of the system directories bound read-only (existing
    // directories are bound, symlinks recreated): see system_mounts().
    std::vector<std::pair<std::string, std::string>> symlinks;  // {target, path}
    std::vector<std::string> read_only;
};
std::vector<std::string> bwrap_arguments(const BwrapPlan& plan);

// Fills the system part of a BwrapPlan for this machine: /usr and the top-level
// library and binary directories (bound, or recreated as the symlinks they
// are on merged-/usr systems) and the few files of /etc that programs need
// to start (the dynamic linker cache, time zone, name resolution, users,
// TLS certificates, Python's and OpenJDK's configuration); never all of /etc.
void add_system_mounts(BwrapPlan& plan);

// How a sandboxed game's end reads: bwrap exits with 128+N when the game was
// killed by signal N. `wait_status` is the launcher's waitpid status.
std::string describe_game_exit(int wait_status, SandboxMode mode);

class Sandbox {
  public:
    // Bwrap mode checks that a sandbox really starts here (bubblewrap found,
    // user namespaces allowed, the init program present, the sandbox user
    // known) and throws std::runtime_error with a sentence that says what is
    // missing and how to fix it. Blocking (runs one sandbox).
    explicit Sandbox(SandboxSettings settings);

    SandboxMode mode() const { return settings_.mode; }
    const SandboxSettings& settings() const { return settings_; }

    // `game`: argv, environment and output as the game sees them (paths
    // inside the sandbox: kSandboxGameDir, kSandboxMatchDir). In None mode
    // the game runs as given (cwd: package_root / cwd_in_package). A
    // sentence when it cannot be prepared.
    std::variant<SandboxedLaunch, std::string> wrap(ProcessSpec game,
                                                    const SandboxRequest& request) const;

    // The environment a sandboxed game starts from: PATH of the system
    // directories, HOME and TMPDIR inside the sandbox, locale and time zone
    // from ours. In None mode: base_environment().
    std::vector<std::pair<std::string, std::string>> base_environment() const;

  private:
    SandboxSettings settings_;
    std::string bwrap_path_;
    std::string init_bytes_;
    std::optional<std::pair<uid_t, gid_t>> credentials_;
    BwrapPlan system_;
};

}  // namespace gamestore::launch
