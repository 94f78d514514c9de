#include "player/stop_signals.hpp"

#include <signal.h>

#include <array>

namespace gamestore::cli::player {

namespace {

volatile sig_atomic_t g_stop_signal = 0;

constexpr std::array<int, 3> kStopSignals = {SIGTERM, SIGHUP, SIGINT};
std::array<struct sigaction, kStopSignals.size()> g_previous{};

extern "C" void note_stop_signal(int signal_number) {
    if (g_stop_signal == 0) {
        g_stop_signal = signal_number;
    }
}

}  // namespace

StopSignals::StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = note_stop_signal;
    sigemptyset(&action.sa_mask);
    // Interrupted calls restart: the loops poll with a bounded timeout and
    // look at the flag, so nothing needs EINTR to notice.
    action.sa_flags = SA_RESTART;
    for (std::size_t i = 0; i < kStopSignals.size(); ++i) {
        ::sigaction(kStopSignals[i], &action, &g_previous[i]);
    }
}

StopSignals::~StopSignals() {
    for (std::size_t i = 0; i < kStopSignals.size(); ++i) {
        ::sigaction(kStopSignals[i], &g_previous[i], nullptr);
    }
}

int stop_requested() {
    return g_stop_signal;
}

const char* stop_signal_name(int signal_number) {
    switch (signal_number) {
        case SIGTERM:
            return "SIGTERM";
        case SIGHUP:
            return "SIGHUP";
        case SIGINT:
            return "SIGINT";
        default:
            return "a signal";
    }
}

}  // namespace gamestore::cli::player
