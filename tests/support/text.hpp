#pragma once
// Helpers for asserting on error messages.
#include <string>

#include "common/error.hpp"

namespace bitjit::testing {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The message of the ErrorType that call throws, or "no error".
template <class ErrorType = ConfigError>
std::string error_of(auto&& call) {
  try {
    call();
  } catch (const ErrorType& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace bitjit::testing
