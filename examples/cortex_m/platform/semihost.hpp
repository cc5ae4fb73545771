// Output and exit for Cortex-M firmware run under qemu with semihosting.
//
// Why not printf: newlib-nano's printf pulls in malloc (the firmware must have no heap) and
// needs -u _printf_float for floats. These functions format into a stack buffer and hand
// the string to the debugger (qemu) with the semihosting SYS_WRITE0 call.
//
// Run with: qemu-system-arm ... -semihosting-config enable=on,target=native
// (without it the semihosting BKPT locks the CPU up). qemu 7.2 writes the text to its
// stderr.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln_fw {

// Exit codes the platform itself uses; main's own return value is passed through as is.
inline constexpr int kExitHardFault = 250;        // HardFault (and escalated faults)
inline constexpr int kExitUnexpectedIrq = 251;    // an exception/IRQ with no handler
inline constexpr int kExitCxxAbiTrap = 252;       // __cxa_pure_virtual / operator delete

void print(const char* s);               // as is, no newline added
void print_int(long v);                  // decimal
void print_hex32(std::uint32_t v);       // "0x" and 8 lower-case hex digits
void print_float(float v);               // like printf("%.7g"), see format_float

// Formats v like printf("%.7g", v): 7 significant digits, trailing zeros dropped,
// exponent form outside [1e-4, 1e7), "inf"/"-inf"/"nan". Deterministic: plain integer and
// IEEE double arithmetic, no libc. Matched glibc on 90 million floats (every 61st bit
// pattern plus random ones); in theory it can differ in the last digit for a float within
// ~1e-15 (relative) of a rounding tie. Returns the length (without the NUL).
std::size_t format_float(float v, char (&buf)[16]);

// Ends the qemu run; qemu's exit status becomes (code & 0xff).
[[noreturn]] void exit(int code);

}  // namespace kiln_fw
