// Linear's config checks run before any GPU work, so they are tested on every machine.
#include "common/error.hpp"
#include "runtime/linear.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("Linear's layer config follows its arguments and names bad ones", "[linear]") {
  LinearOptions options;
  options.W_dtype = DType::int4;
  options.group_size = 128;
  options.with_scaling = true;
  const MatmulConfig config = Linear::layer_config(4096, 11008, true, options);
  CHECK(config.K == 4096);
  CHECK(config.N == 11008);
  CHECK(config.with_bias);
  CHECK(config.M.is_dynamic());
  options.group_size = 100;
  try {
    Linear::layer_config(4096, 11008, false, options);
    FAIL("accepted group_size=100");
  } catch (const ConfigError& error) {
    CHECK(contains(error.what(), "group_size=100"));
  }
  options.group_size = 128;
  options.with_zeros = true;  // zero points are for unsigned formats
  CHECK_THROWS_AS(Linear::layer_config(4096, 11008, false, options), ConfigError);
}
