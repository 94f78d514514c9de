// gamestore-sandbox-init: the first program inside a game server's sandbox,
// its PID 1 (platform/launch/sandbox.hpp, docs/SECURITY.md). bubblewrap has
// built the namespaces and mounts; this copies the package from the
// directory handed over as a descriptor into the private, size-limited view,
// lets go of that descriptor, applies the resource limits and starts the
// game as its child with default signal dispositions. It then reaps what
// ends in the sandbox and passes SIGTERM, SIGINT and SIGHUP on to the game.
// It exits with the game's status (128+N for a signal, as bubblewrap reports
// it) once the game has exited and nothing else is left, or at once when the
// game has exited and the platform is stopping the match: the kernel then
// ends every other process of the sandbox, so nothing a game left behind
// outlives its match. Everything it does is
// plain file copying, setrlimit, fork and wait: the isolation itself is
// bubblewrap's.
//
//   gamestore-sandbox-init --package-fd FD --into DIR [--chdir REL]
//       --nofile N --fsize N --as N --nproc N --cpu N -- PROGRAM ARGS...
//
// A limit of 0 leaves that limit as it is. Exit status 127 and one line on
// stderr when something fails before the game runs.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr int kDepthLimit = 64;

[[noreturn]] void die(const std::string& what, int error) {
    std::fprintf(stderr, "gamestore-sandbox-init: %s: %s\n", what.c_str(), std::strerror(error));
    std::fflush(stderr);
    std::_Exit(127);
}

[[noreturn]] void usage(const std::string& what) {
    std::fprintf(stderr, "gamestore-sandbox-init: %s\n", what.c_str());
    std::_Exit(127);
}

void copy_contents(int from, int to, const std::string& shown) {
    for (;;) {
        const ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0);
        if (n > 0) {
            continue;
        }
        if (n == 0) {
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
            die("cannot copy " + shown, errno);
        }
        break;  // a file system pair copy_file_range refuses: plain reads
    }
    char buffer[64 * 1024];
    for (;;) {
        const ssize_t n = ::read(from, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("cannot read " + shown, errno);
        }
        if (n == 0) {
            return;
        }
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(to, buffer + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                die("cannot copy " + shown, errno);
            }
            done += w;
        }
    }
}

