// Fuzz target: the CLI's JSON files (tools/config_files): `--config` (one config), `--configs` (a
// list, {"configs": [...]} or one object) and `--schedule`. The input is the file's content; every
// reader either returns what it accepted, which must satisfy the invariants of fuzz/config_checks.hpp,
// or throws the CLI's UsageError (exit 2) with a bounded message. Any other exception escapes and
// libFuzzer reports it: the CLI would exit 1 ("failure") for bad input.
#include "fuzz/config_checks.hpp"
#include "fuzz/support.hpp"
#include "tools/cli.hpp"
#include "tools/config_files.hpp"

namespace {

const std::string& input_path() {
  static const std::string path = (bitjit::fuzz::scratch_dir() / "input.json").string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  fuzz::write_file(input_path(), fuzz::as_text(data, size));
  try {
    for (const MatmulConfig& config : cli::read_config_list(input_path())) fuzz::check_accepted_config(config);
  } catch (const cli::UsageError& error) {
    fuzz::check_error_message(error.message);
  }
  try {
    fuzz::check_accepted_config(cli::read_single_config(input_path()));
  } catch (const cli::UsageError& error) {
    fuzz::check_error_message(error.message);
  }
  try {
    fuzz::check_accepted_schedule(cli::read_schedule(input_path()));
  } catch (const cli::UsageError& error) {
    fuzz::check_error_message(error.message);
  }
  return 0;
}
