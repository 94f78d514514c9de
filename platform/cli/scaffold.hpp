#pragma once
// `gamestore-dev init`: a new, publishable game package built from the Python
// SDK's reference game (sdk/python/examples, embedded at build time): a
// manifest, a stdlib-only server that listens, reports STARTED, heartbeats
// and ENDs with results, a client that does the v1 handshake, and the SDK
// module itself vendored next to them.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::cli {

struct EmbeddedFile {
    std::string_view name;  // e.g. "server.py", "manifest.json"
    std::string_view content;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;

// Writes the package into `dir` (created; it must not exist or be empty)
// for a game called `game_name`, version 0.1.0. Returns the files written,
// relative to dir. Throws CliFailure(kExitUsage) with a sentence when the
// name is not a valid game name or dir is not usable; nothing is written then.
std::vector<std::string> scaffold_package(const std::filesystem::path& dir, const std::string& game_name);

}  // namespace gamestore::cli
