// `bitjit formats`: the dtype table as users see it.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compiler/dtype.hpp"
#include "tools/cli.hpp"

namespace bitjit::cli {
namespace {

std::string roles_text(const DTypeInfo& row) {
  std::string text;
  if (row.has_role(kRoleActivation)) text += "A ";
  if (row.has_role(kRoleWeight)) text += "W ";
  if (row.has_role(kRoleAccum)) text += "accum ";
  if (row.has_role(kRoleOutput)) text += "out ";
  if (!text.empty()) text.pop_back();
  return text;
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A one-line summary of the values a format represents.
std::string value_set(const DTypeInfo& row) {
  if (row.kind == ValueKind::lookup) return "16 NF4 levels in [-1, 1]";
  if (row.is_integer()) {
    if (row.kind == ValueKind::binary) return "{-1, +1}";
    const double low = row.bits == 32 ? -2147483648.0 : row.decode(row.kind == ValueKind::twos_complement ? 1u << (row.bits - 1) : 0u);
    const double high = row.bits == 32 ? 2147483647.0
                                       : row.decode(row.kind == ValueKind::twos_complement ? (1u << (row.bits - 1)) - 1
                                                                                             : (1u << row.bits) - 1);
    return "integers " + number(low) + " .. " + number(high);
  }
  std::string specials;
  switch (row.codec->specials) {
    case FloatSpecials::ieee: specials = ", inf, NaN"; break;
    case FloatSpecials::nan_only: specials = ", NaN, no inf"; break;
    case FloatSpecials::none: specials = ", no inf or NaN"; break;
  }
  return "finite up to ±" + number(row.codec->max_finite()) + specials;
}

}  // namespace

const char* const kFormatsHelp =
    "usage: bitjit formats [--json]\n"
    "\n"
    "Lists every numeric format bitjit knows: bits, signedness, where it may appear in a MatmulConfig\n"
    "(A = A_dtype, W = W_dtype, accum = accum_dtype, out = out_dtype), storage and value set.\n"
    "  --json   print the table as JSON\n";

int formats_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {"--json"}, {});
  if (!arguments.positional().empty()) throw UsageError{"unexpected argument " + arguments.positional()[0]};
  if (arguments.flag("--json")) {
    nlohmann::json table = nlohmann::json::array();
    for (const DTypeInfo& row : dtype_table()) {
      table.push_back({{"name", row.name}, {"bits", row.bits}, {"signed", row.is_signed}, {"roles", roles_text(row)},
                       {"storage", row.storage}, {"cuda_type", row.cuda_type}, {"values", value_set(row)}});
    }
    std::printf("%s\n", table.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%-12s %4s %-6s %-15s %-36s %s\n", "dtype", "bits", "signed", "roles", "storage", "values");
  for (const DTypeInfo& row : dtype_table()) {
    std::printf("%-12s %4d %-6s %-15s %-36s %s\n", std::string(row.name).c_str(), row.bits, row.is_signed ? "yes" : "no",
                roles_text(row).c_str(), std::string(row.storage).c_str(), value_set(row).c_str());
  }
  return kExitOk;
}

}  // namespace bitjit::cli
