// Feeds every file of tests/fuzz/corpus/<target>/ to the matching fuzz
// target (compiled from tests/fuzz with its entry point renamed, see
// CMakeLists.txt). A broken invariant throws and names the file.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// The package readers (platform/packages).
extern "C" int gamestore_fuzz_manifest(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_command_template(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_zip(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_launch_info(const std::uint8_t* data, std::size_t size);
// The protocol codecs (platform/protocol).
extern "C" int gamestore_fuzz_framer(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_report(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_report_rules(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_request(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_handshake(const std::uint8_t* data, std::size_t size);
extern "C" int gamestore_fuzz_semver(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

struct Target {
    const char* name;
    int (*entry)(const std::uint8_t*, std::size_t);
};

constexpr Target kTargets[] = {
    {"framer", gamestore_fuzz_framer},
    {"report", gamestore_fuzz_report},
    {"report_rules", gamestore_fuzz_report_rules},
    {"request", gamestore_fuzz_request},
    {"handshake", gamestore_fuzz_handshake},
    {"semver", gamestore_fuzz_semver},
};

constexpr Target kPackageTargets[] = {
    {"manifest", gamestore_fuzz_manifest},
    {"command_template", gamestore_fuzz_command_template},
    {"zip", gamestore_fuzz_zip},
    {"launch_info", gamestore_fuzz_launch_info},
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int run(const Target& target, const std::string& bytes) {
    return target.entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

void replay(const Target& target, const fs::path& source_dir) {
    const fs::path dir = source_dir / "tests/fuzz/corpus" / target.name;
    REQUIRE(fs::is_directory(dir));
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 10);  // the seed corpora are a dozen files or more

    CHECK_NOTHROW(run(target, ""));
    for (const auto& file : files) {
        INFO(file.string());
        const std::string bytes = read_file(file);
        int result = -1;
        CHECK_NOTHROW(result = run(target, bytes));
        CHECK(result == 0);
    }
}

fs::path source_dir() {
    const char* dir = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(dir != nullptr);
    return dir;
}

}  // namespace

TEST_CASE("fuzz corpora replay through their targets", "[fuzz]") {
    const fs::path source = source_dir();
    for (const Target& target : kTargets) {
        DYNAMIC_SECTION("fuzz_" << target.name) {
            replay(target, source);
        }
    }
}

TEST_CASE("package fuzz corpora replay through their targets", "[fuzz]") {
    const fs::path source = source_dir();
    for (const Target& target : kPackageTargets) {
        DYNAMIC_SECTION("fuzz_" << target.name) {
            replay(target, source);
        }
    }
}
