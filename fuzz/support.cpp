#include "fuzz/support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace bitjit::fuzz {

namespace {

std::filesystem::path make_scratch_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path path =
      std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("bitjit-fuzz-" + std::to_string(::getpid()));
  reset_dir(path);
  return path;
}

void remove_scratch_dir() {
  std::error_code error;
  std::filesystem::remove_all(scratch_dir(), error);
}

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = make_scratch_dir();
  static const bool cleaned_at_exit = std::atexit(remove_scratch_dir) == 0;
  (void)cleaned_at_exit;
  return dir;
}

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), std::streamsize(bytes.size()));
  if (!file.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

void reset_dir(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "fuzz: cannot create %s: %s\n", dir.c_str(), error.message().c_str());
    std::abort();
  }
}

void invariant_failed(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  %s\n", file, line, condition, detail.c_str());
  std::abort();
}

void check_error_message(const std::string& message) {
  FUZZ_CHECK(message.size() <= kMaxErrorMessage,
             "an error message of " + std::to_string(message.size()) + " bytes: " + message.substr(0, 200) + "...");
}

}  // namespace bitjit::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("BITJIT_LOG_LEVEL", "off", 1);  // read once, when the logger is first used
  return 0;
}
