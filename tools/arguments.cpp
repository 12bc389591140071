#include <algorithm>

#include "tools/cli.hpp"

namespace bitjit::cli {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Arguments::Arguments(const std::vector<std::string>& args, const std::vector<std::string>& flags,
                     const std::vector<std::string>& options, const std::vector<std::string>& repeatable) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("-", 0) != 0 || arg == "-") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto equals = arg.find('='); equals != std::string::npos) {
      name = arg.substr(0, equals);
      inline_value = arg.substr(equals + 1);
    }
    if (contains(flags, name)) {
      if (inline_value) throw UsageError{name + " takes no value"};
      values_[name].push_back("");
    } else if (contains(options, name) || contains(repeatable, name)) {
      if (!inline_value && i + 1 >= args.size()) throw UsageError{name + " needs a value"};
      if (!contains(repeatable, name) && values_.count(name)) throw UsageError{name + " given twice"};
      values_[name].push_back(inline_value ? *inline_value : args[++i]);
    } else {
      throw UsageError{"unknown option " + name};
    }
  }
}

bool Arguments::flag(const std::string& name) const { return values_.count(name) > 0; }

std::optional<std::string> Arguments::option(const std::string& name) const {
  auto found = values_.find(name);
  if (found == values_.end()) return std::nullopt;
  return found->second.back();
}

std::string Arguments::required(const std::string& name) const {
  auto value = option(name);
  if (!value) throw UsageError{name + " is required"};
  return *value;
}

std::vector<std::string> Arguments::all(const std::string& name) const {
  auto found = values_.find(name);
  return found == values_.end() ? std::vector<std::string>{} : found->second;
}

}  // namespace bitjit::cli
