#include "tuning_db/tar.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "tuning_db/files.hpp"

namespace bitjit::db {
namespace {

constexpr size_t kBlock = 512;

// The header fields this writer fills and this reader reads (offsets per POSIX.1-1988 ustar).
struct Field {
  size_t offset, size;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12}, kMtime{136, 12},
    kChecksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kVersion{263, 2}, kPrefix{345, 155};

void put_octal(char* header, Field field, uint64_t value) {
  // size - 1 octal digits, zero-padded, then NUL.
  for (size_t i = field.size - 1; i-- > 0; value >>= 3) header[field.offset + i] = char('0' + (value & 7));
  header[field.offset + field.size - 1] = '\0';
}

// Leading spaces, octal digits, then NUL or space to the end of the field; nullopt otherwise (this
// includes GNU's base-256 numbers, only used for sizes far beyond any member accepted here).
std::optional<uint64_t> get_octal(const char* header, Field field) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < field.size && header[field.offset + i] == ' ') ++i;
  const size_t first_digit = i;
  for (; i < field.size && header[field.offset + i] >= '0' && header[field.offset + i] <= '7'; ++i) {
    if (value >> 60) return std::nullopt;
    value = value * 8 + uint64_t(header[field.offset + i] - '0');
  }
  if (i == first_digit) return std::nullopt;
  for (; i < field.size; ++i) {
    if (header[field.offset + i] != '\0' && header[field.offset + i] != ' ') return std::nullopt;
  }
  return value;
}

// The sum of the header's bytes with the checksum field as spaces; old tars summed signed chars.
uint64_t header_checksum(const char* header, bool signed_bytes) {
  int64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum_field = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.size;
    sum += in_checksum_field ? ' ' : signed_bytes ? int64_t(static_cast<signed char>(header[i])) : int64_t(static_cast<unsigned char>(header[i]));
  }
  return uint64_t(sum);
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
  const uint64_t checksum = header_checksum(header.data(), false);
  put_octal(header.data(), {kChecksum.offset, 7}, checksum);
  header[kChecksum.offset + 7] = ' ';
  return header;
}

// What is wrong with a member name, or "" when it is a plain relative path.
std::string name_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name[0] == '/') return "is absolute";
  size_t begin = 0;
  for (;;) {
    const size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view component = std::string_view(name).substr(begin, end - begin);
    if (component.empty()) return "has an empty component";
    if (component == "..") return "has a '..' component";
    if (component == ".") return "has a '.' component";
    if (end == name.size()) return "";
    begin = end + 1;
  }
}

// "./v1/x" -> "v1/x"; "./" (the archive's root directory) -> "".
std::string without_leading_dot_slash(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  return name == "." ? "" : name;
}

// An open archive read with pread: it is never loaded whole.
class Archive {
 public:
  explicit Archive(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) throw ConfigError(path.string() + ": cannot open: " + std::strerror(errno));
    struct stat status {};
    if (::fstat(fd_, &status) != 0 || !S_ISREG(status.st_mode)) {
      ::close(fd_);
      throw ConfigError(path.string() + ": not a regular file; not read as an archive");
    }
    size_ = uint64_t(status.st_size);
  }
  ~Archive() { ::close(fd_); }
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  uint64_t size() const { return size_; }
  std::string read(uint64_t offset, uint64_t bytes) const {
    if (offset > size_ || bytes > size_ - offset) fail("ends inside a member (truncated?)");
    std::string data(bytes, '\0');
    for (uint64_t done = 0; done < bytes;) {
      const ssize_t got = ::pread(fd_, data.data() + done, bytes - done, off_t(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fail(got == 0 ? "shrank while being read" : std::string("cannot read: ") + std::strerror(errno));
      done += uint64_t(got);
    }
    return data;
  }
  [[noreturn]] void fail(const std::string& why) const { throw ConfigError(path_.string() + ": " + why); }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

void write_tar(const std::filesystem::path& path, const std::vector<TarMember>& members) {
  std::string archive;
  const std::time_t now = std::time(nullptr);
  for (const TarMember& member : members) {
    if (member.name.size() >= kName.size || !name_problem(member.name).empty()) {
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

std::vector<TarEntry> list_tar(const std::filesystem::path& path) {
  const Archive archive(path);
  std::vector<TarEntry> entries;
  for (uint64_t at = 0, headers = 0;; ++headers) {
    if (headers > 2 * kMaxTarMembers) archive.fail("more than " + std::to_string(kMaxTarMembers) + " members");
    if (archive.size() - at < kBlock) archive.fail("no end-of-archive marker (truncated?)");
    const std::string header = archive.read(at, kBlock);
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) return entries;
    const std::string where = " in the header at byte " + std::to_string(at);
    const std::optional<uint64_t> checksum = get_octal(header.data(), kChecksum);
    if (!checksum || (*checksum != header_checksum(header.data(), false) && *checksum != header_checksum(header.data(), true))) {
      archive.fail("bad tar header checksum" + where);
    }
    const std::optional<uint64_t> size = get_octal(header.data(), kSize);
    if (!size) archive.fail("bad size field" + where);
    std::string name(header.data() + kName.offset, strnlen(header.data() + kName.offset, kName.size));
    // POSIX ustar splits long names into prefix/name; GNU tar's magic "ustar  " uses those bytes otherwise.
    if (std::memcmp(header.data() + kMagic.offset, "ustar", 6) == 0 && header[kPrefix.offset] != '\0') {
      name = std::string(header.data() + kPrefix.offset, strnlen(header.data() + kPrefix.offset, kPrefix.size)) + "/" + name;
    }
    const std::string member = " (member " + quote_input(name) + ")";
    at += kBlock;
    if (*size > archive.size() - at) archive.fail("a member runs past the end of the file (truncated?)" + member);
    const char type = header[kType.offset];
    if (type == '0' || type == '\0' || type == '7') {
      if (*size > kMaxFileBytes) {
        archive.fail("a member of " + std::to_string(*size) + " bytes; at most " + std::to_string(kMaxFileBytes) + member);
      }
      name = without_leading_dot_slash(name);
      if (const std::string problem = name_problem(name); !problem.empty()) archive.fail("the member name " + problem + member);
      if (entries.size() == kMaxTarMembers) archive.fail("more than " + std::to_string(kMaxTarMembers) + " members");
      entries.push_back({name, at, *size});
    } else if (type == '5' || type == 'x' || type == 'g') {
      // A directory, or pax extended attributes: the ustar name above is what is used.
    } else {
      archive.fail("a member of type '" + std::string(1, type) + "' (a link, device, FIFO or GNU long name); an export holds regular files only" + member);
    }
    at += (*size + kBlock - 1) / kBlock * kBlock;
    if (at > archive.size()) archive.fail("no end-of-archive marker (truncated?)");
  }
}

std::string read_tar_member(const std::filesystem::path& path, const TarEntry& entry) {
  return Archive(path).read(entry.offset, entry.size);
}

std::vector<TarMember> read_tar(const std::filesystem::path& path) {
  std::vector<TarMember> members;
  const Archive archive(path);
  for (const TarEntry& entry : list_tar(path)) members.push_back({entry.name, archive.read(entry.offset, entry.size)});
  return members;
}

}  // namespace bitjit::db
