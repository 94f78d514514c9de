#include "platform/launch/sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace gamestore::launch {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr const char* kInitInside = "/run/gamestore-init";
constexpr const char* kInitName = "gamestore-sandbox-init";
// The account games see themselves as inside: nobody, whatever the outside
// account is, so nothing of the host's user names shows through.
constexpr const char* kInsideId = "65534";

std::uint64_t round_up(std::uint64_t bytes) {
    return (bytes + kPage - 1) / kPage * kPage;
}

// A sealed-size memory file holding `content`, positioned at its start (what
// bwrap's --ro-bind-data reads up to its end).
Descriptor memory_file(const std::string& name, const std::string& content) {
    Descriptor fd(::memfd_create(name.c_str(), MFD_CLOEXEC));
    if (!fd) {
        throw std::runtime_error("memfd_create: " + std::string(std::strerror(errno)));
    }
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw std::runtime_error("cannot fill a memory file: " +
                                     std::string(std::strerror(errno)));
        }
        written += static_cast<std::size_t>(n);
    }
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
        throw std::runtime_error("lseek: " + std::string(std::strerror(errno)));
    }
    return fd;
}

std::string read_whole_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path own_directory() {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : self.parent_path();
}

std::optional<std::string> find_executable(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return ::access(name.c_str(), X_OK) == 0 ? std::optional<std::string>(name) : std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    // bwrap lives in /usr/bin on Debian; a PATH without it (a service's
    // minimal environment) should not hide it.
    dirs += ":/usr/bin:/bin";
    std::stringstream split(dirs);
    for (std::string dir; std::getline(split, dir, ':');) {
        if (dir.empty()) {
            continue;
        }
        const fs::path candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) {
            return candidate.string();
        }
    }
    return std::nullopt;
}

