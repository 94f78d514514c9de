// The private virtual display GUI clients run on (validator, tests): the
// -displayfd line parser, and a real Xvfb started, used and stopped.

#include <signal.h>

#include <catch2/catch.hpp>

#include "platform/launch/process_launcher.hpp"
#include "platform/launch/virtual_display.hpp"

using gamestore::launch::parse_displayfd_line;
using gamestore::launch::VirtualDisplay;
namespace fs = std::filesystem;

TEST_CASE("the -displayfd line is a display number and a newline", "[display][unit]") {
    CHECK(parse_displayfd_line("0\n") == ":0");
    CHECK(parse_displayfd_line("17\n") == ":17");
    CHECK_FALSE(parse_displayfd_line("17"));  // not finished yet
    CHECK_FALSE(parse_displayfd_line("\n"));
    CHECK_FALSE(parse_displayfd_line("1 7\n"));
    CHECK_FALSE(parse_displayfd_line("-1\n"));
    CHECK_FALSE(parse_displayfd_line("07\n"));
    CHECK_FALSE(parse_displayfd_line(":7\n"));
    CHECK_FALSE(parse_displayfd_line("1234567\n"));
}

TEST_CASE("a private Xvfb starts on a free display, accepts clients and stops",
          "[display][integration]") {
    const char* path = std::getenv("PATH");
    if (!gamestore::launch::find_xvfb(path ? path : "/usr/bin:/bin")) {
        WARN("Xvfb is not installed (ci/bootstrap installs xvfb); skipped");
        return;
    }
    CHECK_FALSE(gamestore::launch::find_xvfb("/nonexistent"));
    pid_t pid = -1;
    std::string first_name;
    {
        auto started = VirtualDisplay::start({});
        REQUIRE(std::holds_alternative<std::unique_ptr<VirtualDisplay>>(started));
        const auto& display = std::get<std::unique_ptr<VirtualDisplay>>(started);
        pid = display->pid();
        first_name = display->name();
        REQUIRE(first_name.size() > 1);
        // Listening: the display's local socket exists once the number is told.
        CHECK(fs::exists("/tmp/.X11-unix/X" + first_name.substr(1)));
        CHECK(gamestore::launch::process_alive(pid));
        // A second one at the same time gets another number.
        auto second = VirtualDisplay::start({});
        REQUIRE(std::holds_alternative<std::unique_ptr<VirtualDisplay>>(second));
        CHECK(std::get<std::unique_ptr<VirtualDisplay>>(second)->name() != first_name);
    }
    CHECK_FALSE(gamestore::launch::process_alive(pid));
    CHECK(::kill(pid, 0) != 0);  // reaped, not a zombie

    gamestore::launch::VirtualDisplayOptions broken;
    broken.xvfb = "/bin/false";
    auto failed = VirtualDisplay::start(broken);
    REQUIRE(std::holds_alternative<std::string>(failed));
    CHECK(std::get<std::string>(failed).find("exited before it reported a display") !=
          std::string::npos);
}
