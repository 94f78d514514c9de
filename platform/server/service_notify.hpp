#pragma once
// Tells a service manager how the server is doing, by the sd_notify(3)
// protocol: one datagram of "KEY=VALUE\n" lines to the Unix socket named by
// $NOTIFY_SOCKET ('@' first: the abstract namespace). Written here rather
// than linking libsystemd for one sendto(); docs/OPERATIONS.md has the unit.

#include <string_view>

namespace gamestore::server {

// Sends `state` (e.g. "READY=1"); false when NOTIFY_SOCKET is unset (not
// run by systemd with Type=notify) or the send failed. Never throws.
bool notify_service_manager(std::string_view state);

}  // namespace gamestore::server
