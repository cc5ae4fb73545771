// Winograd convolution F(m x m, 3 x 3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for float 3x3 convs at stride 1: each m x m tile of outputs comes from an
// alpha x alpha tile of inputs (alpha = m + 2) by
//   Y = A^T [ (G g G^T) . (B^T d B) ] A
// so the multiply-adds per output fall from 9 C to alpha^2 / m^2 C: 16/4 (2.25x fewer) for
// F(2x2, 3x3), 36/16 (4x fewer) for F(4x4, 3x3). The weight transform U = G g G^T is done at
// codegen time (pack_winograd_weights); it stores alpha^2 / 9 times the weights.
//
// A pass takes a chunk of up to winograd_chunk tiles (row-major over the output's tile grid):
//   1. input transform: V[xi][c][j] = (B^T d_j B)[xi] for transform point xi, channel c, tile j;
//   2. for each point xi, the matrix product M[xi] = U[xi] (out x C) * V[xi] (C x tiles) with the
//      direct path's window tiles (packed/direct.hpp f32_window_sweep), tiles as positions;
//   3. output transform: y = act(A^T M A + bias (+ residual)), written a tile row at a time.
// Tiles are vectors' lanes in both transforms: a row of tiles reads its input rows as m column
// phases, so tile j's columns are element j of each phase, and its outputs go to m phases of an
// output row, interleaved on the way out.
//
// The transforms add rounding of their own: F(2x2) results stay within a few ulps of the direct
// sum's scale, F(4x4) within a few tens (its points 2 and 1/2 scale terms by up to 8).
#pragma once

#include "../arch/dispatch.hpp"
#include "../ops/conv.hpp"
#include "direct.hpp"
#include "epilogue.hpp"
#include "layout.hpp"

#include <cstdint>
#include <cstring>

