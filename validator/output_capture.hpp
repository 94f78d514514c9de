#pragma once
// A launched process's stdout+stderr: a pipe drained on the io thread into a
// log file, capped like the platform's match logs, while the last bytes stay
// in memory so a failing check can show the last lines whatever was dropped.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "validator/io_thread.hpp"

namespace gamestore::validator {

class OutputCapture {
  public:
    // Creates the pipe and the log file (0600). Throws std::runtime_error.
    OutputCapture(asio::io_context& io, std::filesystem::path log_file, std::size_t file_cap = 4 * 1024 * 1024);
    ~OutputCapture();
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;

    // The write end, for ProcessSpec::output_fd. Call writer_spawned() once
    // the process has it (or spawning failed) so EOF can be seen.
    int write_fd() const;
    void writer_spawned();

    // The last `max_lines` lines of output, raw (each cut to 4 KiB): the
    // caller redacts and sanitises them before showing them.
    std::vector<std::string> tail(std::size_t max_lines) const;
    const std::filesystem::path& log_file() const;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace gamestore::validator
