// Proves that a crash ends the run cleanly: reading unmapped memory raises a BusFault,
// escalated to HardFault, whose handler prints the fault registers and exits with
// kiln_fw::kExitHardFault. Its test expects exactly that exit status.
#include <cstdint>

#include "semihost.hpp"

int main() {
  kiln_fw::print("fault: reading 0xF0000000 (unmapped)\n");
  const auto value = *reinterpret_cast<volatile std::uint32_t*>(0xF0000000u);
  kiln_fw::print("fault: no fault raised\n");
  return static_cast<int>(value);
}
