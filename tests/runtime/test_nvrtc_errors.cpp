// A source NVRTC rejects gives a CompileError a user can act on without the generator: the log, the
// numbered source lines around each error, the context, and files on disk holding source and log.
#include <filesystem>

#include "common/error.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using namespace bitjit::testing;
namespace fs = std::filesystem;

namespace {

const std::string kBrokenSource = R"(extern "C" __global__ void broken(float* out) {
  const int index = threadIdx.x;
  int missing_value = ;
  out[index] = 1.0f;
}
)";

CompileRequest broken_request() {
  return {kBrokenSource, "bitjit_broken.cu", "sm_86", {}, "config={\"N\":1024} schedule=simt/test"};
}

std::string compile_error_message(const CompileRequest& request) {
  const auto message = thrown_message<CompileError>([&] { compile_cuda(request); });
  REQUIRE(message.has_value());
  return *message;
}

void check_report(const std::string& message) {
  CHECK(message.find("bitjit_broken.cu") != std::string::npos);
  CHECK(message.find("sm_86") != std::string::npos);
  CHECK(message.find("--gpu-architecture=sm_86 -std=c++17") != std::string::npos);
  CHECK(message.find("config={\"N\":1024} schedule=simt/test") != std::string::npos);
  // NVRTC's log, then the offending line with its number and its neighbours.
  CHECK(message.find("bitjit_broken.cu(3): error") != std::string::npos);
  CHECK(message.find(">     3 |   int missing_value = ;") != std::string::npos);
  CHECK(message.find("      2 |   const int index = threadIdx.x;") != std::string::npos);
  CHECK(message.find("      4 |   out[index] = 1.0f;") != std::string::npos);
}

}  // namespace

TEST_CASE("a syntax error gives the log, numbered source and a temp copy of the source", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const uint64_t before = nvrtc_compile_count();
  const std::string message = compile_error_message(broken_request());
  INFO(message);
  CHECK(nvrtc_compile_count() == before + 1);
  check_report(message);

  const fs::path source = line_after(message, "  source: ");
  const fs::path log = line_after(message, "  log: ");
  REQUIRE(fs::exists(source));
  CHECK(source.parent_path().filename().string().rfind("bitjit-failed-", 0) == 0);
  CHECK(read_text_file(source) == kBrokenSource);
  REQUIRE(fs::exists(log));
  CHECK(read_text_file(log).find("bitjit_broken.cu(3): error") != std::string::npos);
  remove_failure_directory(message);
}

TEST_CASE("a failed compile with BITJIT_DUMP_DIR points at the dump", "[runtime]") {
  TempDir dump;
  REQUIRE(!dump.path().empty());
  ScopedEnv dump_dir("BITJIT_DUMP_DIR", dump.path().string());
  const std::string message = compile_error_message(broken_request());
  INFO(message);
  check_report(message);
  CHECK(fs::path(line_after(message, "  source: ")) == dump.path() / "bitjit_broken.cu");
  CHECK(read_text_file(dump.path() / "bitjit_broken.cu") == kBrokenSource);
}

TEST_CASE("a missing include is reported at the #include line", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const CompileRequest request{"#include \"bitjit/no_such_header.cuh\"\nextern \"C\" __global__ void k() {}\n",
                               "bitjit_missing_include.cu", "sm_80", {}, ""};
  const std::string message = compile_error_message(request);
  INFO(message);
  CHECK(message.find("no_such_header.cuh") != std::string::npos);
  CHECK(message.find(">     1 | #include \"bitjit/no_such_header.cuh\"") != std::string::npos);
  remove_failure_directory(message);
}

TEST_CASE("an option NVRTC does not know is a CompileError naming it", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const CompileRequest request{kScaleAndAddSource, "bitjit_bad_flag.cu", "sm_80", {"--no-such-flag"}, ""};
  const std::string message = compile_error_message(request);
  INFO(message);
  CHECK(message.find("NVRTC_ERROR_INVALID_OPTION") != std::string::npos);
  CHECK(message.find("--no-such-flag") != std::string::npos);
  remove_failure_directory(message);
}

TEST_CASE("an error inside a template also shows the line that instantiated it", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const std::string source = R"(template <class T>
__device__ T twice(T value) {
  return value.no_such_member * 2;
}

extern "C" __global__ void instantiates(int* out) {
  out[0] = twice(out[1]);
}
)";
  const std::string message = compile_error_message({source, "bitjit_template.cu", "sm_80", {}, ""});
  INFO(message);
  CHECK(message.find(">     3 |   return value.no_such_member * 2;") != std::string::npos);
  CHECK(message.find(">     7 |   out[0] = twice(out[1]);") != std::string::npos);
  remove_failure_directory(message);
}
