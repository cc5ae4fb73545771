# kiln_cortex_m_firmware(<target> SOURCES src... [STACK_SIZE bytes] [EXPECT_EXIT status]
#                        [QEMU_ARGS args...])
#
# Builds <target>.elf for the board chosen by KILN_CORTEX_M_BOARD (see
# cmake/toolchains/arm-none-eabi.cmake) with the platform's startup, linker script and
# semihosting output (#include "semihost.hpp"), prints its size after each build, and
# registers two CTest tests:
#   <target>_qemu     runs it under qemu; passes when the exit status (main's return value)
#                     is EXPECT_EXIT (default 0); QEMU_ARGS are added to qemu's command line
#   <target>_no_heap  fails if malloc/_sbrk/operator new... are linked in
# Each object gets a .su stack-usage file (-fstack-usage) next to it in CMakeFiles/, and
# <target>.map is the linker map.

if(NOT KILN_CORTEX_M_CPU_FLAGS)
  message(FATAL_ERROR "configure with -DCMAKE_TOOLCHAIN_FILE=<kiln>/cmake/toolchains/arm-none-eabi.cmake")
endif()

set(KILN_FW_PLATFORM_DIR "${CMAKE_CURRENT_LIST_DIR}")
find_program(KILN_QEMU_SYSTEM_ARM qemu-system-arm)

# Startup + semihosting as an OBJECT library: its objects are always linked (a static
# library member holding only the vector table would be dropped by the linker).
if(NOT TARGET kiln_fw_platform)
  add_library(kiln_fw_platform OBJECT
    "${KILN_FW_PLATFORM_DIR}/startup.cpp"
    "${KILN_FW_PLATFORM_DIR}/semihost.cpp")
  target_include_directories(kiln_fw_platform PUBLIC "${KILN_FW_PLATFORM_DIR}")
  target_compile_features(kiln_fw_platform PUBLIC cxx_std_17)
  target_compile_options(kiln_fw_platform PUBLIC -fstack-usage PRIVATE -Wall -Wextra)
  target_link_options(kiln_fw_platform PUBLIC
    "-L${KILN_FW_PLATFORM_DIR}/ld"  # for INCLUDE kiln_cortex_m_common.ld
    "-T${KILN_FW_PLATFORM_DIR}/ld/${KILN_CORTEX_M_BOARD}.ld"
    "-Wl,--print-memory-usage")
endif()

function(kiln_cortex_m_firmware target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "STACK_SIZE;EXPECT_EXIT" "SOURCES;QEMU_ARGS")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "kiln_cortex_m_firmware(${target}): SOURCES is required")
  endif()
  if(NOT DEFINED arg_EXPECT_EXIT)
    set(arg_EXPECT_EXIT 0)
  endif()

  add_executable(${target} ${arg_SOURCES})
  set_target_properties(${target} PROPERTIES SUFFIX ".elf")
  target_link_libraries(${target} PRIVATE kiln_fw_platform)
  target_link_options(${target} PRIVATE "-Wl,-Map=$<TARGET_FILE_DIR:${target}>/${target}.map")
  if(arg_STACK_SIZE)
    target_link_options(${target} PRIVATE "-Wl,--defsym=__stack_size=${arg_STACK_SIZE}")
  endif()
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS
    "${KILN_FW_PLATFORM_DIR}/ld/${KILN_CORTEX_M_BOARD}.ld"
    "${KILN_FW_PLATFORM_DIR}/ld/kiln_cortex_m_common.ld")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${KILN_ARM_SIZE}" "$<TARGET_FILE:${target}>"
    VERBATIM)

  if(KILN_QEMU_SYSTEM_ARM)
    add_test(NAME ${target}_qemu
      COMMAND sh "${KILN_FW_PLATFORM_DIR}/run_qemu.sh" "${KILN_QEMU_SYSTEM_ARM}"
              "${KILN_CORTEX_M_BOARD}" "$<TARGET_FILE:${target}>" ${arg_EXPECT_EXIT} ${arg_QEMU_ARGS})
  else()
    message(WARNING "qemu-system-arm not found: no ${target}_qemu test")
  endif()
  add_test(NAME ${target}_no_heap
    COMMAND "${CMAKE_COMMAND}" "-DNM=${KILN_ARM_NM}" "-DELF=$<TARGET_FILE:${target}>"
            -P "${KILN_FW_PLATFORM_DIR}/check_no_heap.cmake")
endfunction()
