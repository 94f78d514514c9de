#pragma once
// A player's installed games (docs/CLI.md, "How installs work"). Layout under
// <home>/player/<user>/:
//
//   games/<GAME>/<VERSION>/      the unpacked package
//   games/<GAME>/installed.json  {game, version, sha256, size, dir, root, installed_at}
//                                 -- the commit point: written atomically last
//   tmp/<GAME>-<VERSION>.part     a download in progress (resumed from its size)
//   tmp/<GAME>-<VERSION>.part.json  {game, version, sha256, size} it belongs to
//   install.lock                  held while installing or uninstalling
//
// Installing downloads into the .part (resuming when it matches the same
// package), verifies the whole file's SHA-256, extracts into a fresh staging
// directory and renames it into place, then rewrites installed.json. A cut
// download or a bad package leaves the previous install untouched; a file
// whose digest does not match is deleted and never unpacked.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gamestore::client {
class SyncLobbyClient;
}

namespace gamestore::cli::player {

struct InstalledGame {
    std::string game;
    std::string version;
    std::string sha256;
    std::uint64_t size = 0;
    std::filesystem::path version_dir;   // games/<GAME>/<VERSION>
    std::filesystem::path package_root;  // where manifest.json is (version_dir or one folder below)
    std::int64_t installed_at_ms = 0;
};

// One version as the store describes it (store.show "versions" entries).
struct PackageTarget {
    std::string game;
    std::string version;
    std::string sha256;
    std::uint64_t size = 0;
};
// From a store.show Version object; throws CliFailure when fields are missing.
PackageTarget package_target(const std::string& game, const nlohmann::json& version);

struct InstallResult {
    InstalledGame installed;
    std::optional<std::string> previous_version;  // what was installed before
    bool already_installed = false;               // nothing had to be done
    std::uint64_t resumed_from = 0;               // bytes reused from an earlier .part
};

class GameLibrary {
  public:
    // `player_dir` = <home>/player/<user>.
    explicit GameLibrary(std::filesystem::path player_dir);

    std::vector<InstalledGame> list() const;
    // nullopt when not installed (or the install is damaged: no manifest).
    // The exact name first, then one that differs only in ASCII case.
    std::optional<InstalledGame> find(const std::string& game) const;

    // Downloads (resuming a matching .part), verifies and installs `target`,
    // replacing any other installed version of the game. Throws CliFailure:
    // kExitUnreachable when the transfer was cut (the .part stays for a
    // resume), kExitRefused when the server refuses or the bytes are bad (the
    // .part is deleted), kExitUsage for local I/O problems.
    InstallResult install(client::SyncLobbyClient& client, const PackageTarget& target);

    // Removes the game's directory; false when it was not installed.
    bool uninstall(const std::string& game);

    std::filesystem::path games_dir() const { return player_dir_ / "games"; }
    std::filesystem::path tmp_dir() const { return player_dir_ / "tmp"; }
    std::filesystem::path part_file(const PackageTarget& target) const;

  private:
    std::filesystem::path download_verified(client::SyncLobbyClient& client,
                                            const PackageTarget& target,
                                            std::uint64_t& resumed_from);
    InstalledGame unpack(const PackageTarget& target, const std::filesystem::path& zip,
                         const std::optional<InstalledGame>& previous);

    std::optional<InstalledGame> find_exact(const std::string& game) const;

    std::filesystem::path player_dir_;
};

}  // namespace gamestore::cli::player
