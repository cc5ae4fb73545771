// Smoke firmware for the Cortex-M platform: float math from libm, a dot product over an
// `inline constexpr` table (must stay in .rodata in flash), and the semihosting printers.
// Returns the number of failed checks, so qemu's exit status is 0 only if all pass.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "semihost.hpp"

namespace kiln_smoke {

// Stands in for generated weights: 16 values k/8 - 1 for k = 0..15.
inline constexpr float kWeights[16] = {
    -1.0f,   -0.875f, -0.75f, -0.625f, -0.5f, -0.375f, -0.25f, -0.125f,
    0.0f,    0.125f,  0.25f,  0.375f,  0.5f,  0.625f,  0.75f,  0.875f};

// noipa: keep the table an actual memory operand (no inlining or constant propagation that
// would fold the whole sum at compile time and drop the table).
__attribute__((noipa)) float dot(const float* a, const float* b, int n) {
  float acc = 0.0f;
  for (int i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

int failures = 0;

void check(const char* what, bool ok) {
  kiln_fw::print(ok ? "ok   " : "FAIL ");
  kiln_fw::print(what);
  kiln_fw::print("\n");
  if (!ok) ++failures;
}

void check_format(float v, const char* expected) {
  char buf[16];
  kiln_fw::format_float(v, buf);
  const bool ok = std::strcmp(buf, expected) == 0;
  kiln_fw::print(ok ? "ok   " : "FAIL ");
  kiln_fw::print("format ");
  kiln_fw::print_hex32([&] { std::uint32_t b; std::memcpy(&b, &v, 4); return b; }());
  kiln_fw::print(" -> ");
  kiln_fw::print(buf);
  if (!ok) {
    kiln_fw::print(", expected ");
    kiln_fw::print(expected);
    ++failures;
  }
  kiln_fw::print("\n");
}

}  // namespace kiln_smoke

int main() {
  using namespace kiln_smoke;

  // volatile: compute at run time on the FPU / libm, not in the compiler.
  volatile float one = 1.0f;
  const float e = std::exp(static_cast<float>(one));
  kiln_fw::print("expf(1)   = ");
  kiln_fw::print_float(e);
  kiln_fw::print("\n");
  check("expf(1) ~ 2.7182817", std::fabs(e - 2.7182817f) <= 1e-6f);

  float input[16];
  for (int i = 0; i < 16; ++i) input[i] = static_cast<float>(i) * one;
  // sum k * (k/8 - 1) for k = 0..15 = 1240/8 - 120 = 35, exact in float.
  const float d = dot(kWeights, input, 16);
  kiln_fw::print("dot       = ");
  kiln_fw::print_float(d);
  kiln_fw::print("\n");
  check("dot == 35", d == 35.0f);

  kiln_fw::print("int       = ");
  kiln_fw::print_int(-2147483647L - 1);
  kiln_fw::print("\n");

  // Expected strings are glibc's printf("%.7g").
  check_format(0.1f, "0.1");
  check_format(-2.5f, "-2.5");
  check_format(123456.7f, "123456.7");
  check_format(1234567.0f, "1234567");
  check_format(9999999.0f, "9999999");
  check_format(9.99999951e-17f, "1e-16");  // rounds up into the next decade
  check_format(1e-5f, "1e-05");
  check_format(0.00012345678f, "0.0001234568");
  check_format(3.4028235e38f, "3.402823e+38");
  check_format(1.4e-45f, "1.401298e-45");
  check_format(2.7182817f, "2.718282");
  check_format(-0.0f, "-0");
  check_format(INFINITY, "inf");
  check_format(-INFINITY, "-inf");
  check_format(NAN, "nan");

  kiln_fw::print(failures == 0 ? "smoke: all checks passed\n" : "smoke: FAILED\n");
  return failures;
}
