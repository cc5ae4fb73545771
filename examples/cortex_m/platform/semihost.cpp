// Semihosting output and exit; see semihost.hpp for why not printf.
#include "semihost.hpp"

namespace kiln_fw {
namespace {

// ARM semihosting operations (ARM "Semihosting for AArch32 and AArch64", v2).
constexpr int kSysWrite0 = 0x04;        // write a NUL-terminated string
constexpr int kSysExitExtended = 0x20;  // exit with a status; plain SYS_EXIT (0x18) on
                                        // AArch32 cannot carry one, qemu then exits 0 or 1
constexpr std::uint32_t kAdpStoppedApplicationExit = 0x20026;

// On M-profile a semihosting call is BKPT 0xAB with the operation in r0 and its argument
// in r1; qemu handles it when started with -semihosting-config enable=on.
int semihost_call(int op, const void* arg) {
  register int r0 asm("r0") = op;
  register const void* r1 asm("r1") = arg;
  asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

// 10^n for 0 <= n < 64 by binary powering: at most 6 roundings, ~1e-15 relative error.
double pow10(int n) {
  static constexpr double kPow[] = {1e1, 1e2, 1e4, 1e8, 1e16, 1e32};
  double r = 1.0;
  for (int i = 0; n != 0; ++i, n >>= 1)
    if (n & 1) r *= kPow[i];
  return r;
}

}  // namespace

void print(const char* s) { semihost_call(kSysWrite0, s); }

void print_int(long v) {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  // Negate in unsigned arithmetic so LONG_MIN works.
  unsigned long u = v < 0 ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--p = '-';
  print(p);
}

void print_hex32(std::uint32_t v) {
  char buf[11] = {'0', 'x'};
  for (int i = 0; i < 8; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
  buf[10] = '\0';
  print(buf);
}

std::size_t format_float(float v, char (&buf)[16]) {
  std::uint32_t bits;
  __builtin_memcpy(&bits, &v, sizeof bits);
  char* p = buf;
  if (bits >> 31) *p++ = '-';
  const int biased_exp = static_cast<int>((bits >> 23) & 0xff);
  const auto put = [&p](const char* s) {
    while (*s) *p++ = *s++;
  };

  if (biased_exp == 0xff) {
    put((bits & 0x7fffff) ? "nan" : "inf");
  } else if ((bits & 0x7fffffff) == 0) {
    put("0");
  } else {
    // |v| = digits * 10^(k-6) with 7 digits: find the decimal exponent k with
    // 10^k <= |v| < 10^(k+1). Start from the binary exponent * log10(2) (subnormals start
    // a bit high) and correct it; the cap only guards against rounding ping-pong.
    double a = static_cast<double>(v);
    if (a < 0) a = -a;
    int k = ((biased_exp - 127) * 77) / 256;
    double y = 0;
    for (int step = 0; step < 16; ++step) {
      const int n = 6 - k;
      y = n >= 0 ? a * pow10(n) : a / pow10(-n);
      if (y >= 1e7) ++k;
      else if (y < 1e6) --k;
      else break;
    }
    // Round to 7 digits, half to even as printf does (an exact tie in v stays an exact .5
    // in y when pow10(|n|) is exact, |n| <= 22); 9999999.5 rounds into the next decade.
    auto digits = static_cast<std::uint32_t>(y);
    const double frac = y - digits;
    if (frac > 0.5 || (frac == 0.5 && (digits & 1))) ++digits;
    if (digits == 10000000) {
      digits = 1000000;
      ++k;
    }
    char d[7];
    for (int i = 6; i >= 0; --i, digits /= 10) d[i] = static_cast<char>('0' + digits % 10);
    int nd = 7;  // %g drops trailing zeros of the fraction
    while (nd > 1 && d[nd - 1] == '0') --nd;

    if (k < -4 || k >= 7) {  // d.dddddde±XX
      *p++ = d[0];
      if (nd > 1) {
        *p++ = '.';
        for (int i = 1; i < nd; ++i) *p++ = d[i];
      }
      *p++ = 'e';
      *p++ = k < 0 ? '-' : '+';
      const int ak = k < 0 ? -k : k;
      *p++ = static_cast<char>('0' + ak / 10);
      *p++ = static_cast<char>('0' + ak % 10);
    } else if (k >= 0) {  // ddd.dddd
      for (int i = 0; i <= k; ++i) *p++ = d[i];
      if (nd > k + 1) {
        *p++ = '.';
        for (int i = k + 1; i < nd; ++i) *p++ = d[i];
      }
    } else {  // 0.000ddddddd
      *p++ = '0';
      *p++ = '.';
      for (int i = -1; i > k; --i) *p++ = '0';
      for (int i = 0; i < nd; ++i) *p++ = d[i];
    }
  }
  *p = '\0';
  return static_cast<std::size_t>(p - buf);
}

void print_float(float v) {
  char buf[16];
  format_float(v, buf);
  print(buf);
}

void exit(int code) {
  const std::uint32_t block[2] = {kAdpStoppedApplicationExit, static_cast<std::uint32_t>(code)};
  semihost_call(kSysExitExtended, block);
  for (;;) asm volatile("wfi");  // not reached under qemu
}

}  // namespace kiln_fw
