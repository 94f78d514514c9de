#include "validator/static_checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "platform/packages/command_template.hpp"
#include "platform/packages/zip.hpp"
#include "platform/protocol/semver.hpp"
#include "platform/protocol/text.hpp"
#include "validator/check_names.hpp"
#include "validator/match_launch.hpp"

namespace gamestore::validator {

namespace fs = std::filesystem;
using Clock = CheckBook::Clock;
using protocol::in_quotes;

namespace {

// Reasons of inspect_zip/extract_zip that are about size rather than safety.
bool is_size_reason(std::string_view reason) {
    return reason == "archive_too_large" || reason == "total_too_large" || reason == "too_many_entries";
}

std::string mib(std::uint64_t bytes) {
    char buffer[64];
    if (bytes < 1024 * 1024) {
        std::snprintf(buffer, sizeof buffer, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
    } else if (bytes >= 1024ull * 1024 * 1024) {
        std::snprintf(buffer, sizeof buffer, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    } else {
        std::snprintf(buffer, sizeof buffer, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    }
    return buffer;
}

std::string limits_text(const packages::ZipLimits& limits) {
    return "limits: " + mib(limits.max_archive_bytes) + " per zip, " + mib(limits.max_total_uncompressed) +
           " unpacked, " + std::to_string(limits.max_entries) + " entries";
}

std::string plural(std::size_t n, const std::string& word) {
    if (n == 1) {
        return "1 " + word;
    }
    if (word.size() > 1 && word.back() == 'y') {
        return std::to_string(n) + " " + word.substr(0, word.size() - 1) + "ies";
    }
    return std::to_string(n) + " " + word + "s";
}

// What a directory package would meet at publish time: gamestore-dev packs
// it with create_zip, which refuses links and special files, and the server
// applies the entry and size limits.
struct DirectoryScan {
    std::vector<std::string> unsafe;  // one sentence each
    std::uint64_t files = 0;
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;
    bool truncated = false;
};

DirectoryScan scan_directory(const fs::path& root, const packages::ZipLimits& limits) {
    DirectoryScan scan;
    std::error_code ec;
    // Bounded: a tree far over the entry limit is reported, not walked whole.
    const std::uint64_t walk_limit = limits.max_entries * 10 + 1000;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (++scan.entries > walk_limit) {
            scan.truncated = true;
            break;
        }
        const auto rel = fs::relative(it->path(), root, ec).generic_string();
        const auto status = it->symlink_status(ec);
        if (fs::is_symlink(status)) {
            scan.unsafe.push_back(
                in_quotes(rel) +
                " is a symbolic link: packages may not contain links (copy the file "
                "instead); gamestore-dev publish refuses it");
            it.disable_recursion_pending();
        } else if (fs::is_regular_file(status)) {
            ++scan.files;
            scan.bytes += it->file_size(ec);
        } else if (!fs::is_directory(status)) {
            scan.unsafe.push_back(in_quotes(rel) +
                                  " is a special file (device, FIFO or socket): packages hold only "
                                  "regular files and directories");
        }
    }
    return scan;
}

void check_zip_package(const fs::path& zip, const fs::path& work_dir, const packages::ZipLimits& limits,
                       CheckBook& book, StaticOutcome& out, fs::path& manifest_file, std::string& manifest_text,
                       bool& extracted) {
    const auto started = Clock::now();
    auto inspection = packages::inspect_zip(zip, limits);
    if (inspection.entries.empty() && inspection.issues.size() == 1 &&
        inspection.issues.front().reason == "archive_too_large") {
        // The server refuses an oversized zip before reading it; read its
        // entry list anyway (nothing is unpacked), so the report judges the
        // manifest and the entries in the same round instead of "no manifest".
        auto unlimited = limits;
        unlimited.max_archive_bytes = std::numeric_limits<std::uint64_t>::max();
        auto listed = packages::inspect_zip(zip, unlimited);
        listed.issues.insert(listed.issues.begin(), inspection.issues.front());
        inspection = std::move(listed);
    }
    for (const auto& issue : inspection.issues) {
        if (issue.reason == "not_a_zip" || (issue.reason == "corrupt" && inspection.entries.empty())) {
            out.checkable = false;
            out.fatal_error = zip.string() + " is not a readable zip archive: " + issue.message;
            return;
        }
    }
    std::vector<std::string> safety;
    std::vector<std::string> size;
    for (const auto& issue : inspection.issues) {
        (is_size_reason(issue.reason) ? size : safety).push_back(packages::format_issue(issue));
    }
    const auto root = packages::find_manifest_root(inspection.entries);
    if (!root.found()) {
        out.checkable = false;
        out.fatal_error = "no manifest.json in " + zip.string() + ": " + root.message;
        return;
    }

    std::error_code ec;
    const auto archive_bytes = fs::file_size(zip, ec);
    if (inspection.ok()) {
        const auto dest = work_dir / "package";
        const auto extraction = packages::extract_zip(zip, dest, limits);
        for (const auto& issue : extraction.issues) {
            (is_size_reason(issue.reason) ? size : safety).push_back(packages::format_issue(issue));
        }
        extracted = extraction.ok();
        manifest_file = dest / *root.prefix / "manifest.json";
        out.package_root = dest / *root.prefix;
    } else {
        // Not unpacked (the server would refuse it too); still read the
        // manifest so its problems are reported in the same round.
        try {
            manifest_text =
                packages::read_zip_entry(zip, *root.prefix + "manifest.json", packages::kMaxManifestBytes);
        } catch (const std::exception& e) {
            manifest_text.clear();
            safety.push_back(std::string("manifest.json could not be read: ") + e.what());
        }
    }
    const auto duration = elapsed_ms(started, Clock::now());
    if (safety.empty()) {
        book.pass(checks::kZipSafety,
                  plural(inspection.entries.size(), "entry") +
                      " checked with the server's rules: no absolute or '..' paths, links, special "
                      "files, "
                      "duplicates or zip bombs; manifest.json found " +
                      (root.prefix->empty() ? "at the root" : "in " + in_quotes(*root.prefix)),
                  duration);
    } else {
        book.fail(checks::kZipSafety,
                  "the server would refuse this zip: " + plural(safety.size(), "unsafe entry") +
                      " (fix the entries below and re-pack with gamestore-dev publish)",
                  safety, duration);
    }
    const std::string measured = mib(archive_bytes) + " zip, " + mib(inspection.total_uncompressed) +
                                 " unpacked in " + plural(inspection.entries.size(), "entry");
    if (size.empty()) {
        book.pass(checks::kPackageSize, measured + " (" + limits_text(limits) + ")");
    } else {
        book.fail(checks::kPackageSize,
                  "the package is over the server's size limits (" + measured + "; " + limits_text(limits) +
                      "): leave build outputs and assets the game does not need out of the package",
                  size);
    }
}

void check_directory_package(const fs::path& dir, const packages::ZipLimits& limits, CheckBook& book,
                             StaticOutcome& out, fs::path& manifest_file) {
    const auto started = Clock::now();
    const auto root = packages::find_manifest_root(dir);
    if (!root.found()) {
        out.checkable = false;
        out.fatal_error = "no manifest.json in " + dir.string() + ": " + root.message;
        return;
    }
    out.package_root = dir / *root.prefix;
    manifest_file = out.package_root / "manifest.json";
    const auto scan = scan_directory(out.package_root, limits);
    const auto duration = elapsed_ms(started, Clock::now());
    if (scan.unsafe.empty()) {
        book.pass(checks::kZipSafety,
                  plural(scan.entries, "entry") +
                      " checked: only regular files and directories, so gamestore-dev publish can pack it",
                  duration);
    } else {
        book.fail(checks::kZipSafety,
                  "gamestore-dev publish cannot pack this directory: " + plural(scan.unsafe.size(), "entry") +
                      " below must become regular files",
                  scan.unsafe, duration);
    }
    const std::string measured = mib(scan.bytes) + " in " + plural(scan.files, "file");
    std::vector<std::string> size;
    if (scan.truncated || scan.entries > limits.max_entries) {
        size.push_back("more than " + std::to_string(limits.max_entries) + " entries");
    }
    if (scan.bytes > limits.max_total_uncompressed) {
        size.push_back(mib(scan.bytes) + " of files, over the " + mib(limits.max_total_uncompressed) +
                       " unpacked limit");
    }
    if (size.empty()) {
        book.pass(checks::kPackageSize, measured + " (" + limits_text(limits) + ")");
    } else {
        book.fail(checks::kPackageSize,
                  "the package is over the server's limits (" + measured + "; " + limits_text(limits) +
                      "): leave build outputs and assets the game does not need out of the package",
                  size);
    }
}

std::vector<std::string> formatted(const std::vector<packages::ManifestIssue>& issues) {
    std::vector<std::string> out;
    for (const auto& issue : issues) {
        out.push_back(packages::format_issue(issue));
    }
    return out;
}

// A match context with every value set, for rendering the commands once.
packages::LaunchContext sample_context(const packages::Manifest& manifest) {
    packages::LaunchContext context;
    context.room_id = 1;
    context.match_id = new_match_id();
    context.port = 40000;
    context.host = "127.0.0.1";
    context.bind_host = "0.0.0.0";
    context.report_host = "127.0.0.1";
    context.report_port = 40001;
    context.client_token = random_hex(16);
    context.report_token = random_hex(16);
    context.match_dir = "/tmp/match";
    context.client_token_path = context.match_dir / "client_token";
    context.report_token_path = context.match_dir / "report_token";
    context.players_json_path = context.match_dir / "players.json";
    for (int i = 1; i <= manifest.max_players; ++i) {
        context.players.push_back("player" + std::to_string(i));
    }
    context.player_name = "player1";
    return context;
}

void check_manifest(const packages::ManifestResult& parsed, CheckBook& book, StaticOutcome& out,
                    std::chrono::milliseconds parse_time) {
    std::map<std::string_view, std::vector<packages::ManifestIssue>> by_check;
    for (const auto& issue : parsed.issues) {
        by_check[classify_manifest_issue(issue)].push_back(issue);
    }
    auto issues_of = [&](std::string_view check) {
        const auto it = by_check.find(check);
        return it == by_check.end() ? std::vector<packages::ManifestIssue>{} : it->second;
    };

    const auto schema = issues_of(checks::kManifestSchema);
    if (schema.empty()) {
        book.pass(checks::kManifestSchema,
                  "every field of manifest.json has the right type and a valid value (docs/MANIFEST.md)",
                  parse_time);
    } else {
        book.fail(checks::kManifestSchema,
                  "manifest.json has " + plural(schema.size(), "problem") +
                      ", each listed with its field path; see docs/MANIFEST.md for the rules",
                  formatted(schema), parse_time);
    }

    const auto semver = issues_of(checks::kManifestSemver);
    if (!semver.empty()) {
        book.fail(checks::kManifestSemver,
                  "\"version\" must be strict semantic versioning MAJOR.MINOR.PATCH such as 1.0.0 (no 'v' "
                  "prefix, no leading zeros)",
                  formatted(semver));
    } else if (!out.version.empty()) {
        book.pass(checks::kManifestSemver, "version " + out.version + " is valid semantic versioning");
    } else {
        book.skip(checks::kManifestSemver, "manifest.json has no readable \"version\"");
    }

    const auto players = issues_of(checks::kManifestPlayers);
    if (!players.empty()) {
        book.fail(checks::kManifestPlayers,
                  "the player counts are invalid: 1 <= min_players <= max_players <= 64 is required",
                  formatted(players));
    } else if (parsed.manifest) {
        book.pass(checks::kManifestPlayers, "min_players " + std::to_string(parsed.manifest->min_players) +
                                                ", max_players " + std::to_string(parsed.manifest->max_players));
    } else {
        book.skip(checks::kManifestPlayers, "the player counts could not be read from manifest.json");
    }

    const auto placeholders = issues_of(checks::kManifestPlaceholders);
    if (!placeholders.empty()) {
        book.fail(checks::kManifestPlaceholders,
                  "a command, env value or healthcheck uses a placeholder the platform does not know or "
                  "cannot fill (see the placeholder table in docs/MANIFEST.md)",
                  formatted(placeholders));
    } else if (parsed.manifest) {
        book.pass(checks::kManifestPlaceholders, "every placeholder is known and available where it is used");
    } else {
        book.skip(checks::kManifestPlaceholders,
                  "manifest.json has other problems that must be fixed first (see manifest_schema)");
    }

    // Tokens: the templates (parse_manifest) and the rendered argv.
    auto tokens = formatted(issues_of(checks::kNoTokensInCommands));
    if (parsed.manifest) {
        const auto& manifest = *parsed.manifest;
        const auto context = sample_context(manifest);
        try {
            const auto server = packages::render_server_launch(manifest, context, "/pkg");
            if (packages::argv_contains_secret(server.argv, {context.client_token, context.report_token})) {
                tokens.push_back("server.command: the rendered command line contains a token");
            }
            const auto client = packages::render_client_launch(manifest, context, "/pkg");
            if (packages::argv_contains_secret(client.argv, {context.client_token, context.report_token})) {
                tokens.push_back("client.command: the rendered command line contains a token");
            }
            for (const auto& [name, value] : client.env) {
                if (value.find(context.report_token) != std::string::npos) {
                    tokens.push_back("client.env." + name + ": the game client would receive the report token");
                }
            }
            (void)packages::render_healthcheck(manifest, context);
        } catch (const std::exception& e) {
            tokens.push_back(std::string("the commands could not be rendered: ") + e.what());
        }
    }
    if (!tokens.empty()) {
        book.fail(checks::kNoTokensInCommands,
                  "tokens must never be on a command line (any local user can read argv): read CLIENT_TOKEN / "
                  "REPORT_TOKEN from the environment or the files named by CLIENT_TOKEN_PATH / REPORT_TOKEN_PATH",
                  tokens);
    } else if (parsed.manifest) {
        book.pass(checks::kNoTokensInCommands,
                  "no {client_token} or {report_token} in any command, and the rendered server and client "
                  "command lines hold no token");
    } else {
        book.skip(checks::kNoTokensInCommands,
                  "manifest.json has other problems that must be fixed first (see manifest_schema)");
    }

    if (parsed.warnings.empty()) {
        book.pass(checks::kManifestWarnings, "manifest.json raised no warnings");
    } else {
        book.warn(checks::kManifestWarnings,
                  "manifest.json works but has " + plural(parsed.warnings.size(), "warning") +
                      " worth fixing (listed below with their field paths)",
                  formatted(parsed.warnings));
    }
}

// The best-effort header values, also from a manifest with issues.
void read_header_fields(const std::string& text, StaticOutcome& out) {
    const auto document = nlohmann::json::parse(text, nullptr, false);
    if (!document.is_object()) {
        return;
    }
    if (const auto it = document.find("game_name"); it != document.end() && it->is_string()) {
        out.game_name = it->get<std::string>();
    }
    if (const auto it = document.find("version"); it != document.end() && it->is_string()) {
        out.version = it->get<std::string>();
    }
}

std::string read_text_file(const fs::path& file) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) {
        return {};
    }
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && text.size() <= packages::kMaxManifestBytes) {
        text.append(buffer, n);
    }
    std::fclose(f);
    return text;
}

}  // namespace

