#pragma once
// SIGTERM, SIGHUP and SIGINT while `play` is in a room: instead of dying
// with the room still holding the player (listed as disconnected until the
// match ends, and refusing their next room), gamestore-player notes the
// signal, stops its game client, leaves the room and exits with 128 + the
// signal's number, as a shell reports a job ended by a signal. The flow's
// loops wake at least every 500 ms and look at stop_requested().
//
// While a CLI game owns the terminal, SIGINT is the game's (game_client.cpp
// ignores it for that time and restores this handler afterwards).

namespace gamestore::cli::player {

class StopSignals {
  public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
};

// The signal that asked us to stop, 0 when none did (or no StopSignals is
// installed).
int stop_requested();

// "SIGTERM", "SIGHUP", "SIGINT" or "signal N".
const char* stop_signal_name(int signal_number);

}  // namespace gamestore::cli::player
