#include "developer/scaffold.hpp"

#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "platform/cli/cli_common.hpp"
#include "platform/packages/manifest.hpp"

namespace gamestore::cli::developer {

namespace fs = std::filesystem;

namespace {

std::string_view embedded(std::string_view name) {
    for (std::size_t i = 0; i < kEmbeddedFileCount; ++i) {
        if (kEmbeddedFiles[i].name == name) {
            return kEmbeddedFiles[i].content;
        }
    }
    throw CliFailure(kExitUsage, "This gamestore-dev was built without the scaffold file " +
                                     std::string(name) + ".");
}

std::string make_manifest(const std::string& game_name) {
    // Start from the SDK example's manifest so commands and timings stay in
    // step with the code they start; ordered_json keeps its field order.
    auto manifest = nlohmann::ordered_json::parse(embedded("manifest.json"));
    manifest["game_name"] = game_name;
    manifest["version"] = "0.1.0";
    manifest["description"] =
        "Each player picks a whole number; the highest number wins. Replace this with your game's "
        "description.";
    return manifest.dump(2) + "\n";
}

// The example server names its game in its reports; give it the new name.
std::string make_server(const std::string& game_name) {
    std::string server(embedded("server.py"));
    const std::string marker = "GAME_NAME = \"HigherNumber\"";
    const auto at = server.find(marker);
    if (at != std::string::npos) {
        // A JSON string literal (ASCII-escaped) is also a valid Python literal.
        server.replace(at, marker.size(),
                       "GAME_NAME = " + nlohmann::json(game_name).dump(-1, ' ', true));
    }
    return server;
}

std::string make_readme(const std::string& game_name) {
    return "# " + game_name +
           "\n\n"
           "A game package for gamestore, started from the Python SDK's reference game\n"
           "(players each pick a whole number; the highest wins).\n\n"
           "- `manifest.json`: how the platform starts the game server and each player's client.\n"
           "- `server.py`: the game server. It reads its launch environment, listens, reports\n"
           "  STARTED, sends heartbeats and reports END with every player's result.\n"
           "- `client.py`: the game client. It connects with the v1 handshake and plays.\n"
           "- `gamestore_sdk.py`: the SDK (standard library only), vendored so the package\n"
           "  runs anywhere Python 3 does.\n\n"
           "Check it: `gamestore-dev validate . --players 2` (plays a match with two of its "
           "clients).\n"
           "Publish it: `gamestore-dev publish .` (bump `version` in manifest.json for every "
           "release).\n";
}

void write_file(const fs::path& path, std::string_view content, fs::perms perms) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
        throw CliFailure(kExitUsage, "Cannot write " + path.string() + ".");
    }
    fs::permissions(path, perms, fs::perm_options::replace);
}

// The C++ SDK headers, as embedded ("cpp/include/gamestore/sdk.hpp" ->
// include/gamestore/sdk.hpp in the package).
constexpr std::string_view kCppSdkPrefix = "cpp/";

std::string make_cpp_manifest(const std::string& game_name) {
    auto manifest = nlohmann::ordered_json::parse(embedded("cpp/manifest.json"));
    manifest["game_name"] = game_name;
    manifest["version"] = "0.1.0";
    manifest["description"] =
        "Each player sends a whole number; the highest number wins. Replace this with your game's "
        "description.";
    // The binaries the developer builds (README.md): argv[0] inside the package.
    manifest["server"]["command"] = "bin/server";
    manifest["client"]["command"] = "bin/client";
    return manifest.dump(2) + "\n";
}

std::string make_cpp_cmakelists() {
    return R"(# Builds bin/server and bin/client, the commands manifest.json starts.
# Configure with a build directory OUTSIDE the package, so the published zip
# holds only the sources and bin/:
#   cmake -S . -B ../build-game && cmake --build ../build-game
cmake_minimum_required(VERSION 3.16)
project(gamestore_game CXX)
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
foreach(role server client)
  add_executable(${role} src/${role}.cpp)
  target_include_directories(${role} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${role} PRIVATE nlohmann_json::nlohmann_json Threads::Threads)
  set_target_properties(${role} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/bin)
endforeach()
)";
}

