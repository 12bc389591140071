#pragma once
#include <string>
// Catch2 v2 (Debian) and v3 (elsewhere) behind one include.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#define BITJIT_CATCH_V3 1
using Catch::Approx;  // v2 puts Approx in the global namespace
// Marks the running test as skipped: v3 reports it, and exits with 4 when every test it ran skipped.
#define BITJIT_SKIP(message) SKIP(message)
#else
#include <catch2/catch.hpp>
#define BITJIT_CATCH_V3 0
namespace bitjit::testing {
// Counts the running test case as skipped (tests/support/main.cpp exits with 4 when all were).
void mark_test_skipped();
}  // namespace bitjit::testing
// Catch2 v2 has no skip: say why, count the test case as skipped, and leave it.
#define BITJIT_SKIP(message)                   \
  do {                                         \
    WARN("SKIPPED: " << (message));            \
    ::bitjit::testing::mark_test_skipped();    \
    SUCCEED("skipped");                        \
    return;                                    \
  } while (0)
#endif

namespace bitjit::testing {
// String matchers under one name: v3 calls them ContainsSubstring / StartsWith in Catch::Matchers,
// v2 Contains / StartsWith in Catch.
inline auto contains_text(const std::string& text) {
#if BITJIT_CATCH_V3
  return Catch::Matchers::ContainsSubstring(text);
#else
  return Catch::Contains(text);
#endif
}
inline auto starts_with_text(const std::string& text) {
#if BITJIT_CATCH_V3
  return Catch::Matchers::StartsWith(text);
#else
  return Catch::StartsWith(text);
#endif
}

// The exit code of a test binary whose test cases all skipped (Catch2 v3's own, for v2 too): ctest
// reports such a run as skipped through SKIP_RETURN_CODE (tests/CMakeLists.txt).
constexpr int kAllSkippedExitCode = 4;
}  // namespace bitjit::testing
