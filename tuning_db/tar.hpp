#pragma once
// A minimal POSIX ustar reader and writer for `bitjit db export` / `db import`: regular files only,
// names under 100 characters, no compression. Enough to ship a prewarmed database as one file that
// the system `tar` also reads.
#include <filesystem>
#include <string>
#include <vector>

namespace bitjit::db {

struct TarMember {
  std::string name;   // relative path with '/' separators
  std::string bytes;
};

// Throws std::runtime_error naming the file on an I/O error or a name that does not fit.
void write_tar(const std::filesystem::path& path, const std::vector<TarMember>& members);
// Regular files only; throws std::runtime_error on a malformed archive or an unsafe name (absolute, "..").
std::vector<TarMember> read_tar(const std::filesystem::path& path);

}  // namespace bitjit::db
