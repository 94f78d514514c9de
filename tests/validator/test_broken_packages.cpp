// Hand-made broken packages (manifests, directories and zips, one row each in
// tests/validator/broken_packages.tsv), the package-level exit codes, and the
// output formats of validate_game_package.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <span>

#include "platform/packages/zip.hpp"
#include "tests/packages/zip_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/validator/validator_runner.hpp"
#include "validator/check_names.hpp"

namespace gamestore::testing {
namespace {

namespace fs = std::filesystem;

// A package directory running the fakegame binary with `manifest` (JSON text).
fs::path make_package(const fs::path& dir, const std::string& manifest) {
    fs::create_directories(dir / "bin");
    fs::copy_file(fakegame_packages_dir() / "ok" / "bin" / "fakegame", dir / "bin" / "fakegame");
    write_file(dir / "manifest.json", manifest);
    return dir;
}

std::string manifest_with(const std::string& server_command, const std::string& version = "1.0.0",
                          const std::string& extra = R"("healthcheck": {"tcp_port": "{port}", "timeout_sec": 5})") {
    return R"({"game_name": "broken", "version": ")" + version +
           R"(", "type": "CLI", "min_players": 1, "max_players": 2,
  "server": {"command": ")" + server_command + R"(", "heartbeat_interval_sec": 1},
  "client": {"command": "bin/fakegame client"}, )" + extra + "}";
}

std::string message_of(const ValidatorRun& run, const std::string& check) {
    for (const auto& entry : run.json["checks"]) {
        if (entry.value("name", "") == check) {
            std::string text = entry.value("message", "");
            for (const auto& detail : entry["details"]) text += "\n" + detail.get<std::string>();
            return text;
        }
    }
    return "";
}

std::string names(const std::set<std::string>& set) {
    std::string out;
    for (const auto& name : set) out += (out.empty() ? "" : ",") + name;
    return out.empty() ? "-" : out;
}

// --- tests/validator/broken_packages.tsv (its header documents the columns) --

struct BrokenCase {
    int line = 0;
    std::string name;
    std::vector<std::string> steps;
    std::vector<std::string> options;
    int exit_code = 0;
    std::set<std::string> fail;
    std::set<std::string> warn;
    std::string mentions;
};

bool is_check_name(const std::string& name) {
    for (const auto group : {std::span<const std::string_view>(validator::checks::kStaticChecks),
                             std::span<const std::string_view>(validator::checks::kDynamicChecks)}) {
        for (const auto check : group) {
            if (check == name) return true;
        }
    }
    return false;
}

std::vector<std::string> split_on(const std::string& text, const std::string& separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const auto at = text.find(separator, start);
        parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) break;
        start = at + separator.size();
    }
    return parts;
}

std::vector<BrokenCase> read_cases() {
    const auto file = source_dir() / "tests" / "validator" / "broken_packages.tsv";
    std::vector<BrokenCase> cases;
    std::set<std::string> seen;
    for (const auto& row : read_table(file)) {
        INFO(file.string() << ":" << row.line);
        REQUIRE(row.columns.size() == 7);
        BrokenCase broken;
        broken.line = row.line;
        broken.name = row.columns[0];
        REQUIRE(seen.insert(broken.name).second);  // names are directory names
        if (row.columns[1] != "-") broken.steps = split_on(row.columns[1], " ; ");
        if (row.columns[2] != "-") broken.options = split_on(row.columns[2], " ");
        broken.exit_code = std::stoi(row.columns[3]);
        REQUIRE((broken.exit_code >= 0 && broken.exit_code <= 2));
        broken.fail = split_names(row.columns[4]);
        broken.warn = split_names(row.columns[5]);
        broken.mentions = row.columns[6] == "-" ? "" : row.columns[6];
        for (const auto& check : broken.fail) CHECK(is_check_name(check));
        for (const auto& check : broken.warn) CHECK(is_check_name(check));
        // The columns agree with each other: exit 1 iff something fails, and
        // a checkable row names the check its `mentions` belongs to.
        REQUIRE((broken.exit_code == 1) == !broken.fail.empty());
        REQUIRE((broken.exit_code == 2 || !broken.fail.empty() || !broken.warn.empty()));
        cases.push_back(std::move(broken));
    }
    return cases;
}

nlohmann::json base_manifest() {
    return nlohmann::json::parse(manifest_with("bin/fakegame server"));
}

