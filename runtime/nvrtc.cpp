#include "runtime/nvrtc.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <tuple>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "compiler/arch.hpp"
#include "runtime/device.hpp"
#include "runtime/embedded_templates.hpp"
#include "runtime/nvrtc_library.hpp"

namespace bitjit {
namespace fs = std::filesystem;
namespace {

std::atomic<uint64_t> compile_count{0};

// NVRTC's entry points (opened at first use; throws CudaError naming every place searched).
const Nvrtc& api() { return Nvrtc::get(); }

constexpr const char* kDefaultProgramName = "bitjit_kernel.cu";
constexpr int kExcerptRadius = 2;    // source lines shown before and after each error line
constexpr size_t kMaxExcerpts = 10;  // places past this many are in the log only

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

// `what` says which compile a failing call belongs to ("compiling x.cu for sm_90a (<context>)").
void check_nvrtc(nvrtcResult result, const char* call, const std::string& what) {
  if (result == NVRTC_SUCCESS) return;
  throw CudaError(std::string(call) + " failed: " + api().nvrtcGetErrorString(result) + " while " + what);
}

// The embedded headers in the form nvrtcCreateProgram takes: parallel arrays of contents and names.
struct HeaderArrays {
  std::vector<const char*> contents;
  std::vector<const char*> include_names;
};

const HeaderArrays& embedded_header_arrays() {
  static const HeaderArrays arrays = [] {
    HeaderArrays result;
    for (const EmbeddedHeader& header : embedded_templates()) {
      result.contents.push_back(header.content.c_str());
      result.include_names.push_back(header.name.c_str());
    }
    return result;
  }();
  return arrays;
}

class Program {
 public:
  Program(const std::string& source, const std::string& name, const std::string& what) {
    const HeaderArrays& headers = embedded_header_arrays();
    check_nvrtc(api().nvrtcCreateProgram(&program_, source.c_str(), name.c_str(), int(headers.contents.size()),
                                   headers.contents.data(), headers.include_names.data()),
                "nvrtcCreateProgram", what);
  }
  ~Program() { api().nvrtcDestroyProgram(&program_); }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  nvrtcProgram get() const { return program_; }

