#include "platform/launch/proc_files.hpp"

#include <fstream>
#include <sstream>

namespace gamestore::launch {

std::string read_small_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> stat_fields(pid_t pid) {
    const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    std::vector<std::string> fields;
    if (close == std::string::npos || close + 2 >= stat.size()) {
        return fields;
    }
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    while (rest >> field) {
        fields.push_back(field);
    }
    return fields;
}

}  // namespace gamestore::launch
