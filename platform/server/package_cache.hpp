#pragma once
// The server's local copies of package bytes (docs/DATA.md "Package bytes").
// The store holds every version's zip; a server keeps packages/<sha256>.zip
// (what players download) and games/<sha256>/ (what game servers are
// launched from) under its own data dir as a cache, filled from the store the
// first time a version is needed there. So servers that share a database
// need no shared disk: a server that never saw an upload serves and launches
// it all the same.
//
// A cached zip is used only once its size and SHA-256 were checked against
// the version's; the check is remembered for as long as the file's identity
// (inode, size, modification and change times) stays the same, so a file
// replaced or rewritten behind the server's back is hashed again, and
// fetched again when it no longer matches. Fetches write a temp file, fsync
// it and rename it into place; an extracted tree is renamed into place once
// complete and synced. Concurrent requests for one version fetch it once.
//
// Blocking: call from the blocking pool.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "platform/packages/zip.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

class PackageCache {
  public:
    PackageCache(store::Store& store, std::filesystem::path data_dir, packages::ZipLimits limits);

    // The version's zip, verified; fetched from the store when it is missing
    // or does not match. Throws LobbyError (INTERNAL) when neither the cache
    // nor the store has a good copy.
    std::filesystem::path zip(const store::Version& version);
    // The version's extracted, read-only tree; extracted from zip() (with the
    // same checks as an upload) when missing.
    std::filesystem::path extracted(const store::Version& version);
    // Records a zip that was hashed as it was written (a publish on this
    // server), so its first download is not hashed again.
    void remember_verified(const store::Version& version);

  private:
    struct Identity {
        dev_t device = 0;
        ino_t inode = 0;
        off_t size = 0;
        std::int64_t modified_ns = 0;
        std::int64_t changed_ns = 0;
        bool operator==(const Identity&) const = default;
    };

    std::shared_ptr<std::mutex> lock_for(const std::string& sha256);
    std::filesystem::path zip_locked(const store::Version& version);
    bool matches(const std::filesystem::path& file, const store::Version& version);
    void fetch(const std::filesystem::path& target, const store::Version& version);
    std::filesystem::path under_data_dir(const std::string& relative) const;

    store::Store& store_;
    std::filesystem::path data_dir_;
    packages::ZipLimits limits_;
    std::mutex mutex_;  // guards the two maps
    std::map<std::string, std::shared_ptr<std::mutex>> locks_;
    std::map<std::string, Identity> verified_;
};

// Puts into the store the local zips of versions whose bytes it lacks
// (versions published before the store kept package bytes). Run at startup
// and by migrate-store; returns the SHA-256 of versions with no bytes in the
// store nor a good zip under data_dir/packages.
std::vector<std::string> store_local_packages(store::Store& store,
                                              const std::filesystem::path& data_dir);

}  // namespace gamestore::server
