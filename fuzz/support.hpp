#pragma once
// What the fuzz targets share: the input as text, a scratch directory for the parsers that read
// files, and invariant checks. A broken invariant aborts, which libFuzzer reports like a crash, with
// the input that broke it saved as the reproducer.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

// Every target links support.cpp, whose LLVMFuzzerInitialize turns bitjit's log off: the parsers
// log what they work around, and a line per input would slow fuzzing a hundredfold.

namespace bitjit::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A directory of this process's own under $TMPDIR (scripts/fuzz.sh points it at a scratch folder),
// created on the first call.
const std::filesystem::path& scratch_dir();

// Replaces the file's contents with bytes; aborts when it cannot (the target could not do its job).
void write_file(const std::filesystem::path& path, std::string_view bytes);

// Empties a directory (creating it when absent).
void reset_dir(const std::filesystem::path& dir);

[[noreturn]] void invariant_failed(const char* file, int line, const char* condition, const std::string& detail);

// The longest error message a parser may produce: messages quote the offending value, but never a
// whole input (docs/reliability.md). 1 KiB holds every message of valid-sized fields with room.
inline constexpr size_t kMaxErrorMessage = 1024;
// A rejection names what is wrong in a bounded message, never a whole input.
void check_error_message(const std::string& message);

}  // namespace bitjit::fuzz

// Aborts with the condition and detail when the invariant does not hold.
#define FUZZ_CHECK(condition, detail)                                                 \
  do {                                                                                \
    if (!(condition)) ::bitjit::fuzz::invariant_failed(__FILE__, __LINE__, #condition, (detail)); \
  } while (false)
