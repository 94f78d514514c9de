#pragma once
// Watching the processes of one validation run through /proc: the game
// server's process group, the clients' groups, and anything that escaped
// them. The validator is a child subreaper, so every process the match
// creates stays its descendant even after an intermediate parent exits:
// walking the parent links from our own pid finds them all, including a
// grandchild that called setsid() and cleared its environment.

#include <sys/types.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace gamestore::validator {

struct ProcInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    pid_t pgid = 0;
    char state = '?';  // 'Z' zombie, 'X' dead
    bool alive() const { return state != 'Z' && state != 'X'; }
};

// Every process currently listed in /proc.
std::map<pid_t, ProcInfo> read_process_table();
// argv of a process; empty when it is gone or unreadable.
std::vector<std::string> read_cmdline(pid_t pid);
// "pid 123 (bin/fakegame grandchild --lifetime-sec 600)", argv cut to 160
// bytes. Every occurrence of a value of `secrets` is shown redacted (6
// characters + "…"): a process is often described precisely because a token
// is in its argv, and the report must not repeat the leak.
std::string describe_process(pid_t pid, const std::vector<std::string>& secrets);

class MatchProcesses {
  public:
    // `secrets`: name -> value of what must never appear in any argv (the tokens).
    MatchProcesses(std::string marker, std::vector<std::pair<std::string, std::string>> secrets);
    ~MatchProcesses();
    MatchProcesses(const MatchProcesses&) = delete;
    MatchProcesses& operator=(const MatchProcesses&) = delete;

    void set_server(pid_t pid, pid_t pgid);
    void add_client(pid_t pid, pid_t pgid, std::string player);
    // A process of the validator's own that is not part of the match (the
    // virtual display GUI clients draw on): it and what it starts are never
    // counted as escaped or left behind, nor reaped here.
    void add_helper(pid_t pid);

    // Collects, without blocking, the exit status of the server and the
    // clients once they ended (cheap: waitpid on known pids).
    void reap();
    // Reaps ended orphans that were reparented to us (we are a subreaper),
    // so none lingers as a zombie. Reads /proc; scan() calls it too.
    void reap_orphans();
    // waitpid status once the server's main process exited.
    std::optional<int> server_status() const { return server_status_; }
    std::optional<int> client_status(pid_t pid) const;
    bool server_running() const { return server_pid_ > 0 && !server_status_; }

    // One pass over /proc: records every token found in an argv of the
    // match's processes, and every process outside the server's and the
    // clients' process groups.
    void scan();

    struct Leak {
        std::string token;    // "client_token" or "report_token"
        std::string process;  // describe_process()
    };
    const std::vector<Leak>& token_leaks() const { return leaks_; }
    std::size_t scans() const { return scans_; }

    struct Escaped {
        pid_t pid = 0;
        std::string process;  // as first seen
    };
    // Every process ever seen outside the server's and clients' groups.
    const std::map<pid_t, Escaped>& escaped_seen() const { return escaped_; }

    // Live members of the server's process group right now.
    std::vector<pid_t> server_group_members() const;
    // Live descendants outside the server's and the clients' groups.
    std::vector<pid_t> live_escaped();
    // Live processes in any client's group.
    std::vector<pid_t> live_client_processes() const;
    // Live processes carrying the MATCH_ID marker outside the server's and
    // the clients' groups (what the platform's stop finds and signals).
    std::vector<pid_t> live_marked_outside();

    pid_t server_pgid() const { return server_pgid_; }
    const std::string& marker() const { return marker_; }
    bool is_client_group(pid_t pgid) const;
    // describe_process() with this match's tokens redacted.
    std::string describe(pid_t pid) const;

  private:
    std::vector<ProcInfo> descendants(const std::map<pid_t, ProcInfo>& table) const;

    std::string marker_;
    std::vector<std::pair<std::string, std::string>> secrets_;
    pid_t server_pid_ = -1;
    pid_t server_pgid_ = -1;
    std::optional<int> server_status_;
    struct Client {
        pid_t pid;
        pid_t pgid;
        std::string player;
        std::optional<int> status;
    };
    std::vector<Client> clients_;
    std::set<pid_t> helpers_;
    std::vector<Leak> leaks_;
    std::map<pid_t, bool> leak_reported_;
    std::map<pid_t, Escaped> escaped_;
    std::size_t scans_ = 0;
};

// "exited with code 3", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace gamestore::validator
