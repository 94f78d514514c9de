#pragma once
// The terminal side of the interactive menus: line input from stdin that
// keeps showing server events while it waits, hidden password entry, and
// numbered menus that re-prompt with the valid range (docs/CLI.md).
//
// stdin is read with poll()+read() rather than iostreams so one poll can wait
// on both stdin and the lobby client's event fd.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::client {
class SyncLobbyClient;
}
namespace gamestore::protocol {
struct Event;
}

namespace gamestore::cli {

class Console {
public:
    using EventHandler = std::function<void(const protocol::Event&)>;
    using CloseHandler = std::function<void()>;

    Console();

    // True when stdin is a terminal (passwords are then typed hidden).
    bool input_is_terminal() const;

    // While waiting for input, events queued on `client` are handed to
    // `on_event` and a closed connection to `on_close` (once). Either handler
    // may throw to abandon the prompt. Pass nullptr to stop watching.
    void watch(client::SyncLobbyClient* client, EventHandler on_event, CloseHandler on_close);

    // Prints `prompt` (no newline) and reads one line without its '\n'.
    // nullopt at end of input.
    std::optional<std::string> read_line(std::string_view prompt);

    // As read_line, with echo off when stdin is a terminal.
    std::optional<std::string> read_secret(std::string_view prompt);

    // Reads a whole number in [low, high]; anything else re-prompts with
    // "Please enter a number from <low> to <high>.". nullopt at end of input.
    std::optional<std::size_t> read_number(std::string_view prompt, std::size_t low, std::size_t high);

    // Prints `title` and the items numbered from 1 and returns the chosen
    // item's 0-based index; nullopt at end of input.
    std::optional<std::size_t> menu(std::string_view title, const std::vector<std::string>& items);

    // Prints `title` (when not empty) and the items numbered from 1, then
    // asks "<question> (1-N, 0 to go back): ". Returns the 1-based choice,
    // 0 for back, nullopt at end of input.
    std::optional<std::size_t> choose(std::string_view title, const std::vector<std::string>& items,
                                      std::string_view question);

    // "y"/"yes" or "n"/"no" (case-insensitive); empty input takes the
    // default. nullopt at end of input.
    std::optional<bool> confirm(std::string_view question, bool default_answer);

    // True once stdin has ended and every line has been read.
    bool input_ended() const { return eof_ && buffer_.empty(); }

private:
    std::optional<std::string> next_line();
    void deliver_events();

    std::string buffer_;
    bool eof_ = false;
    client::SyncLobbyClient* client_ = nullptr;
    EventHandler on_event_;
    CloseHandler on_close_;
    bool close_reported_ = false;
};

enum class MenuStep {
    Stay,   // show this menu again
    Leave,  // back to the parent menu (or out of the top level)
};

struct MenuEntry {
    std::string label;
    std::function<MenuStep()> action;
};

// Shows the menu until an action returns Leave or input ends; returns false
// when input ended. `title` is called before each showing (it may include
// live state such as the signed-in name). An action's CliFailure is printed
// as a sentence and the menu shown again, except SessionEnded and
// kExitUnreachable (nothing in the menu can work any more), which propagate.
// At most 5 entries per menu (docs/CLI.md).
bool run_menu(Console& console, const std::function<std::string()>& title, const std::vector<MenuEntry>& entries);

}  // namespace gamestore::cli