std::string signal_name(int signo) {
    const char* abbrev = ::sigabbrev_np(signo);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

// Reads what `fd` delivers until EOF or the deadline. Bounded.
std::string drain(int fd, std::chrono::steady_clock::time_point deadline) {
    std::string text;
    char buffer[4096];
    while (text.size() < 64 * 1024) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd poller{fd, POLLIN, 0};
        const int ready = ::poll(&poller, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            break;
        }
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

}  // namespace

std::optional<SandboxMode> parse_sandbox_mode(std::string_view text) {
    if (text == "bwrap") {
        return SandboxMode::Bwrap;
    }
    if (text == "none") {
        return SandboxMode::None;
    }
    return std::nullopt;
}

std::string_view sandbox_mode_name(SandboxMode mode) {
    return mode == SandboxMode::Bwrap ? "bwrap" : "none";
}

Descriptor& Descriptor::operator=(Descriptor&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Descriptor::~Descriptor() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

std::uint64_t package_view_bytes(const fs::path& package_root) {
    std::uint64_t total = 0;
    for (const auto& entry : fs::recursive_directory_iterator(package_root)) {
        if (entry.is_regular_file() && !entry.is_symlink()) {
            total += round_up(entry.file_size());
        }
    }
    return total;
}

void add_system_mounts(BwrapPlan& plan) {
    std::error_code ec;
    if (fs::is_directory("/usr", ec)) {
        plan.read_only.push_back("/usr");
    }
    for (const char* dir : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
        const auto status = fs::symlink_status(dir, ec);
        if (ec) {
            continue;
        }
        if (fs::is_symlink(status)) {
            plan.symlinks.emplace_back(fs::read_symlink(dir, ec).string(), dir);
        } else if (fs::is_directory(status)) {
            plan.read_only.push_back(dir);
        }
    }
    static const char* const kEtc[] = {"ld.so.cache",
                                       "ld.so.conf",
                                       "ld.so.conf.d",
                                       "localtime",
                                       "timezone",
                                       "hosts",
                                       "host.conf",
                                       "resolv.conf",
                                       "nsswitch.conf",
                                       "gai.conf",
                                       "passwd",
                                       "group",
                                       "protocols",
                                       "services",
                                       "ssl",
                                       "ca-certificates",
                                       "ca-certificates.conf",
                                       "mime.types",
                                       "alternatives",
                                       "os-release",
                                       "debian_version",
                                       "locale.alias",
                                       "environment"};
    for (const char* name : kEtc) {
        const fs::path path = fs::path("/etc") / name;
        if (fs::exists(path, ec)) {  // follows symlinks: a dangling one is skipped
            plan.read_only.push_back(path.string());
        }
    }
    // Runtimes read their own configuration from /etc: Debian's Python its
    // site setup (/etc/python3.X), OpenJDK its security and TLS settings
    // (/etc/java-N-openjdk).
    for (const auto& entry : fs::directory_iterator("/etc", ec)) {
        const auto name = entry.path().filename().string();
        if ((name.rfind("python3", 0) == 0 || name.rfind("java-", 0) == 0) &&
            entry.is_directory(ec)) {
            plan.read_only.push_back(entry.path().string());
        }
    }
}

std::vector<std::string> bwrap_arguments(const BwrapPlan& plan) {
    std::vector<std::string> args = {plan.bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc",
                                     "--unshare-uts", "--unshare-cgroup-try",
                                     // gamestore-sandbox-init is PID 1: the
                                     // sandbox ends when the game does.
                                     "--as-pid-1", "--uid", kInsideId, "--gid", kInsideId,
                                     "--hostname", "gamestore-match", "--cap-drop", "ALL"};
    const auto add = [&args](std::initializer_list<std::string> more) {
        args.insert(args.end(), more.begin(), more.end());
    };
    for (const auto& dir : plan.read_only) {
        add({"--ro-bind", dir, dir});
    }
    for (const auto& [target, path] : plan.symlinks) {
        add({"--symlink", target, path});
    }
    add({"--proc", "/proc", "--dev", "/dev"});
    // One size-limited tmpfs holds everything the game can write: its
    // package view, /tmp and its home.
    add({"--size", std::to_string(plan.tmpfs_bytes), "--tmpfs", "/sandbox"});
    add({"--dir", std::string(kSandboxGameDir), "--dir", std::string(kSandboxMatchDir), "--dir",
         "/sandbox/tmp", "--dir", std::string(kSandboxHomeDir)});
    add({"--symlink", "/sandbox/tmp", "/tmp"});
    int fd = 5;
    for (const auto& name : plan.file_names) {
        add({"--perms", "0444", "--ro-bind-data", std::to_string(fd++),
             std::string(kSandboxMatchDir) + "/" + name});
    }
    add({"--dir", "/run", "--perms", "0555", "--ro-bind-data", "4", kInitInside});
    // Nothing outside /sandbox is writable, not even the sandbox's own root.
    add({"--remount-ro", "/"});
    add({"--chdir", std::string(kSandboxGameDir)});
    add({"--", kInitInside, "--package-fd", "3", "--into", std::string(kSandboxGameDir)});
    if (!plan.cwd_in_package.empty() && plan.cwd_in_package != ".") {
        add({"--chdir", plan.cwd_in_package.string()});
    }
    const auto& limits = plan.limits;
    add({"--nofile", std::to_string(limits.open_files), "--fsize",
         std::to_string(limits.file_size_bytes), "--as", std::to_string(limits.address_space_bytes),
         "--nproc", std::to_string(limits.processes), "--cpu", std::to_string(limits.cpu_seconds),
         "--"});
    args.insert(args.end(), plan.game_argv.begin(), plan.game_argv.end());
    return args;
}

std::string describe_game_exit(int wait_status, SandboxMode mode) {
    int signo = 0;
    if (WIFSIGNALED(wait_status)) {
        signo = WTERMSIG(wait_status);
    } else if (WIFEXITED(wait_status)) {
        const int code = WEXITSTATUS(wait_status);
        if (mode == SandboxMode::Bwrap && code > 128 && code < 128 + NSIG) {
            signo = code - 128;
        } else {
            return "exit code " + std::to_string(code);
        }
    } else {
        return "status " + std::to_string(wait_status);
    }
    std::string text = "killed by " + signal_name(signo);
    switch (signo) {
        case SIGXCPU:
            text += ": it used up its CPU time limit";
            break;
        case SIGXFSZ:
            text += ": it exceeded its file size limit";
            break;
        case SIGKILL:
            text += " (stopped by the platform, or out of memory)";
            break;
        default:
            text += std::string(" (") + ::strsignal(signo) + ")";
            break;
    }
    return text;
}

Sandbox::Sandbox(SandboxSettings settings) : settings_(std::move(settings)) {
    if (settings_.mode == SandboxMode::None) {
        return;
    }
    const std::string how_to_skip =
        " (or run with --sandbox none, which runs game servers unconfined as this account: only "
        "for "
        "games you trust)";
    auto bwrap = find_executable(settings_.bwrap);
    if (!bwrap) {
        throw std::runtime_error("the game sandbox needs bubblewrap ('" + settings_.bwrap +
                                 "' was not found): install it with `apt-get install bubblewrap`" +
                                 how_to_skip);
    }
    bwrap_path_ = *bwrap;
    fs::path init =
        settings_.init_program.empty() ? own_directory() / kInitName : settings_.init_program;
    std::error_code ec;
    if (!fs::is_regular_file(init, ec)) {
        throw std::runtime_error(
            "the game sandbox needs " + init.string() +
            " (built beside gamestore-server; pass --sandbox-init PATH when it lives "
            "elsewhere)" +
            how_to_skip);
    }
    init_bytes_ = read_whole_file(init);
    if (::geteuid() == 0) {
        errno = 0;
        const passwd* account = ::getpwnam(settings_.user.c_str());
        if (account == nullptr) {
            throw std::runtime_error(
                "the game sandbox runs as the account '" + settings_.user +
                "' when gamestore runs as root, and there is no such account: create it or "
                "name another with --sandbox-user");
        }
        if (account->pw_uid == 0) {
            throw std::runtime_error("--sandbox-user " + settings_.user +
                                     " is root: the sandbox needs an unprivileged account");
        }
        credentials_ = std::make_pair(account->pw_uid, account->pw_gid);
    }
    system_.bwrap = bwrap_path_;
    add_system_mounts(system_);

    // Proof that it works here: run /bin/true through the whole sandbox,
    // init program and limits included, with an empty package.
    const fs::path empty =
        fs::temp_directory_path() / ("gamestore-sandbox-probe-" + std::to_string(::getpid()));
    fs::create_directories(empty, ec);
    ::chmod(empty.c_str(), 0755);
    ProcessSpec probe;
    probe.argv = {"true"};
    probe.env = base_environment();
    SandboxRequest request;
    request.package_root = empty;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    Descriptor read_end(pipe_fds[0]);
    Descriptor write_end(pipe_fds[1]);
    probe.output_fd = write_end.get();
    auto wrapped = wrap(std::move(probe), request);
    if (auto* error = std::get_if<std::string>(&wrapped)) {
        fs::remove_all(empty, ec);
        throw std::runtime_error("the game sandbox cannot be prepared: " + *error + how_to_skip);
    }
    auto& launch = std::get<SandboxedLaunch>(wrapped);
    launch.process.new_session = true;
    auto spawned = spawn_process(launch.process);
    write_end = Descriptor();
    launch.descriptors.clear();
    if (auto* error = std::get_if<std::string>(&spawned)) {
        fs::remove_all(empty, ec);
        throw std::runtime_error("the game sandbox cannot start: " + *error + how_to_skip);
    }
    const pid_t pid = std::get<SpawnedProcess>(spawned).pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const std::string output = trimmed(drain(read_end.get(), deadline));
    int status = 0;
    // The pipe closed (the sandbox is gone) or the deadline passed: in the
    // latter case make sure it is gone before waiting.
    if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(-pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    fs::remove_all(empty, ec);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(
            "the game sandbox does not work on this machine (" +
            describe_game_exit(status, SandboxMode::None) +
            (output.empty() ? std::string() : ": " + output) +
            "); bubblewrap needs unprivileged user namespaces: check `sysctl "
            "kernel.unprivileged_userns_clone` "
            "and `sysctl user.max_user_namespaces` (both must be > 0), and AppArmor's "
            "kernel.apparmor_restrict_unprivileged_userns (must be 0 or allow bwrap)" +
            how_to_skip);
    }
}

std::vector<std::pair<std::string, std::string>> Sandbox::base_environment() const {
    if (settings_.mode == SandboxMode::None) {
        return launch::base_environment();
    }
    std::vector<std::pair<std::string, std::string>> env = {
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
        {"HOME", std::string(kSandboxHomeDir)},
        {"TMPDIR", "/tmp"},
        {"USER", "nobody"},
        {"LOGNAME", "nobody"},
    };
    for (const char* name : {"LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM"}) {
        if (const char* value = std::getenv(name)) {
            env.emplace_back(name, value);
        }
    }
    return env;
}

std::variant<SandboxedLaunch, std::string> Sandbox::wrap(ProcessSpec game,
                                                         const SandboxRequest& request) const {
    SandboxedLaunch launch;
    if (settings_.mode == SandboxMode::None) {
        game.cwd = (request.package_root / request.cwd_in_package).lexically_normal();
        game.nice = settings_.limits.nice;
        launch.process = std::move(game);
        return launch;
    }
    if (request.cwd_in_package.is_absolute() ||
        std::any_of(request.cwd_in_package.begin(), request.cwd_in_package.end(),
                    [](const fs::path& part) { return part == ".."; })) {
        return "the working directory '" + request.cwd_in_package.string() +
               "' is not inside the package";
    }
    try {
        launch.descriptors.emplace_back(
            ::open(request.package_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!launch.descriptors.back()) {
            return "cannot open the package at " + request.package_root.string() + ": " +
                   std::strerror(errno);
        }
        launch.descriptors.push_back(memory_file("gamestore-init", init_bytes_));
        BwrapPlan plan = system_;
        plan.game_argv = game.argv;
        plan.cwd_in_package = request.cwd_in_package;
        plan.limits = settings_.limits;
        const std::uint64_t writable =
            settings_.limits.writable_bytes == 0 ? (1ull << 40) : settings_.limits.writable_bytes;
        plan.tmpfs_bytes = round_up(request.package_bytes + writable);
        for (const auto& file : request.files) {
            plan.file_names.push_back(file.name);
            launch.descriptors.push_back(memory_file(file.name, file.content));
        }
        launch.process = std::move(game);
        launch.process.argv = bwrap_arguments(plan);
        launch.process.cwd = "/";
        launch.process.pass_fds.clear();
        for (const auto& descriptor : launch.descriptors) {
            launch.process.pass_fds.push_back(descriptor.get());
        }
        launch.process.credentials = credentials_;
        launch.process.nice = settings_.limits.nice;
        // bwrap waits for the game and exits with its status: the group
        // SIGTERM is for the game (the init program restores the default
        // disposition before exec), SIGKILL still takes everything.
        launch.process.ignored_signals = {SIGTERM, SIGINT, SIGHUP};
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    return launch;
}

}  // namespace gamestore::launch
