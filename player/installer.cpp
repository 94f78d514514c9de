#include "player/installer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "platform/cli/cli_common.hpp"
#include "platform/cli/fs_util.hpp"
#include "platform/cli/progress.hpp"
#include "platform/cli/text_table.hpp"
#include "platform/client/sync_client.hpp"
#include "platform/packages/manifest.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/packages/zip.hpp"
#include "platform/protocol/semver.hpp"

namespace gamestore::cli::player {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kRecordFile = "installed.json";

std::string label(const PackageTarget& target) {
    return target.game + " " + target.version;
}

bool is_hex_digest(const std::string& text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// Generous: the deadline only catches a server that stopped sending.
std::chrono::milliseconds transfer_timeout(std::uint64_t bytes) {
    return std::chrono::milliseconds(60'000 + bytes / 256);  // 60 s + 256 KiB/s
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
    return std::to_string(whole == 0 ? 100 : part * 100 / whole) + "%";
}

void remove_part(const fs::path& part) {
    remove_quietly(part);
    remove_quietly(part.string() + ".json");
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string fold_case(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

void validate_target(const PackageTarget& target) {
    if (!is_safe_component(target.game)) {
        throw CliFailure(
            kExitUsage,
            "'" + target.game + "' cannot be installed: the name is not a usable folder name.");
    }
    if (!protocol::parse_semver(target.version)) {
        throw CliFailure(kExitRefused, "The store announced version '" + target.version + "' of " +
                                           target.game +
                                           ", which is not a valid semantic version.");
    }
    if (!is_hex_digest(target.sha256)) {
        throw CliFailure(kExitRefused,
                         "The store announced no valid SHA-256 for " + label(target) + ".");
    }
}

}  // namespace

PackageTarget package_target(const std::string& game, const json& version) {
    PackageTarget target;
    target.game = game;
    try {
        target.version = version.at("version").get<std::string>();
        target.sha256 = version.at("sha256").get<std::string>();
        target.size = version.at("size").get<std::uint64_t>();
    } catch (const json::exception&) {
        throw CliFailure(kExitRefused, "The store's description of a version of " + game +
                                           " lacks its version, sha256 or size.");
    }
    return target;
}

GameLibrary::GameLibrary(fs::path player_dir) : player_dir_(std::move(player_dir)) {}

fs::path GameLibrary::part_file(const PackageTarget& target) const {
    return tmp_dir() / (target.game + "-" + target.version + ".part");
}

std::optional<InstalledGame> GameLibrary::find(const std::string& game) const {
    if (auto exact = find_exact(game)) {
        return exact;
    }
    // The store matches names regardless of case; so does the library, so
    // `update connect four` finds "Connect Four".
    const auto folded = fold_case(game);
    std::error_code ec;
    for (fs::directory_iterator it(games_dir(), ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name != game && fold_case(name) == folded) {
            return find_exact(name);
        }
    }
    return std::nullopt;
}

std::optional<InstalledGame> GameLibrary::find_exact(const std::string& game) const {
    if (!is_safe_component(game)) {
        return std::nullopt;
    }
    const fs::path game_dir = games_dir() / game;
    std::error_code ec;
    if (!fs::is_regular_file(game_dir / kRecordFile, ec)) {
        return std::nullopt;
    }
    try {
        const auto record = json::parse(read_small_file(game_dir / kRecordFile, 64 * 1024));
        InstalledGame installed;
        installed.game = record.at("game").get<std::string>();
        installed.version = record.at("version").get<std::string>();
        installed.sha256 = record.at("sha256").get<std::string>();
        installed.size = record.at("size").get<std::uint64_t>();
        installed.installed_at_ms = record.value("installed_at", std::int64_t{0});
        const auto dir = record.at("dir").get<std::string>();
        const auto root = record.value("root", std::string());
        if (installed.game != game || !is_safe_component(dir) ||
            root.find("..") != std::string::npos) {
            return std::nullopt;
        }
        installed.version_dir = game_dir / dir;
        installed.package_root =
            root.empty() ? installed.version_dir : installed.version_dir / root;
        if (!fs::is_regular_file(installed.package_root / "manifest.json", ec)) {
            return std::nullopt;  // damaged: treated as not installed, so install repairs it
        }
        return installed;
    } catch (const json::exception&) {
        return std::nullopt;
    } catch (const CliFailure&) {
        return std::nullopt;
    }
}

std::vector<InstalledGame> GameLibrary::list() const {
    std::vector<InstalledGame> games;
    std::error_code ec;
    for (fs::directory_iterator it(games_dir(), ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.empty() || name.front() == '.') {
            continue;  // staging and trash folders
        }
        if (auto installed = find_exact(name)) {
            games.push_back(std::move(*installed));
        }
    }
    std::sort(games.begin(), games.end(),
              [](const InstalledGame& a, const InstalledGame& b) { return a.game < b.game; });
    return games;
}

InstallResult GameLibrary::install(client::SyncLobbyClient& client, const PackageTarget& target) {
    validate_target(target);
    ensure_private_dir(player_dir_);
    ensure_private_dir(tmp_dir());
    std::error_code ec;
    fs::create_directories(games_dir(), ec);
    FileLock lock(
        player_dir_ / "install.lock",
        "Another gamestore-player is installing or removing games for this account right now; "
        "try again when it has finished.");

    InstallResult result;
    auto previous = find(target.game);
    if (previous) {
        result.previous_version = previous->version;
        if (previous->version == target.version && previous->sha256 == target.sha256) {
            result.installed = *previous;
            result.already_installed = true;
            return result;
        }
    }
    const fs::path zip = download_verified(client, target, result.resumed_from);
    result.installed = unpack(target, zip, previous);
    remove_part(zip);
    return result;
}

fs::path GameLibrary::download_verified(client::SyncLobbyClient& client,
                                        const PackageTarget& target, std::uint64_t& resumed_from) {
    const fs::path part = part_file(target);
    const fs::path meta = part.string() + ".json";
    const json expected = {{"game", target.game},
                           {"version", target.version},
                           {"sha256", target.sha256},
                           {"size", target.size}};

    // Reuse a .part only when it belongs to exactly this package; versions are
    // immutable, so same digest and size means the same bytes.
    std::uint64_t offset = 0;
    std::error_code ec;
    if (fs::exists(part, ec)) {
        bool matches = false;
        try {
            matches = json::parse(read_small_file(meta, 64 * 1024)) == expected;
        } catch (const std::exception&) {
            matches = false;
        }
        const std::uint64_t have = file_size_or_zero(part);
        if (matches && have <= target.size) {
            offset = have;
        } else {
            remove_part(part);
        }
    }
    if (offset == 0) {
        write_file_atomically(meta, expected.dump() + "\n", 0600);
    }
    resumed_from = offset;

    if (offset < target.size) {
        if (offset > 0) {
            std::cout << "Resuming the download of " << label(target) << " at "
                      << human_bytes(offset) << " of " << human_bytes(target.size) << " ("
                      << percent(offset, target.size) << ").\n"
                      << std::flush;
        }
        const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(offset)) != 0 ||
            ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
            const std::string reason = std::strerror(errno);
            if (fd >= 0) {
                ::close(fd);
            }
            throw CliFailure(kExitUsage,
                             "Cannot write the download to " + part.string() + ": " + reason + ".");
        }
        // The sink runs on the client's I/O thread. Its state is shared and
        // closed under a lock once call() returns, so bytes arriving after a
        // deadline (the reader drains the rest of the blob) are dropped
        // instead of written to a closed or reused descriptor.
        struct SinkState {
            std::mutex mutex;
            int fd = -1;
            std::uint64_t received = 0;
            int write_errno = 0;
        };
        auto state = std::make_shared<SinkState>();
        state->fd = fd;
        auto bar =
            std::make_shared<ProgressBar>("Downloading " + label(target), target.size, offset);
        client::CallOptions options;
        options.timeout = transfer_timeout(target.size - offset);
        options.blob_sink = [state, bar, offset](std::string_view bytes) {
            std::lock_guard lock(state->mutex);
            if (state->fd < 0 || state->write_errno != 0) {
                return;  // closed, or failed: the rest of the blob is dropped
            }
            std::size_t done = 0;
            while (done < bytes.size()) {
                const ssize_t n = ::write(state->fd, bytes.data() + done, bytes.size() - done);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    state->write_errno = n < 0 ? errno : ENOSPC;
                    return;
                }
                done += static_cast<std::size_t>(n);
            }
            state->received += bytes.size();
            bar->update(offset + state->received);
        };
        const auto response =
            client.call("store.download",
                        {{"game", target.game}, {"version", target.version}, {"offset", offset}},
                        std::move(options));
        std::uint64_t received = 0;
        int write_errno = 0;
        bool synced = false;
        {
            std::lock_guard lock(state->mutex);
            synced = ::fsync(state->fd) == 0;
            ::close(state->fd);
            state->fd = -1;
            received = state->received;
            write_errno = state->write_errno;
        }
        if (response.ok) {
            bar->finish();
        }
        if (write_errno != 0 || !synced) {
            throw CliFailure(kExitUsage, "Cannot write the download to " + part.string() + ": " +
                                             std::strerror(write_errno != 0 ? write_errno : errno) +
                                             ".");
        }
        if (!response.ok) {
            const int code = exit_code_for(response);
            if (code == kExitUnreachable) {
                throw CliFailure(code, "The download of " + label(target) + " stopped at " +
                                           human_bytes(offset + received) + " of " +
                                           human_bytes(target.size) + ": " +
                                           as_sentence(response.message) +
                                           " Run the same command again to resume it.");
            }
            remove_part(part);  // e.g. the offset was refused: start afresh next time
            throw CliFailure(
                code, "Downloading " + label(target) + " failed: " + as_sentence(response.message));
        }
        const auto& data = response.data;
        auto number = [&data](const char* key) -> std::optional<std::uint64_t> {
            if (!data.is_object() || !data.contains(key) || !data[key].is_number_unsigned()) {
                return std::nullopt;
            }
            return data[key].get<std::uint64_t>();
        };
        const bool consistent = string_or(data, "sha256", "") == target.sha256 &&
                                number("size") == target.size && number("offset") == offset &&
                                number("length") == target.size - offset &&
                                received == target.size - offset;
        if (!consistent) {
            remove_part(part);
            throw CliFailure(kExitRefused,
                             "The server sent something other than the package it announced for " +
                                 label(target) + "; the partial download was deleted. Try again.");
        }
    }

    const std::string actual = packages::sha256_file(part);
    if (actual != target.sha256) {
        remove_part(part);
        throw CliFailure(kExitRefused,
                         "The download of " + label(target) + " is corrupt: its SHA-256 is " +
                             actual + " but the store says " + target.sha256 +
                             ". It was deleted and nothing was installed; run the command again "
                             "to download it afresh.");
    }
    return part;
}

InstalledGame GameLibrary::unpack(const PackageTarget& target, const fs::path& zip,
                                  const std::optional<InstalledGame>& previous) {
    const fs::path game_dir = games_dir() / target.game;
    std::error_code ec;
    fs::create_directories(game_dir, ec);
    // Leftovers of an interrupted earlier run (we hold the lock: nobody else
    // is using them).
    for (fs::directory_iterator it(game_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.rfind(".staging-", 0) == 0 || name.rfind(".trash-", 0) == 0) {
            remove_quietly(it->path());
        }
    }

    const fs::path staging = game_dir / (".staging-" + random_suffix());
    auto fail = [&](const std::string& message) {
        remove_quietly(staging);
        remove_part(zip);
        throw CliFailure(kExitRefused, message);
    };
    const auto extraction = packages::extract_zip(zip, staging);
    if (!extraction.ok()) {
        std::string reasons;
        for (const auto& issue : extraction.issues) {
            reasons += "\n  - " + packages::format_issue(issue);
        }
        fail("The package of " + label(target) +
             " cannot be unpacked safely; nothing was installed:" + reasons);
    }
    const auto root = packages::find_manifest_root(staging);
    if (!root.found()) {
        fail("The package of " + label(target) +
             " has no manifest.json: " + as_sentence(root.message));
    }
    const auto manifest = packages::load_manifest(staging / *root.prefix / "manifest.json");
    if (!manifest.ok()) {
        std::string reasons;
        for (const auto& issue : manifest.issues) {
            reasons += "\n  - " + packages::format_issue(issue);
        }
        fail("The manifest of " + label(target) +
             " is not valid; nothing was installed:" + reasons);
    }
    if (manifest.manifest->game_name != target.game ||
        manifest.manifest->version != target.version) {
        fail("The package downloaded for " + label(target) + " says it is " +
             manifest.manifest->game_name + " " + manifest.manifest->version +
             "; nothing was installed.");
    }

    const fs::path version_dir = game_dir / target.version;
    fs::path trash;
    if (fs::exists(version_dir, ec)) {
        trash = game_dir / (".trash-" + random_suffix());
        fs::rename(version_dir, trash, ec);
        if (ec) {
            fail("Cannot replace " + version_dir.string() + ": " + ec.message() + ".");
        }
    }
    fs::rename(staging, version_dir, ec);
    if (ec) {
        if (!trash.empty()) {
            std::error_code ignored;
            fs::rename(trash, version_dir, ignored);
        }
        fail("Cannot move the unpacked game into " + version_dir.string() + ": " + ec.message() +
             ".");
    }

    InstalledGame installed;
    installed.game = target.game;
    installed.version = target.version;
    installed.sha256 = target.sha256;
    installed.size = target.size;
    installed.version_dir = version_dir;
    std::string prefix = *root.prefix;
    if (!prefix.empty() && prefix.back() == '/') {
        prefix.pop_back();
    }
    installed.package_root = prefix.empty() ? version_dir : version_dir / prefix;
    installed.installed_at_ms = now_ms();
    const json record = {{"game", installed.game},
                         {"version", installed.version},
                         {"sha256", installed.sha256},
                         {"size", installed.size},
                         {"dir", target.version},
                         {"root", prefix},
                         {"installed_at", installed.installed_at_ms}};
    // The commit point: before this rename the previous install is the one on record.
    write_file_atomically(game_dir / kRecordFile, record.dump(2) + "\n", 0644);

    if (!trash.empty()) {
        remove_quietly(trash);
    }
    if (previous && previous->version_dir != version_dir) {
        remove_quietly(previous->version_dir);
    }
    return installed;
}

bool GameLibrary::uninstall(const std::string& typed) {
    if (!is_safe_component(typed)) {
        return false;
    }
    std::error_code ec;
    std::string game = typed;
    if (!fs::exists(games_dir() / game, ec)) {
        const auto installed = find(typed);
        if (!installed) {
            return false;
        }
        game = installed->game;
    }
    const fs::path game_dir = games_dir() / game;
    FileLock lock(
        player_dir_ / "install.lock",
        "Another gamestore-player is installing or removing games for this account right now; "
        "try again when it has finished.");
    // Rename first so a half-deleted tree never looks like an install.
    const fs::path trash = games_dir() / (".trash-" + random_suffix());
    fs::rename(game_dir, trash, ec);
    if (ec) {
        throw CliFailure(kExitUsage,
                         "Cannot remove " + game_dir.string() + ": " + ec.message() + ".");
    }
    remove_quietly(trash);
    return true;
}

}  // namespace gamestore::cli::player
