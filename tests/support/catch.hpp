#pragma once
// Catch2 v2 (Debian) and v3 (elsewhere) behind one include.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#define BITJIT_CATCH_V3 1
using Catch::Approx;  // v2 puts Approx in the global namespace
// Marks the running test as skipped (v3 reports it as skipped).
#define BITJIT_SKIP(message) SKIP(message)
#else
#include <catch2/catch.hpp>
#define BITJIT_CATCH_V3 0
// Catch2 v2 has no skip: say why, and leave the test.
#define BITJIT_SKIP(message) \
  do {                       \
    WARN(message);           \
    SUCCEED("skipped");      \
    return;                  \
  } while (0)
#endif
