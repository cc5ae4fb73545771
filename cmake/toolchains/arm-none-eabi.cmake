# CMake toolchain file: bare-metal Cortex-M with the GNU Arm toolchain (arm-none-eabi-gcc).
#
#   cmake -S examples/cortex_m -B build-cm \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/arm-none-eabi.cmake \
#         [-DKILN_CORTEX_M_BOARD=mps2-an386|mps2-an500|mps2-an505]
#
# Sets the CPU/FPU flags of the chosen board, the no-exceptions/no-RTTI C++ flags and the
# semihosting (rdimon) + newlib-nano link. It provides no startup code or linker script:
# examples/cortex_m/platform/ does (qemu needs a vector table at the flash base).
#
# Exposed variables: KILN_CORTEX_M_BOARD, KILN_CORTEX_M_CPU_FLAGS, KILN_ARM_SIZE,
# KILN_ARM_OBJCOPY, KILN_ARM_NM.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
# No startup code or linker script exists when CMake probes the compiler: don't link.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(KILN_CORTEX_M_BOARD "mps2-an386" CACHE STRING
    "qemu board the firmware targets: mps2-an386 (M4F), mps2-an500 (M7), mps2-an505 (M33)")
set_property(CACHE KILN_CORTEX_M_BOARD PROPERTY STRINGS mps2-an386 mps2-an500 mps2-an505)
# try_compile projects re-read this file without our cache: forward the board to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KILN_CORTEX_M_BOARD)

if(KILN_CORTEX_M_BOARD STREQUAL "mps2-an386")
  set(KILN_CORTEX_M_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
elseif(KILN_CORTEX_M_BOARD STREQUAL "mps2-an500")
  set(KILN_CORTEX_M_CPU_FLAGS "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16")
elseif(KILN_CORTEX_M_BOARD STREQUAL "mps2-an505")
  set(KILN_CORTEX_M_CPU_FLAGS "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16")
else()
  message(FATAL_ERROR "KILN_CORTEX_M_BOARD='${KILN_CORTEX_M_BOARD}' is not one of "
                      "mps2-an386, mps2-an500, mps2-an505")
endif()

find_program(KILN_ARM_GCC arm-none-eabi-gcc REQUIRED)
find_program(KILN_ARM_GXX arm-none-eabi-g++ REQUIRED)
find_program(KILN_ARM_SIZE arm-none-eabi-size REQUIRED)
find_program(KILN_ARM_OBJCOPY arm-none-eabi-objcopy REQUIRED)
find_program(KILN_ARM_NM arm-none-eabi-nm REQUIRED)
set(CMAKE_C_COMPILER "${KILN_ARM_GCC}")
set(CMAKE_CXX_COMPILER "${KILN_ARM_GXX}")
set(CMAKE_ASM_COMPILER "${KILN_ARM_GCC}")

# Sections per function/object so --gc-sections can drop what the firmware doesn't use.
set(_kiln_common "${KILN_CORTEX_M_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${_kiln_common}")
set(CMAKE_ASM_FLAGS_INIT "${_kiln_common}")
# -fno-threadsafe-statics: no __cxa_guard_* (single thread, no libstdc++ to provide them).
# -fno-use-cxa-atexit: no __cxa_atexit registration for static destructors (we never exit
# through the C library anyway: the platform exits via semihosting).
set(CMAKE_CXX_FLAGS_INIT
    "${_kiln_common} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
# nano: small newlib; rdimon: newlib's syscalls over semihosting; -nostartfiles: our own
# startup (examples/cortex_m/platform/startup.cpp) replaces crt0/crti/crtbegin.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--specs=nano.specs --specs=rdimon.specs -nostartfiles -Wl,--gc-sections")

if(NOT DEFINED CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD 17)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  set(CMAKE_CXX_EXTENSIONS OFF)
endif()

# Link C++ with the C driver: g++ always adds -lstdc++ (-lstdc++_nano with nano.specs), and
# Debian's libstdc++-arm-none-eabi-dev ships headers only, so that link fails. GCC 12 has
# no -nostdlib++. The firmware uses the headers only, so nothing is lost; -lm is what g++
# would have added besides.
set(CMAKE_CXX_LINK_EXECUTABLE
    "\"${KILN_ARM_GCC}\" <FLAGS> <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES> -lm")

# Nothing of the host is usable for the target; programs (size, nm, code generators) are.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
