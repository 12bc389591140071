// Test entry point shared by every test binary (Catch2 v2 or v3). Both exit with
// kAllSkippedExitCode when every test case that ran was skipped (no GPU for the [gpu] tests), so that
// ctest reports the run as skipped, never as passed.
#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>

#include "tests/support/catch.hpp"

int main(int argc, char** argv) { return Catch::Session().run(argc, argv); }  // v3 exits with 4 itself

#else
#define CATCH_CONFIG_RUNNER  // before the first include of catch.hpp: this file holds Catch2 itself
#include <cstdio>

#include "tests/support/catch.hpp"

namespace bitjit::testing {
namespace {

int cases_run = 0;
int cases_skipped = 0;
bool current_case_skipped = false;

// Counts the test cases that ran and those that called BITJIT_SKIP.
struct SkipCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    current_case_skipped = false;
    TestEventListenerBase::testCaseStarting(info);
  }
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    ++cases_run;
    if (current_case_skipped) ++cases_skipped;
    TestEventListenerBase::testCaseEnded(stats);
  }
};

CATCH_REGISTER_LISTENER(SkipCounter)

}  // namespace

void mark_test_skipped() { current_case_skipped = true; }

}  // namespace bitjit::testing

int main(int argc, char** argv) {
  using namespace bitjit::testing;
  const int failed = Catch::Session().run(argc, argv);
  if (cases_skipped > 0) std::printf("%d of %d test cases skipped (see SKIPPED above)\n", cases_skipped, cases_run);
  if (failed == 0 && cases_run > 0 && cases_skipped == cases_run) return kAllSkippedExitCode;
  return failed;
}
#endif
