#pragma once
// File primitives of the kernel database: whole-file reads, atomic replacement (temp file + rename,
// so a reader sees the old file or the new one, never half of one) and an inter-process lock.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace bitjit::db {

// The largest file the database reads: a kernel file (cubins are 10 KB to a few MB), index.json,
// tuned.json, an archive member.
inline constexpr size_t kMaxFileBytes = size_t(64) << 20;

// The whole file, or nullopt when nothing is at the path. Throws ConfigError naming the path when
// it is a symbolic link (never followed out of the database's tree), a FIFO, device or other
// special file (never opened for reading), larger than max_bytes, or unreadable.
std::optional<std::string> read_file(const std::filesystem::path& path, size_t max_bytes = kMaxFileBytes);

// Writes bytes to a temporary file beside `path`, flushes it, then renames it over `path`.
// Throws std::system_error (naming the path and the failing step) on any failure, leaving no temp file.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Appends bytes to the file at path (created if absent; a symbolic link there is refused), without
// fsync: for the index journal, whose lines the kernel files can always rebuild. Throws
// std::system_error naming the path on any failure.
void append_to_file(const std::filesystem::path& path, std::string_view bytes);

// An exclusive flock on a lock file, held for the object's life; blocks until granted.
// Throws std::system_error when the lock file cannot be opened (e.g. a read-only directory).
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& lock_file);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// A name for a temporary file unique across processes and threads: ".tmp-<pid>-<counter>-<name>".
std::string temporary_name(const std::string& name);
bool is_temporary_name(const std::string& name);

}  // namespace bitjit::db