// Copies directory `from` into the existing directory `to`: subdirectories
// and regular files, with their permission bits plus the owner's write bit
// (the copy is the game's own to change). The store never holds anything
// else; other entries are skipped.
void copy_tree(int from, int to, const std::string& shown, int depth) {
    if (depth > kDepthLimit) {
        usage("the package is nested deeper than " + std::to_string(kDepthLimit) + " directories");
    }
    const int listing = ::dup(from);
    if (listing < 0) {
        die("cannot read " + shown, errno);
    }
    DIR* dir = ::fdopendir(listing);
    if (dir == nullptr) {
        die("cannot read " + shown, errno);
    }
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        const std::string path = shown + "/" + std::string(name);
        struct stat info {};
        if (::fstatat(from, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) {
            die("cannot read " + path, errno);
        }
        const mode_t mode =
            (info.st_mode & 07777 & ~static_cast<mode_t>(S_ISUID | S_ISGID)) | S_IWUSR;
        if (S_ISDIR(info.st_mode)) {
            if (::mkdirat(to, entry->d_name, 0700) != 0) {
                die("cannot create " + path, errno);
            }
            const int sub_from =
                ::openat(from, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            const int sub_to =
                ::openat(to, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub_from < 0 || sub_to < 0) {
                die("cannot open " + path, errno);
            }
            copy_tree(sub_from, sub_to, path, depth + 1);
            ::fchmod(sub_to, mode | S_IXUSR | S_IRUSR);
            ::close(sub_from);
            ::close(sub_to);
        } else if (S_ISREG(info.st_mode)) {
            const int source = ::openat(from, entry->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (source < 0) {
                die("cannot read " + path, errno);
            }
            const int target = ::openat(to, entry->d_name,
                                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (target < 0) {
                die("cannot create " + path, errno);
            }
            copy_contents(source, target, path);
            ::fchmod(target, mode);
            ::close(source);
            ::close(target);
        }
    }
    ::closedir(dir);
}

std::uint64_t number(const char* flag, const char* text) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        usage(std::string(flag) + " wants a number, not '" + text + "'");
    }
    return value;
}

void limit(int resource, std::uint64_t value, const char* name) {
    if (value == 0) {
        return;
    }
    const rlimit wanted{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    if (::setrlimit(resource, &wanted) != 0) {
        die(std::string("cannot set the ") + name + " limit", errno);
    }
}

volatile sig_atomic_t g_game = 0;      // the game's pid while it runs
volatile sig_atomic_t g_stopping = 0;  // a stop signal arrived

void on_stop(int signo) {
    g_stopping = 1;
    if (g_game > 0) {
        ::kill(static_cast<pid_t>(g_game), signo);
    }
}

void on_child(int) {}

int reported(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs argv as a child and reaps what ends in the sandbox. Exits with the
// game's status once the game has exited and either nothing else is left or
// a stop signal has arrived: a process the game left behind may finish its
// work (a report in flight) until the platform stops the match, and no
// longer.
[[noreturn]] void run_game(char** argv) {
    sigset_t handled;
    sigemptyset(&handled);
    for (int signo : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
        sigaddset(&handled, signo);
    }
    sigset_t waiting;
    ::sigprocmask(SIG_BLOCK, &handled, &waiting);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGHUP);
    sigdelset(&waiting, SIGCHLD);
    const pid_t game = ::fork();
    if (game < 0) {
        die("cannot start the game", errno);
    }
    if (game == 0) {
        for (int signo = 1; signo < NSIG; ++signo) {
            ::signal(signo, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execvp(argv[0], argv);
        die(std::string("cannot run '") + argv[0] + "'", errno);
    }
    g_game = game;
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop;
    for (int signo : {SIGTERM, SIGINT, SIGHUP}) {
        ::sigaction(signo, &action, nullptr);
    }
    action.sa_handler = on_child;
    ::sigaction(SIGCHLD, &action, nullptr);
    int game_status = -1;
    for (;;) {
        int status = 0;
        pid_t ended;
        while ((ended = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (ended == game) {
                game_status = status;
                g_game = 0;
            }
        }
        if (ended < 0 && errno != ECHILD && errno != EINTR) {
            die("lost track of the game", errno);
        }
        const bool nothing_left = ended < 0 && errno == ECHILD;
        if (game_status >= 0 && (nothing_left || g_stopping)) {
            std::_Exit(reported(game_status));
        }
        // Signals are blocked outside this call, so none slips in between
        // the checks above and the wait.
        ::sigsuspend(&waiting);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int package_fd = -1;
    const char* into = nullptr;
    const char* chdir_to = nullptr;
    std::uint64_t nofile = 0, fsize = 0, address_space = 0, nproc = 0, cpu = 0;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--") {
            ++i;
            break;
        }
        if (i + 1 >= argc) {
            usage("option " + std::string(flag) + " needs a value");
        }
        const char* value = argv[++i];
        if (flag == "--package-fd") {
            package_fd = static_cast<int>(number(argv[i - 1], value));
        } else if (flag == "--into") {
            into = value;
        } else if (flag == "--chdir") {
            chdir_to = value;
        } else if (flag == "--nofile") {
            nofile = number(argv[i - 1], value);
        } else if (flag == "--fsize") {
            fsize = number(argv[i - 1], value);
        } else if (flag == "--as") {
            address_space = number(argv[i - 1], value);
        } else if (flag == "--nproc") {
            nproc = number(argv[i - 1], value);
        } else if (flag == "--cpu") {
            cpu = number(argv[i - 1], value);
        } else {
            usage("unknown option " + std::string(flag));
        }
    }
    if (i >= argc) {
        usage("no program to run (expected -- PROGRAM ARGS...)");
    }
    if (package_fd < 0 || into == nullptr) {
        usage("--package-fd and --into are required");
    }
    const int target = ::open(into, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (target < 0) {
        die(std::string("cannot open ") + into, errno);
    }
    copy_tree(package_fd, target, into, 0);
    ::close(target);
    // The descriptor reaches the store's directory tree: it must not
    // survive into the game.
    ::close(package_fd);
    if (chdir_to != nullptr && ::chdir(chdir_to) != 0) {
        die(std::string("cannot change into ") + chdir_to + " (the manifest's cwd)", errno);
    }
    limit(RLIMIT_NOFILE, nofile, "open files");
    limit(RLIMIT_FSIZE, fsize, "file size");
    limit(RLIMIT_AS, address_space, "address space");
    // Set here, inside the sandbox's user namespace, the process limit
    // counts this match's processes only (set outside, it would count every
    // process of the account).
    limit(RLIMIT_NPROC, nproc, "process count");
    limit(RLIMIT_CPU, cpu, "CPU time");
    // No core files: a crashing game would fill its writable view with one,
    // or hand it to the host's core handler outside the sandbox.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    run_game(argv + i);
}
