#include "tuning_db/tar.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "tuning_db/files.hpp"

namespace bitjit::db {
namespace {

constexpr size_t kBlock = 512;

// The header fields this writer fills and this reader reads (offsets per POSIX.1-1988 ustar).
struct Field {
  size_t offset, size;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12}, kMtime{136, 12},
    kChecksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kVersion{263, 2};

void put_octal(char* header, Field field, uint64_t value) {
  // size - 1 octal digits, zero-padded, then NUL.
  for (size_t i = field.size - 1; i-- > 0; value >>= 3) header[field.offset + i] = char('0' + (value & 7));
  header[field.offset + field.size - 1] = '\0';
}

uint64_t get_octal(const char* header, Field field) {
  uint64_t value = 0;
  for (size_t i = 0; i < field.size; ++i) {
    const char c = header[field.offset + i];
    if (c == ' ' && value == 0) continue;
    if (c < '0' || c > '7') break;
    value = value * 8 + uint64_t(c - '0');
  }
  return value;
}

uint64_t header_checksum(const char* header) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum_field = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.size;
    sum += in_checksum_field ? uint64_t(' ') : uint64_t(static_cast<unsigned char>(header[i]));
  }
  return sum;
}

std::string header_for(const TarMember& member, std::time_t mtime) {
  std::string header(kBlock, '\0');
  std::memcpy(header.data() + kName.offset, member.name.data(), member.name.size());
  put_octal(header.data(), kMode, 0644);
  put_octal(header.data(), kUid, 0);
  put_octal(header.data(), kGid, 0);
  put_octal(header.data(), kSize, member.bytes.size());
  put_octal(header.data(), kMtime, uint64_t(mtime));
  header[kType.offset] = '0';
  std::memcpy(header.data() + kMagic.offset, "ustar", 6);
  std::memcpy(header.data() + kVersion.offset, "00", 2);
  // The checksum field: six octal digits, NUL, space.
  const uint64_t checksum = header_checksum(header.data());
  put_octal(header.data(), {kChecksum.offset, 7}, checksum);
  header[kChecksum.offset + 7] = ' ';
  return header;
}

bool unsafe_name(const std::string& name) {
  return name.empty() || name[0] == '/' || name == ".." || name.rfind("../", 0) == 0 ||
         name.find("/../") != std::string::npos || (name.size() >= 3 && name.substr(name.size() - 3) == "/..");
}

}  // namespace

void write_tar(const std::filesystem::path& path, const std::vector<TarMember>& members) {
  std::string archive;
  const std::time_t now = std::time(nullptr);
  for (const TarMember& member : members) {
    if (member.name.size() >= kName.size || unsafe_name(member.name)) {
      throw std::runtime_error("cannot store '" + member.name + "' in " + path.string());
    }
    archive += header_for(member, now);
    archive += member.bytes;
    archive.append((kBlock - member.bytes.size() % kBlock) % kBlock, '\0');
  }
  archive.append(2 * kBlock, '\0');  // the end-of-archive marker
  try {
    write_file_atomically(path, archive);
  } catch (const std::system_error& error) {
    throw std::runtime_error(error.what());
  }
}

std::vector<TarMember> read_tar(const std::filesystem::path& path) {
  const std::optional<std::string> archive = read_file(path);
  if (!archive) throw std::runtime_error("cannot read " + path.string());
  std::vector<TarMember> members;
  for (size_t at = 0; at + kBlock <= archive->size();) {
    const char* header = archive->data() + at;
    if (std::all_of(header, header + kBlock, [](char c) { return c == '\0'; })) return members;
    if (get_octal(header, kChecksum) != header_checksum(header)) {
      throw std::runtime_error(path.string() + ": bad tar header checksum at byte " + std::to_string(at));
    }
    const std::string name(header + kName.offset, strnlen(header + kName.offset, kName.size));
    const uint64_t size = get_octal(header, kSize);
    const char type = header[kType.offset];
    at += kBlock;
    if (at + size > archive->size()) throw std::runtime_error(path.string() + ": truncated inside " + name);
    if (type == '0' || type == '\0') {
      if (unsafe_name(name)) throw std::runtime_error(path.string() + ": unsafe member name '" + name + "'");
      members.push_back({name, archive->substr(at, size)});
    }
    at += (size + kBlock - 1) / kBlock * kBlock;
  }
  throw std::runtime_error(path.string() + ": no end-of-archive marker (truncated?)");
}

}  // namespace bitjit::db
