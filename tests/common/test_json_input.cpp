// The bounded JSON reader every outside input goes through (common/json_input.hpp), and the config
// reader's integers on top of it.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/config.hpp"
#include "compiler/schedule.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;
namespace fs = std::filesystem;

TEST_CASE("JSON nested 60 000 deep is an error naming the source, never a stack overflow", "[common][json]") {
  BITJIT_RANDOM_ENGINE(rng);
  const size_t depth = std::uniform_int_distribution<size_t>(60000, 200000)(rng);
  std::string objects;
  for (size_t i = 0; i < depth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(depth, '}');
  for (const std::string& text : {std::string(depth, '[') + std::string(depth, ']'), objects}) {
    const std::string message = error_of([&] { parse_json_input(text, "deep.json"); });
    CHECK(contains(message, "deep.json: nested deeper than 64 levels"));
  }
  // 64 levels are fine, 65 are not.
  CHECK(parse_json_input(std::string(64, '[') + std::string(64, ']'), "x").is_array());
  CHECK_THROWS_AS(parse_json_input(std::string(65, '[') + std::string(65, ']'), "x"), ConfigError);
}

TEST_CASE("a key given twice in one object is an error naming the key and the source", "[common][json]") {
  CHECK(contains(error_of([] { parse_json_input(R"({"N": 8, "K": 64, "N": 16})", "c.json"); }),
                 "c.json: the key 'N' is given twice in one object"));
  CHECK(contains(error_of([] { parse_json_input(R"([{"M": 1}, {"W": {"x": 1, "x": 2}}])", "c.json"); }), "'x' is given twice"));
  // The same key in different objects is fine.
  CHECK(parse_json_input(R"([{"N": 1}, {"N": 2}, {"a": {"N": 3}, "N": 4}])", "c.json").size() == 3);
}

TEST_CASE("a number past double's range is a ConfigError naming the source (fuzz finding F1)", "[common][json]") {
  // nlohmann throws out_of_range (not parse_error) for these; it used to escape the reader.
  for (const std::string text : {"1e404", "[1, -1e999]", R"({"N": 1e400})"}) {
    const std::string message = error_of([&] { parse_json_input(text, "big.json"); });
    CHECK(contains(message, "big.json: a number is out of range"));
  }
  CHECK(parse_json_input("1e300", "x").get<double>() == 1e300);
}

TEST_CASE("error messages quote at most ~80 characters of the input", "[common][json]") {
  const std::string huge(5 << 20, 'a');
  const std::string unterminated = "{\"N\": \"" + huge;
  const std::string message = error_of([&] { parse_json_input(unterminated, "big.json"); });
  CHECK(contains(message, "big.json: not valid JSON"));
  CHECK(message.size() < 400);
  const nlohmann::json value = parse_json_input("{\"N\": \"" + huge + "\", \"K\": 64}", "big.json");
  const std::string config_message = error_of([&] { config_from_json(value); });
  CHECK(contains(config_message, "N must be an integer"));
  CHECK(config_message.size() < 300);
  CHECK(quote_input("short") == "'short'");
  CHECK(quote_input(std::string("a\nb")) == "'a\\x0ab'");
  CHECK(contains(quote_input(huge), "(5242880 bytes)"));
  // A size beyond the bound is refused before parsing.
  CHECK(contains(error_of([] { parse_json_input(std::string(kMaxJsonBytes + 1, ' '), "x"); }), "at most"));
}

TEST_CASE("integers beyond int64 or the field's range are errors naming the field, never negative", "[common][json]") {
  const auto config_error = [](const std::string& field, const std::string& value) {
    nlohmann::json config = parse_json_input(R"({"M": 1, "N": 8, "K": 64})", "c");
    config[field] = parse_json_input(value, "c");
    return error_of([&] { config_from_json(config); });
  };
  CHECK(contains(config_error("N", "9223372036854775808"), "N=9223372036854775808 must be between 1 and 2147483647"));
  CHECK(contains(config_error("N", "18446744073709551615"), "N=18446744073709551615 must be between"));
  CHECK(contains(config_error("K", "-9223372036854775808"), "K=-9223372036854775808 must be between 1"));
  CHECK(contains(config_error("M", "[1, 9223372036854775808]"), "M=9223372036854775808 must be between"));
  CHECK(contains(config_error("group_size", "-2"), "group_size=-2 must be between -1"));
  CHECK(contains(config_error("N", "8.5"), "N must be an integer, got 8.5"));
  CHECK_FALSE(contains(config_error("N", "9223372036854775808"), "-9223372036854775808"));
  // A schedule's int fields: 2^32 + 16 once became 16.
  CHECK(contains(error_of([] { schedule_from_json(parse_json_input(R"({"family":"simt","tile":{"n":4294967312}})", "s")); }),
                 "schedule.tile.n=4294967312 must be between"));
  CHECK(json_integer(parse_json_input("9223372036854775807", "x"), "n", 0, std::numeric_limits<int64_t>::max()) ==
        std::numeric_limits<int64_t>::max());
}

TEST_CASE("read_regular_file refuses special files and symbolic links without blocking", "[common][json]") {
  TemporaryDirectory dir;
  const fs::path fifo = fs::path(dir.path()) / "fifo", file = fs::path(dir.path()) / "f.json",
                 link = fs::path(dir.path()) / "link.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(contains(error_of([&] { read_regular_file(fifo, 100); }), fifo.string() + ": is not a regular file"));
  CHECK(contains(error_of([] { read_regular_file("/dev/zero", 100); }), "is not a regular file"));
  std::ofstream(file) << "{\"N\": 1}";
  fs::create_symlink(file, link);
  CHECK(read_regular_file(link, 100) == "{\"N\": 1}");
  CHECK(contains(error_of([&] { read_regular_file(link, 100, false); }), "is a symbolic link"));
  CHECK(contains(error_of([&] { read_regular_file(file, 4); }), "at most 4 are read"));
  CHECK(contains(error_of([&] { read_json_file(fs::path(dir.path()) / "none.json"); }), "none.json: cannot open"));
}
