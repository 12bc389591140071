#include "tuning_db/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "common/json_input.hpp"

namespace bitjit::db {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error = errno) {
  throw std::system_error(error, std::generic_category(), what + " " + path.string());
}

// Writes everything, retrying short writes; false with errno set on failure.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(size_t(written));
  }
  return true;
}

}  // namespace

std::optional<std::string> read_file(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, error))) return std::nullopt;
  return read_regular_file(path, max_bytes, /*follow_symlinks=*/false);
}

std::string temporary_name(const std::string& name) {
  static std::atomic<uint64_t> counter{0};
  return ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name;
}

bool is_temporary_name(const std::string& name) { return name.rfind(".tmp-", 0) == 0; }

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path temporary = path.parent_path() / temporary_name(path.filename().string());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", temporary);
  // fsync before the rename: after a crash the new name never points at unwritten blocks.
  const bool written = write_all(fd, bytes) && ::fsync(fd) == 0;
  const int write_error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    fail("cannot write", temporary, write_error);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int rename_error = errno;
    ::unlink(temporary.c_str());
    fail("cannot rename a temporary file to", path, rename_error);
  }
}

void append_to_file(const std::filesystem::path& path, std::string_view bytes) {
  // O_NONBLOCK: a FIFO planted at the path fails the open instead of blocking until a reader comes;
  // anything else that is not a regular file is refused after it.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot open for appending", path);
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    const int stat_error = errno;
    ::close(fd);
    fail("cannot stat", path, stat_error);
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(fd);
    fail("cannot append to a file that is not a regular one:", path, EINVAL);
  }
  const bool written = write_all(fd, bytes);
  const int write_error = errno;
  ::close(fd);
  if (!written) fail("cannot append to", path, write_error);
}

FileLock::FileLock(const std::filesystem::path& lock_file) {
  fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open the lock file", lock_file);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int error = errno;
    ::close(fd_);
    fail("cannot lock", lock_file, error);
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace bitjit::db
