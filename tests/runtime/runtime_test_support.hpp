#pragma once
// Shared by the runtime tests: small kernels, environment and temp-directory scopes, and a way to
// get an exception's message that reads the same under Catch2 v2 and v3.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "tests/support/process.hpp"
#include "tests/support/scoped_env.hpp"

namespace bitjit::testing {

using TempDir = TemporaryDirectory;

// y = a * x + y, one fused multiply-add per element, so the CPU check can be exact (std::fma).
inline const char* kScaleAndAddSource = R"(extern "C" __global__ void scale_and_add(const float* x, float* y, float a, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = __fmaf_rn(a, x[i], y[i]);
}
)";

inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The message of the Exception that body throws, or nullopt when it throws nothing. Another
// exception type propagates, so the test fails and shows it.
template <class Exception, class Body>
std::optional<std::string> thrown_message(Body&& body) {
  try {
    body();
  } catch (const Exception& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

// The rest of the line that follows `label` in text ("" when absent).
inline std::string line_after(const std::string& text, const std::string& label) {
  const size_t start = text.find(label);
  if (start == std::string::npos) return "";
  const size_t value = start + label.size();
  return text.substr(value, text.find('\n', value) - value);
}

// Removes the bitjit-failed-XXXXXX directory a CompileError message names as holding the source.
inline void remove_failure_directory(const std::string& compile_error_message) {
  const std::filesystem::path directory = std::filesystem::path(line_after(compile_error_message, "  source: ")).parent_path();
  std::error_code ignored;
  if (directory.filename().string().rfind("bitjit-failed-", 0) == 0) std::filesystem::remove_all(directory, ignored);
}

}  // namespace bitjit::testing
