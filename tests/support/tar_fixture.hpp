#pragma once
// Hostile tar archives for tests: tuning_db's write_tar refuses unsafe names, so an archive with one
// is written under a harmless name of the same length and renamed in the header.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "tuning_db/files.hpp"
#include "tuning_db/tar.hpp"

namespace bitjit::testing {

// Redoes the first header's checksum after a test changed the header (ustar: the byte sum with the
// checksum field counted as spaces, six octal digits, NUL, space).
inline void fix_first_checksum(std::string& archive) {
  std::memset(archive.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(archive[i]);
  std::snprintf(archive.data() + 148, 8, "%06o", sum);
  archive[155] = ' ';
}

// The bytes of a tar archive with one member named `name` (under 100 characters) holding `bytes`;
// `scratch` is a path the helper may overwrite.
inline std::string archive_with_member(const std::filesystem::path& scratch, const std::string& name, const std::string& bytes) {
  db::write_tar(scratch, {{std::string(name.size(), 'p'), bytes}});
  std::string archive = *db::read_file(scratch);
  std::memcpy(archive.data(), name.data(), name.size());
  fix_first_checksum(archive);
  return archive;
}

}  // namespace bitjit::testing
