// Fuzz target: the tar reader of `bitjit db import` (tuning_db/tar). The input is the archive. What
// the reader accepts must be safe to join under a directory (no absolute name, no ".." component,
// no empty component), and must survive the writer: read(write(members)) gives the members back.
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
    if (component.empty() || component == "..") return true;
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
  std::vector<db::TarMember> members;
  try {
    members = db::read_tar(archive);
  } catch (const std::runtime_error& error) {
    fuzz::check_error_message(error.what());
    return 0;
  }
  for (const db::TarMember& member : members) {
    FUZZ_CHECK(!has_unsafe_component(member.name), "the reader accepted the member name '" + member.name + "'");
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
