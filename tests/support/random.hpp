#pragma once
// Fresh random inputs for every test run; the seed is printed with each failure, and
// BITJIT_TEST_SEED=<n> replays a run.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "tests/support/catch.hpp"

namespace bitjit::testing {

inline uint64_t test_seed() {
  if (const char* fixed = std::getenv("BITJIT_TEST_SEED")) return std::strtoull(fixed, nullptr, 10);
  return (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
}

// A generator seeded per test; INFO() puts the seed in any failure message.
#define BITJIT_RANDOM_ENGINE(name)                         \
  const uint64_t name##_seed = ::bitjit::testing::test_seed(); \
  INFO("BITJIT_TEST_SEED=" << name##_seed);                  \
  std::mt19937_64 name(name##_seed)

}  // namespace bitjit::testing
