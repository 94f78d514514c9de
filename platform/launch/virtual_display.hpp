#pragma once
// A private virtual X display (Xvfb) for GUI game clients where there is no
// screen: the validator runs a GUI package's clients on one, and the tests
// play GUI games on one. Never the user's own display: Xvfb picks a free
// display number itself (-displayfd) and tells it on a pipe once it accepts
// connections, so there is no guessing and no race with another X server.
// It listens on its local socket only (no TCP).

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace gamestore::launch {

struct VirtualDisplayOptions {
    // The Xvfb program; empty: looked up in PATH (find_xvfb).
    std::filesystem::path xvfb;
    // Xvfb's -screen 0 geometry: WIDTHxHEIGHTxDEPTH.
    std::string screen = "1280x720x24";
    // How long Xvfb has to accept connections.
    std::chrono::milliseconds startup_timeout{15'000};
    // Xvfb's own output; empty: discarded.
    std::filesystem::path log_file;
};

class VirtualDisplay {
  public:
    // The display, ready for clients, or a sentence saying why not.
    static std::variant<std::unique_ptr<VirtualDisplay>, std::string> start(
        const VirtualDisplayOptions& options);

    // Stops Xvfb: SIGTERM, then SIGKILL after 3 s.
    ~VirtualDisplay();
    VirtualDisplay(const VirtualDisplay&) = delete;
    VirtualDisplay& operator=(const VirtualDisplay&) = delete;

    // What DISPLAY must say, e.g. ":3".
    const std::string& name() const { return name_; }
    // Xvfb's pid (it leads a process group of its own).
    pid_t pid() const { return pid_; }

  private:
    VirtualDisplay(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}

    pid_t pid_;
    std::string name_;
};

// The Xvfb program in `path_env` (':'-separated, as PATH), when installed.
std::optional<std::filesystem::path> find_xvfb(std::string_view path_env);

// Parses what Xvfb writes on its -displayfd descriptor: the display number
// and a newline ("3\n" gives ":3"). nullopt for anything else. Pure.
std::optional<std::string> parse_displayfd_line(std::string_view text);

}  // namespace gamestore::launch
