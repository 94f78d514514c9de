#include "platform/server/package_ingest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <set>

#include "platform/packages/manifest.hpp"
#include "platform/packages/sha256.hpp"
#include "platform/protocol/semver.hpp"
#include "platform/server/lobby_error.hpp"
#include "platform/server/store_views.hpp"

namespace gamestore::server {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::ErrorCode;

namespace {

json reason(std::string source, std::string code, std::string where, std::string message) {
    return {{"source", std::move(source)}, {"code", std::move(code)}, {"where", std::move(where)},
            {"message", std::move(message)}};
}

std::string lower_hex(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::string random_suffix() {
    std::random_device rd;
    return std::to_string(rd()) + std::to_string(rd());
}

store::GameType to_store_type(packages::GameType type) {
    return type == packages::GameType::Gui ? store::GameType::Gui : store::GameType::Cli;
}

[[noreturn]] void refuse(const json& reasons) {
    std::string message = "the package was refused: ";
    message += reasons.at(0).at("message").get<std::string>();
    if (reasons.size() > 1) {
        message += " (and " + std::to_string(reasons.size() - 1) + " more problem" +
                   (reasons.size() > 2 ? "s" : "") + ")";
    }
    throw LobbyError(ErrorCode::InvalidPackage, message, {{"reasons", reasons}});
}

// Removes the given paths when the publish does not complete.
class Cleanup {
public:
    void add(fs::path path) { paths_.push_back(std::move(path)); }
    void release() { paths_.clear(); }
    ~Cleanup() {
        for (const auto& path : paths_) {
            remove_read_only_tree(path);
        }
    }

private:
    std::vector<fs::path> paths_;
};

// Refuses (throws) when the manifest may not become a new version: another
// developer's game, a name differing from the published one, a version that
// exists or is not newer. A name mismatch joins the other reasons.
void check_publishable(store::Store& store, const packages::Manifest& manifest, store::AccountId developer_id,
                       json& reasons) {
    auto found = store.find_game(manifest.game_name);
    if (!found) {
        if (found.error().code != store::StoreError::Code::NotFound) {
            unwrap(std::move(found));
        }
        return;
    }
    const auto& existing = *found;
    if (existing.owner_id != developer_id) {
        throw LobbyError(ErrorCode::Forbidden, "the game '" + existing.name + "' belongs to another developer");
    }
    if (existing.name != manifest.game_name) {
        // Names are unique regardless of case; installs and launches use the
        // stored spelling, so every version must carry it exactly.
        reasons.push_back(reason("manifest", "invalid", "game_name",
                                 "game_name: the game is published as '" + existing.name + "', not '" +
                                     manifest.game_name + "'; names must match exactly, case included"));
    }
    const auto versions = unwrap(store.list_versions(existing.id, true));
    const auto mine = protocol::parse_semver(manifest.version);
    for (const auto& version : versions) {
        if (version.version == manifest.version) {
            throw LobbyError(ErrorCode::Conflict, "version " + manifest.version + " of '" + existing.name +
                                                      "' already exists; versions are immutable, publish a newer one");
        }
        const auto theirs = protocol::parse_semver(version.version);
        if (mine && theirs && !(*theirs < *mine)) {
            throw LobbyError(ErrorCode::Conflict, "version " + manifest.version + " is not newer than the published " +
                                                      version.version + " of '" + existing.name +
                                                      "'; to go back to an older version use set-live");
        }
    }
}

// The local copies a publish leaves behind are the cache's (package_cache.hpp):
// synced like a fetch, so a power loss never leaves a torn zip or tree that
// the cache would have to find out about first.
bool sync_package_files(const fs::path& extracted, const fs::path& zip) {
    bool ok = sync_tree(extracted);
    ok = sync_path(zip, false) && ok;
    ok = sync_path(zip.parent_path(), true) && ok;
    return ok;
}

// When the archive cannot be extracted the referenced-files rules still run,
// against an outline of it: empty files and directories named after its
// unobjectionable entries, with their x bits. One answer then lists every
// problem. Nothing is read from the archive; the entry cap bounds the work.
void check_files_in_outline(const packages::Manifest& manifest, const packages::ZipInspection& inspection,
                            const std::string& prefix, const fs::path& outline, const packages::ZipLimits& limits,
                            json& reasons) {
    if (inspection.entries.size() > limits.max_entries) {
        return;
    }
    std::set<std::string> flagged;
    for (const auto& issue : inspection.issues) {
        flagged.insert(issue.entry);
    }
    std::error_code ec;
    fs::create_directories(outline, ec);
    for (const auto& entry : inspection.entries) {
        const fs::path relative(entry.normalized);
        if (entry.normalized.empty() || flagged.count(entry.name) > 0 || relative.is_absolute() ||
            (entry.unix_mode & S_IFMT) == S_IFLNK) {
            continue;
        }
        bool escapes = false;
        for (const auto& part : relative) {
            escapes = escapes || part == "..";
        }
        if (escapes) {
            continue;
        }
        const auto target = outline / relative;
        if (entry.is_directory) {
            fs::create_directories(target, ec);
            continue;
        }
        fs::create_directories(target.parent_path(), ec);
        const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              entry.executable() ? 0755 : 0644);
        if (fd >= 0) {
            ::close(fd);
        }
    }
    for (const auto& issue : packages::check_referenced_files(manifest, outline / prefix)) {
        reasons.push_back(reason("files", "missing", issue.path, packages::format_issue(issue)));
    }
}

// Serialises the last step of every publish (re-check, move into place,
// commit): two uploads of the same package share a content address, and
// the loser's cleanup must never remove files the winner committed.
std::mutex publish_mutex;

}  // namespace

void make_read_only(const fs::path& root) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        fs::permissions(it->path(),
                        fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                        fs::perm_options::remove | fs::perm_options::nofollow, ec);
    }
    fs::permissions(root, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove, ec);
}

