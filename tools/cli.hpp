#pragma once
// The bitjit command line: one function per subcommand, sharing the argument parser below.
// Exit codes scripts can rely on: 0 success, 1 a failure while doing the work (compile error, CUDA
// error, I/O), 2 a usage error or invalid input (unknown option, bad JSON, invalid config).
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bitjit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown for a usage error; main prints the message and the subcommand's help, exits 2.
struct UsageError {
  std::string message;
};

// Options of the form --name value, --name=value or --flag; positional arguments in order.
class Arguments {
 public:
  // `flags` take no value; `options` take one; `repeatable` options may appear several times.
  Arguments(const std::vector<std::string>& args, const std::vector<std::string>& flags,
            const std::vector<std::string>& options, const std::vector<std::string>& repeatable = {});
  bool flag(const std::string& name) const;
  std::optional<std::string> option(const std::string& name) const;
  std::string required(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

int formats_command(const std::vector<std::string>& args);
int codegen_command(const std::vector<std::string>& args);
int prewarm_command(const std::vector<std::string>& args);
int tune_command(const std::vector<std::string>& args);
int db_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);

extern const char* const kFormatsHelp;
extern const char* const kCodegenHelp;
extern const char* const kPrewarmHelp;
extern const char* const kTuneHelp;
extern const char* const kDbHelp;
extern const char* const kBenchHelp;

}  // namespace bitjit::cli
