#pragma once
// A minimal POSIX ustar reader and writer for `bitjit db export` / `db import`: regular files only,
// names under 100 characters, no compression. Enough to ship a prewarmed database as one file that
// the system `tar` also reads, and to read what GNU tar or bsdtar write of a cache directory.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bitjit::db {

struct TarMember {
  std::string name;   // relative path with '/' separators
  std::string bytes;
};

// A regular-file member of an archive, located but not read.
struct TarEntry {
  std::string name;     // relative, '/' separators, a leading "./" removed
  uint64_t offset = 0;  // of its bytes in the archive
  uint64_t size = 0;
};

// The most members an archive may hold (a database of a million kernels is far beyond any use).
inline constexpr size_t kMaxTarMembers = size_t(1) << 20;

// Throws std::runtime_error naming the file on an I/O error or a name that does not fit.
void write_tar(const std::filesystem::path& path, const std::vector<TarMember>& members);

// Checks the whole archive before anything is read from it: the archive is a regular file, every
// header's checksum and octal fields are valid, every member lies within the file (a header's size
// is never trusted beyond the file's length) and holds at most kMaxFileBytes, there are at most
// kMaxTarMembers members, and every name is relative, without "..", "." or empty components (a
// leading "./", as GNU tar writes, is removed). Directories and pax headers are skipped; links,
// devices and FIFOs are refused. Throws ConfigError naming the archive, the member and the problem.
std::vector<TarEntry> list_tar(const std::filesystem::path& path);
// The bytes of one listed member.
std::string read_tar_member(const std::filesystem::path& path, const TarEntry& entry);
// list_tar, then every member read (small archives and tests).
std::vector<TarMember> read_tar(const std::filesystem::path& path);

}  // namespace bitjit::db
