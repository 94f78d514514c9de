#include "platform/packages/zip.hpp"

#include "platform/packages/sha256.hpp"
#include "tests/packages/zip_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

using namespace gamestore::packages;
using gamestore::packages::testing::RawEntry;
using gamestore::packages::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kFile = S_IFREG | 0644;
constexpr std::uint32_t kExec = S_IFREG | 0755;
constexpr std::uint32_t kDir = S_IFDIR | 0755;
constexpr std::uint32_t kLink = S_IFLNK | 0777;

std::multiset<std::string> reasons(const std::vector<ZipIssue>& issues) {
    std::multiset<std::string> out;
    for (const auto& issue : issues) {
        out.insert(issue.reason);
    }
    return out;
}

std::string describe(const std::vector<ZipIssue>& issues) {
    std::string out;
    for (const auto& issue : issues) {
        out += "[" + issue.entry + "] " + format_issue(issue) + "\n";
    }
    return out;
}

// One archive with one entry; the inspection must report `reason` for it.
void expect_refused(const RawEntry& entry, const std::string& reason) {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    testing::write_zip(zip, {{"manifest.json", "{}", kFile}, entry});
    const auto inspection = inspect_zip(zip);
    INFO(entry.name << "\n" << describe(inspection.issues));
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == reason);
    CHECK(inspection.issues[0].entry == entry.name);
    // Extraction refuses the same archive before writing anything.
    const auto extraction = extract_zip(zip, dir / "out");
    CHECK(reasons(extraction.issues) == reasons(inspection.issues));
    CHECK_FALSE(fs::exists(dir / "out"));
}

fs::perms perms_of(const fs::path& path) {
    return fs::symlink_status(path).permissions() & fs::perms::mask;
}

}  // namespace

TEST_CASE("hostile entry names are refused with their reason", "[zip]") {
    expect_refused({"../x", "evil", kFile}, "dot_dot");
    expect_refused({"a/../../x", "evil", kFile}, "dot_dot");
    expect_refused({"/abs", "evil", kFile}, "absolute_path");
    expect_refused({"a\\b", "evil", kFile}, "backslash");
    expect_refused({"..\\x", "evil", kFile}, "backslash");
    expect_refused({"bell\x07.txt", "x", kFile}, "bad_name");
    expect_refused({std::string(256, 'n'), "x", kFile}, "bad_name");
    expect_refused({"link", "/etc/passwd", kLink}, "symlink");
    expect_refused({"fifo", "", S_IFIFO | 0644}, "special_file");
}

TEST_CASE("every problem of an archive is reported at once", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    testing::write_zip(zip, {
                                {"manifest.json", "{}", kFile},
                                {"../up", "x", kFile},
                                {"/root", "x", kFile},
                                {"win\\path", "x", kFile},
                                {"ln", "target", kLink},
                            });
    const auto inspection = inspect_zip(zip);
    INFO(describe(inspection.issues));
    CHECK(reasons(inspection.issues) ==
          std::multiset<std::string>{"dot_dot", "absolute_path", "backslash", "symlink"});
    CHECK(inspection.entries.size() == 5);
}

TEST_CASE("duplicate names, exact and after normalisation", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    SECTION("exact duplicates (crafted: libzip will not write them)") {
        testing::write_zip(zip, {{"dupA", "one", kFile}, {"dupB", "two", kFile}});
        testing::patch_name(zip, "dupB", "dupA");
        const auto inspection = inspect_zip(zip);
        INFO(describe(inspection.issues));
        REQUIRE(inspection.issues.size() == 1);
        CHECK(inspection.issues[0].reason == "duplicate_name");
        CHECK(inspection.issues[0].entry == "dupA");
        CHECK_THAT(inspection.issues[0].message, Catch::Contains("more than once"));
        CHECK_FALSE(extract_zip(zip, dir / "out").ok());
        CHECK_FALSE(fs::exists(dir / "out"));
    }
    SECTION("a//b and a/b") {
        testing::write_zip(zip, {{"a/b", "one", kFile}, {"a//b", "two", kFile}});
        const auto inspection = inspect_zip(zip);
        REQUIRE(inspection.issues.size() == 1);
        CHECK(inspection.issues[0].reason == "duplicate_name");
        CHECK(inspection.issues[0].entry == "a//b");
    }
    SECTION("./a and a") {
        testing::write_zip(zip, {{"a", "one", kFile}, {"./a", "two", kFile}});
        CHECK(reasons(inspect_zip(zip).issues) == std::multiset<std::string>{"duplicate_name"});
    }
    SECTION("directory a/ and file a") {
        testing::write_zip(zip, {{"a/", "", kDir}, {"a", "file", kFile}});
        CHECK(reasons(inspect_zip(zip).issues) == std::multiset<std::string>{"duplicate_name"});
    }
    SECTION("file a used as a directory by a/b") {
        testing::write_zip(zip, {{"a", "file", kFile}, {"a/b", "x", kFile}});
        const auto inspection = inspect_zip(zip);
        REQUIRE(inspection.issues.size() == 1);
        CHECK(inspection.issues[0].reason == "path_conflict");
        CHECK(inspection.issues[0].entry == "a/b");
    }
}

