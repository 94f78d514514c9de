#include "developer/package_check.hpp"

#include "platform/cli/cli_common.hpp"
#include "platform/packages/zip.hpp"

namespace gamestore::cli::developer {

namespace fs = std::filesystem;
namespace pkg = gamestore::packages;

namespace {

void add_manifest_result(CheckedPackage& checked, const pkg::ManifestResult& result) {
    for (const auto& issue : result.issues) {
        checked.problems.push_back("manifest.json: " + pkg::format_issue(issue));
    }
    for (const auto& issue : result.warnings) {
        checked.warnings.push_back("manifest.json: " + pkg::format_issue(issue));
    }
    if (result.ok()) {
        checked.manifest = *result.manifest;
    }
}

void add_zip_issues(CheckedPackage& checked, const std::vector<pkg::ZipIssue>& issues) {
    for (const auto& issue : issues) {
        checked.problems.push_back("zip: " + pkg::format_issue(issue));
    }
}

void add_file_issues(CheckedPackage& checked, const std::vector<pkg::ManifestIssue>& issues) {
    for (const auto& issue : issues) {
        checked.problems.push_back("files: " + pkg::format_issue(issue));
    }
}

void check_directory(CheckedPackage& checked, const fs::path& dir) {
    const auto root = pkg::find_manifest_root(dir);
    if (!root.found()) {
        checked.problems.push_back("manifest.json: " + as_sentence(root.message));
    } else {
        const fs::path package_root = dir / *root.prefix;
        add_manifest_result(checked, pkg::load_manifest(package_root / "manifest.json"));
        if (checked.manifest) {
            add_file_issues(checked, pkg::check_referenced_files(*checked.manifest, package_root));
        }
    }
    checked.packed = std::make_unique<TempPath>("gamestore-publish.zip");
    checked.zip = checked.packed->path();
    try {
        pkg::create_zip(dir, checked.zip);
    } catch (const pkg::ZipError& e) {
        checked.problems.push_back("zip: " + as_sentence(e.what()));
        return;
    }
    // The packed archive must pass the same safety limits the server applies
    // (entry count, total size).
    add_zip_issues(checked, pkg::inspect_zip(checked.zip).issues);
}

void check_zip(CheckedPackage& checked, const fs::path& zip) {
    checked.zip = zip;
    const auto inspection = pkg::inspect_zip(zip);
    add_zip_issues(checked, inspection.issues);
    if (!inspection.ok()) {
        return;  // unsafe archives are not opened any further
    }
    const auto root = pkg::find_manifest_root(inspection.entries);
    if (!root.found()) {
        checked.problems.push_back("manifest.json: " + as_sentence(root.message));
        return;
    }
    try {
        add_manifest_result(
            checked, pkg::parse_manifest(pkg::read_zip_entry(zip, *root.prefix + "manifest.json",
                                                             pkg::kMaxManifestBytes)));
    } catch (const pkg::ZipError& e) {
        checked.problems.push_back("manifest.json: " + as_sentence(e.what()));
        return;
    }
    if (!checked.manifest) {
        return;
    }
    // Referenced files are checked on the unpacked tree, as the launcher sees it.
    TempPath unpacked("gamestore-publish-check");
    const auto extraction = pkg::extract_zip(zip, unpacked.path());
    add_zip_issues(checked, extraction.issues);
    if (extraction.ok()) {
        add_file_issues(checked, pkg::check_referenced_files(*checked.manifest,
                                                             unpacked.path() / *root.prefix));
    }
}

}  // namespace

CheckedPackage check_package(const fs::path& input) {
    CheckedPackage checked;
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
        check_directory(checked, input);
    } else if (fs::is_regular_file(input, ec)) {
        check_zip(checked, input);
    } else {
        throw CliFailure(kExitUsage,
                         input.string() + " is neither a package directory nor a zip file.");
    }
    return checked;
}

}  // namespace gamestore::cli::developer
