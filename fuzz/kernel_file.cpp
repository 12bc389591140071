// Fuzz target: one kernel file of the database (tuning_db/kernel_file). The input is the name the
// file is filed under (its key), a newline, then the file's bytes: names come from outside too
// (directory listings, tar members). A decoded kernel must re-encode to a file that decodes to the
// same metadata and binary.
#include <string>

#include "fuzz/support.hpp"
#include "tuning_db/database.hpp"
#include "tuning_db/kernel_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  std::string_view input = fuzz::as_text(data, size);
  const size_t name_end = input.find('\n');
  if (name_end == std::string_view::npos) return 0;
  const std::string key(input.substr(0, name_end));
  const std::string_view bytes = input.substr(name_end + 1);
  auto decoded = db::decode_kernel_file(bytes, key);
  if (const auto* problem = std::get_if<std::string>(&decoded)) {
    fuzz::check_error_message(*problem);
    return 0;
  }
  const db::StoredKernel& kernel = std::get<db::StoredKernel>(decoded);
  const std::string encoded = db::encode_kernel_file(kernel);
  auto again = db::decode_kernel_file(encoded, key);
  const auto* kernel_again = std::get_if<db::StoredKernel>(&again);
  FUZZ_CHECK(kernel_again != nullptr, "a re-encoded kernel does not decode: " + std::get<std::string>(again));
  FUZZ_CHECK(kernel_again->meta == kernel.meta, "the metadata changes through encode and decode");
  FUZZ_CHECK(kernel_again->cubin == kernel.cubin, "the binary changes through encode and decode");
  const nlohmann::json entry = db::index_entry(kernel);
  FUZZ_CHECK(!entry.contains("binary_sha256"), "the index entry keeps the checksum");
  return 0;
}