std::string make_cpp_readme(const std::string& game_name) {
    return "# " + game_name +
           "\n\n"
           "A game package for gamestore, started from the C++ SDK's reference game\n"
           "(players each send a whole number; the highest wins).\n\n"
           "- `manifest.json`: how the platform starts the game server (`bin/server`) and each\n"
           "  player's client (`bin/client`).\n"
           "- `src/server.cpp`: the game server. It reads its launch environment, listens, "
           "reports\n"
           "  STARTED, sends heartbeats and reports END with every player's result.\n"
           "- `src/client.cpp`: the game client. It connects with the v1 handshake and plays.\n"
           "- `include/gamestore/`: the header-only C++ SDK (needs C++20 and nlohmann/json).\n\n"
           "## Build first\n\n"
           "The package runs the compiled binaries, so build them before you validate or\n"
           "publish (and after every change). One command per binary:\n\n"
           "    mkdir -p bin\n"
           "    g++ -std=c++20 -O2 -pthread -Iinclude src/server.cpp -o bin/server\n"
           "    g++ -std=c++20 -O2 -pthread -Iinclude src/client.cpp -o bin/client\n\n"
           "or with CMake (keep the build directory outside the package):\n\n"
           "    cmake -S . -B ../build-game && cmake --build ../build-game\n\n"
           "The binaries must run on the platform's machines: build them on (or for) the same\n"
           "system.\n\n"
           "Check it: `gamestore-dev validate .` (or `validate_game_package .`)\n"
           "Publish it: `gamestore-dev publish .` (bump `version` in manifest.json for every "
           "release).\n";
}

void check_target_dir(const fs::path& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
        throw CliFailure(kExitUsage, dir.string() +
                                         " already exists and is not an empty directory; "
                                         "choose a new one.");
    }
}

void create_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw CliFailure(kExitUsage, "Cannot create " + dir.string() + ": " + ec.message() + ".");
    }
}

void check_manifest(const std::string& manifest, const std::string& game_name) {
    const auto parsed = packages::parse_manifest(manifest);
    if (!parsed.ok()) {
        std::string reasons;
        for (const auto& issue : parsed.issues) {
            reasons += " " + as_sentence(packages::format_issue(issue));
        }
        throw CliFailure(kExitUsage,
                         "'" + game_name + "' cannot be used as a game name:" + reasons);
    }
}

constexpr auto kReadable =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
constexpr auto kExecutable =
    kReadable | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;

std::vector<std::string> scaffold_cpp(const fs::path& dir, const std::string& game_name) {
    const std::string manifest = make_cpp_manifest(game_name);
    check_manifest(manifest, game_name);
    check_target_dir(dir);
    create_dir(dir);
    std::vector<std::string> written;
    const auto put = [&](const std::string& relative, std::string_view content) {
        create_dir((dir / relative).parent_path());
        write_file(dir / relative, content, kReadable);
        written.push_back(relative);
    };
    put("manifest.json", manifest);
    put("src/server.cpp", embedded("cpp/src/server.cpp"));
    put("src/client.cpp", embedded("cpp/src/client.cpp"));
    for (std::size_t i = 0; i < kEmbeddedFileCount; ++i) {
        const auto name = kEmbeddedFiles[i].name;
        if (name.rfind("cpp/include/", 0) == 0) {
            put(std::string(name.substr(kCppSdkPrefix.size())), kEmbeddedFiles[i].content);
        }
    }
    put("CMakeLists.txt", make_cpp_cmakelists());
    put("README.md", make_cpp_readme(game_name));
    create_dir(dir / "bin");
    return written;
}

}  // namespace

std::optional<ScaffoldTemplate> parse_scaffold_template(std::string_view name) {
    if (name == "python") {
        return ScaffoldTemplate::Python;
    }
    if (name == "cpp") {
        return ScaffoldTemplate::Cpp;
    }
    return std::nullopt;
}

std::vector<std::string> scaffold_package(const fs::path& dir, const std::string& game_name,
                                          ScaffoldTemplate kind) {
    if (kind == ScaffoldTemplate::Cpp) {
        return scaffold_cpp(dir, game_name);
    }
    const std::string manifest = make_manifest(game_name);
    check_manifest(manifest, game_name);
    check_target_dir(dir);
    create_dir(dir);
    write_file(dir / "manifest.json", manifest, kReadable);
    write_file(dir / "server.py", make_server(game_name), kExecutable);
    write_file(dir / "client.py", embedded("client.py"), kExecutable);
    write_file(dir / "gamestore_sdk.py", embedded("gamestore_sdk.py"), kReadable);
    write_file(dir / "README.md", make_readme(game_name), kReadable);
    return {"manifest.json", "server.py", "client.py", "gamestore_sdk.py", "README.md"};
}

}  // namespace gamestore::cli::developer
