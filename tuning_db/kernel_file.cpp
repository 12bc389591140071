#include "tuning_db/kernel_file.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "common/sha256.hpp"

namespace bitjit::db {
namespace {

// The format's version is in the magic line: a future layout is a different magic, seen as foreign.
// Format 3 is format 2's layout with the schedule in the metadata as grouped JSON (tile, warps,
// pipeline, launch): a new number, so that the kernels of the flat schedules are older ones.
constexpr std::string_view kKernelFileMagic = "BITJIT-KERNEL 3 ";
// The formats before, never loaded: rebuilt on their next use (their keys differ anyway), removed
// by `db gc`.
struct OlderFormat {
  std::string_view magic;
  const char* what;
};
constexpr OlderFormat kOlderFormats[] = {
    {"BITJIT-KERNEL 1\n", "kernel file format 1 (before the metadata checksum)"},
    {"BITJIT-KERNEL 2 ", "kernel file format 2 (its schedule in the flat JSON before the schedule's groups)"},
};

const OlderFormat* older_format(std::string_view bytes) {
  for (const OlderFormat& format : kOlderFormats) {
    if (bytes.substr(0, format.magic.size()) == format.magic) return &format;
  }
  return nullptr;
}
constexpr size_t kDigestChars = 64;
// Metadata is a config, a schedule, versions and flags: a few kilobytes.
constexpr size_t kMaxMetadataBytes = size_t(1) << 20;

std::string binary_sha256(const std::vector<char>& cubin) {
  return sha256_hex(std::string_view(cubin.data(), cubin.size()));
}

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

template <class T>
T little_endian(std::string_view bytes, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= T(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

// "sm_90a" -> 90; nullopt for anything else.
std::optional<unsigned> sm_number(const std::string& arch) {
  if (arch.size() < 5 || arch.size() > 7 || arch.compare(0, 3, "sm_") != 0) return std::nullopt;
  std::string digits = arch.substr(3);
  if (!digits.empty() && digits.back() >= 'a' && digits.back() <= 'z') digits.pop_back();
  if (digits.size() < 2 || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  return unsigned(std::stoul(digits));
}

// The metadata fields decoding relies on, with their types.
std::optional<std::string> metadata_problem(const nlohmann::json& meta) {
  if (!meta.is_object()) return "the metadata is not a JSON object";
  for (const char* field : {"key", "arch", "binary_sha256"}) {
    if (!meta.contains(field) || !meta[field].is_string()) return std::string("the metadata's ") + field + " is missing or not a string";
  }
  if (!meta.contains("binary_bytes") || !meta["binary_bytes"].is_number_unsigned()) {
    return "the metadata's binary_bytes is missing or not a byte count";
  }
  return std::nullopt;
}

}  // namespace

bool is_kernel_key(std::string_view key) { return key.size() == kDigestChars && is_lower_hex(key); }

const std::string& checked_kernel_key(const std::string& key) {
  if (!is_kernel_key(key)) throw ConfigError(quote_input(key) + " is not a kernel key (64 lowercase hex digits)");
  return key;
}

std::string encode_kernel_file(const StoredKernel& kernel) {
  nlohmann::json meta = kernel.meta;
  meta["binary_sha256"] = binary_sha256(kernel.cubin);
  meta["binary_bytes"] = kernel.cubin.size();
  const std::string line = meta.dump();  // one line: dump() without indent escapes every newline
  std::string bytes(kKernelFileMagic);
  bytes += sha256_hex(line);
  bytes += '\n';
  bytes += line;
  bytes += '\n';
  bytes.append(kernel.cubin.data(), kernel.cubin.size());
  return bytes;
}

bool is_older_kernel_format(std::string_view bytes) { return older_format(bytes) != nullptr; }

std::variant<StoredKernel, std::string> decode_kernel_file(std::string_view bytes, const std::string& expected_key) {
  if (const OlderFormat* older = older_format(bytes)) {
    return std::string(older->what) + ": rebuilt on its next use; db gc removes it";
  }
  const size_t header_size = kKernelFileMagic.size() + kDigestChars + 1;
  if (bytes.substr(0, kKernelFileMagic.size()) != kKernelFileMagic) return std::string("not a bitjit kernel file of this version");
  if (bytes.size() < header_size || bytes[header_size - 1] != '\n' || !is_lower_hex(bytes.substr(kKernelFileMagic.size(), kDigestChars))) {
    return std::string("truncated or damaged in the first line");
  }
  const std::string_view metadata_sha256 = bytes.substr(kKernelFileMagic.size(), kDigestChars);
  bytes.remove_prefix(header_size);
  const size_t line_end = bytes.find('\n');
  if (line_end == std::string_view::npos) return std::string("truncated inside the metadata");
  if (line_end > kMaxMetadataBytes) return "the metadata line has " + std::to_string(line_end) + " bytes (at most " + std::to_string(kMaxMetadataBytes) + ")";
  const std::string_view line = bytes.substr(0, line_end);
  if (sha256_hex(line) != metadata_sha256) return std::string("the metadata's SHA-256 does not match the first line (corrupted)");
  StoredKernel kernel;
  try {
    kernel.meta = parse_json_input(line, "the metadata");
  } catch (const ConfigError& error) {
    return std::string("unreadable metadata: ") + error.what();
  }
  if (std::optional<std::string> problem = metadata_problem(kernel.meta)) return *problem;
  const std::string key = kernel.meta["key"];
  if (key != expected_key) return "holds key " + quote_input(key) + ", not the key it is named by";
  const std::string_view binary = bytes.substr(line_end + 1);
  const uint64_t expected_bytes = kernel.meta["binary_bytes"];
  if (binary.size() != expected_bytes) {
    return "the binary has " + std::to_string(binary.size()) + " bytes, the metadata says " +
           std::to_string(expected_bytes) + " (truncated?)";
  }
  kernel.cubin.assign(binary.begin(), binary.end());
  if (binary_sha256(kernel.cubin) != kernel.meta["binary_sha256"].get<std::string>()) {
    return std::string("the binary's SHA-256 does not match the metadata (corrupted)");
  }
  if (std::optional<std::string> problem = cubin_arch_problem(binary, kernel.meta["arch"])) return *problem;
  return kernel;
}

std::optional<std::string> cubin_arch_problem(std::string_view cubin, const std::string& arch) {
  const std::optional<unsigned> sm = sm_number(arch);
  if (!sm) return "the metadata's arch " + quote_input(arch) + " is not sm_<number>";
  // ELF64 header offsets: e_ident[16] (class at 4, data at 5, ABI version at 8), e_machine at 18,
  // e_flags at 48; the header is 64 bytes.
  constexpr size_t kHeaderBytes = 64;
  if (cubin.size() < kHeaderBytes || cubin.substr(0, 4) != std::string_view("\x7f" "ELF", 4)) {
    return std::string("the binary is not an ELF file (a cubin is one)");
  }
  if (cubin[4] != 2 || cubin[5] != 1) return std::string("the binary is not a 64-bit little-endian ELF file (a cubin is one)");
  constexpr uint16_t kMachineCuda = 190;  // EM_CUDA
  const uint16_t machine = little_endian<uint16_t>(cubin, 18);
  if (machine != kMachineCuda) {
    return "the binary is an ELF file for machine " + std::to_string(machine) + ", not for CUDA (190)";
  }
  const uint32_t flags = little_endian<uint32_t>(cubin, 48);
  const unsigned abi_version = static_cast<unsigned char>(cubin[8]);
  const unsigned file_sm = abi_version >= 8 ? (flags >> 8) & 0xff : flags & 0xff;
  if (file_sm != *sm) {
    return "the binary's ELF header says sm_" + std::to_string(file_sm) + ", the metadata says " + arch;
  }
  return std::nullopt;
}

}  // namespace bitjit::db