TEST_CASE("a 1000:1 bomb is refused before extraction", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "bomb.zip";
    testing::write_zip(
        zip, {{"manifest.json", "{}", kFile}, {"zeros.bin", std::string(20u << 20, '\0'), kFile}});
    const auto inspection = inspect_zip(zip);
    INFO(describe(inspection.issues));
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "ratio");
    CHECK(inspection.issues[0].entry == "zeros.bin");
    const auto extraction = extract_zip(zip, dir / "out");
    CHECK(reasons(extraction.issues) == std::multiset<std::string>{"ratio"});
    CHECK_FALSE(fs::exists(dir / "out"));

    // Small entries may compress as well as they like.
    testing::write_zip(zip, {{"small.txt", std::string(50 * 1024, 'a'), kFile}});
    CHECK(inspect_zip(zip).ok());
}

TEST_CASE("entry count, total size and archive size caps", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    std::vector<RawEntry> entries;
    for (int i = 0; i < 60; ++i) {
        entries.push_back({"f" + std::to_string(i), "x", kFile});
    }
    testing::write_zip(zip, entries);

    ZipLimits limits;
    limits.max_entries = 50;
    auto inspection = inspect_zip(zip, limits);
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "too_many_entries");
    CHECK_THAT(inspection.issues[0].message, Catch::Contains("60 entries; the limit is 50"));
    CHECK_FALSE(extract_zip(zip, dir / "out", limits).ok());

    limits = ZipLimits{};
    limits.max_total_uncompressed = 59;
    inspection = inspect_zip(zip, limits);
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "total_too_large");

    limits = ZipLimits{};
    limits.max_archive_bytes = 100;
    inspection = inspect_zip(zip, limits);
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "archive_too_large");

    CHECK(inspect_zip(zip).ok());
}

TEST_CASE("files that are not usable zips", "[zip]") {
    TempDir dir;
    testing::write_file(dir / "text.zip", "this is not a zip archive at all, just some text\n");
    auto inspection = inspect_zip(dir / "text.zip");
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "not_a_zip");

    inspection = inspect_zip(dir / "missing.zip");
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "io_error");

    testing::write_zip(dir / "enc.zip", {{"secret.txt", "hidden", kFile, false, true}});
    inspection = inspect_zip(dir / "enc.zip");
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "encrypted");

    testing::write_zip(dir / "implode.zip", {{"old.txt", "imploded?", kFile, true}});
    testing::patch_method(dir / "implode.zip", "old.txt", 6);  // PKWARE implode
    inspection = inspect_zip(dir / "implode.zip");
    REQUIRE(inspection.issues.size() == 1);
    CHECK(inspection.issues[0].reason == "unsupported_compression");
}

TEST_CASE("declared sizes that lie are caught while extracting", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "liar.zip";
    SECTION("an entry yields more than it declares") {
        // 20 MiB of zeros declared as 1000 bytes: the declared ratio looks
        // harmless, so only counting real bytes catches it.
        testing::write_zip(zip, {{"manifest.json", "{}", kFile},
                                 {"zeros.bin", std::string(20u << 20, '\0'), kFile}});
        testing::patch_declared_size(zip, "zeros.bin", 1000);
        const auto inspection = inspect_zip(zip);
        INFO(describe(inspection.issues));
        CHECK(inspection.ok());
        const auto size = std::find_if(inspection.entries.begin(), inspection.entries.end(),
                                       [](const ZipEntry& e) { return e.name == "zeros.bin"; });
        REQUIRE(size != inspection.entries.end());
        CHECK(size->size == 1000);

        const auto extraction = extract_zip(zip, dir / "out");
        INFO(describe(extraction.issues));
        REQUIRE(extraction.issues.size() == 1);
        CHECK(extraction.issues[0].reason == "size_mismatch");
        CHECK(extraction.issues[0].entry == "zeros.bin");
        // Nothing beyond the declared size reached the disk.
        CHECK(fs::file_size(dir / "out" / "zeros.bin") <= 1000);
    }
    SECTION("an incompressible entry yields more than it declares") {
        testing::write_zip(zip, {{"noise.bin", testing::incompressible(300 * 1024), kFile, true}});
        testing::patch_declared_size(zip, "noise.bin", 200 * 1024);
        REQUIRE(inspect_zip(zip).ok());
        const auto extraction = extract_zip(zip, dir / "out");
        REQUIRE(extraction.issues.size() == 1);
        CHECK(extraction.issues[0].reason == "size_mismatch");
        CHECK(fs::file_size(dir / "out" / "noise.bin") <= 200 * 1024);
    }
}

