#pragma once
// Starting and stopping game processes: the one launcher used by the platform
// (game servers), by validate_game_package (so "validated" means "will run on
// the platform") and by gamestore-player (game clients).
//
// Spawning uses Boost.Process (vfork, then execve): in the child, before
// exec, it sets up the session or process group, default signal dispositions
// and an empty mask, stdin/stdout/stderr, the working directory, and closes
// every other descriptor; a failed exec or setup step is reported
// synchronously. The child is detached from Boost at once: the caller reaps
// it and stops its group. No shell ever runs: argv goes to execve as is.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace gamestore::launch {

struct ProcessSpec {
    std::vector<std::string> argv;  // argv[0]: a path (relative to cwd) or a name looked up in PATH
    std::vector<std::pair<std::string, std::string>> env;  // the complete environment
    std::filesystem::path cwd;
    // Own session and process group (game servers): the group is what stop
    // signals. Game clients stay in the player's group to keep the terminal.
    bool new_session = true;
    // Without a new session: put the process in a process group of its own
    // (pgid = pid), so it and its children can be signalled together without
    // touching the launcher's group (the validator's game clients).
    bool new_process_group = false;
    // stdout+stderr go here (created 0600, appended); empty: inherit.
    std::filesystem::path output_file;
    // Or to this descriptor (e.g. a pipe the caller drains into a capped
    // log); takes precedence over output_file. The caller closes its copy.
    int output_fd = -1;
    // stdin from /dev/null unless the process gets the terminal, or from
    // this file when set (scripted input for a client that reads its moves).
    bool inherit_stdin = false;
    std::filesystem::path input_file;
    // Descriptors the process receives as 3, 4, ... in this order (every
    // other one is closed). The caller keeps and closes its own copies.
    std::vector<int> pass_fds;
    // Switch to this user and group (no supplementary groups) before exec:
    // how a launcher running as root hands a sandbox to an unprivileged
    // account. Needs root.
    std::optional<std::pair<uid_t, gid_t>> credentials;
    // Added to the niceness before exec: a positive value lowers the CPU
    // priority of the process and of everything it starts.
    int nice = 0;
    // Signals the process starts with ignored (inherited by what it execs
    // until that resets them).
    std::vector<int> ignored_signals;
};

struct SpawnedProcess {
    pid_t pid = -1;
    pid_t pgid = -1;
    // /proc/<pid>/stat field 22: with the pid, identifies this process even
    // after the pid is reused.
    std::int64_t start_time = 0;
};

// The process, or a sentence saying why it could not start.
std::variant<SpawnedProcess, std::string> spawn_process(const ProcessSpec& spec);

// The environment a game process starts from: PATH, HOME, LANG, TERM, TZ and
// friends from ours (never our secrets or GAMESTORE_* settings).
std::vector<std::pair<std::string, std::string>> base_environment();

// Field 22 of /proc/<pid>/stat, or 0 when the process is gone.
std::int64_t process_start_time(pid_t pid);
// True while a process with this pid and start time exists (zombies excluded).
bool same_process_alive(pid_t pid, std::int64_t start_time);
// True while any process (zombies excluded) is in the group. Scans /proc
// when the group is not empty: use group_has_members() to poll.
bool group_alive(pid_t pgid);
// Cheap (one kill(-pgid, 0)): true while the group has any member, zombies
// included. The platform reaps its children as they exit, so polling this
// on its I/O thread sees the group empty as soon as the last member died.
bool group_has_members(pid_t pgid);
// True while `pid` exists and is not a zombie (reads /proc/<pid>/stat).
bool process_alive(pid_t pid);

// Live processes (not zombies) with an environment entry that contains
// `marker` (pass a match id: random, so it identifies the match's processes).
// Children that escaped the group with setsid keep the environment they were
// started with, and one that re-executed itself with a scrubbed environment
// usually still carries the id it was told (MATCH_ID, or its own variable).
//
// `lineage` narrows it down, because a marker alone is not proof of
// ownership: a player's game client on the same machine carries MATCH_ID too.
enum class Lineage {
    Any,
    Descendant,  // descends from this process (we are a subreaper, so escaped
                 // grandchildren are reparented to us and stay descendants)
    Orphan,      // parent is init (left behind by a launcher that died)
};
std::vector<pid_t> processes_with_env_entry(const std::string& marker, Lineage lineage = Lineage::Any);

