# The installed headers. The source tree includes its headers by folder ("runtime/matmul.hpp"); a
# program that uses the package includes them under bitjit/ (<bitjit/runtime/matmul.hpp>), so that
# they never clash with another project's common/ or runtime/. The copies under <build>/include/bitjit
# are the source headers with the includes of each other prefixed by bitjit/, plus bitjit/bitjit.hpp,
# which includes them all; they are what add_subdirectory users compile against and what is installed.

# Headers that stay inside the library: the logger (spdlog is a private dependency), the NVRTC
# loader, and the TMA descriptors and the loaded kernels (they include the device-side parameter block
# of templates/).
set(BITJIT_PRIVATE_HEADERS common/log.hpp runtime/nvrtc_library.hpp runtime/tensor_maps.hpp runtime/loaded_kernel.hpp)

# Defines the custom target `target` that writes <output>/bitjit/<folder>/*.hpp for each folder.
function(bitjit_namespaced_headers target output)
  set(headers "")
  foreach(folder ${ARGN})
    file(GLOB found RELATIVE "${PROJECT_SOURCE_DIR}" CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/${folder}/*.hpp")
    list(APPEND headers ${found})
  endforeach()
  list(REMOVE_ITEM headers ${BITJIT_PRIVATE_HEADERS})
  list(SORT headers)
  set(sources ${headers})
  list(TRANSFORM sources PREPEND "${PROJECT_SOURCE_DIR}/")
  set(copies ${headers})
  list(TRANSFORM copies PREPEND "${output}/bitjit/")
  string(REPLACE ";" "|" header_list "${headers}")
  string(REPLACE ";" "|" folder_list "${ARGN}")
  add_custom_command(
    OUTPUT ${copies} "${output}/bitjit/bitjit.hpp"
    COMMAND ${CMAKE_COMMAND} "-DSOURCE=${PROJECT_SOURCE_DIR}" "-DOUTPUT=${output}/bitjit" "-DHEADERS=${header_list}"
            "-DFOLDERS=${folder_list}" -P "${PROJECT_SOURCE_DIR}/cmake/namespace_headers.cmake"
    DEPENDS ${sources} "${PROJECT_SOURCE_DIR}/cmake/namespace_headers.cmake"
    COMMENT "Writing the bitjit/ headers"
    VERBATIM)
  add_custom_target(${target} DEPENDS ${copies} "${output}/bitjit/bitjit.hpp")
  set(BITJIT_INSTALLED_HEADERS ${headers} PARENT_SCOPE)
endfunction()