TEST_CASE("happy extraction keeps content and only safe permission bits", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "game.zip";
    const std::string words = "crane\nslate\n";
    testing::write_zip(zip, {
                                {"manifest.json", R"({"game_name":"x"})", kFile},
                                {"bin/", "", kDir},
                                {"bin/server", "#!/bin/sh\necho hi\n", kExec},
                                {"bin/setuid-tool", "#!/bin/sh\n", S_IFREG | 04755},
                                {"data/words.txt", words, kFile},
                                {"dos.txt", "no unix mode", std::nullopt},
                                {"empty/", "", kDir},
                                {"deep/er/still/file.txt", "deep", S_IFREG | 0600},
                                {"big.bin", testing::incompressible(200 * 1024), kFile},
                            });
    const fs::path out = dir / "out";
    const auto extraction = extract_zip(zip, out);
    INFO(describe(extraction.issues));
    REQUIRE(extraction.ok());
    CHECK(extraction.files_written == 7);
    CHECK(testing::read_file(out / "data" / "words.txt") == words);
    CHECK(testing::read_file(out / "bin" / "server") == "#!/bin/sh\necho hi\n");
    CHECK(testing::read_file(out / "big.bin") == testing::incompressible(200 * 1024));
    CHECK(fs::is_directory(out / "empty"));
    CHECK(perms_of(out / "bin" / "server") == fs::perms(0755));
    CHECK(perms_of(out / "bin" / "setuid-tool") == fs::perms(0755));  // no setuid
    CHECK(perms_of(out / "data" / "words.txt") == fs::perms(0644));
    CHECK(perms_of(out / "dos.txt") == fs::perms(0644));
    CHECK(perms_of(out / "deep" / "er" / "still" / "file.txt") == fs::perms(0644));
    CHECK(perms_of(out / "deep" / "er") == fs::perms(0755));
    CHECK(perms_of(out / "bin") == fs::perms(0755));

    // The destination must be new or empty.
    const auto again = extract_zip(zip, out);
    REQUIRE(again.issues.size() == 1);
    CHECK(again.issues[0].reason == "destination");
    fs::create_directory(dir / "empty-dest");
    CHECK(extract_zip(zip, dir / "empty-dest").ok());
}

TEST_CASE("create_zip round-trips a tree deterministically", "[zip]") {
    TempDir dir;
    const fs::path src = dir / "src";
    testing::write_file(src / "manifest.json", R"({"game_name":"Round"})");
    testing::write_file(src / "server.py", "print('hello')\n");
    testing::write_file(src / "bin" / "run", "#!/bin/sh\nexec python3 server.py\n");
    testing::write_file(src / "assets" / "a" / "b.txt", std::string(10000, 'z'));
    fs::create_directories(src / "empty");
    // Explicit modes: the comparison below must not depend on the umask.
    for (const auto& entry : fs::recursive_directory_iterator(src)) {
        fs::permissions(entry.path(), entry.is_directory() ? fs::perms(0755) : fs::perms(0644));
    }
    fs::permissions(src / "bin" / "run", fs::perms(0755));

    const fs::path zip1 = dir / "one.zip";
    create_zip(src, zip1);
    const auto inspection = inspect_zip(zip1);
    INFO(describe(inspection.issues));
    REQUIRE(inspection.ok());
    std::vector<std::string> names;
    for (const auto& entry : inspection.entries) {
        names.push_back(entry.name);
    }
    CHECK(names == std::vector<std::string>{"assets/", "assets/a/", "assets/a/b.txt", "bin/",
                                            "bin/run", "empty/", "manifest.json", "server.py"});
    const auto run = std::find_if(inspection.entries.begin(), inspection.entries.end(),
                                  [](const ZipEntry& e) { return e.name == "bin/run"; });
    REQUIRE(run != inspection.entries.end());
    CHECK(run->executable());
    CHECK((run->unix_mode & S_IFMT) == S_IFREG);

    const auto root = find_manifest_root(inspection.entries);
    REQUIRE(root.found());
    CHECK(*root.prefix == "");

    const fs::path out = dir / "out";
    REQUIRE(extract_zip(zip1, out).ok());
    CHECK(testing::read_file(out / "assets" / "a" / "b.txt") == std::string(10000, 'z'));
    CHECK(perms_of(out / "bin" / "run") == fs::perms(0755));
    CHECK(perms_of(out / "server.py") == fs::perms(0644));
    CHECK(fs::is_directory(out / "empty"));

    // Same tree, same bytes: packages are content-addressed by sha256.
    const fs::path zip2 = dir / "two.zip";
    create_zip(out, zip2);
    CHECK(sha256_file(zip1) == sha256_file(zip2));

    // The archive may be written inside the tree it packs; it never packs itself.
    create_zip(src, src / "self.zip");
    create_zip(src, src / "self.zip");
    const auto self = inspect_zip(src / "self.zip");
    CHECK(std::none_of(self.entries.begin(), self.entries.end(),
                       [](const ZipEntry& e) { return e.name == "self.zip"; }));
}

