// Winograd convolution F(m x m, 3 x 3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for float 3x3 convs at stride 1: each m x m tile of outputs comes from an
// alpha x alpha tile of inputs (alpha = m + 2) by
//   Y = A^T [ (G g G^T) . (B^T d B) ] A
// so the multiply-adds per output fall from 9 C to alpha^2 / m^2 C: 16/4 (2.25x fewer) for
// F(2x2, 3x3), 36/16 (4x fewer) for F(4x4, 3x3). The weight transform U = G g G^T is done at
// codegen time (pack_winograd_weights); it stores alpha^2 / 9 times the weights.
//
// A pass takes a band of whole tile rows, up to winograd_band positions:
//   1. input transform: V[c][xi][j] = (B^T d_j B)[xi] for transform point xi, channel c, tile j;
//   2. for each point xi, the matrix product M[.][xi] = U[xi] (out x C) * V[.][xi] (C x tiles) with the
//      direct path's window tiles (packed/direct.hpp f32_window_sweep_to), tiles as positions;
//   3. output transform: y = act(A^T M A + bias (+ residual)), a tile's M x M outputs at once.
// Tiles are the lanes of vectors in both transforms, 16 at a time, tile (th, tw) of the band at
// position th * tiles_w + tw. Each input row is split once into a tile's alpha column phases (arch
// deinterleave_rows) straight into planes of the band, plane k holding column tw * M + k of each
// tile, so the transform reads whole vectors; its outputs are zipped back into rows (arch
// interleave_rows).
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

// Positions a pass takes at most (whole tile rows). Fewer, to keep V and M within L2 (ResNet-18's
// 64 channels on 56x56 with F(4x4): 2.2 MB a pass), measured slower: the narrower products lose
// more than the cache saves.
inline constexpr index_t winograd_band = 128;

// 2-D, 3x3, stride 1, no dilation, one group: where F(m x m, 3 x 3) computes the conv.
template <class P> constexpr bool winograd_applies(const P& p) noexcept {
  return p.group == 1 && p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 && p.kernel[1] == 3 && p.kernel[2] == 3 &&
         p.stride[1] == 1 && p.stride[2] == 1 && p.dilation[1] == 1 && p.dilation[2] == 1;
}

// The tile grid, a pass's band of tile rows, and the buffers of a pass, in floats.
template <index_t M> struct winograd_geometry {
  static constexpr index_t alpha = M + 2, points = alpha * alpha;
  index_t tiles_h, tiles_w;
  index_t band_rows, positions;
  index_t v_pitch;  // V's rows: a band in whole lane groups (v_row_pitch)
  index_t plane_pitch;  // the input planes: a band and one tile row more, and a split's reach
  index_t m_pitch;  // M's rows: a band in whole lane groups
  index_t row_lead;  // where an input row starts in its padded copy: past the padding, on a vector
  index_t row_pitch;  // the padded copy: the lead, and the tiles in whole lane groups and one tile more
  index_t v_floats, m_floats, plane_floats, row_floats, out_floats;
  template <class P> constexpr explicit winograd_geometry(const P& p) noexcept
      : tiles_h(ceil_div(p.out[1], M)), tiles_w(ceil_div(p.out[2], M)), band_rows(best_band_rows(tiles_h, tiles_w)),
        positions(band_rows * tiles_w), v_pitch(v_row_pitch(positions)),
        plane_pitch(round_up(positions + tiles_w, 16) + 16), m_pitch(round_up(positions, 16)),
        row_lead(round_up(p.pad[2], 16)), row_pitch(round_up(row_lead - p.pad[2] + M * (round_up(tiles_w, 16) + 1), 16)),
        v_floats(points * p.in_channels * v_pitch),
        m_floats(points * round_up(p.out_channels, conv_mr) * m_pitch), plane_floats(M * alpha * plane_pitch),
        row_floats((band_rows * M + alpha - M) * row_pitch), out_floats(M * M * m_pitch) {}

  // V's rows: whole lane groups, which the input transform writes and the matrix products' last
  // tile reads (their steps divide 16). A channel's points are `points` such rows; where that
  // span is whole 4 KB, a row of every channel maps to the same L1 sets, and the products, which
  // read one row per channel, evict their own lines: a lane group more then (32 channels on 16x16
  // with F(2x2) went 13.2 -> 16.9 us without it). Otherwise none: a lane group more on every row
  // had 64 channels on 56x56 9 % slower (V 1.33 MB, not 1.18).
  static constexpr index_t v_row_pitch(index_t positions) noexcept {
    const index_t pitch = round_up(positions, 16);
    return points * pitch % 1024 == 0 ? pitch + 16 : pitch;
  }

  // The band's tile rows: up to winograd_band positions (one row at least), as few of them lost
  // to rounding up to whole vectors of 16 as can be (the matrix products' tiles are whole vectors),
  // the most rows among equals.
  static constexpr index_t best_band_rows(index_t tiles_h, index_t tiles_w) noexcept {
    index_t most = winograd_band / tiles_w < 1 ? 1 : winograd_band / tiles_w;
    if (most > tiles_h) most = tiles_h;
    index_t best = 1;
    for (index_t r = 2; r <= most; ++r)  // r / round_up(r * tiles_w, 16) against the best's
      if (r * tiles_w * round_up(best * tiles_w, 16) >= best * tiles_w * round_up(r * tiles_w, 16)) best = r;
    return best;
  }
};

