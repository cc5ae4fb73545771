// Checks the instruction counting of icount.hpp against hand-written loops of known length, under
// qemu -icount shift=KILN_ICOUNT_SHIFT (the kiln_fw_icount_calibrate_qemu_icount test):
//
//   region(n) = "ldr r3, n" + n x ("subs r3, r3, #1" + "bne 1b")  =  1 + 2n instructions
//
// For each n the counted instructions minus (1 + 2n) must be the same constant (the few
// instructions the compiler places between the two marks), for n from 1 to 10^8 (200 M
// instructions, ~19 SysTick wraps). That checks at once: the 25 MHz SysTick clock, the shift,
// the exact inversion ticks -> instructions, and the wrap counting with its handler's cost.
// Prints one line per n and returns 0 when all agree, 1 otherwise.
#include <cstdint>

#include "icount.hpp"
#include "semihost.hpp"

namespace {

// Runs `n` iterations of the loop, uncounted: moves the SysTick phase between measurements.
__attribute__((noinline)) void pad(std::uint32_t n) {
  asm volatile(
      "1:\n\t"
      "subs %0, %0, #1\n\t"
      "bne 1b\n\t"
      : "+r"(n)
      :
      : "cc");
}

// noinline: the same code around the marks at every call (the constant offset).
__attribute__((noinline)) std::uint64_t count_loop(std::uint32_t n) {
  volatile std::uint32_t count = n;  // read by the asm from memory: no setup outside the marks
  const kiln_icount::mark begin = kiln_icount::now();
  asm volatile(
      "ldr r3, %[n]\n"
      "1:\n\t"
      "subs r3, r3, #1\n\t"
      "bne 1b\n\t"
      :
      : [n] "m"(count)
      : "r3", "cc", "memory");
  const kiln_icount::mark end = kiln_icount::now();
  return kiln_icount::between(begin, end);
}

}  // namespace

int main() {
  kiln_icount::start();
  kiln_fw::print("icount calibration: shift=");
  kiln_icount::print_u64(kiln_icount::kShift);
  kiln_fw::print(" systick_hz=");
  kiln_icount::print_u64(kiln_icount::kSysTickHz);
  kiln_fw::print(" mark_overhead=");
  kiln_icount::print_u64(kiln_icount::overhead());
  kiln_fw::print("\n");

  static const std::uint32_t ns[] = {1,    2,     3,      4,       5,        6,         7,        8,
                                     9,    10,    11,     12,      13,       14,        15,       16,
                                     17,   100,   1000,   12345,   65536,    1000000,   4194304,  5000000,
                                     5242879, 5242880, 5242881, 8388608, 20000000, 33554433, 100000000};
  bool ok = true;
  bool have_offset = false;
  std::uint64_t offset = 0;
  for (const std::uint32_t n : ns) {
    const std::uint32_t wraps_before = kiln_icount::wraps();
    const std::uint64_t counted = count_loop(n);
    const std::uint32_t wraps = kiln_icount::wraps() - wraps_before;
    const std::uint64_t expected = 1 + 2 * std::uint64_t{n};
    const std::uint64_t diff = counted - expected;  // modular: a count below expected shows as huge
    if (!have_offset) {
      offset = diff;
      have_offset = true;
    }
    kiln_fw::print("n=");
    kiln_icount::print_u64(n);
    kiln_fw::print(" expected=");
    kiln_icount::print_u64(expected);
    kiln_fw::print(" counted=");
    kiln_icount::print_u64(counted);
    kiln_fw::print(" wraps=");
    kiln_icount::print_u64(wraps);
    if (diff != offset) {
      kiln_fw::print("  MISMATCH");
      ok = false;
    }
    kiln_fw::print("\n");
  }
  // The same short loops at every phase of the tick against the instruction (8 ticks per 5
  // instructions at shift 6): pad by 1..40 instructions before each.
  for (std::uint32_t p = 1; p <= 20; ++p) {
    for (std::uint32_t n = 1; n <= 5; ++n) {
      pad(p);
      const std::uint64_t diff = count_loop(n) - (1 + 2 * std::uint64_t{n});
      if (diff != offset) {
        kiln_fw::print("phase sweep: pad=");
        kiln_icount::print_u64(p);
        kiln_fw::print(" n=");
        kiln_icount::print_u64(n);
        kiln_fw::print("  MISMATCH\n");
        ok = false;
      }
    }
  }
  kiln_fw::print("phase sweep (pad 1..20 x n 1..5) done\n");
  kiln_fw::print("constant offset (compiler's instructions between the marks): ");
  kiln_icount::print_u64(offset);
  kiln_fw::print(ok ? "\ncalibration ok\n" : "\ncalibration FAILED\n");
  return ok ? 0 : 1;
}
