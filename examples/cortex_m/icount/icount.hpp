// Instruction counting for firmware run under qemu-system-arm with -icount.
//
// qemu has no timing model, but with `-icount shift=S` its virtual clock advances by exactly
// 2^S ns per executed instruction. SysTick (clocked by the processor clock, 25 MHz on the MPS2
// boards an386/an500, 20 MHz on an505) counts that virtual time, so a SysTick reading is a
// function of the number of instructions executed since it was started:
//
//     ticks = ceil(instructions * 2^S * f / 1e9) - 1        (f = SysTick clock in Hz)
//
// (qemu's ptimer rounding, found with the calibration firmware). With 2^S * f / 1e9 >= 1
// (S >= 6 at 25 MHz: 1.6 ticks per instruction; 1.28 at 20 MHz) every instruction moves the
// counter by at least one tick, so the function can be inverted exactly:
//
//     instructions = floor((ticks + 1) * 1e9 / (2^S * f))
//
// SysTick is 24 bits: it wraps every 2^24 ticks (~10.5 M instructions at S=6), so its interrupt
// counts the wraps (the handler's own few instructions are subtracted). The calibration firmware
// (icount/calibrate_main.cpp) checks all this against hand-written loops of known length.
//
// Usage: start() once, then m0 = now() before and m1 = now() after the region: between(m0, m1)
// is the region's instruction count (without the marks' own instructions and the wrap handler). Needs qemu ... -icount shift=S with S equal to
// KILN_ICOUNT_SHIFT; without -icount the numbers are meaningless (but the firmware still runs).
#pragma once

#include <cstdint>

#ifndef KILN_ICOUNT_SHIFT
#define KILN_ICOUNT_SHIFT 6
#endif
#ifndef KILN_ICOUNT_SYSTICK_HZ  // set by CMakeLists.txt per board
#define KILN_ICOUNT_SYSTICK_HZ 25000000  // qemu mps2-an385/an386/an500; an505: 20 MHz
#endif

namespace kiln_icount {

inline constexpr unsigned kShift = KILN_ICOUNT_SHIFT;
inline constexpr std::uint64_t kSysTickHz = KILN_ICOUNT_SYSTICK_HZ;
static_assert((std::uint64_t{1} << kShift) * kSysTickHz >= 1000000000u,
              "fewer than one SysTick tick per instruction: the count would not be exact");

// Instructions the SysTick handler executes per wrap (asm in icount.cpp; checked by calibrate).
inline constexpr std::uint32_t kHandlerInstructions = 6;

// Starts SysTick from zero on the processor clock with its wrap interrupt, and measures overhead().
void start();

// Instructions executed since start(), with the handler's instructions included (see wraps()).
std::uint64_t raw_instructions();
// SysTick wraps since start() (each ran the handler once).
std::uint32_t wraps();

// A bracket around a region: end() - the instructions of the bracket itself - the handler.
struct mark {
  std::uint64_t raw;
  std::uint32_t wraps;
};
mark now();
// Instructions executed between two marks, excluding the marks' own code and the handler runs.
std::uint64_t between(const mark& begin, const mark& end);

// Instructions between two back-to-back now() calls (measured by start()).
std::uint64_t overhead();

// Prints v in decimal through semihosting (kiln_fw::print_int is only 32 bits on Arm).
void print_u64(std::uint64_t v);

}  // namespace kiln_icount
