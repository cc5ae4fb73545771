// Per-channel affine map y = x * scale[c] + shift[c]: inference BatchNormalization after folding
// its four statistics into two vectors at codegen time.
#pragma once

#include "../core/shape.hpp"

namespace kiln {

struct channel_affine_params {
  index_t outer;     // batch
  index_t channels;
  index_t inner;     // spatial elements per channel
};

template <class T>
inline void channel_affine(const channel_affine_params& p, const T* x, const T* scale, const T* shift, T* y) noexcept {
  for (index_t n = 0; n < p.outer; ++n)
    for (index_t c = 0; c < p.channels; ++c) {
      const T s = scale[c], t = shift[c];
      const index_t base = (n * p.channels + c) * p.inner;
      for (index_t i = 0; i < p.inner; ++i) y[base + i] = x[base + i] * s + t;
    }
}

}  // namespace kiln
