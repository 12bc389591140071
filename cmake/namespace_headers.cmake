# Writes OUTPUT/<header> for each HEADERS entry (paths relative to SOURCE, '|'-separated), with its
# includes of the library's folders (FOLDERS, '|'-separated) prefixed by bitjit/, and OUTPUT/bitjit.hpp
# including every one. A file whose content is unchanged is not rewritten (no needless rebuilds).
# Run as: cmake -DSOURCE=... -DOUTPUT=... -DHEADERS=a|b -DFOLDERS=x|y -P this-file
string(REPLACE "|" ";" HEADERS "${HEADERS}")
string(REPLACE "|" ";" FOLDERS "${FOLDERS}")
list(JOIN FOLDERS "|" folder_alternatives)

function(write_if_changed path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL content)
      file(TOUCH_NOCREATE "${path}")  # newer than its inputs, so the build step is not rerun
      return()
    endif()
  endif()
  file(WRITE "${path}" "${content}")
endfunction()

set(umbrella "#pragma once\n// Every header of the bitjit library (generated at build time from the source tree).\n")
foreach(header IN LISTS HEADERS)
  file(READ "${SOURCE}/${header}" content)
  string(REGEX REPLACE "(#include \")(${folder_alternatives})/" "\\1bitjit/\\2/" content "${content}")
  write_if_changed("${OUTPUT}/${header}" "${content}")
  string(APPEND umbrella "#include \"bitjit/${header}\"\n")
endforeach()
write_if_changed("${OUTPUT}/bitjit.hpp" "${umbrella}")