TEST_CASE("create_zip refuses symlinks and reports bad sources", "[zip]") {
    TempDir dir;
    const fs::path src = dir / "src";
    testing::write_file(src / "real.txt", "x");
    fs::create_symlink("real.txt", src / "alias.txt");
    CHECK_THROWS_WITH(create_zip(src, dir / "out.zip"), Catch::Contains("symbolic link"));
    CHECK_THROWS_AS(create_zip(dir / "missing", dir / "out.zip"), ZipError);
}

TEST_CASE("read_zip_entry reads one entry with a cap", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    testing::write_zip(zip, {{"game/manifest.json", R"({"a":1})", kFile},
                             {"game/big.bin", std::string(5000, 'b'), kFile}});
    CHECK(read_zip_entry(zip, "game/manifest.json", 1024) == R"({"a":1})");
    CHECK(read_zip_entry(zip, "game//manifest.json", 1024) == R"({"a":1})");
    CHECK_THROWS_WITH(read_zip_entry(zip, "game/big.bin", 1000), Catch::Contains("larger than"));
    CHECK_THROWS_WITH(read_zip_entry(zip, "manifest.json", 1000), Catch::Contains("no entry"));
    testing::write_file(dir / "x.zip", "nope");
    CHECK_THROWS_AS(read_zip_entry(dir / "x.zip", "manifest.json", 1000), ZipError);
}

TEST_CASE("find_manifest_root accepts the root or one top-level folder", "[zip]") {
    TempDir dir;
    const fs::path zip = dir / "p.zip";
    SECTION("nested in a single folder, macOS junk ignored") {
        testing::write_zip(zip, {{"wordle/", "", kDir},
                                 {"wordle/manifest.json", "{}", kFile},
                                 {"wordle/server.py", "", kFile},
                                 {"__MACOSX/wordle/._server.py", "", kFile}});
        const auto root = find_manifest_root(inspect_zip(zip).entries);
        REQUIRE(root.found());
        CHECK(*root.prefix == "wordle/");
        CHECK_THAT(root.message, Catch::Contains("single top-level folder 'wordle/'"));

        REQUIRE(extract_zip(zip, dir / "out").ok());
        const auto on_disk = find_manifest_root(dir / "out");
        REQUIRE(on_disk.found());
        CHECK(*on_disk.prefix == "wordle/");
    }
    SECTION("at the root") {
        testing::write_zip(zip, {{"manifest.json", "{}", kFile}, {"a/b.py", "", kFile}});
        const auto root = find_manifest_root(inspect_zip(zip).entries);
        REQUIRE(root.found());
        CHECK(root.prefix->empty());
        CHECK_THAT(root.message, Catch::Contains("package root"));
    }
    SECTION("two top-level folders") {
        testing::write_zip(zip, {{"a/manifest.json", "{}", kFile}, {"b/x", "", kFile}});
        const auto root = find_manifest_root(inspect_zip(zip).entries);
        CHECK_FALSE(root.found());
        CHECK_THAT(root.message, Catch::Contains("2 top-level items"));
        CHECK_THAT(root.message, Catch::Contains("'a/manifest.json'"));
    }
    SECTION("too deep") {
        testing::write_zip(zip, {{"a/b/manifest.json", "{}", kFile}});
        const auto root = find_manifest_root(inspect_zip(zip).entries);
        CHECK_FALSE(root.found());
        CHECK_THAT(root.message, Catch::Contains("'a/'"));
    }
    SECTION("empty") {
        const auto root = find_manifest_root(std::vector<ZipEntry>{});
        CHECK_FALSE(root.found());
        CHECK_THAT(root.message, Catch::Contains("empty"));
    }
}