// The files of a package directory as zip entries, manifest.json first (so
// it is among the entries inspected even when there are too many).
std::vector<packages::testing::RawEntry> entries_of(const fs::path& dir) {
    std::vector<packages::testing::RawEntry> entries;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file() && !entry.is_symlink()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const auto name = fs::relative(file, dir).generic_string();
        const auto mode = 0100000u | static_cast<std::uint32_t>(fs::status(file).permissions() & fs::perms::mask);
        packages::testing::RawEntry raw{name, read_file(file), mode};
        if (name == "manifest.json") {
            entries.insert(entries.begin(), std::move(raw));
        } else {
            entries.push_back(std::move(raw));
        }
    }
    return entries;
}

// Builds the row's package under `parent`; returns what to validate (the
// directory, or the zip once a `zip` step came).
fs::path build_case(const BrokenCase& broken, const fs::path& parent) {
    const auto dir = parent / broken.name;
    auto manifest = base_manifest();
    make_package(dir, manifest.dump(2));
    std::optional<std::vector<packages::testing::RawEntry>> zip_entries;
    for (const auto& step : broken.steps) {
        INFO("step '" << step << "'");
        const auto space = step.find(' ');
        const auto verb = step.substr(0, space);
        const auto rest = space == std::string::npos ? std::string() : step.substr(space + 1);
        const auto args = split_on(rest, " ");
        if (zip_entries) {
            if (verb == "entry") {
                zip_entries->push_back({rest, "outside the package", 0100644u});
            } else if (verb == "link" && args.size() == 2) {
                zip_entries->push_back({args[0], args[1], 0120777u});
            } else if (verb == "zeros" && args.size() == 2) {
                zip_entries->push_back({args[0], std::string(std::stoul(args[1]), '\0'), 0100644u});
            } else if (verb == "files" && args.size() == 1) {
                for (int i = 0; i < std::stoi(args[0]); ++i) {
                    zip_entries->push_back({"data/file" + std::to_string(i) + ".txt", "x", 0100644u});
                }
            } else {
                FAIL("unknown zip step (see the header of broken_packages.tsv)");
            }
            continue;
        }
        if (verb == "set") {
            const auto equals = rest.find('=');
            REQUIRE(equals != std::string::npos);
            manifest[nlohmann::json::json_pointer(rest.substr(0, equals))] =
                nlohmann::json::parse(rest.substr(equals + 1));
            write_file(dir / "manifest.json", manifest.dump(2));
        } else if (verb == "drop") {
            const nlohmann::json::json_pointer pointer(rest);
            manifest[pointer.parent_pointer()].erase(pointer.back());
            write_file(dir / "manifest.json", manifest.dump(2));
        } else if (verb == "manifest") {
            write_file(dir / "manifest.json", rest);
        } else if (verb == "rm" && args.size() == 1) {
            REQUIRE(fs::remove(dir / args[0]));
        } else if (verb == "chmod" && args.size() == 2) {
            fs::permissions(dir / args[1], static_cast<fs::perms>(std::stoul(args[0], nullptr, 8)));
        } else if (verb == "symlink" && args.size() == 2) {
            fs::create_symlink(args[1], dir / args[0]);
        } else if (verb == "zip" && rest.empty()) {
            zip_entries = entries_of(dir);
        } else {
            FAIL("unknown step (see the header of broken_packages.tsv)");
        }
    }
    if (!zip_entries) {
        return dir;
    }
    const auto zip = parent / (broken.name + ".zip");
    packages::testing::write_zip(zip, *zip_entries);
    return zip;
}

}  // namespace

TEST_CASE("every broken package in tests/validator/broken_packages.tsv fails its check", "[validator][packages]") {
    const auto cases = read_cases();
    REQUIRE(!cases.empty());
    TempDir temp("validator-broken");
    std::vector<std::vector<std::string>> runs;
    for (const auto& broken : cases) {
        INFO("broken_packages.tsv line " << broken.line << ": " << broken.name);
        std::vector<std::string> args{build_case(broken, temp.path()).string(), "--json"};
        args.insert(args.end(), broken.options.begin(), broken.options.end());
        runs.push_back(std::move(args));
    }
    // One run per row, a few at once; judged in turn below.
    const auto results = run_validators(runs, 3);

    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& broken = cases[i];
        const auto& run = results[i];
        INFO("broken_packages.tsv line " << broken.line << ": " << broken.name << "\n" << run.describe());
        CHECK(run.exit_code == broken.exit_code);
        REQUIRE(run.json.is_object());
        CHECK(run.json["summary"]["exit_code"] == broken.exit_code);
        CHECK_FALSE(run.temp_left_behind);
        if (broken.exit_code == 2) {
            CHECK(run.json["checkable"] == false);
            CHECK(run.json.value("error", "").find(broken.mentions) != std::string::npos);
            continue;
        }
        CHECK(run.json["checkable"] == true);
        CHECK(names(run.checks_with("fail")) == names(broken.fail));
        CHECK(names(run.checks_with("warn")) == names(broken.warn));
        const auto& first = broken.fail.empty() ? *broken.warn.begin() : *broken.fail.begin();
        CHECK(message_of(run, first).find(broken.mentions) != std::string::npos);
        for (const auto& check : run.json["checks"]) {
            CHECK(!check.value("message", "").empty());
        }
        // A package with a static problem is not launched. Only being over
        // the size limits does not stop a directory: it runs as it is (the
        // store would refuse the upload, package_size says so).
        const bool only_size = broken.fail == std::set<std::string>{"package_size"};
        if (!broken.fail.empty() && !only_size) {
            CHECK(run.status_of("started_within_timeout") == "skipped");
            CHECK(message_of(run, "started_within_timeout").find("cannot be launched") != std::string::npos);
        }
    }
}

