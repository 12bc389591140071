#pragma once
// Runs a program (the bitjit CLI) as a child process and captures what it printed, for tests.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bitjit::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status; 128 + signal when killed
  std::string out, err;
};

// argv[0] is the program's path; env entries are set in the child only.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env = {});

// Starts several children at once and waits for all (for tests of concurrent writers).
std::vector<ProcessResult> run_processes_at_once(const std::vector<std::vector<std::string>>& argvs,
                                                 const std::vector<std::pair<std::string, std::string>>& env = {});

// A fresh empty directory under the system's temp directory, removed with the object.
class TemporaryDirectory {
 public:
  TemporaryDirectory();
  ~TemporaryDirectory();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace bitjit::testing
