#pragma once
// Static checks: the package as files, with the same code the server runs at
// upload (inspect_zip / extract_zip with the server's limits,
// parse_manifest, check_referenced_files), so a package that passes here is
// not refused at publish time.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "platform/packages/manifest.hpp"
#include "platform/packages/zip.hpp"
#include "validator/check_book.hpp"

namespace gamestore::validator {

struct StaticOutcome {
    // False: the package cannot be checked at all (exit code 2).
    bool checkable = true;
    std::string fatal_error;
    // Best effort, also from a manifest with issues (for the report header).
    std::string game_name;
    std::string version;
    // Set when the manifest is valid.
    std::optional<packages::Manifest> manifest;
    // The unpacked package's root (the directory holding manifest.json).
    std::filesystem::path package_root;
    // Dynamic checks may run: valid manifest, referenced files present,
    // package unpacked safely. Otherwise `not_runnable_reason` says why.
    bool runnable = false;
    std::string not_runnable_reason;
};

// Runs every static check into `book`, judging size and entry counts by
// `limits` (the server's defaults unless its operator changed them). A zip is
// unpacked under `work_dir` (which must exist and be private to this
// validation).
StaticOutcome run_static_checks(const std::filesystem::path& package, const std::filesystem::path& work_dir,
                                const packages::ZipLimits& limits, CheckBook& book);

// Which static check a parse_manifest issue belongs to (check_names.hpp):
// semver, players, placeholders, tokens, or the schema catch-all.
std::string_view classify_manifest_issue(const packages::ManifestIssue& issue);

}  // namespace gamestore::validator
