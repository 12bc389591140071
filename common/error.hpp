#pragma once
// Exceptions thrown by the host API. Each message carries its context (the field, the failing call,
// the config, the file); callers never need to add it back.
#include <stdexcept>
#include <string>

namespace bitjit {

// Base of every error bitjit throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A MatmulConfig (or other user input) that bitjit does not accept.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A CUDA driver or NVRTC call failed, or no GPU is there to run on.
class CudaError : public Error {
 public:
  using Error::Error;
};

// A run on a stream that is being captured into a CUDA graph would have to load a module or allocate
// memory, which capture forbids; the message names what and how to prepare it before capture.
class CaptureError : public Error {
 public:
  using Error::Error;
};

// NVRTC rejected generated source; the message says where the source and log were written.
class CompileError : public Error {
 public:
  using Error::Error;
};

}  // namespace bitjit
