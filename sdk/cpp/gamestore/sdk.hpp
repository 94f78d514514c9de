#pragma once
// gamestore game-side SDK for protocol v1, header-only.
//
// Dependencies: a POSIX system (sockets, poll, pipes, signals), C++20, and
// nlohmann/json (a single header). Copy the `gamestore/` directory next to
// your game's sources and add it to the include path.
//
//   LaunchContext / ServerContext / ClientContext   read the launch environment
//   Reporter                                        STARTED / HEARTBEAT / END / ERROR
//   GameServerSocket, accept_players,
//   HandshakeValidator                              server side of handshake v1
//   connect_and_handshake, LineConnection           client side of handshake v1
//   StopSignal                                      SIGTERM/SIGINT as a pollable fd
//
// See docs/SDK.md for a walkthrough and complete examples.

#include "gamestore/sdk/context.hpp"
#include "gamestore/sdk/handshake.hpp"
#include "gamestore/sdk/net.hpp"
#include "gamestore/sdk/reporter.hpp"
#include "gamestore/sdk/stop_signal.hpp"
