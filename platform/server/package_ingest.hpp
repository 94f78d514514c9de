#pragma once
// Publishing one uploaded package: verify, validate, store content-addressed,
// extract the server's read-only copy, then record it, package bytes
// included, in ONE store transaction. The store row is what makes a version visible, so a failure
// at any step (or a crash before the commit) leaves nothing visible; files of a failed attempt are
// removed, and a startup sweep removes unreferenced ones. Blocking: run it on the blocking pool.

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "platform/packages/zip.hpp"
#include "platform/store/store.hpp"

namespace gamestore::server {

struct IngestRequest {
    store::AccountId developer_id = 0;
    std::filesystem::path upload;  // the received blob; consumed (moved or deleted)
    std::string declared_sha256;   // from the request; must match the bytes
    std::string notes;
    bool hidden = false;
};

// Throws LobbyError: INVALID_PACKAGE with details {reasons:[...]} listing every
// problem at once, CONFLICT, FORBIDDEN, INTERNAL.
store::PublishResult ingest_package(store::Store& store, const std::filesystem::path& data_dir,
                                    const packages::ZipLimits& limits, const IngestRequest& request);

// Removes what a crash mid-upload or mid-publish left in tmp/. Run at startup,
// before the lobby accepts connections.
void sweep_upload_leftovers(const std::filesystem::path& data_dir);

// Removes packages/<sha>.zip and games/<sha>/ that no version names: what a
// crash between a publish's move into place and its commit left. Run at
// startup, before the lobby accepts connections (no publish is in flight).
void sweep_unreferenced_packages(store::Store& store, const std::filesystem::path& data_dir);

// Deletes a tree that ingest made read-only.
void remove_read_only_tree(const std::filesystem::path& root);

// The server's copy of a package is launched for every match and must never
// change under a running game: no write bits anywhere.
void make_read_only(const std::filesystem::path& root);
// Makes a file's or directory's contents durable; false when it could not.
bool sync_path(const std::filesystem::path& path, bool directory);
// sync_path for every file and directory under `root`, `root` itself and its parent.
bool sync_tree(const std::filesystem::path& root);

}  // namespace gamestore::server
