#include "tuning_db/kernel_file.hpp"

#include "common/sha256.hpp"

namespace bitjit::db {
namespace {

// The format's version is in the magic line: a future layout is a different magic, seen as foreign.
constexpr std::string_view kMagic = "BITJIT-KERNEL 1\n";

std::string binary_sha256(const std::vector<char>& cubin) {
  return sha256_hex(std::string_view(cubin.data(), cubin.size()));
}

}  // namespace

std::string encode_kernel_file(const StoredKernel& kernel) {
  nlohmann::json meta = kernel.meta;
  meta["binary_sha256"] = binary_sha256(kernel.cubin);
  meta["binary_bytes"] = kernel.cubin.size();
  std::string bytes(kMagic);
  bytes += meta.dump();  // one line: dump() without indent escapes every newline
  bytes += '\n';
  bytes.append(kernel.cubin.data(), kernel.cubin.size());
  return bytes;
}

std::variant<StoredKernel, std::string> decode_kernel_file(std::string_view bytes, const std::string& expected_key) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::string("not a bitjit kernel file of this version");
  bytes.remove_prefix(kMagic.size());
  const size_t line_end = bytes.find('\n');
  if (line_end == std::string_view::npos) return std::string("truncated inside the metadata");
  StoredKernel kernel;
  try {
    kernel.meta = nlohmann::json::parse(bytes.substr(0, line_end));
    const std::string_view binary = bytes.substr(line_end + 1);
    if (kernel.meta.at("key").get<std::string>() != expected_key) {
      return "holds key " + kernel.meta.at("key").get<std::string>() + ", not the key it is named by";
    }
    const size_t expected_bytes = kernel.meta.at("binary_bytes").get<size_t>();
    if (binary.size() != expected_bytes) {
      return "the binary has " + std::to_string(binary.size()) + " bytes, the metadata says " +
             std::to_string(expected_bytes) + " (truncated?)";
    }
    kernel.cubin.assign(binary.begin(), binary.end());
    if (binary_sha256(kernel.cubin) != kernel.meta.at("binary_sha256").get<std::string>()) {
      return std::string("the binary's SHA-256 does not match the metadata (corrupted)");
    }
  } catch (const nlohmann::json::exception& error) {
    return std::string("unreadable metadata: ") + error.what();
  }
  return kernel;
}

}  // namespace bitjit::db