bool sync_path(const fs::path& path, bool directory) {
    const int fd =
        ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

bool sync_tree(const fs::path& root) {
    bool ok = true;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_symlink(ec)) {
            continue;
        }
        ok = sync_path(it->path(), it->is_directory(ec)) && ok;
    }
    ok = ok && !ec;
    ok = sync_path(root, true) && ok;
    ok = sync_path(root.parent_path(), true) && ok;
    return ok;
}

void remove_read_only_tree(const fs::path& root) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(root, ec))) {
        return;
    }
    if (fs::is_directory(fs::symlink_status(root, ec))) {
        fs::permissions(root, fs::perms::owner_all, fs::perm_options::add, ec);
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) {
                fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
            }
        }
    }
    fs::remove_all(root, ec);
}

void sweep_upload_leftovers(const fs::path& data_dir) {
    const auto tmp = data_dir / "tmp";
    std::error_code ec;
    if (!fs::exists(tmp, ec)) {
        return;
    }
    std::size_t removed = 0;
    for (const auto& entry : fs::directory_iterator(tmp, ec)) {
        remove_read_only_tree(entry.path());
        ++removed;
    }
    if (removed > 0) {
        spdlog::info("startup: removed {} leftover upload file(s) from {}", removed, tmp.string());
    }
}

void sweep_unreferenced_packages(store::Store& store, const fs::path& data_dir) {
    const auto listed = store.package_files();
    if (!listed) {
        spdlog::warn("startup: package sweep skipped: {}", listed.error().message);
        return;
    }
    std::set<std::string> keep(listed->begin(), listed->end());
    std::size_t removed = 0;
    for (const char* folder : {"packages", "games"}) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(data_dir / folder, ec)) {
            const auto relative = (fs::path(folder) / entry.path().filename()).string();
            if (keep.count(relative) == 0) {
                remove_read_only_tree(entry.path());
                ++removed;
            }
        }
    }
    if (removed > 0) {
        spdlog::info("startup: removed {} package file(s) no version names (a publish cut short)", removed);
    }
}

