// SHA-256 against FIPS 180-4's examples, and the environment variables' precedence and errors.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <vector>
#include <optional>
#include <random>
#include <string>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("SHA-256 matches the FIPS 180-4 examples", "[common][sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 gives the same digest however the input is split", "[common][sha256]") {
  BITJIT_RANDOM_ENGINE(rng);
  std::string text(std::uniform_int_distribution<int>(0, 300)(rng), '\0');
  for (char& c : text) c = char(rng());
  Sha256 pieces;
  for (size_t at = 0; at < text.size();) {
    const size_t take = std::min<size_t>(text.size() - at, std::uniform_int_distribution<size_t>(0, 70)(rng));
    pieces.update(std::string_view(text).substr(at, take));
    at += take;
  }
  CHECK(pieces.hex_digest() == sha256_hex(text));
}

TEST_CASE("the cache directory: BITJIT_CACHE_DIR, then XDG_CACHE_HOME, then HOME", "[common][env]") {
  ScopedEnv cache("BITJIT_CACHE_DIR", "/tmp/a"), xdg("XDG_CACHE_HOME", "/tmp/b"), home("HOME", "/tmp/c");
  CHECK(env::cache_dir() == "/tmp/a");
  {
    ScopedEnv unset("BITJIT_CACHE_DIR", "");  // empty counts as unset
    CHECK(env::cache_dir() == "/tmp/b/bitjit");
    ScopedEnv unset_xdg("XDG_CACHE_HOME", std::nullopt);
    CHECK(env::cache_dir() == "/tmp/c/.cache/bitjit");
  }
}

TEST_CASE("BITJIT_DEVICE takes a non-negative ordinal and names itself otherwise", "[common][env]") {
  {
    ScopedEnv device("BITJIT_DEVICE", std::nullopt);
    CHECK(env::device_ordinal() == 0);
  }
  {
    ScopedEnv device("BITJIT_DEVICE", "3");
    CHECK(env::device_ordinal() == 3);
  }
  for (const char* bad : {"-1", "1x", "gpu"}) {
    ScopedEnv device("BITJIT_DEVICE", bad);
    const std::string message = error_of([] { env::device_ordinal(); });
    CHECK(contains(message, "BITJIT_DEVICE='" + std::string(bad) + "'"));
  }
}

TEST_CASE("shapes print as lists", "[common][text]") {
  CHECK(shape_text({}) == "[]");
  CHECK(shape_text({3, 40}) == "[3, 40]");
}

// The shared work queue: every index exactly once, on any thread count (more threads than indexes,
// none at all), and a failure rethrown only after the other indexes are done.
TEST_CASE("for_each_index_in_parallel runs every index once and rethrows after the rest", "[common]") {
  BITJIT_RANDOM_ENGINE(rng);
  const size_t count = std::uniform_int_distribution<size_t>(1, 300)(rng);
  for (unsigned threads : {0u, 1u, 3u, 1000u}) {
    std::vector<std::atomic<int>> visits(count);
    for_each_index_in_parallel(count, threads, [&](size_t i) { ++visits[i]; });
    for (size_t i = 0; i < count; ++i) CHECK(visits[i] == 1);
  }
  for_each_index_in_parallel(0, 4, [](size_t) { FAIL("no index to run"); });

  std::atomic<size_t> done{0};
  const size_t failing = count / 2;
  CHECK_THROWS_WITH(for_each_index_in_parallel(count, 4,
                                               [&](size_t i) {
                                                 if (i == failing) throw std::runtime_error("job failed");
                                                 ++done;
                                               }),
                    "job failed");
  // The failing thread stops; the others finish every index they take, so nothing runs after return.
  const size_t after = done.load();
  CHECK(after <= count - 1);
  CHECK(done.load() == after);
}

// Contiguous ranges of a large host loop: together they cover [0, count) once, in order when joined,
// whether threads are worth it or not, with no more ranges than indexes, and none for an empty loop.
TEST_CASE("for_each_range_in_parallel covers every index once in contiguous ranges", "[common]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (int64_t count : {int64_t(1), int64_t(2), std::uniform_int_distribution<int64_t>(3, 5000)(rng)}) {
    for (bool worth_threads : {false, true}) {
      INFO("count " << count << (worth_threads ? " on threads" : " on this thread"));
      std::vector<std::atomic<int>> visits(static_cast<size_t>(count));
      std::mutex ranges_mutex;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      for_each_range_in_parallel(count, worth_threads, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) ++visits[size_t(i)];
        const std::lock_guard<std::mutex> lock(ranges_mutex);
        ranges.emplace_back(begin, end);
      });
      for (int64_t i = 0; i < count; ++i) CHECK(visits[size_t(i)] == 1);
      std::sort(ranges.begin(), ranges.end());
      CHECK(ranges.front().first == 0);
      CHECK(ranges.back().second == count);
      for (size_t r = 0; r + 1 < ranges.size(); ++r) CHECK(ranges[r].second == ranges[r + 1].first);
      CHECK(int64_t(ranges.size()) <= count);
      if (!worth_threads) CHECK(ranges.size() == 1u);
    }
  }
  for_each_range_in_parallel(0, true, [](int64_t, int64_t) { FAIL("no range to run"); });
}