TEST_CASE("a good zip is unpacked, passes and leaves nothing behind", "[validator][packages]") {
    TempDir temp("validator-good-zip");
    // The well-behaved package, zipped the way gamestore-dev publish packs it.
    const auto good_zip = temp.path() / "ok.zip";
    packages::create_zip(fakegame_packages_dir() / "ok", good_zip);
    const auto run = run_validator({good_zip.string(), "--json", "--grace", "1"});
    INFO(run.describe());
    CHECK(run.exit_code == 0);
    CHECK(run.checks_with("fail").empty());
    CHECK(run.status_of("zip_safety") == "pass");
    CHECK(run.status_of("package_size") == "pass");
    CHECK(run.status_of("sigterm_stops_group") == "pass");
    CHECK_FALSE(run.temp_left_behind);
}

TEST_CASE("packages that cannot be checked exit 2", "[validator][packages]") {
    TempDir temp("validator-unreadable");
    const auto& t = temp.path();
    fs::create_directories(t / "empty-dir");
    write_file(t / "not-a-zip.zip", "this is not a zip archive");
    const auto ok = fakegame_packages_dir() / "ok";

    const auto results = run_validators(
        {
            {(t / "does-not-exist").string(), "--json"},
            {(t / "empty-dir").string(), "--json"},
            {(t / "not-a-zip.zip").string(), "--json"},
            {ok.string(), "--json", "--players", "9"},  // max_players is 8
            {ok.string(), "--bogus-flag"},
        },
        3);
    for (std::size_t i = 0; i < 4; ++i) {
        INFO(results[i].describe());
        CHECK(results[i].exit_code == 2);
        REQUIRE(results[i].json.is_object());
        CHECK(results[i].json["checkable"] == false);
        CHECK(!results[i].json.value("error", "").empty());
        CHECK(results[i].json["summary"]["exit_code"] == 2);
    }
    CHECK(results[0].json.value("error", "").find("does not exist") != std::string::npos);
    CHECK(results[1].json.value("error", "").find("manifest.json") != std::string::npos);
    CHECK(results[2].json.value("error", "").find("not a readable zip") != std::string::npos);
    CHECK(results[3].json.value("error", "").find("max_players 8") != std::string::npos);
    INFO(results[4].describe());
    CHECK(results[4].exit_code == 2);
}

TEST_CASE("table and JUnit output", "[validator][output]") {
    TempDir temp("validator-output");
    const auto package = make_package(temp.path() / "pkg", manifest_with("bin/fakegame server", "01.0.0"));
    const auto junit = temp.path() / "results.xml";
    const auto run = run_validator({package.string(), "--junit", junit.string()});
    INFO(run.describe());
    CHECK(run.exit_code == 1);
    // The table: a header, one row per check, the verdict and the time.
    CHECK(run.output.find("CHECK") != std::string::npos);
    CHECK(run.output.find("manifest_semver") != std::string::npos);
    CHECK(run.output.find("FAIL") != std::string::npos);
    CHECK(run.output.find("RESULT: FAIL (exit 1) in ") != std::string::npos);

    const std::string xml = read_file(junit);
    INFO(xml);
    CHECK(xml.rfind("<?xml", 0) == 0);
    std::size_t testcases = 0;
    for (auto at = xml.find("<testcase "); at != std::string::npos; at = xml.find("<testcase ", at + 1)) ++testcases;
    CHECK(testcases == 27);
    CHECK(xml.find("name=\"manifest_semver\"") != std::string::npos);
    CHECK(xml.find("<failure message=\"") != std::string::npos);
    CHECK(xml.find("<skipped message=\"skipped: ") != std::string::npos);
    CHECK(xml.find("failures=\"1\"") != std::string::npos);
}

}  // namespace gamestore::testing
