# CMake toolchain file: 64-bit Arm Linux (aarch64) with Debian's cross compiler
# (g++-aarch64-linux-gnu), programs run under qemu user mode (qemu-user).
#
#   cmake -S tests/arch -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-aarch64 && ctest --test-dir build-aarch64
#
# CMAKE_CROSSCOMPILING_EMULATOR makes add_test(COMMAND <target>) run the binary under
# `qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu`, so ctest works unchanged. `-cpu max` (also
# qemu's default) has every optional A-profile extension, SDOT/UDOT (dotprod) among them; `-L`
# points the emulated dynamic loader at the aarch64 glibc and libstdc++ that the cross packages
# install under /usr/aarch64-linux-gnu.
#
# The target's -march is not set here: each project picks it (tests/arch uses
# -march=armv8.2-a+dotprod, see KILN_ARCH_TEST_FLAGS there).

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(KILN_AARCH64_TRIPLET aarch64-linux-gnu)
set(KILN_AARCH64_SYSROOT /usr/${KILN_AARCH64_TRIPLET} CACHE PATH
    "aarch64 libraries and headers (Debian's cross packages install them here)")

find_program(KILN_AARCH64_GCC ${KILN_AARCH64_TRIPLET}-gcc REQUIRED)
find_program(KILN_AARCH64_GXX ${KILN_AARCH64_TRIPLET}-g++ REQUIRED)
set(CMAKE_C_COMPILER "${KILN_AARCH64_GCC}")
set(CMAKE_CXX_COMPILER "${KILN_AARCH64_GXX}")

# qemu-user installs qemu-aarch64, qemu-user-static installs qemu-aarch64-static: take either.
find_program(KILN_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(KILN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${KILN_QEMU_AARCH64};-cpu;max;-L;${KILN_AARCH64_SYSROOT}")
else()
  message(WARNING "qemu-aarch64 not found (Debian package qemu-user): aarch64 programs build but ctest cannot run them")
endif()

# Libraries, headers and packages come from the aarch64 tree only; programs from the host.
# Host-only header libraries (doctest, xsimd) must be looked up with NO_CMAKE_FIND_ROOT_PATH.
set(CMAKE_FIND_ROOT_PATH ${KILN_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects re-read this file without our cache.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KILN_AARCH64_SYSROOT)
