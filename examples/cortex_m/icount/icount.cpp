// SysTick-based instruction counting under qemu -icount: see icount.hpp.
#include "icount.hpp"

#include "semihost.hpp"

extern "C" {
// SysTick wraps since start(); written by SysTick_Handler only.
volatile std::uint32_t kiln_icount_wraps = 0;

// Overrides the platform's weak SysTick_Handler. Hand-written so that its instruction count is
// known: kHandlerInstructions = 6 (movw, movt, ldr, adds, str, bx). The exception entry and
// return are not instructions and do not advance qemu's icount: the calibration firmware checks
// this over ~19 wraps. r0-r3 are stacked by the exception entry.
__attribute__((naked)) void SysTick_Handler() {
  asm volatile(
      "movw r0, #:lower16:kiln_icount_wraps\n\t"
      "movt r0, #:upper16:kiln_icount_wraps\n\t"
      "ldr r1, [r0]\n\t"
      "adds r1, r1, #1\n\t"
      "str r1, [r0]\n\t"
      "bx lr\n\t");
}
}

namespace kiln_icount {
namespace {

inline volatile std::uint32_t& reg(std::uint32_t addr) {
  return *reinterpret_cast<volatile std::uint32_t*>(addr);
}
constexpr std::uint32_t kSYST_CSR = 0xE000E010;  // control and status
constexpr std::uint32_t kSYST_RVR = 0xE000E014;  // reload value
constexpr std::uint32_t kSYST_CVR = 0xE000E018;  // current value (counts down)
constexpr std::uint32_t kICSR = 0xE000ED04;      // interrupt control and state
constexpr std::uint32_t kPENDSTSET = 1u << 26;   // SysTick pending
constexpr std::uint32_t kReload = 0xFFFFFF;      // 24 bits: a wrap is 2^24 ticks

constexpr std::uint64_t gcd(std::uint64_t a, std::uint64_t b) { return b == 0 ? a : gcd(b, a % b); }
// qemu's SysTick (a ptimer) reads, i instructions after it was started,
//   ticks = ceil(i * 2^shift * f / 1e9) - 1
// so i = floor((ticks + 1) * kNum / kDen) exactly, as long as 2^shift * f / 1e9 >= 1.
// kNum / kDen = 1e9 / (2^shift * f), reduced (5 / 8 at shift 6 and 25 MHz) so that
// ticks * kNum cannot overflow.
constexpr std::uint64_t kG = gcd(1000000000u, (std::uint64_t{1} << kShift) * kSysTickHz);
constexpr std::uint64_t kNum = 1000000000u / kG;
constexpr std::uint64_t kDen = (std::uint64_t{1} << kShift) * kSysTickHz / kG;

std::uint64_t g_overhead = 0;

}  // namespace

std::uint32_t wraps() { return kiln_icount_wraps; }

__attribute__((noinline)) mark now() {
  // With interrupts masked, a wrap that happens around the reads shows as a pending SysTick:
  // then the second reading is after the wrap and the wrap count is one more than the handler
  // has seen yet (it runs right after cpsie).
  asm volatile("cpsid i" ::: "memory");
  std::uint32_t value = reg(kSYST_CVR);
  const std::uint32_t pending = reg(kICSR) & kPENDSTSET;
  const std::uint32_t handled = kiln_icount_wraps;
  std::uint32_t w = handled;
  if (pending) {
    value = reg(kSYST_CVR);
    ++w;
  }
  asm volatile("cpsie i" ::: "memory");
  const std::uint64_t ticks = (std::uint64_t{w} << 24) + (kReload - value);
  return mark{(ticks + 1) * kNum / kDen, handled};
}

std::uint64_t raw_instructions() { return now().raw; }

std::uint64_t between(const mark& begin, const mark& end) {
  return end.raw - begin.raw - g_overhead -
         std::uint64_t{end.wraps - begin.wraps} * kHandlerInstructions;
}

std::uint64_t overhead() { return g_overhead; }

void start() {
  reg(kSYST_CSR) = 0;
  reg(kSYST_RVR) = kReload;
  reg(kSYST_CVR) = 0;  // any write clears it
  kiln_icount_wraps = 0;
  reg(kSYST_CSR) = 7;  // ENABLE | TICKINT | CLKSOURCE (processor clock)
  const mark a = now();
  const mark b = now();
  g_overhead = b.raw - a.raw;
}

void print_u64(std::uint64_t v) {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  kiln_fw::print(p);
}

}  // namespace kiln_icount
