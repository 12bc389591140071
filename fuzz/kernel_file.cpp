// Fuzz target: one kernel file of the database (tuning_db/kernel_file). The input is the name the
// file is filed under (its key), a newline, then the file's bytes: names come from outside too
// (directory listings, tar members). A decoded kernel must hold the key it is filed under and an ELF
// cubin for its arch, and re-encode to a file that decodes to the same metadata and binary.
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
  // Callers decode only under names that are kernel keys (tuning_db/kernel_file.hpp); the db_import
  // target fuzzes the names themselves.
  if (!db::is_kernel_key(key)) return 0;
  const std::string_view bytes = input.substr(name_end + 1);
  auto decoded = db::decode_kernel_file(bytes, key);
  if (const auto* problem = std::get_if<std::string>(&decoded)) {
    fuzz::check_error_message(*problem);
    return 0;
  }
  const db::StoredKernel& kernel = std::get<db::StoredKernel>(decoded);
  // A decoded kernel holds the key it is filed under and a cubin for its arch.
  FUZZ_CHECK(kernel.meta.contains("key") && kernel.meta["key"] == key, "a kernel decoded under another key");
  FUZZ_CHECK(kernel.meta.is_object() && kernel.meta.contains("arch") && kernel.meta["arch"].is_string(),
             "a decoded kernel without an arch: " + kernel.meta.dump().substr(0, 200));
  const std::optional<std::string> arch_problem =
      db::cubin_arch_problem({kernel.cubin.data(), kernel.cubin.size()}, kernel.meta["arch"].get<std::string>());
  FUZZ_CHECK(!arch_problem, "a decoded kernel whose cubin does not fit its arch: " + arch_problem.value_or(""));
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
