#include "platform/cli/console.hpp"

#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <iostream>

#include "platform/cli/cli_common.hpp"
#include "platform/client/sync_client.hpp"

namespace gamestore::cli {

namespace {

// Restoring the terminal from a signal handler: Ctrl-C while the password is
// being typed must not leave the user's shell without echo.
struct termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void restore_echo_and_reraise(int signo) {
    if (g_echo_off) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
        g_echo_off = 0;
    }
    ::signal(signo, SIG_DFL);
    ::raise(signo);
}

class EchoOff {
public:
    EchoOff() {
        if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) {
            return;
        }
        struct sigaction action {};
        action.sa_handler = restore_echo_and_reraise;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &old_int_);
        ::sigaction(SIGTERM, &action, &old_term_);
        ::sigaction(SIGHUP, &action, &old_hup_);
        struct termios quiet = g_saved_termios;
        quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
        quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
        g_echo_off = 1;
        active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        if (!active_) {
            g_echo_off = 0;
        }
    }
    ~EchoOff() {
        if (active_) {
            ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
            g_echo_off = 0;
            ::sigaction(SIGINT, &old_int_, nullptr);
            ::sigaction(SIGTERM, &old_term_, nullptr);
            ::sigaction(SIGHUP, &old_hup_, nullptr);
        }
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;

private:
    bool active_ = false;
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
    struct sigaction old_hup_ {};
};

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return std::string(text.substr(first, last - first + 1));
}

}  // namespace

Console::Console() = default;

bool Console::input_is_terminal() const {
    return ::isatty(STDIN_FILENO) == 1;
}

void Console::watch(client::SyncLobbyClient* client, EventHandler on_event, CloseHandler on_close) {
    client_ = client;
    on_event_ = std::move(on_event);
    on_close_ = std::move(on_close);
    close_reported_ = false;
}

void Console::deliver_events() {
    if (!client_) {
        return;
    }
    // Bounded by what is queued right now: next_event(0) never waits.
    for (;;) {
        auto event = client_->next_event(std::chrono::milliseconds(0));
        if (!event) {
            break;
        }
        if (on_event_) {
            on_event_(*event);
        }
    }
    if (!client_->connected() && !close_reported_) {
        close_reported_ = true;
        if (on_close_) {
            on_close_();
        }
    }
}

std::optional<std::string> Console::next_line() {
    for (;;) {
        const auto newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return line;
        }
        if (eof_) {
            if (buffer_.empty()) {
                return std::nullopt;
            }
            std::string rest = std::move(buffer_);
            buffer_.clear();
            return rest;
        }
        deliver_events();
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {-1, POLLIN, 0}};
        nfds_t count = 1;
        if (client_ && !close_reported_) {
            fds[1].fd = client_->event_fd();
            count = 2;
        }
        const int ready = ::poll(fds, count, -1);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            eof_ = true;
            continue;
        }
        if (count == 2 && (fds[1].revents & POLLIN)) {
            deliver_events();
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[4096];
            const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (n <= 0) {
                eof_ = true;
            } else {
                buffer_.append(chunk, static_cast<std::size_t>(n));
            }
        }
    }
}

std::optional<std::string> Console::read_line(std::string_view prompt) {
    std::cout << prompt << std::flush;
    auto line = next_line();
    if (!line) {
        std::cout << "\n" << std::flush;  // end the prompt's line before the program's last words
    }
    return line;
}

std::optional<std::string> Console::read_secret(std::string_view prompt) {
    if (!input_is_terminal()) {
        return read_line(prompt);
    }
    std::cout << prompt << std::flush;
    EchoOff quiet;
    return next_line();
}

std::optional<std::size_t> Console::read_number(std::string_view prompt, std::size_t low, std::size_t high) {
    for (;;) {
        auto line = read_line(prompt);
        if (!line) {
            return std::nullopt;
        }
        const std::string text = trim(*line);
        std::size_t value = 0;
        const auto* begin = text.data();
        const auto* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(begin, end, value);
        if (!text.empty() && ec == std::errc() && ptr == end && value >= low && value <= high) {
            return value;
        }
        std::cout << "Please enter a number from " << low << " to " << high << ".\n";
    }
}

std::optional<std::size_t> Console::choose(std::string_view title, const std::vector<std::string>& items,
                                           std::string_view question) {
    if (!title.empty()) {
        std::cout << "\n" << title << "\n";
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::cout << "  " << (i + 1) << ") " << items[i] << "\n";
    }
    return read_number(std::string(question) + " (1-" + std::to_string(items.size()) + ", 0 to go back): ", 0,
                       items.size());
}

std::optional<std::size_t> Console::menu(std::string_view title, const std::vector<std::string>& items) {
    std::cout << "\n" << title << "\n";
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::cout << "  " << (i + 1) << ") " << items[i] << "\n";
    }
    auto choice = read_number("Choose 1-" + std::to_string(items.size()) + ": ", 1, items.size());
    if (!choice) {
        return std::nullopt;
    }
    return *choice - 1;
}

std::optional<bool> Console::confirm(std::string_view question, bool default_answer) {
    const std::string suffix = default_answer ? " [Y/n] " : " [y/N] ";
    for (;;) {
        auto line = read_line(std::string(question) + suffix);
        if (!line) {
            return std::nullopt;
        }
        std::string text = trim(*line);
        for (auto& c : text) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (text.empty()) {
            return default_answer;
        }
        if (text == "y" || text == "yes") {
            return true;
        }
        if (text == "n" || text == "no") {
            return false;
        }
        std::cout << "Please answer y or n.\n";
    }
}

bool run_menu(Console& console, const std::function<std::string()>& title, const std::vector<MenuEntry>& entries) {
    std::vector<std::string> labels;
    labels.reserve(entries.size());
    for (const auto& entry : entries) {
        labels.push_back(entry.label);
    }
    for (;;) {
        const auto choice = console.menu(title(), labels);
        if (!choice) {
            return false;
        }
        MenuStep step = MenuStep::Stay;
        try {
            step = entries[*choice].action();
        } catch (const SessionEnded&) {
            throw;
        } catch (const CliFailure& failure) {
            if (failure.code() == kExitUnreachable) {
                throw;
            }
            std::cout << failure.what() << "\n";
        }
        if (console.input_ended()) {
            return false;
        }
        if (step == MenuStep::Leave) {
            return true;
        }
    }
}

}  // namespace gamestore::cli
