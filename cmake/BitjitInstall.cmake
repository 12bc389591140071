# `cmake --install`: the bitjit/ headers, libbitjit.so (bitjit::bitjit) and libbitjit.a
# (bitjit::bitjit_static), the bitjit CLI, the CMake package (find_package(bitjit)) and bitjit.pc.
include(CMakePackageConfigHelpers)
if(NOT CUDAToolkit_FOUND)
  message(FATAL_ERROR "bitjit: installing the C++ package needs the CUDA toolkit's headers (its programs "
                      "include cuda.h); the headers found are from ${BITJIT_CUDA_HEADERS_FROM}. Set "
                      "BITJIT_INSTALL=OFF, or point CMake at a toolkit (CUDAToolkit_ROOT).")
endif()

set(BITJIT_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/bitjit")
set(libraries bitjit_static)
if(BITJIT_BUILD_SHARED)
  list(APPEND libraries bitjit_shared)
endif()
set_target_properties(bitjit_cuda_headers PROPERTIES EXPORT_NAME cuda_headers)
install(TARGETS ${libraries} bitjit_cuda_headers EXPORT bitjitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
foreach(header ${BITJIT_INSTALLED_HEADERS} bitjit.hpp)
  get_filename_component(folder "${header}" DIRECTORY)
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/include/bitjit/${header}"
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/bitjit/${folder}" COMPONENT development)
endforeach()
if(BITJIT_BUILD_CLI)
  install(TARGETS bitjit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/bitjit" COMPONENT runtime)

install(EXPORT bitjitTargets NAMESPACE bitjit:: DESTINATION "${BITJIT_CMAKE_DIR}" COMPONENT development)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/bitjitConfig.cmake.in"
                              "${CMAKE_CURRENT_BINARY_DIR}/bitjitConfig.cmake" INSTALL_DESTINATION "${BITJIT_CMAKE_DIR}")
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/bitjitConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/bitjitConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/bitjitConfigVersion.cmake"
        DESTINATION "${BITJIT_CMAKE_DIR}" COMPONENT development)

# pkg-config: the CUDA include folders are the toolkit's this build found (the toolkit ships no .pc).
# The prefix is found from the .pc file's own folder, so the installed tree can be moved.
file(RELATIVE_PATH BITJIT_PC_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
set(BITJIT_PC_PRIVATE_LIBS "-lpthread")
foreach(library ${CMAKE_DL_LIBS})
  string(APPEND BITJIT_PC_PRIVATE_LIBS " -l${library}")
endforeach()
set(BITJIT_PC_CUDA_CFLAGS "")
foreach(folder ${BITJIT_CUDA_INCLUDE_DIRS})
  string(APPEND BITJIT_PC_CUDA_CFLAGS " -I${folder}")
endforeach()
configure_file("${PROJECT_SOURCE_DIR}/cmake/bitjit.pc.in" "${CMAKE_CURRENT_BINARY_DIR}/bitjit.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/bitjit.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
        COMPONENT development)
