#pragma once
// The device headers of templates/, embedded at build time (cmake/embed_templates.cmake).
#include <string>
#include <vector>

namespace bitjit {

struct EmbeddedHeader {
  std::string name;     // include name, e.g. "bitjit/decode/formats.cuh"
  std::string content;
};

const std::vector<EmbeddedHeader>& embedded_templates();

}  // namespace bitjit
