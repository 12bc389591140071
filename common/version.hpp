#pragma once
// bitjit's version (the CMake project version), part of every kernel database key.
namespace bitjit {

const char* version();

}  // namespace bitjit
