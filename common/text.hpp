#pragma once
// Small text helpers shared by error messages and database records.
#include <cstdint>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace bitjit {

// "[3, 40]"
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// The current UTC time as ISO 8601 ("2026-11-25T14:55:18Z"), for database records.
inline std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace bitjit