// Scratch: V, M, two buffers of the band's input planes (a tile's first M rows: the others are the
// next tile row's) and two of its padded input rows (one channel's in one stage, the next one's in
// the one before), its output rows (M per tile row), and room to align V to 64 bytes.
template <index_t M, class P> constexpr std::size_t winograd_scratch_bytes(const P& p) noexcept {
  const winograd_geometry<M> g(p);
  return static_cast<std::size_t>(g.v_floats + g.m_floats + 2 * g.plane_floats + 2 * g.row_floats + g.out_floats) *
             sizeof(float) +
         64;
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

// The transforms' operand: one value of 16 tiles, so one formula serves 16 tiles at once. Each
// operator is a loop of 16 that the compiler turns into the target's vectors (one AVX-512
// register, two AVX2 or four NEON ones), and the tile's values stay in local arrays, which no
// store through a pointer can alias.
struct tile_lanes {
  static constexpr index_t size = 16;
  float v[size];
  KILN_ALWAYS_INLINE friend tile_lanes operator+(tile_lanes a, const tile_lanes& b) noexcept {
    KILN_UNROLL for (index_t l = 0; l < size; ++l) a.v[l] += b.v[l];
    return a;
  }
  KILN_ALWAYS_INLINE friend tile_lanes operator-(tile_lanes a, const tile_lanes& b) noexcept {
    KILN_UNROLL for (index_t l = 0; l < size; ++l) a.v[l] -= b.v[l];
    return a;
  }
  KILN_ALWAYS_INLINE friend tile_lanes operator*(float k, tile_lanes a) noexcept {
    KILN_UNROLL for (index_t l = 0; l < size; ++l) a.v[l] *= k;
    return a;
  }
};

// A band's input rows, th0 * M - pad on, into `rows` (row_pitch apart) at column `lead`, whose
// borders (the padding, and past the last column) stay zero, as do rows outside the input. The
// lead is whole vectors, so the copy's stores are aligned (a store across cache lines costs more
// than a load: the split's loads take the padding's offset).
template <index_t M>
inline void winograd_copy_rows(const conv_params& p, const float* x, index_t th0, index_t band_rows, float* rows,
                               index_t lead, index_t row_pitch) noexcept {
  constexpr index_t A = M + 2;
  const index_t h = p.in[1], w = p.in[2];
  const index_t r0 = th0 * M - p.pad[1];
  for (index_t r = 0; r < band_rows * M + A - M; ++r)
    if (r0 + r >= 0 && r0 + r < h)
      std::memcpy(rows + r * row_pitch + lead, x + (r0 + r) * w, static_cast<std::size_t>(w) * sizeof(float));
}

// The band's input as planes: tile row th of the band (th0 first), input row th * M - pad + i
// (i < M), column tw * M + k - pad (k < alpha) at planes[(i * alpha + k) * pitch + th * tiles_w + tw],
// zero outside the plane, for th up to band_rows: one tile row past the band, of which rows
// i < alpha - M are kept. A tile's rows M .. alpha - 1 are the first rows of the tile below it,
// tiles_w positions on (winograd_input_tiles reads them there), so each input row is split once.
// The rows come from winograd_copy_rows and are split into the alpha column phases of a tile, 16
// tiles at a time (arch deinterleave_rows: phases M and M + 1 are the next tile's 0 and 1). A
// split's entries past tiles_w land on the next tile row's, written after, or in the planes' slack.
template <index_t M>
inline void winograd_split_rows(const conv_params& p, const float* rows, index_t lead, index_t row_pitch, index_t th0,
                                index_t band_rows, index_t tiles_w, float* planes, index_t pitch) noexcept {
  constexpr index_t A = M + 2;
  const index_t r0 = th0 * M - p.pad[1];
  for (index_t r = 0; r < band_rows * M + A - M; ++r) {
    const index_t th = r / M, i = r % M;
    float* const out = planes + i * A * pitch + th * tiles_w;
    if (r0 + r < 0 || r0 + r >= p.in[1]) {
      for (index_t k = 0; k < A; ++k)
        std::memset(out + k * pitch, 0, static_cast<std::size_t>(tiles_w) * sizeof(float));
      continue;
    }
    const float* const row = rows + r * row_pitch + lead - p.pad[2];
    for (index_t q = 0; q < tiles_w; q += 16) arch::active::deinterleave_rows<M, A>(row + q * M, out + q, pitch);
  }
}

// V[xi * v_xi + t] = (B^T d B)[xi] for the n tiles of the input planes (winograd_split_rows,
// `pitch` apart, a tile row `tiles_w` positions), in whole lane groups: up to 15 more of whatever
// the planes hold past the band (zeros, or input values a split left there: finite), which the
// matrix products' last tile reads and no output keeps.
template <index_t M>
inline void winograd_input_tiles(const float* planes, index_t pitch, index_t tiles_w, index_t n, float* v,
                                 index_t v_xi) noexcept {
  using T = winograd_transform<M>;
  constexpr index_t A = T::alpha, L = tile_lanes::size;
  static_assert(A - M <= M, "a tile's last rows are within the next tile row's first M");
  for (index_t t0 = 0; t0 < n; t0 += L) {
    tile_lanes rows[A][A];  // B^T along each input row
    KILN_UNROLL for (index_t i = 0; i < A; ++i) {
      const float* const row = planes + (i % M) * A * pitch + t0 + (i / M) * tiles_w;
      tile_lanes d[A];
      KILN_UNROLL for (index_t k = 0; k < A; ++k) std::memcpy(d[k].v, row + k * pitch, sizeof d[k].v);
      T::input(d, rows[i]);
    }
    KILN_UNROLL for (index_t b = 0; b < A; ++b) {
      tile_lanes col[A], o[A];
      KILN_UNROLL for (index_t i = 0; i < A; ++i) col[i] = rows[i][b];
      T::input(col, o);
      KILN_UNROLL for (index_t a = 0; a < A; ++a) std::memcpy(v + (a * A + b) * v_xi + t0, o[a].v, sizeof o[a].v);
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
    KILN_UNROLL for (index_t a = 0; a < A; ++a) {
      tile_lanes r[A];
      KILN_UNROLL for (index_t b = 0; b < A; ++b) std::memcpy(r[b].v, s + (a * A + b) * s_xi + t0, sizeof r[b].v);
      T::output(r, cols[a]);
    }
    tile_lanes o[M][M];  // o[k][r]: output row r, column k of each tile
    KILN_UNROLL for (index_t k = 0; k < M; ++k) {
      tile_lanes c[A];
      KILN_UNROLL for (index_t a = 0; a < A; ++a) c[a] = cols[a][k];
      T::output(c, o[k]);
    }
    KILN_UNROLL for (index_t r = 0; r < M; ++r) arch::active::interleave_rows<M>(o[0][r].v, M * L, out + r * pitch + t0 * M);
  }
}

template <index_t M>
inline void conv_winograd_into(const conv_params& p, const float* x, const float* u, const float* bias,
                               const float* residual, float* y, void* scratch) noexcept {
  constexpr index_t A = M + 2, P = A * A, MR = conv_mr;
  static_assert(16 % arch::active::f32_window_step == 0, "the products' last tile ends within whole lane groups");
  const winograd_geometry<M> geo(p);
  const index_t C = p.in_channels, out = p.out_channels, mblocks = ceil_div(out, MR);
  const index_t vp = geo.v_pitch, mp = geo.m_pitch, tiles_w = geo.tiles_w;
  const index_t in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  float* const v = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch) + 63) / 64 * 64);
  // V[c][xi][positions] and M[mblocks * MR][xi][positions]: a channel's points side by side, so the
  // input transform's stores of a lane group and the output transform's loads stay within one
  // region of P rows (xi outer, they went to P rows a whole product apart: every store a miss
  // that the products' reads then fetched back; 64 channels on 56x56 and 8x8 were 14 % slower).
  float* const mt = v + geo.v_floats;
  float* const planes = mt + geo.m_floats;
  float* const rows = planes + 2 * geo.plane_floats;  // after two buffers of planes
  float* const orow = rows + 2 * geo.row_floats;  // after two buffers of rows
  // Zero once: the rows' borders stay so; the planes' lane groups past a band read zeros or what
  // a split left there (input values), never stale arena bytes (a denormal costs x86 a microcode
  // assist per operation).
  std::memset(rows, 0, static_cast<std::size_t>(2 * geo.row_floats) * sizeof(float));
  std::memset(planes, 0, static_cast<std::size_t>(2 * geo.plane_floats) * sizeof(float));
  for (index_t n = 0; n < p.batch; ++n) {
    const float* const xn = x + n * C * in_plane;
    for (index_t th0 = 0; th0 < geo.tiles_h; th0 += geo.band_rows) {
      const index_t band_rows = geo.tiles_h - th0 < geo.band_rows ? geo.tiles_h - th0 : geo.band_rows;
      const index_t count = band_rows * tiles_w;
      // Three stages a channel apart: channel c + 2's rows are copied, c + 1's split, c's
      // transformed. A copy's and a split's vector stores overlap the next stage's loads without
      // containing them (rows copied off by the padding; 16 entries split at each tile row's
      // offset), and such a load cannot take its data forwarded from a store still in flight: it
      // waits for the store to retire (back to back, those waits took a third of a 16-channel
      // 32x32 layer's time and 15 % of a 64-channel 8x8 one on Zen 5).
      const auto rows_of = [&](index_t c) { return rows + (c % 2) * geo.row_floats; };
      const auto planes_of = [&](index_t c) { return planes + (c % 2) * geo.plane_floats; };
      const auto copy = [&](index_t c) {
        if (c < C) winograd_copy_rows<M>(p, xn + c * in_plane, th0, band_rows, rows_of(c), geo.row_lead, geo.row_pitch);
      };
      const auto split = [&](index_t c) {
        if (c < C)
          winograd_split_rows<M>(p, rows_of(c), geo.row_lead, geo.row_pitch, th0, band_rows, tiles_w, planes_of(c),
                                 geo.plane_pitch);
      };
      copy(0);
      copy(1);
      split(0);
      for (index_t c = 0; c < C; ++c) {
        copy(c + 2);
        split(c + 1);
        winograd_input_tiles<M>(planes_of(c), geo.plane_pitch, tiles_w, count, v + c * P * vp, vp);
      }
      // Each tile straight into M: rows of a last partial block land in M's spare rows.
      for (index_t xi = 0; xi < P; ++xi)
        f32_window_sweep_to(
            C, u + xi * mblocks * C * MR, C * MR, mblocks, count,
            [&](index_t j0) { return arch::panel_rows<float>{v + xi * vp + j0, P * vp}; },
            [&](index_t mb, index_t j0, float*, index_t) {
              return tile_target{mt + (mb * MR * P + xi) * mp + j0, P * mp};
            },
            [](index_t, index_t, const float*, index_t, index_t, index_t) {});
      with_activation(p.act, [&](auto act) {
        for (index_t m = 0; m < out; ++m) {
          const float b = bias ? bias[m] : 0.f;
          float* const ym = y + (n * out + m) * out_plane;
          winograd_output_tiles<M>(mt + m * P * mp, mp, count, orow, M * mp);
          for (index_t th = 0; th < band_rows; ++th)
            for (index_t r = 0; r < M && (th0 + th) * M + r < p.out[1]; ++r) {
              float* const yr = ym + ((th0 + th) * M + r) * p.out[2];
              store_row(yr, residual ? residual + (yr - y) : nullptr, orow + r * M * mp + th * tiles_w * M, b, p.out[2],
                        act);
            }
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
