// Firmware: classify held-out digits with the kiln-generated model, print each class and the
// logits' exact bits (CTest compares them with the host build's), exit 0 via semihosting.
#include "digits_model.hpp"
#include "digits_samples.hpp"
#include "platform/semihost.hpp"

#include <cstring>

namespace {
digits_model::arena_t arena;  // .bss: digits_model::arena_bytes of RAM, no heap
}

int main() {
  digits_model::input_t image;
  digits_model::logits_t logits;
  for (int s = 0; s < sample_count; ++s) {
    std::memcpy(image.data, &sample_bits[s * 64], sizeof image.data);
    digits_model::run(image, logits, arena);
    int best = 0;
    for (int i = 1; i < 10; ++i)
      if (logits[i] > logits[best]) best = i;
    kiln_fw::print("sample ");
    kiln_fw::print_int(s);
    kiln_fw::print(": class ");
    kiln_fw::print_int(best);
    kiln_fw::print(" logits");
    for (float v : logits) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      kiln_fw::print(" ");
      kiln_fw::print_hex32(bits);
    }
    kiln_fw::print("\n");
  }
  kiln_fw::print("arena_bytes ");
  kiln_fw::print_int(static_cast<long>(digits_model::arena_bytes));
  kiln_fw::print(" weight_bytes ");
  kiln_fw::print_int(static_cast<long>(digits_model::weight_bytes));
  kiln_fw::print("\n");
  return 0;
}
