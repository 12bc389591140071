// BITJIT_DUMP_DIR: every compile, successful or not, leaves its source, flags and log there.
#include <filesystem>

#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using namespace bitjit::testing;
namespace fs = std::filesystem;

TEST_CASE("BITJIT_DUMP_DIR makes a compile write its source, flags and log", "[runtime]") {
  TempDir root;
  REQUIRE(!root.path().empty());
  // A directory that does not exist yet: the dump creates it.
  const fs::path dump = root.path() / "nested" / "dump";
  ScopedEnv dump_dir("BITJIT_DUMP_DIR", dump.string());

  const CompiledKernel kernel = compile_cuda({kScaleAndAddSource, "bitjit_dumped.cu", "sm_89", {"-DUNUSED=1"}, ""});

  CHECK(read_text_file(dump / "bitjit_dumped.cu") == kScaleAndAddSource);
  REQUIRE(fs::exists(dump / "bitjit_dumped.cu.flags"));
  const std::string flags = read_text_file(dump / "bitjit_dumped.cu.flags");
  INFO(flags);
  CHECK(flags.find("sm_89") != std::string::npos);
  for (const std::string& flag : kernel.flags) CHECK(flags.find("\n" + flag + "\n") != std::string::npos);
  CHECK(fs::exists(dump / "bitjit_dumped.cu.log"));
  // Only the three files: temporaries are renamed into place.
  CHECK(std::distance(fs::directory_iterator(dump), fs::directory_iterator()) == 3);
}

TEST_CASE("a dump directory that cannot be written does not fail the compile", "[runtime]") {
  TempDir root;
  REQUIRE(!root.path().empty());
  const fs::path blocker = root.path() / "a_file";
  { std::ofstream(blocker) << "not a directory"; }
  ScopedEnv dump_dir("BITJIT_DUMP_DIR", (blocker / "dump").string());
  CompiledKernel kernel;
  CHECK_NOTHROW(kernel = compile_cuda({kScaleAndAddSource, "bitjit_undumped.cu", "sm_80", {}, ""}));
  CHECK(!kernel.cubin.empty());
}
