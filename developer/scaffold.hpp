#pragma once
// `gamestore-dev init`: a new, publishable game package built from an SDK's
// reference game (embedded at build time): a manifest, a server that listens,
// reports STARTED, heartbeats and ENDs with results, a client that does the
// v1 handshake, and the SDK itself vendored next to them. Templates: the
// Python SDK's example (sdk/python/examples, the default) or the C++ SDK's
// (sdk/cpp/examples with the header-only sdk/cpp/gamestore/).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gamestore::cli::developer {

struct EmbeddedFile {
    std::string_view name;  // e.g. "server.py", "manifest.json"
    std::string_view content;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;

enum class ScaffoldTemplate {
    // server.py, client.py and the Python SDK (standard library only).
    Python,
    // src/server.cpp, src/client.cpp and the header-only C++ SDK under
    // include/gamestore/; the developer builds bin/server and bin/client
    // (CMakeLists.txt, or one g++ line each) before validating or publishing.
    Cpp,
};

// "python" / "cpp"; nullopt for anything else.
std::optional<ScaffoldTemplate> parse_scaffold_template(std::string_view name);

// Writes the package into `dir` (created; it must not exist or be empty)
// for a game called `game_name`, version 0.1.0. Returns the files written,
// relative to dir. Throws CliFailure(kExitUsage) with a sentence when the
// name is not a valid game name or dir is not usable; nothing is written then.
std::vector<std::string> scaffold_package(const std::filesystem::path& dir,
                                          const std::string& game_name,
                                          ScaffoldTemplate kind = ScaffoldTemplate::Python);

}  // namespace gamestore::cli::developer
