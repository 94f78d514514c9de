#include "platform/launch/game_server.hpp"

#include <algorithm>
#include <exception>

namespace gamestore::launch {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> environment_with(
    std::vector<std::pair<std::string, std::string>> base,
    const std::vector<std::pair<std::string, std::string>>& extra) {
    for (const auto& [key, value] : extra) {
        const auto existing = std::find_if(base.begin(), base.end(),
                                           [&](const auto& entry) { return entry.first == key; });
        if (existing != base.end()) {
            existing->second = value;
        } else {
            base.emplace_back(key, value);
        }
    }
    return base;
}

std::variant<GameServerLaunch, std::string> prepare_game_server(
    const packages::Manifest& manifest, const packages::LaunchContext& context,
    const fs::path& package_root, std::uint64_t package_bytes, const Sandbox& sandbox) {
    const bool inside = sandbox.mode() == SandboxMode::Bwrap;
    packages::LaunchContext seen = context;
    fs::path seen_root = package_root;
    if (inside) {
        const fs::path match_dir(kSandboxMatchDir);
        seen.match_dir = match_dir;
        seen.client_token_path = match_dir / "client_token";
        seen.report_token_path = match_dir / "report_token";
        seen.players_json_path = match_dir / "players.json";
        seen_root = fs::path(kSandboxGameDir);
    }
    packages::LaunchSpec spec;
    try {
        spec = packages::render_server_launch(manifest, seen, seen_root);
    } catch (const std::exception& e) {
        return std::string("the server command could not be rendered: ") + e.what();
    }
    if (packages::argv_contains_secret(spec.argv, {context.client_token, context.report_token})) {
        return std::string("refusing to launch: a token would appear in the server's argv");
    }
    ProcessSpec process;
    process.argv = spec.argv;
    process.env = environment_with(sandbox.base_environment(), spec.env);
    process.new_session = true;

    SandboxRequest request;
    request.package_root = package_root;
    request.package_bytes = package_bytes;
    request.cwd_in_package = spec.cwd.lexically_relative(seen_root);
    if (request.cwd_in_package == ".") {
        request.cwd_in_package.clear();
    }
    request.files = {{"client_token", context.client_token},
                     {"report_token", context.report_token},
                     {"players.json", context.players_json()}};
    auto wrapped = sandbox.wrap(std::move(process), request);
    if (auto* error = std::get_if<std::string>(&wrapped)) {
        return *error;
    }
    GameServerLaunch launch;
    launch.sandboxed = std::move(std::get<SandboxedLaunch>(wrapped));
    launch.game_argv = std::move(spec.argv);
    return launch;
}

}  // namespace gamestore::launch
