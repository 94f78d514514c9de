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

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int run(const Target& target, const std::string& bytes) {
    return target.entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("fuzz corpora replay through their targets", "[fuzz]") {
    const char* source_dir = std::getenv("GAMESTORE_SOURCE_DIR");
    REQUIRE(source_dir != nullptr);

    for (const Target& target : kTargets) {
        DYNAMIC_SECTION("fuzz_" << target.name) {
            const fs::path dir = fs::path(source_dir) / "tests/fuzz/corpus" / target.name;
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
    }
}
