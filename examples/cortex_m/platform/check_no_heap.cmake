# Fails if a firmware ELF contains heap code. Run as:
#   cmake -DNM=arm-none-eabi-nm -DELF=fw.elf -P check_no_heap.cmake
# The firmware must run without a heap: any of these symbols means something (newlib's
# printf, std::vector, operator new, ...) pulled the allocator in.
execute_process(COMMAND "${NM}" -C "${ELF}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${ELF}")
endif()
set(forbidden malloc _malloc_r calloc _calloc_r realloc _realloc_r free _free_r
              _sbrk _sbrk_r "operator new")
set(found "")
string(REPLACE "\n" ";" lines "${symbols}")
foreach(line IN LISTS lines)
  foreach(name IN LISTS forbidden)
    # nm line: "<address> <type> <name>"; "operator new" matches all its overloads.
    if(line MATCHES " [A-Za-z] ${name}(\\(.*)?$")
      list(APPEND found "${line}")
    endif()
  endforeach()
endforeach()
if(found)
  list(JOIN found "\n  " found)
  message(FATAL_ERROR "heap symbols in ${ELF}:\n  ${found}")
endif()
message(STATUS "no heap symbols in ${ELF}")