std::string_view classify_manifest_issue(const packages::ManifestIssue& issue) {
    if (issue.path == "version") {
        return checks::kManifestSemver;
    }
    if (issue.path == "max_players" || issue.path == "min_players") {
        return checks::kManifestPlayers;
    }
    const auto& m = issue.message;
    auto has = [&](std::string_view text) { return m.find(text) != std::string::npos; };
    if (has("must not appear here: tokens")) {
        return checks::kNoTokensInCommands;
    }
    if (has("placeholder") || has("brace") || has("does not exist for a game of at most") ||
        has("is not available to the game client")) {
        return checks::kManifestPlaceholders;
    }
    return checks::kManifestSchema;
}

StaticOutcome run_static_checks(const fs::path& package, const fs::path& work_dir, const packages::ZipLimits& limits,
                                CheckBook& book) {
    StaticOutcome out;
    std::error_code ec;
    const auto status = fs::status(package, ec);
    if (ec || !fs::exists(status)) {
        out.checkable = false;
        out.fatal_error = package.string() + " does not exist" + (ec ? " (" + ec.message() + ")" : "");
        return out;
    }
    fs::path manifest_file;
    std::string manifest_text;
    bool extracted = false;
    if (fs::is_directory(status)) {
        if (::access(package.c_str(), R_OK | X_OK) != 0) {
            out.checkable = false;
            out.fatal_error = "cannot read the directory " + package.string();
            return out;
        }
        check_directory_package(package, limits, book, out, manifest_file);
        extracted = true;
    } else if (fs::is_regular_file(status)) {
        check_zip_package(package, work_dir, limits, book, out, manifest_file, manifest_text, extracted);
    } else {
        out.checkable = false;
        out.fatal_error = package.string() + " is neither a package directory nor a zip file";
    }
    if (!out.checkable) {
        return out;
    }

    const auto parse_started = Clock::now();
    packages::ManifestResult parsed;
    if (!manifest_file.empty()) {
        manifest_text = read_text_file(manifest_file);
        parsed = packages::load_manifest(manifest_file);
    } else {
        parsed = packages::parse_manifest(manifest_text);
    }
    read_header_fields(manifest_text, out);
    check_manifest(parsed, book, out, elapsed_ms(parse_started, Clock::now()));
    if (parsed.manifest) {
        out.game_name = parsed.manifest->game_name;
        out.version = parsed.manifest->version;
    }

    if (!parsed.manifest) {
        book.skip(checks::kReferencedFiles, "manifest.json is invalid (see manifest_schema and the checks above)");
        out.not_runnable_reason = "manifest.json is invalid";
        return out;
    }
    if (!extracted) {
        book.skip(checks::kReferencedFiles, "the zip was not unpacked because it is unsafe (see zip_safety)");
        out.not_runnable_reason = "the zip was not unpacked (see zip_safety)";
        return out;
    }
    const auto files_started = Clock::now();
    const auto missing = packages::check_referenced_files(*parsed.manifest, out.package_root);
    if (missing.empty()) {
        book.pass(checks::kReferencedFiles,
                  "the programs and files the commands name exist in the package (programs executable)",
                  elapsed_ms(files_started, Clock::now()));
    } else {
        book.fail(checks::kReferencedFiles,
                  "a command names a file that is missing, not executable or outside the package (keep the x "
                  "bit: chmod +x, and pack with gamestore-dev publish)",
                  formatted(missing), elapsed_ms(files_started, Clock::now()));
        out.manifest = std::move(parsed.manifest);
        out.not_runnable_reason = "a file the commands need is missing (see referenced_files)";
        return out;
    }
    out.manifest = std::move(parsed.manifest);
    out.runnable = book.status(checks::kZipSafety) != CheckStatus::Fail;
    if (!out.runnable) {
        out.not_runnable_reason = "the package is unsafe (see zip_safety)";
    }
    return out;
}

}  // namespace gamestore::validator
