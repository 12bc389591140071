#pragma once
// The one way bitjit reads JSON that comes from outside the process: config files, config lists,
// the kernel database's index.json / tuned.json and kernel metadata, Python's config text.
// Bounded in size and nesting depth (nlohmann's DOM and its recursive dump / destruction overflow
// the stack on input nested tens of thousands deep), duplicate keys rejected (the parser would keep
// the last one silently), and every message quotes at most kQuoteChars characters of the input.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bitjit {

inline constexpr size_t kMaxJsonBytes = size_t(64) << 20;  // 64 MiB: an index of ~100 000 kernels
inline constexpr int kMaxJsonDepth = 64;                    // bitjit's own files nest 4 deep
inline constexpr size_t kQuoteChars = 80;

// Parses text; `source` names it in errors (a path, "config"). Throws ConfigError
// "<source>: <what is wrong>" on a syntax error, more than kMaxJsonBytes, nesting deeper than
// kMaxJsonDepth, or a key given twice in one object (the message names the key).
nlohmann::json parse_json_input(std::string_view text, const std::string& source);

// Reads a whole regular file of at most max_bytes. Special files (FIFOs, devices, /proc) are refused
// without being read, so a mistaken path can neither hang nor exhaust memory; with
// follow_symlinks=false a symbolic link is refused too (the kernel database never follows one out of
// its tree). Throws ConfigError naming the path and the problem.
std::string read_regular_file(const std::filesystem::path& path, size_t max_bytes, bool follow_symlinks = true);

// read_regular_file (kMaxJsonBytes) + parse_json_input, the path as the source.
nlohmann::json read_json_file(const std::filesystem::path& path);

// At most kQuoteChars characters of text for an error message: longer text is cut and says how long
// it was ("'aaaa…' (200000000 bytes)"); control characters are escaped.
std::string quote_input(std::string_view text);
// The same for a JSON value, written as JSON (strings keep their double quotes; no single quotes).
std::string quote_json(const nlohmann::json& value);

// An integer field in [min, max]. Rejects non-integers, integers beyond int64 (nlohmann keeps
// 2^63..2^64-1 as unsigned, which get<int64_t>() would turn negative) and values out of range, with
// a ConfigError naming the field, the allowed range and the value as given.
int64_t json_integer(const nlohmann::json& value, std::string_view field, int64_t min, int64_t max);

}  // namespace bitjit