 private:
  nvrtcProgram program_ = nullptr;
};

nvrtcResult run_compiler(nvrtcProgram program, const std::vector<std::string>& flags) {
  std::vector<const char*> options;
  for (const std::string& flag : flags) options.push_back(flag.c_str());
  ++compile_count;
  return api().nvrtcCompileProgram(program, int(options.size()), options.data());
}

std::string program_log(nvrtcProgram program, const std::string& what) {
  size_t size = 0;
  check_nvrtc(api().nvrtcGetProgramLogSize(program, &size), "nvrtcGetProgramLogSize", what);
  std::string log(size, '\0');
  if (size > 0) check_nvrtc(api().nvrtcGetProgramLog(program, log.data()), "nvrtcGetProgramLog", what);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

std::vector<char> program_cubin(nvrtcProgram program, const std::string& what) {
  size_t size = 0;
  check_nvrtc(api().nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", what);
  // A virtual arch (compute_XX) yields PTX only; default_compile_flags always names a real one.
  if (size == 0) throw CudaError("nvrtcGetCUBINSize returned 0 bytes while " + what);
  std::vector<char> cubin(size);
  check_nvrtc(api().nvrtcGetCUBIN(program, cubin.data()), "nvrtcGetCUBIN", what);
  return cubin;
}

std::string program_ptx(nvrtcProgram program, const std::string& what) {
  size_t size = 0;
  check_nvrtc(api().nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize", what);
  std::string ptx(size, '\0');
  check_nvrtc(api().nvrtcGetPTX(program, ptx.data()), "nvrtcGetPTX", what);
  while (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
  return ptx;
}

// ---- Dumps ----------------------------------------------------------------------------------------

// Written under a temporary name, then renamed, so that two threads dumping the same kernel never
// leave a file mixing both.
void write_file(const fs::path& path, const std::string& content) {
  std::ostringstream suffix;
  suffix << ".tmp-" << getpid() << "-" << std::hash<std::thread::id>()(std::this_thread::get_id());
  const fs::path temporary = path.string() + suffix.str();
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(content.data(), std::streamsize(content.size()));
    out.close();
    if (!out) throw Error("cannot write " + temporary.string() + ": " + std::strerror(errno));
  }
  fs::rename(temporary, path);
}

std::string flags_file_content(const std::string& arch, const std::vector<std::string>& flags) {
  return "# arch " + arch + ", NVRTC " + nvrtc_version() + "\n" + join(flags, "\n") + "\n";
}

struct DumpedFiles {
  fs::path source;
  fs::path log;
};

// Writes <dir>/<name>, <name>.flags and <name>.log, creating dir if needed.
DumpedFiles write_compile_files(const fs::path& dir, const std::string& name, const CompileRequest& request,
                                const CompiledKernel& kernel) {
  fs::create_directories(dir);
  const fs::path source = dir / fs::path(name).filename();
  write_file(source, request.source);
  write_file(source.string() + ".flags", flags_file_content(kernel.arch, kernel.flags));
  write_file(source.string() + ".log", kernel.log.empty() ? "" : kernel.log + "\n");
  return {source, source.string() + ".log"};
}

// BITJIT_DUMP_DIR: every compile is written there. A dump that cannot be written only warns: the
// compile itself succeeded or failed on its own.
std::optional<DumpedFiles> dump_if_requested(const std::string& name, const CompileRequest& request,
                                             const CompiledKernel& kernel) {
  const std::optional<std::string> dir = env::dump_dir();
  if (!dir) return std::nullopt;
  try {
    return write_compile_files(*dir, name, request, kernel);
  } catch (const std::exception& error) {
    log().warn("BITJIT_DUMP_DIR: could not write {} to {}: {}", name, *dir, error.what());
    return std::nullopt;
  }
}

fs::path make_failure_directory() {
  std::string pattern = (fs::temp_directory_path() / "bitjit-failed-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw Error("mkdtemp(" + pattern + ") failed: " + std::strerror(errno));
  }
  return pattern;
}

// ---- Error report ---------------------------------------------------------------------------------

struct SourceLocation {
  std::string file;
  int line = 0;
  bool operator<(const SourceLocation& other) const { return std::tie(file, line) < std::tie(other.file, other.line); }
};

std::optional<int> parse_line_number(std::string_view digits) {
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::atoi(std::string(digits).c_str());
}

// NVRTC writes errors as `file(line): error: text` (or `catastrophic error`).
std::optional<SourceLocation> error_location(std::string_view log_line) {
  const size_t close = log_line.find("): ");
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view severity = log_line.substr(close + 3);
  if (severity.rfind("error", 0) != 0 && severity.rfind("catastrophic error", 0) != 0) return std::nullopt;
  const size_t open = log_line.rfind('(', close);
  if (open == std::string_view::npos || open == 0) return std::nullopt;
  const std::optional<int> line = parse_line_number(log_line.substr(open + 1, close - open - 1));
  if (!line) return std::nullopt;
  return SourceLocation{std::string(log_line.substr(0, open)), *line};
}

// An error inside a template names the instantiating line as `... at line N of file`, or `... at
// line N` in the erroneous file itself: for generated code that line is where the generator went wrong.
std::optional<SourceLocation> instantiation_location(std::string_view log_line, const std::string& error_file) {
  const size_t at = log_line.rfind(" at line ");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = log_line.substr(at + std::string_view(" at line ").size());
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
  const size_t of = rest.find(" of ");
  const std::optional<int> line = parse_line_number(rest.substr(0, of));
  if (!line) return std::nullopt;
  return SourceLocation{of == std::string_view::npos ? error_file : std::string(rest.substr(of + 4)), *line};
}

// The lines of text; a final newline does not start another (empty) line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Lines line-kExcerptRadius .. line+kExcerptRadius, numbered, the given line marked with '>'.
std::string numbered_excerpt(std::string_view file_content, int line) {
  const std::vector<std::string_view> lines = split_lines(file_content);
  const int first = std::max(1, line - kExcerptRadius);
  const int last = std::min(int(lines.size()), line + kExcerptRadius);
  std::string excerpt;
  for (int number = first; number <= last; ++number) {
    std::string label = std::to_string(number);
    label.insert(0, label.size() < 5 ? 5 - label.size() : 0, ' ');
    excerpt += (number == line ? "> " : "  ") + label + " | " + std::string(lines[size_t(number - 1)]) + "\n";
  }
  return excerpt;
}

// The source around each place the log points at, in the request's source or an embedded header.
std::string error_excerpts(const std::string& log, const std::string& name, const std::string& source) {
  std::map<std::string, std::string_view, std::less<>> files{{name, source}};
  for (const EmbeddedHeader& header : embedded_templates()) files.emplace(header.name, header.content);
  std::set<SourceLocation> shown;
  std::string excerpts;
  std::string error_file;
  for (std::string_view log_line : split_lines(log)) {
    std::optional<SourceLocation> location = error_location(log_line);
    if (location) error_file = location->file;
    else location = instantiation_location(log_line, error_file);
    if (!location || shown.count(*location) != 0) continue;
    const auto file = files.find(location->file);
    if (file == files.end()) continue;
    if (shown.size() == kMaxExcerpts) {
      excerpts += "(more in the log)\n";
      break;
    }
    shown.insert(*location);
    std::string_view heading = log_line;
    while (!heading.empty() && heading.front() == ' ') heading.remove_prefix(1);
    excerpts += std::string(heading) + "\n" + numbered_excerpt(file->second, location->line);
  }
  return excerpts;
}

// Where the failed source and log were written: the dump directory, else a fresh temp directory.
std::string failure_files_text(const std::optional<DumpedFiles>& dumped, const std::string& name,
                               const CompileRequest& request, const CompiledKernel& kernel) {
  try {
    const DumpedFiles files = dumped ? *dumped : write_compile_files(make_failure_directory(), name, request, kernel);
    return "  source: " + files.source.string() + "\n  log: " + files.log.string() + "\n";
  } catch (const std::exception& error) {
    return "  source and log could not be written: " + std::string(error.what()) + "\n";
  }
}

CompileError compile_error(nvrtcResult result, const std::string& name, const CompileRequest& request,
                           const CompiledKernel& kernel, const std::optional<DumpedFiles>& dumped) {
  std::string message = "NVRTC could not compile " + name + " for " + kernel.arch + ": nvrtcCompileProgram returned " +
                        api().nvrtcGetErrorString(result) + "\n";
  if (!request.context.empty()) message += "  context: " + request.context + "\n";
  message += "  flags: " + join(kernel.flags, " ") + "\n";
  message += failure_files_text(dumped, name, request, kernel);
  message += "NVRTC log:\n" + (kernel.log.empty() ? "(empty)" : kernel.log) + "\n";
  const std::string excerpts = error_excerpts(kernel.log, name, request.source);
  if (!excerpts.empty()) message += "Source around the errors:\n" + excerpts;
  return CompileError(message);
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string nvrtc_version() {
  int major = 0;
  int minor = 0;
  check_nvrtc(api().nvrtcVersion(&major, &minor), "nvrtcVersion", "reading NVRTC's version");
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<std::string> default_compile_flags(const std::string& arch) {
  // A real sm_XX target (the arch table's name, compiler/arch.hpp) makes NVRTC emit SASS (a cubin),
  // so loading needs no driver JIT; an `a` suffix, as in sm_90a, enables the instructions of that
  // arch alone (wgmma, setmaxnreg). No --use_fast_math: it changes results (flushed denormals,
  // approximate division) that the CPU reference must match.
  return {"--gpu-architecture=" + std::string(arch_info(arch).name), "-std=c++17",
          "--device-as-default-execution-space", "-lineinfo"};
}

uint64_t nvrtc_compile_count() { return compile_count.load(); }

CompiledKernel compile_cuda(const CompileRequest& request) {
  CompiledKernel kernel;
  kernel.arch = request.arch.empty() ? current_device_info().arch() : request.arch;
  check_arch(kernel.arch);
  kernel.flags = default_compile_flags(kernel.arch);
  if (request.output == CompileOutput::ptx) kernel.flags[0] = "--gpu-architecture=" + virtual_arch(kernel.arch);
  kernel.flags.insert(kernel.flags.end(), request.extra_flags.begin(), request.extra_flags.end());
  const std::string name = request.name.empty() ? kDefaultProgramName : request.name;
  std::string what = "compiling " + name + " for " + kernel.arch;
  if (!request.context.empty()) what += " (" + request.context + ")";

  const auto start = std::chrono::steady_clock::now();
  Program program(request.source, name, what);
  const nvrtcResult result = run_compiler(program.get(), kernel.flags);
  kernel.log = program_log(program.get(), what);
  const std::optional<DumpedFiles> dumped = dump_if_requested(name, request, kernel);
  if (result != NVRTC_SUCCESS) throw compile_error(result, name, request, kernel, dumped);
  if (request.output == CompileOutput::ptx) {
    kernel.ptx = program_ptx(program.get(), what);
  } else {
    kernel.cubin = program_cubin(program.get(), what);
  }
  kernel.compile_ms = milliseconds_since(start);

  log().debug("NVRTC compiled {} for {} in {:.1f} ms ({} bytes of cubin)", name, kernel.arch, kernel.compile_ms,
              kernel.cubin.size());
  if (!kernel.log.empty()) log().debug("NVRTC log for {}:\n{}", name, kernel.log);
  return kernel;
}

}  // namespace bitjit