namespace kiln::packed {

// The transforms of one dimension of F(m, 3): input B^T d, output A^T s, weights G g (codegen).
template <index_t M> struct winograd_transform;

template <> struct winograd_transform<2> {
  static constexpr index_t alpha = 4;
  static constexpr double g[alpha][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  template <class V> KILN_ALWAYS_INLINE static void input(const V* d, V* o) noexcept {
    o[0] = d[0] - d[2];
    o[1] = d[1] + d[2];
    o[2] = d[2] - d[1];
    o[3] = d[1] - d[3];
  }
  template <class V> KILN_ALWAYS_INLINE static void output(const V* s, V* o) noexcept {
    o[0] = s[0] + s[1] + s[2];
    o[1] = s[1] - s[2] - s[3];
  }
};

template <> struct winograd_transform<4> {
  static constexpr index_t alpha = 6;
  static constexpr double g[alpha][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                         {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                         {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  template <class V> KILN_ALWAYS_INLINE static void input(const V* d, V* o) noexcept {
    const V a = d[4] - 4.f * d[2], b = d[3] - 4.f * d[1];  // shared by o1, o2
    const V e = d[4] - d[2], f = 2.f * (d[3] - d[1]);        // shared by o3, o4
    o[0] = 4.f * d[0] - 5.f * d[2] + d[4];
    o[1] = a + b;
    o[2] = a - b;
    o[3] = e + f;
    o[4] = e - f;
    o[5] = 4.f * d[1] - 5.f * d[3] + d[5];
  }
  template <class V> KILN_ALWAYS_INLINE static void output(const V* s, V* o) noexcept {
    const V p1 = s[1] + s[2], m1 = s[1] - s[2], p2 = s[3] + s[4], m2 = s[3] - s[4];
    o[0] = s[0] + p1 + p2;
    o[1] = m1 + 2.f * m2;
    o[2] = p1 + 4.f * p2;
    o[3] = m1 + 8.f * m2 + s[5];
  }
};

inline constexpr index_t winograd_chunk = 64;  // tiles a pass transforms, at most

// 2-D, 3x3, stride 1, no dilation, one group: where F(m x m, 3 x 3) computes the conv.
template <class P> constexpr bool winograd_applies(const P& p) noexcept {
  return p.group == 1 && p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 && p.kernel[1] == 3 && p.kernel[2] == 3 &&
         p.stride[1] == 1 && p.stride[2] == 1 && p.dilation[1] == 1 && p.dilation[2] == 1;
}

// The tile grid, a pass's tile capacity (the matrix products' positions: whole vectors of 16),
// and the buffers of a pass, in floats.
template <index_t M> struct winograd_geometry {
  static constexpr index_t alpha = M + 2, points = alpha * alpha;
  index_t tiles_h, tiles_w, tiles, chunk;
  index_t phase_pitch;  // a phase row: a tile row's tiles + 1, and lanes read past them (zeros)
  index_t out_pitch;    // an output row of a tile row, in whole lane groups
  index_t v_floats, m_floats, rows_floats, out_floats;
  template <class P> constexpr explicit winograd_geometry(const P& p) noexcept
      : tiles_h(ceil_div(p.out[1], M)), tiles_w(ceil_div(p.out[2], M)), tiles(tiles_h * tiles_w),
        chunk(tiles < winograd_chunk ? round_up(tiles, 16) : winograd_chunk),
        phase_pitch(round_up(tiles_w, 16) + 1), out_pitch(round_up(tiles_w, 16) * M),
        v_floats(points * p.in_channels * (chunk + 16)), m_floats(points * p.out_channels * chunk),
        rows_floats(alpha * M * phase_pitch), out_floats(M * out_pitch) {}
};

// Scratch: V (rows of a chunk and a lane group, which the last group's stores may reach), M, a
// tile row's input phases and its output rows, and room to align V to 64 bytes.
template <index_t M, class P> constexpr std::size_t winograd_scratch_bytes(const P& p) noexcept {
  const winograd_geometry<M> g(p);
  return static_cast<std::size_t>(g.v_floats + g.m_floats + g.rows_floats + g.out_floats) * sizeof(float) + 64;
}

// Packed weights: points x [ceil(out / conv_mr)][C][conv_mr] panels, zero past the last channel.
template <index_t M> constexpr std::size_t winograd_weight_count(index_t out_channels, index_t in_channels) noexcept {
  return static_cast<std::size_t>(winograd_geometry<M>::points) * static_cast<std::size_t>(round_up(out_channels, conv_mr)) *
         static_cast<std::size_t>(in_channels);
}

// U = G g G^T of ONNX weights w [out][C][3][3], in double, into the panels above (codegen time).
template <index_t M>
inline void pack_winograd_weights(const float* w, index_t out_channels, index_t in_channels, float* u) noexcept {
  using T = winograd_transform<M>;
  constexpr index_t A = T::alpha, MR = conv_mr;
  const index_t mblocks = ceil_div(out_channels, MR);
  for (index_t m = 0; m < mblocks * MR; ++m)
    for (index_t c = 0; c < in_channels; ++c) {
      double gg[A][3] = {};  // G g
      if (m < out_channels)
        for (index_t a = 0; a < A; ++a)
          for (index_t j = 0; j < 3; ++j)
            for (index_t i = 0; i < 3; ++i) gg[a][j] += T::g[a][i] * w[((m * in_channels + c) * 3 + i) * 3 + j];
      for (index_t a = 0; a < A; ++a)
        for (index_t b = 0; b < A; ++b) {
          double v = 0;
          for (index_t j = 0; j < 3; ++j) v += gg[a][j] * T::g[b][j];
          const index_t xi = a * A + b;
          u[((xi * mblocks + m / MR) * in_channels + c) * MR + m % MR] = static_cast<float>(v);
        }
    }
}

namespace detail {

// The tiles of [t0, t0 + count) by tile row: f(th, tw0, n, j) for n tiles of row th from column
// tw0, the first of them tile j of the pass.
template <class F> inline void for_each_tile_run(index_t t0, index_t count, index_t tiles_w, F&& f) noexcept {
  for (index_t j = 0; j < count;) {
    const index_t th = (t0 + j) / tiles_w, tw0 = (t0 + j) % tiles_w;
    const index_t n = tiles_w - tw0 < count - j ? tiles_w - tw0 : count - j;
    f(th, tw0, n, j);
    j += n;
  }
}

// The transforms' operand: one value of 16 tiles, so one formula serves 16 tiles at once. Each
// operator is a loop of 16 that the compiler turns into the target's vectors (one AVX-512
// register, two AVX2 or four NEON ones), and the tile's values stay in local arrays, which no
// store through a pointer can alias.
struct tile_lanes {
  static constexpr index_t size = 16;
  float v[size];
  KILN_ALWAYS_INLINE friend tile_lanes operator+(tile_lanes a, const tile_lanes& b) noexcept {
    for (index_t l = 0; l < size; ++l) a.v[l] += b.v[l];
    return a;
  }
  KILN_ALWAYS_INLINE friend tile_lanes operator-(tile_lanes a, const tile_lanes& b) noexcept {
    for (index_t l = 0; l < size; ++l) a.v[l] -= b.v[l];
    return a;
  }
  KILN_ALWAYS_INLINE friend tile_lanes operator*(float k, tile_lanes a) noexcept {
    for (index_t l = 0; l < size; ++l) a.v[l] *= k;
    return a;
  }
};

// Input rows th * M - pad + i (i < alpha) of plane x, columns from tile tw0 on, as M column phases
// of `pitch` entries: ph[(i * M + s) * pitch + q] = x(row, (tw0 + q) * M + s - pad), zero outside
// the plane and from q = n + 1 on (lanes past the last tile read zeros, so transform to zeros).
template <index_t M>
inline void winograd_input_phases(const conv_params& p, const float* x, index_t th, index_t tw0, index_t n,
                                  index_t pitch, float* ph) noexcept {
  constexpr index_t A = M + 2;
  const index_t len = n + 1 + (tile_lanes::size - n % tile_lanes::size) % tile_lanes::size, h = p.in[1], w = p.in[2];
  for (index_t i = 0; i < A; ++i) {
    const index_t row = th * M - p.pad[1] + i;
    for (index_t s = 0; s < M; ++s) {
      float* out = ph + (i * M + s) * pitch;
      if (row < 0 || row >= h) {
        for (index_t q = 0; q < len; ++q) out[q] = 0.f;
        continue;
      }
      const float* xr = x + row * w;
      const index_t c0 = tw0 * M + s - p.pad[2];  // input column of q = 0
      // q with 0 <= c0 + q M < w: [lo, hi)
      const index_t lo = c0 >= 0 ? 0 : ceil_div(-c0, M);
      index_t hi = c0 >= w ? 0 : ceil_div(w - c0, M);
      if (hi > n + 1) hi = n + 1;
      index_t q = 0;
      for (; q < lo && q < len; ++q) out[q] = 0.f;
      for (; q < hi; ++q) out[q] = xr[c0 + q * M];
      for (; q < len; ++q) out[q] = 0.f;
    }
  }
}

// V[xi * v_xi + t] = (B^T d B)[xi] for the n tiles of phases ph (winograd_input_phases, rows
// `pitch` apart), in whole lane groups: up to 15 zeros past the last tile.
template <index_t M>
inline void winograd_input_tiles(const float* ph, index_t pitch, index_t n, float* v, index_t v_xi) noexcept {
  using T = winograd_transform<M>;
  constexpr index_t A = T::alpha, L = tile_lanes::size;
  for (index_t t0 = 0; t0 < n; t0 += L) {
    tile_lanes rows[A][A];  // B^T along each input row
    for (index_t i = 0; i < A; ++i) {
      tile_lanes d[A];
      for (index_t k = 0; k < A; ++k) std::memcpy(d[k].v, ph + (i * M + k % M) * pitch + t0 + k / M, sizeof d[k].v);
      T::input(d, rows[i]);
    }
    for (index_t b = 0; b < A; ++b) {
      tile_lanes col[A], o[A];
      for (index_t i = 0; i < A; ++i) col[i] = rows[i][b];
      T::input(col, o);
      for (index_t a = 0; a < A; ++a) std::memcpy(v + (a * A + b) * v_xi + t0, o[a].v, sizeof o[a].v);
    }
  }
}

// The outputs of n tiles of one channel, s[xi * s_xi + t] its transform points, as M output rows
// `pitch` apart: out[r * pitch + t * M + k], in whole lane groups (pitch >= round_up(n, 16) * M).
template <index_t M>
inline void winograd_output_tiles(const float* s, index_t s_xi, index_t n, float* out, index_t pitch) noexcept {
  using T = winograd_transform<M>;
  constexpr index_t A = T::alpha, L = tile_lanes::size;
  for (index_t t0 = 0; t0 < n; t0 += L) {
    tile_lanes cols[A][M];  // A^T along each row of points
    for (index_t a = 0; a < A; ++a) {
      tile_lanes r[A];
      for (index_t b = 0; b < A; ++b) std::memcpy(r[b].v, s + (a * A + b) * s_xi + t0, sizeof r[b].v);
      T::output(r, cols[a]);
    }
    tile_lanes o[M][M];  // o[k][r]: output row r, column k of each tile
    for (index_t k = 0; k < M; ++k) {
      tile_lanes c[A];
      for (index_t a = 0; a < A; ++a) c[a] = cols[a][k];
      T::output(c, o[k]);
    }
    for (index_t r = 0; r < M; ++r) arch::active::interleave_rows<M>(o[0][r].v, M * L, out + r * pitch + t0 * M);
  }
}

template <index_t M>
inline void conv_winograd_into(const conv_params& p, const float* x, const float* u, const float* bias,
                               const float* residual, float* y, void* scratch) noexcept {
  constexpr index_t A = M + 2, P = A * A, MR = conv_mr;
  const winograd_geometry<M> geo(p);
  const index_t C = p.in_channels, out = p.out_channels, mblocks = ceil_div(out, MR), nt = geo.chunk;
  const index_t vp = nt + 16;  // V's row pitch: a chunk and the last lane group's reach
  const index_t in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  float* const v = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch) + 63) / 64 * 64);
  float* const mt = v + geo.v_floats;  // M[xi][out][chunk]
  float* const ph = mt + geo.m_floats;
  float* const orow = ph + geo.rows_floats;
  for (index_t n = 0; n < p.batch; ++n) {
    const float* const xn = x + n * C * in_plane;
    for (index_t t0 = 0; t0 < geo.tiles; t0 += nt) {
      const index_t count = geo.tiles - t0 < nt ? geo.tiles - t0 : nt;
      // The matrix products' last tile may read up to a vector past `count`: defined zeros.
      if (count % 16 != 0)
        for (index_t xi = 0; xi < P; ++xi)
          for (index_t c = 0; c < C; ++c)
            for (index_t j = count; j < round_up(count, 16); ++j) v[(xi * C + c) * vp + j] = 0.f;
      for (index_t c = 0; c < C; ++c)
        for_each_tile_run(t0, count, geo.tiles_w, [&](index_t th, index_t tw0, index_t run, index_t j) {
          winograd_input_phases<M>(p, xn + c * in_plane, th, tw0, run, geo.phase_pitch, ph);
          winograd_input_tiles<M>(ph, geo.phase_pitch, run, v + c * vp + j, C * vp);
        });
      for (index_t xi = 0; xi < P; ++xi)
        f32_window_sweep(C, u + xi * mblocks * C * MR, C * MR, mblocks, count,
                         [&](index_t j0) { return arch::panel_rows<float>{v + xi * C * vp + j0, vp}; },
                         [&](index_t mb, index_t blocks, const float* c, index_t tw, index_t j0, index_t width) {
                           const index_t left = out - mb * MR, rows = left < blocks * MR ? left : blocks * MR;
                           for (index_t r = 0; r < rows; ++r)
                             std::memcpy(mt + (xi * out + mb * MR + r) * nt + j0, c + r * tw,
                                         static_cast<std::size_t>(width) * sizeof(float));
                         });
      with_activation(p.act, [&](auto act) {
        for (index_t m = 0; m < out; ++m) {
          const float b = bias ? bias[m] : 0.f;
          float* const ym = y + (n * out + m) * out_plane;
          for_each_tile_run(t0, count, geo.tiles_w, [&](index_t th, index_t tw0, index_t run, index_t j) {
            winograd_output_tiles<M>(mt + m * nt + j, out * nt, run, orow, geo.out_pitch);
            const index_t col0 = tw0 * M, cols = p.out[2] - col0 < run * M ? p.out[2] - col0 : run * M;
            for (index_t r = 0; r < M && th * M + r < p.out[1]; ++r) {
              float* const yr = ym + (th * M + r) * p.out[2] + col0;
              store_row(yr, residual ? residual + (yr - y) : nullptr, orow + r * geo.out_pitch, b, cols, act);
            }
          });
        }
      });
    }
  }
}

}  // namespace detail

// y = act(bias + conv(x, w)) by F(M x M, 3 x 3); u packed by pack_winograd_weights<M>;
// scratch: winograd_scratch_bytes<M>.
template <index_t M>
inline void conv_winograd(const conv_params& p, const float* x, const float* u, const float* bias, float* y,
                          void* scratch) noexcept {
  detail::conv_winograd_into<M>(p, x, u, bias, nullptr, y, scratch);
}

// y = act(bias + conv(x, w) + residual): a Conv and the Add after it.
template <index_t M>
inline void conv_winograd_residual(const conv_params& p, const float* x, const float* u, const float* bias,
                                   const float* residual, float* y, void* scratch) noexcept {
  detail::conv_winograd_into<M>(p, x, u, bias, residual, y, scratch);
}

}  // namespace kiln::packed
