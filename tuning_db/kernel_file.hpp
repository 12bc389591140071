#pragma once
// One compiled kernel on disk: a magic line, one line of JSON metadata (what was compiled, how, and
// the SHA-256 and size of the binary), then the cubin. Decoding checks all of it, so a truncated,
// corrupted or foreign file is recognised instead of handed to the driver.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bitjit::db {

struct StoredKernel {
  // At least: key, config, schedule, arch, nvrtc, bitjit, templates, flags, compile_ms, created.
  // The encoder adds binary_sha256 and binary_bytes.
  nlohmann::json meta;
  std::vector<char> cubin;
};

std::string encode_kernel_file(const StoredKernel& kernel);

// The kernel, or a message saying what is wrong with the bytes (for logs and `bitjit db verify`).
// `expected_key` must match the key the file says it holds (a renamed file is foreign).
std::variant<StoredKernel, std::string> decode_kernel_file(std::string_view bytes, const std::string& expected_key);

}  // namespace bitjit::db
