// Host-only: input data for drivers that run any generated model (`kiln bench`'s timing driver,
// benchmarks/). Not part of the runtime; kiln.hpp does not include it.
#pragma once

#include "../core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kiln::host {

// xorshift32: the same bytes on every run and host.
inline std::uint32_t xorshift32(std::uint32_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

// Fills input number `index` (t, at p) with a fixed pseudo-random pattern that is valid for its
// type: floats in [-1, 1), every 8-bit value, 0/1 for bools and wider integers (safe as indices or
// counts). Each input has its own seed, so same-shaped inputs differ.
inline void fill_input(const tensor_info& t, std::size_t index, void* data) noexcept {
  auto* p = static_cast<unsigned char*>(data);
  std::uint32_t seed = 0x9e3779b9u + static_cast<std::uint32_t>(index);
  for (std::size_t i = 0; i < t.count; ++i) {
    const std::uint32_t r = xorshift32(seed);
    const double u = (r >> 8) * (1.0 / 16777216.0);  // [0, 1)
    switch (t.type) {
      case dtype::f32: { const float v = static_cast<float>(2 * u - 1); std::memcpy(p + 4 * i, &v, 4); break; }
      case dtype::f64: { const double v = 2 * u - 1; std::memcpy(p + 8 * i, &v, 8); break; }
      case dtype::i8: p[i] = static_cast<unsigned char>(static_cast<std::int8_t>(static_cast<int>(r % 256) - 128)); break;
      case dtype::u8: p[i] = static_cast<unsigned char>(r % 256); break;
      case dtype::boolean: p[i] = static_cast<unsigned char>(r & 1); break;
      default: {  // wider integers: 0 or 1 in the low byte (little-endian host)
        std::memset(p + i * dtype_size(t.type), 0, dtype_size(t.type));
        p[i * dtype_size(t.type)] = static_cast<unsigned char>(r & 1);
      }
    }
  }
}

}  // namespace kiln::host
