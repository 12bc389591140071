// Fuzz target: the tar reader of `bitjit db import` (tuning_db/tar). The input is the archive. What
// the reader lists must be safe to join under a directory (no absolute name, no "..", "." or empty
// component) and lie within the archive; read_tar gives the listed members' bytes; and the members
// survive the writer: read(write(members)) gives them back.
#include <string>

#include "fuzz/support.hpp"
#include "tuning_db/tar.hpp"

namespace {

bool has_unsafe_component(const std::string& name) {
  if (name.empty() || name.front() == '/') return true;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string_view component(name.data() + start, end - start);
    if (component.empty() || component == ".." || component == ".") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  static const std::filesystem::path archive = fuzz::scratch_dir() / "input.tar";
  static const std::filesystem::path rewritten = fuzz::scratch_dir() / "rewritten.tar";
  fuzz::write_file(archive, fuzz::as_text(data, size));
  std::vector<db::TarEntry> entries;
  try {
    entries = db::list_tar(archive);
  } catch (const std::runtime_error& error) {
    fuzz::check_error_message(error.what());
    return 0;
  }
  for (const db::TarEntry& entry : entries) {
    FUZZ_CHECK(!has_unsafe_component(entry.name), "the reader accepted the member name '" + entry.name + "'");
    FUZZ_CHECK(entry.offset <= size && entry.size <= size - entry.offset,
               "member '" + entry.name + "' lies beyond the archive's " + std::to_string(size) + " bytes");
  }
  const std::vector<db::TarMember> members = db::read_tar(archive);  // listed already: must not throw
  FUZZ_CHECK(members.size() == entries.size(), "read_tar and list_tar disagree on the member count");
  for (size_t i = 0; i < members.size(); ++i) {
    FUZZ_CHECK(members[i].name == entries[i].name &&
                   members[i].bytes == std::string(fuzz::as_text(data + entries[i].offset, entries[i].size)),
               "member " + std::to_string(i) + " ('" + entries[i].name + "') is not the bytes it was listed at");
  }
  // The writer takes names under 100 bytes (it writes no ustar prefix); the reader also takes 100.
  for (const db::TarMember& member : members) {
    if (member.name.size() >= 100) return 0;
  }
  db::write_tar(rewritten, members);
  const std::vector<db::TarMember> again = db::read_tar(rewritten);
  FUZZ_CHECK(again.size() == members.size(), "a rewritten archive has " + std::to_string(again.size()) +
                                                 " members instead of " + std::to_string(members.size()));
  for (size_t i = 0; i < members.size(); ++i) {
    FUZZ_CHECK(again[i].name == members[i].name && again[i].bytes == members[i].bytes,
               "member " + std::to_string(i) + " ('" + members[i].name + "') changes through write and read");
  }
  return 0;
}
