#pragma once
// One compiled kernel on disk:
//
//   BITJIT-KERNEL 3 <SHA-256 of the metadata line, 64 hex digits>\n
//   <one line of JSON metadata: what was compiled, how, the SHA-256 and size of the binary>\n
//   <the cubin>
//
// The first line's checksum covers the metadata, whose binary_sha256 covers the cubin: one flipped
// bit anywhere is found. Decoding checks all of it, and that the cubin is an ELF file for the arch
// the metadata names, so a truncated, corrupted, renamed or foreign file is recognised instead of
// handed to the driver. Formats 1 (no metadata checksum) and 2 (the same layout, its metadata's
// schedule in the flat JSON of before TileSchedule's groups) are recognised as older, never loaded.
#include <nlohmann/json.hpp>
#include <optional>
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

// A kernel key is exactly 64 lowercase hex digits (a SHA-256). Every key that comes from outside
// (a command-line argument, a file or archive member name, index.json, metadata) is checked with
// these before any path is built from it.
bool is_kernel_key(std::string_view key);
// The key itself; throws ConfigError "'<key>' is not a kernel key (64 lowercase hex digits)".
const std::string& checked_kernel_key(const std::string& key);

std::string encode_kernel_file(const StoredKernel& kernel);

// The kernel, or a message saying what is wrong with the bytes (for logs and `bitjit db verify`).
// `expected_key` must match the key the file says it holds (a renamed file is foreign).
std::variant<StoredKernel, std::string> decode_kernel_file(std::string_view bytes, const std::string& expected_key);
// The file is a kernel file of an older format (1 or 2) that this bitjit never loads.
bool is_older_kernel_format(std::string_view bytes);

// What is wrong with a cubin for `arch` ("sm_80", "sm_90a"), or nullopt: it must be a 64-bit
// little-endian ELF file for EM_CUDA (190) whose e_flags name the arch's SM number. e_flags holds the
// SM number in bits 8..15 from ELF ABI version 8 (CUDA 13) and in bits 0..7 before; it does not
// record an "a" suffix (sm_90 and sm_90a cubins have the same header).
std::optional<std::string> cubin_arch_problem(std::string_view cubin, const std::string& arch);

}  // namespace bitjit::db
