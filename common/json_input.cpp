#include "common/json_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "common/error.hpp"

namespace bitjit {
namespace {

// Thrown from inside nlohmann's parser callback to stop the parse at the first problem.
struct Rejected {
  std::string why;
};

// nlohmann's parse_error ends with "; last read: '<token>'", and the token can be the whole of a
// 200 MB string: keep the position, quote the token through quote_input.
std::string parse_error_text(const nlohmann::json::parse_error& error) {
  const std::string what = error.what();
  const std::string marker = "; last read: '";
  const size_t at = what.find(marker);
  if (at == std::string::npos) return quote_input(what);
  const size_t token_begin = at + marker.size();
  const size_t token_end = what.size() > token_begin && what.back() == '\'' ? what.size() - 1 : what.size();
  return what.substr(0, at) + "; last read: " + quote_input(std::string_view(what).substr(token_begin, token_end - token_begin));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void refuse_file(const std::filesystem::path& path, const std::string& why) {
  throw ConfigError(path.string() + ": " + why);
}

}  // namespace

namespace {

// At most kQuoteChars characters of text, control characters escaped; `cut` tells whether text
// was longer.
std::string clipped(std::string_view text, bool& cut) {
  std::string shown_text;
  size_t shown = 0;
  for (; shown < text.size() && shown_text.size() < kQuoteChars; ++shown) {
    const unsigned char c = static_cast<unsigned char>(text[shown]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      shown_text += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
    } else {
      shown_text += char(c);
    }
  }
  cut = shown < text.size();
  // Never end inside a UTF-8 sequence: drop its lead and continuation bytes.
  while (cut && shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xc0) == 0x80) {
    --shown;
    shown_text.pop_back();
  }
  return shown_text;
}

std::string length_note(std::string_view text) { return " (" + std::to_string(text.size()) + " bytes)"; }

}  // namespace

std::string quote_input(std::string_view text) {
  bool cut = false;
  const std::string shown = clipped(text, cut);
  return cut ? "'" + shown + "...'" + length_note(text) : "'" + shown + "'";
}

std::string quote_json(const nlohmann::json& value) {
  // dump() of a value from parse_json_input is bounded in depth, and in size by the input.
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  bool cut = false;
  const std::string shown = clipped(text, cut);
  return cut ? shown + "..." + length_note(text) : shown;
}

nlohmann::json parse_json_input(std::string_view text, const std::string& source) {
  if (text.size() > kMaxJsonBytes) {
    throw ConfigError(source + ": " + std::to_string(text.size()) + " bytes of JSON; at most " +
                      std::to_string(kMaxJsonBytes) + " are read");
  }
  // One set of keys per open object, innermost last.
  std::vector<std::set<std::string>> keys;
  const nlohmann::json::parser_callback_t check = [&](int depth, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start || event == Event::array_start) {
      // depth counts the containers already open around this one.
      if (depth + 1 > kMaxJsonDepth) {
        throw Rejected{"nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
      }
      if (event == Event::object_start) keys.emplace_back();
    } else if (event == Event::object_end) {
      keys.pop_back();
    } else if (event == Event::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second) throw Rejected{"the key " + quote_input(key) + " is given twice in one object"};
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, check);
  } catch (const Rejected& rejected) {
    throw ConfigError(source + ": " + rejected.why);
  } catch (const nlohmann::json::parse_error& error) {
    throw ConfigError(source + ": not valid JSON: " + parse_error_text(error));
  }
}

std::string read_regular_file(const std::filesystem::path& path, size_t max_bytes, bool follow_symlinks) {
  // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW);
  FileDescriptor fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    if (errno == ELOOP && !follow_symlinks) refuse_file(path, "is a symbolic link; not followed");
    refuse_file(path, std::string("cannot open: ") + std::strerror(errno));
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) refuse_file(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) refuse_file(path, "is not a regular file; not read");
  if (uint64_t(status.st_size) > max_bytes) {
    refuse_file(path, std::to_string(status.st_size) + " bytes; at most " + std::to_string(max_bytes) + " are read");
  }
  // Read to the end, whatever st_size said (files under /proc say 0), and never past the bound.
  std::string bytes;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) refuse_file(path, "would block; not a plain file");
    if (got < 0) refuse_file(path, std::string("cannot read: ") + std::strerror(errno));
    if (got == 0) return bytes;
    if (bytes.size() + size_t(got) > max_bytes) refuse_file(path, "more than " + std::to_string(max_bytes) + " bytes; not read");
    bytes.append(buffer, size_t(got));
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json_input(read_regular_file(path, kMaxJsonBytes), path.string());
}

int64_t json_integer(const nlohmann::json& value, std::string_view field, int64_t min, int64_t max) {
  const std::string name(field);
  const std::string range = " must be between " + std::to_string(min) + " and " + std::to_string(max);
  if (!value.is_number_integer()) throw ConfigError(name + " must be an integer, got " + quote_json(value));
  if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
    throw ConfigError(name + "=" + std::to_string(value.get<uint64_t>()) + range);
  }
  const int64_t number = value.get<int64_t>();
  if (number < min || number > max) throw ConfigError(name + "=" + std::to_string(number) + range);
  return number;
}

}  // namespace bitjit
