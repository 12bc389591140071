#pragma once
// SHA-256 (FIPS 180-4), used for cache keys and config hashes: stable across runs, builds and machines.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bitjit {

class Sha256 {
 public:
  Sha256();
  Sha256& update(std::string_view bytes);
  std::array<uint8_t, 32> digest();  // finishes the hash; call once
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lowercase hex SHA-256 of a string.
std::string sha256_hex(std::string_view bytes);

}  // namespace bitjit
