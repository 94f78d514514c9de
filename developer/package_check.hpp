#pragma once
// The static checks gamestore-dev runs before uploading anything: the same
// manifest, referenced-file and zip-safety rules the server applies (one
// library, platform/packages), so a developer sees every problem at once
// without a round trip, and a package that fails here is never sent.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/cli/fs_util.hpp"
#include "platform/packages/manifest.hpp"

namespace gamestore::cli::developer {

struct CheckedPackage {
    std::filesystem::path zip;         // the archive to upload
    std::unique_ptr<TempPath> packed;  // owns `zip` when it was packed from a directory
    std::optional<packages::Manifest> manifest;
    std::vector<std::string> problems;  // "manifest.json: server.command: ..." -- refuse the upload
    std::vector<std::string> warnings;  // shown, never fatal
    bool ok() const { return problems.empty(); }
};

// `input` is a package directory (packed deterministically into a temp zip)
// or a zip file. Throws CliFailure(kExitUsage) when it is neither.
CheckedPackage check_package(const std::filesystem::path& input);

}  // namespace gamestore::cli::developer