// Live processes left behind by a launcher that died, grouped by the id
// `find_id` finds in one of their environment entries (e.g. a match id: in
// MATCH_ID, or in a variable of the game's own after it scrubbed its
// environment). Left behind means: the process, or the ancestor of it whose
// parent is init, carries the same id; so an orphaned game server and what
// it started count, while a player's game client (under gamestore-player,
// under a login session that carries no id) does not. One /proc scan; run it
// off the lobby thread.
std::map<std::string, std::vector<pid_t>> orphans_by_env_id(
    const std::function<std::optional<std::string>(std::string_view)>& find_id);

// The processes carrying `marker` (see processes_with_env_entry) that are
// not in group `pgid`: what escaped the group with setsid. Scans /proc: run
// it off the lobby thread.
std::vector<pid_t> escaped_processes(pid_t pgid, const std::string& marker, Lineage lineage);

// What one /proc scan finds, for the stops of many matches at once: every
// process group with a live member, and this process's live descendants
// (we are a subreaper, so escaped grandchildren stay descendants) by the ids
// `ids_in` finds in their environment entries. A stop asks it what
// group_alive() and escaped_processes(..., Lineage::Descendant) would
// answer, so any number of concurrent stops cost one scan instead of one
// each. Reads every process's stat but only our descendants' environments.
class DescendantTable {
  public:
    // Adds to `ids` the ids found in one environment entry (KEY=value).
    using IdsIn = std::function<void(std::string_view entry, std::vector<std::string>& ids)>;

    static DescendantTable scan(const IdsIn& ids_in);

    // Any live (not zombie) process in the group.
    bool group_alive(pid_t pgid) const { return live_groups_.count(pgid) > 0; }
    // The live descendants carrying `id` that are not in group `pgid`.
    std::vector<pid_t> escaped(pid_t pgid, const std::string& id) const;

  private:
    struct Carrier {
        pid_t pid = 0;
        pid_t pgid = 0;
    };
    std::set<pid_t> live_groups_;
    std::map<std::string, std::vector<Carrier>> carriers_;
};

// Sends `signo` to the group (when pgid > 1) and to each of `pids`; after
// SIGTERM also SIGCONT, because a stopped process cannot act on SIGTERM.
void signal_tree(pid_t pgid, const std::vector<pid_t>& pids, int signo);

struct StopOutcome {
    bool exited_on_term = false;  // gone within the grace after SIGTERM
    bool killed = false;          // SIGKILL was needed
    bool leftovers = false;       // something survived SIGKILL (should never happen)
    std::size_t escaped_killed = 0;  // processes outside the group found by marker
};

// Match-scoped stop, blocking (the validator and restart reconciliation; the
// running platform does the same steps asynchronously): SIGTERM and
// SIGCONT to the group and to escaped processes carrying `marker` (our
// descendants, or orphans when `lineage` says so), wait up to
// `grace` for all of them to go, then SIGKILL what is left and wait up to
// `kill_wait`. `marker` may be empty.
StopOutcome stop_process_tree(pid_t pgid, const std::string& marker, std::chrono::milliseconds grace,
                              std::chrono::milliseconds kill_wait = std::chrono::milliseconds(3000),
                              Lineage lineage = Lineage::Descendant);

// SIGKILL to each of `pids` (and to its group when it leads one), then waits
// up to `limit` until none is alive (a zombie counts as gone). False if some
// outlived the wait. Blocking: off the lobby thread.
bool kill_and_wait(const std::vector<pid_t>& pids, std::chrono::milliseconds limit);

// Makes this process a child subreaper: orphaned descendants (a grandchild
// that escaped with setsid and outlived its parent) are reparented to us, so
// we can reap them and they never become init's problem.
bool become_child_subreaper();

// A directory only we can enter (0700), created fresh.
void create_private_dir(const std::filesystem::path& dir);
// A file only we can read (0600), written completely or not at all.
void write_private_file(const std::filesystem::path& file, const std::string& content);

}  // namespace gamestore::launch
