#pragma once
// Reading /proc entries: shared by the launcher (liveness, lineage,
// environments) and the validator's process table.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace gamestore::launch {

// The whole file, read to its end (/proc entries report size 0, so the size
// cannot be trusted); empty when it cannot be read (the process is gone).
std::string read_small_file(const std::filesystem::path& path);

// Fields of /proc/<pid>/stat from field 3 (state) on: fields[0] is the
// state, fields[1] the parent pid, fields[2] the process group, fields[19]
// the start time (field 22). Empty when the process is gone. The command
// name before them may hold spaces and parentheses, so parsing starts after
// the last ')'.
std::vector<std::string> stat_fields(pid_t pid);

}  // namespace gamestore::launch
