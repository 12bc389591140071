#include "common/version.hpp"

namespace bitjit {

const char* version() { return BITJIT_VERSION; }

}  // namespace bitjit