store::PublishResult ingest_package(store::Store& store, const fs::path& data_dir,
                                    const packages::ZipLimits& limits, const IngestRequest& request) {
    Cleanup cleanup;
    cleanup.add(request.upload);
    json reasons = json::array();

    std::error_code ec;
    const auto size = fs::file_size(request.upload, ec);
    if (ec) {
        throw LobbyError(ErrorCode::Internal, "the server lost the uploaded file");
    }
    const std::string sha256 = packages::sha256_file(request.upload);
    if (!request.declared_sha256.empty() && lower_hex(request.declared_sha256) != sha256) {
        reasons.push_back(reason("checksum", "sha256_mismatch", "",
                                 "the upload's sha256 is " + sha256 + " but the request declared " +
                                     request.declared_sha256 + "; the bytes were damaged on the way"));
        refuse(reasons);
    }

    const auto inspection = packages::inspect_zip(request.upload, limits);
    for (const auto& issue : inspection.issues) {
        reasons.push_back(reason("zip", issue.reason, issue.entry, issue.message));
    }
    std::optional<packages::Manifest> manifest;
    std::string manifest_text;
    const auto root = packages::find_manifest_root(inspection.entries);
    if (!inspection.entries.empty() || inspection.issues.empty()) {
        if (!root.found()) {
            reasons.push_back(reason("manifest", "missing", "manifest.json", root.message));
        } else {
            try {
                manifest_text = packages::read_zip_entry(request.upload, *root.prefix + "manifest.json",
                                                         packages::kMaxManifestBytes);
                auto parsed = packages::parse_manifest(manifest_text);
                for (const auto& issue : parsed.issues) {
                    reasons.push_back(reason("manifest", "invalid", issue.path, packages::format_issue(issue)));
                }
                manifest = std::move(parsed.manifest);
            } catch (const std::exception& e) {
                reasons.push_back(reason("manifest", "unreadable", "manifest.json", e.what()));
            }
        }
    }

    // Ownership, name and version order are decided before any file moves,
    // and again under the publish lock below.
    if (manifest) {
        check_publishable(store, *manifest, request.developer_id, reasons);
    }
    if (!reasons.empty() && manifest && root.found() && !inspection.issues.empty()) {
        const auto outline = data_dir / "tmp" / ("outline-" + sha256.substr(0, 16) + "-" + random_suffix());
        cleanup.add(outline);
        check_files_in_outline(*manifest, inspection, *root.prefix, outline, limits, reasons);
    }
    if (!reasons.empty()) {
        refuse(reasons);
    }

    const auto tmp = data_dir / "tmp";
    fs::create_directories(tmp);
    const auto extract_dir = tmp / ("extract-" + sha256.substr(0, 16) + "-" + random_suffix());
    cleanup.add(extract_dir);
    const auto extraction = packages::extract_zip(request.upload, extract_dir, limits);
    for (const auto& issue : extraction.issues) {
        reasons.push_back(reason("zip", issue.reason, issue.entry, issue.message));
    }
    if (!reasons.empty()) {
        refuse(reasons);
    }
    const auto package_root = extract_dir / *root.prefix;
    for (const auto& issue : packages::check_referenced_files(*manifest, package_root)) {
        reasons.push_back(reason("files", "missing", issue.path, packages::format_issue(issue)));
    }
    if (!reasons.empty()) {
        refuse(reasons);
    }

    // Into place: the zip by its content, the extracted copy beside it.
    // Under the lock a concurrent publish of this game has either committed
    // (the re-check refuses) or not started its move; files already at the
    // content address are a leftover of an interrupted publish.
    const std::lock_guard<std::mutex> lock(publish_mutex);
    check_publishable(store, *manifest, request.developer_id, reasons);
    if (!reasons.empty()) {
        refuse(reasons);
    }
    const auto package_rel = fs::path("packages") / (sha256 + ".zip");
    const auto extracted_rel = fs::path("games") / sha256;
    fs::create_directories(data_dir / "packages");
    fs::create_directories(data_dir / "games");
    remove_read_only_tree(data_dir / extracted_rel);
    fs::rename(package_root, data_dir / extracted_rel);
    cleanup.add(data_dir / extracted_rel);
    make_read_only(data_dir / extracted_rel);
    fs::rename(request.upload, data_dir / package_rel);
    cleanup.add(data_dir / package_rel);
    if (!sync_package_files(data_dir / extracted_rel, data_dir / package_rel)) {
        throw LobbyError(ErrorCode::Unavailable, "the server could not store the package durably (disk full or "
                                                 "failing?); nothing was published");
    }

    store::PublishRequest publish;
    publish.developer_id = request.developer_id;
    publish.game = store::NewGame{manifest->game_name, to_store_type(manifest->type), manifest->description,
                                  manifest->min_players, manifest->max_players};
    publish.version = manifest->version;
    publish.notes = request.notes;
    publish.size_bytes = static_cast<std::int64_t>(size);
    publish.sha256 = sha256;
    publish.package_path = package_rel.string();
    publish.extracted_path = extracted_rel.string();
    publish.package_file = data_dir / package_rel;
    publish.manifest_json = manifest_text;
    publish.hidden = request.hidden;
    publish.now = store::unix_ms_now();
    auto result = unwrap(store.publish_version(publish));
    cleanup.release();
    remove_read_only_tree(extract_dir);
    return result;
}

}  // namespace gamestore::server
