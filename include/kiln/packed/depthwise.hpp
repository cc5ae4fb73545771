// Depthwise convolutions (group = C_in = C_out, 1-D or 2-D) on ONNX-layout weights. Per channel
// the plane is first copied into the scratch with its padding materialised (zero after the
// input zero point is subtracted), so no tap needs a bounds check, and split by column into
// stride phases, so a strided row read becomes a contiguous one. Output (oh, ow) is then element
// oh * pitch + ow of a "wide" plane that keeps the phase planes' row pitch: every tap is one
// contiguous multiply-add over the whole plane, long vectors even for planes a few columns wide;
// the extra columns of each row are computed and dropped.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../core/requantize.hpp"
#include "../ops/conv.hpp"
#include "../ops/quant.hpp"
#include "direct.hpp"
#include "epilogue.hpp"
#include "layout.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace kiln::packed {

namespace detail {
template <class P> constexpr index_t padded_width(const P& p) noexcept {
  return (p.out[2] - 1) * p.stride[2] + (p.kernel[2] - 1) * p.dilation[2] + 1;
}
template <class P> constexpr index_t padded_height(const P& p) noexcept {
  return (p.out[1] - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1;
}
// The padded plane is stored as stride[2] phase planes, column c in phase c % s at c / s, each
// phase_width wide: a strided row read becomes a contiguous one.
template <class P> constexpr index_t phase_width(const P& p) noexcept {
  return (padded_width(p) + p.stride[2] - 1) / p.stride[2];
}
template <class P> constexpr index_t phase_size(const P& p) noexcept { return padded_height(p) * phase_width(p); }
// Output (oh, ow) lives at oh * pitch + ow of the wide accumulator plane.
template <class P> constexpr index_t acc_pitch(const P& p) noexcept { return phase_width(p) * p.stride[1]; }

// A layer's taps on the phase planes (elements T) in groups of the kernels' depthwise_max_taps,
// tap t of the kernel (row-major) in group t / max_taps. Their offsets are the same for every
// channel, so each group's plan (the arch kernel's: offsets, Cortex-M's int16 pairs) is made once
// per layer, for kernels of up to `planned` groups (5x5); the groups of larger kernels are planned
// channel by channel. Planned per channel, the M4 spent 500-750 instructions a channel on it:
// DS-CNN's 3x3 layers (64 channels of 25x5) took 268 k instructions in the taps, 219-236 k
// planned once (builds inline differently).
template <class T> struct plane_taps {
  static constexpr index_t group = arch::active::depthwise_max_taps, planned = 2;
  index_t groups;
  index_t n;  // positions of the wide plane
  arch::active::depthwise_tap_plan<T> plan[planned];
};

template <class T, class P> inline arch::active::depthwise_tap_plan<T> plan_tap_group(const P& p, index_t g) noexcept {
  constexpr index_t group = plane_taps<T>::group;
  const index_t wq = phase_width(p), s = p.stride[2], taps = p.kernel[1] * p.kernel[2];
  const index_t first = g * group, count = taps - first < group ? taps - first : group;
  index_t off[group] = {};  // zero past the count: GCC 12 warned of reads there that never happen
  for (index_t t = 0; t < count; ++t) {
    const index_t kh = (first + t) / p.kernel[2], col = (first + t) % p.kernel[2] * p.dilation[2];
    off[t] = (col % s) * phase_size(p) + kh * p.dilation[1] * wq + col / s;
  }
  return arch::active::plan_depthwise_taps<T>(count, off);
}

template <class T, class P> inline plane_taps<T> plan_plane_taps(const P& p) noexcept {
  plane_taps<T> taps{};
  taps.groups = ceil_div(p.kernel[1] * p.kernel[2], plane_taps<T>::group);
  taps.n = (p.out[1] - 1) * acc_pitch(p) + p.out[2];
  for (index_t g = 0; g < taps.groups && g < plane_taps<T>::planned; ++g) taps.plan[g] = plan_tap_group<T>(p, g);
  return taps;
}

// acc[oh * pitch + ow] = bias + sum over taps (w[t] - wz) * x(oh*s_h + kh*d_h, ow*s_w + kw*d_w),
// read from the phase planes (elements T, accumulators A): for every tap one contiguous
// multiply-add over the wide plane, by the arch kernel a group of taps at a time.
template <class P, class T, class W, class A>
inline void depthwise_plane(const P& p, const plane_taps<T>& taps, const T* xp, const W* w, T wz, A bias,
                            A* acc) noexcept {
  constexpr index_t group = plane_taps<T>::group;
  for (index_t g = 0; g < taps.groups; ++g) {
    arch::active::depthwise_tap_plan<T> spare;
    const auto& plan = g < plane_taps<T>::planned ? taps.plan[g] : (spare = plan_tap_group<T>(p, g));
    T wt[group];
    for (index_t t = 0; t < plan.taps; ++t)
      wt[t] = static_cast<T>(static_cast<A>(w[g * group + t]) - static_cast<A>(wz));
    arch::active::depthwise_taps(plan, taps.n, wt, xp, bias, g > 0, acc);
  }
}

// The phase planes' padding entries are zero (the input less its zero point, padded with the zero
// point) in every channel: zero_phase_planes writes the whole planes once per layer, and
// copy_to_phase_planes then each channel's input entries only. Every entry is defined, also a
// phase's last one past the padded width, which the wide plane's dropped columns read. Padded
// channel by channel, the M4 made each row's padding runs of one or two entries a libc memset
// call where the shapes are not constants: MobileNet's 128-channel 6x6 layers took 111 k
// instructions to pad their planes, 66 k without those calls.
template <class P, class A> inline void zero_phase_planes(const P& p, A* xp) noexcept {
  std::memset(xp, 0, static_cast<std::size_t>(p.stride[2] * phase_size(p)) * sizeof(A));
}

// Copies channel plane x (H x W, elements ES apart) into the phase planes as A(x) - zp, over the
// entries zero_phase_planes left zero.
template <index_t ES = 1, class P, class X, class A>
inline void copy_to_phase_planes(const P& p, const X* x, A zp, A* xp) noexcept {
  const index_t hp = padded_height(p), wq = phase_width(p), s = p.stride[2];
  const index_t size = phase_size(p);
  // Padded rows [lo, hi) hold input rows r - pad[1].
  const index_t lo = p.pad[1] < hp ? p.pad[1] : hp, hi = p.pad[1] + p.in[1] < hp ? p.pad[1] + p.in[1] : hp;
  for (index_t ph = 0; ph < s; ++ph) {
    const index_t shift = ph - p.pad[2];  // phase column q reads input column q * s + shift
    const index_span span = inside_span(shift, s, p.in[2], wq);
    for (index_t r = lo; r < hi; ++r) {
      A* dst = xp + ph * size + r * wq;
      phase_row<ES>(x + (r - p.pad[1]) * p.in[2] * ES, span, s, shift,
                    [dst, zp](index_t q, X v) { dst[q] = static_cast<A>(static_cast<A>(v) - zp); });
    }
  }
}

// Depthwise with arch::active::depthwise_lanes channels side by side: every vector is full
// whatever the plane size, where the per-channel wide plane gives small planes a few short rows
// and computes dropped columns. The lanes' padded input rows live in a window of the rows a group
// of output rows reads, each input row interleaved by lane once (arch::active::interleave_lanes;
// x86 transposes 16 x 16 bytes or 4 x 4 floats in registers; a blocked input is copied) and the
// outputs deinterleaved back (or stored as they are, blocked). Used for layers with at least a full block of lanes, on planes up to the target's
// depthwise_lanes_max_plane<A>: on x86 that is every plane (measured on MobileNet and DS-CNN,
// 48x48 to 3x3: 2-3x faster than the wide plane on the small ones).
template <class P> constexpr bool lanes_possible(const P& p) noexcept {
  return p.out_channels >= arch::generic::depthwise_lanes;
}
template <class A, class P> constexpr bool lanes_apply(const P& p) noexcept {
  if constexpr (arch::active::depthwise_lanes_max_plane<A> == 0) return false;  // no lanes code at all
  else return lanes_possible(p) && p.out[1] * acc_pitch(p) <= arch::active::depthwise_lanes_max_plane<A>;
}
// Padded input rows one output row reads.
template <class P> constexpr index_t lane_tap_rows(const P& p) noexcept {
  return (p.kernel[1] - 1) * p.dilation[1] + 1;
}
// Output rows computed by one call of the lanes kernel: enough for about 32 positions, so that
// narrow planes still give the kernel whole tiles of independent positions (DS-CNN's 5-column
// rows one at a time left its multiply-adds waiting on each other's latency: half its depthwise
// time). Their input rows sit in a window of lane_window_rows.
template <class P> constexpr index_t lane_group_rows(const P& p) noexcept {
  constexpr index_t positions = 32;
  const index_t g = (positions + p.out[2] - 1) / p.out[2];
  return g < p.out[1] ? g : p.out[1];
}
template <class P> constexpr index_t lane_window_rows(const P& p) noexcept {
  return (lane_group_rows(p) - 1) * p.stride[1] + lane_tap_rows(p);
}
// Output positions held before they are stored: a group of rows, plus fewer than L left from the
// groups before.
template <class P> constexpr index_t lane_out_positions(const P& p) noexcept {
  return lane_group_rows(p) * p.out[2] + arch::generic::depthwise_lanes - 1;
}
// The window, the lanes' weights and biases, the held output accumulators, the tap offsets and
// the positions' bases; then as many requantized outputs (up to 16-bit) for int8 layers, apart
// from the accumulators so the requantizing loop has no aliasing to rule out and vectorizes.
template <class P> constexpr std::size_t lanes_work_bytes(const P& p) noexcept {
  constexpr index_t L = arch::generic::depthwise_lanes;
  const index_t taps = p.kernel[1] * p.kernel[2];
  return static_cast<std::size_t>(lane_window_rows(p) * padded_width(p) * L + taps * L + L + lane_out_positions(p) * L) *
             4 +
         static_cast<std::size_t>(taps + lane_group_rows(p) * p.out[2]) * sizeof(index_t);
}
// Then the held outputs requantized (up to 16-bit), and one input row of a planar int8 layer's
// lanes, interleaved, from which its lane quads are built.
template <class P> constexpr std::size_t lane_quad_row_offset(const P& p) noexcept {
  return lanes_work_bytes(p) + static_cast<std::size_t>(lane_out_positions(p) * arch::generic::depthwise_lanes) * 2;
}
template <class P> constexpr std::size_t lanes_scratch_bytes(const P& p) noexcept {
  return lane_quad_row_offset(p) + static_cast<std::size_t>(p.in[2] * arch::generic::depthwise_lanes);
}

// depthwise_by_lanes' load from planar (NCHW) rows: a register transpose of the lanes' rows.
template <class P, class X, class A> struct interleave_planar {
  const P& p;
  A zero_point;
  void operator()(const X* block, index_t ih, index_t lanes, index_t width, A* dst) const noexcept {
    const index_t in_plane = p.in[1] * p.in[2];
    arch::active::interleave_lanes(block + ih * p.in[2], in_plane, lanes, width, zero_point, dst);
  }
};

// block for ONNX-layout weights w[C][taps]: channel(c, lane, bias, wz) reports each channel's bias
// and weight zero point (and lets the caller note per-lane state).
template <class A, class P, class W, class Channel>
inline const A* gather_lane_weights(const P& p, const W* w, index_t c0, index_t lanes, Channel&& channel, A* wl,
                                    A* bl) noexcept {
  constexpr index_t L = arch::active::depthwise_lanes;
  const index_t taps = p.kernel[1] * p.kernel[2];
  for (index_t i = 0; i < taps * L; ++i) wl[i] = A(0);
  for (index_t l = 0; l < L; ++l) bl[l] = A(0);
  for (index_t l = 0; l < lanes; ++l) {
    A wz(0);
    channel(c0 + l, l, bl[l], wz);
    for (index_t t = 0; t < taps; ++t) wl[t * L + l] = static_cast<A>(w[(c0 + l) * taps + t]) - wz;
  }
  return wl;
}

// The columns a window element holds per lane: one (E = A, x minus the zero point) or, for int8
// layers on targets with dot products (arch::active::depthwise_int8_quads), four columns'
// uint8 bytes d apart in one 32-bit word, a tap step then covering four kernel columns.
template <bool Quads> inline constexpr index_t lane_columns = Quads ? 4 : 1;
template <bool Quads, class P> constexpr index_t lane_steps(const P& p) noexcept {
  return p.kernel[1] * ceil_div(p.kernel[2], lane_columns<Quads>);
}

// row(xb, r, lanes, dst) for the one-column window from load(block, ih, lanes, width, dst), which
// writes columns [0, width) of input row ih of channels [c0, c0 + lanes), whose data start at
// `block`, to dst[iw * L + lane] as A(x) - zero point (interleaving planar rows, or copying a
// blocked row: packed/layout.hpp): zero in the padding and in lanes past the last.
template <class A, class P, class Load> auto padded_lane_row(const P& p, Load&& load) noexcept {
  return [&p, load](const auto* xb, index_t r, index_t lanes, A* d) {
    constexpr index_t L = arch::active::depthwise_lanes;
    const index_t wp = padded_width(p), row_size = wp * L, ih = r - p.pad[1];
    const index_t width = p.in[2] < wp - p.pad[2] ? p.in[2] : wp - p.pad[2];
    const bool inside = ih >= 0 && ih < p.in[1];
    // Zero what the load leaves: all of a padding row or of a partial block of lanes, else
    // the padding columns on either side.
    const index_t lo = inside && lanes == L ? p.pad[2] * L : row_size;
    for (index_t i = 0; i < lo; ++i) d[i] = A(0);
    // The test outside the loop: with `lo < row_size` in the loop's condition GCC stored these
    // zeros one by one (a sixth of DS-CNN's float depthwise time).
    if (lo < row_size)
      for (index_t i = (p.pad[2] + width) * L; i < row_size; ++i) d[i] = A(0);
    if (inside) load(xb, ih, lanes, width, d + p.pad[2] * L);
  };
}

// depthwise_by_lanes' store with a target and the activation its kernel applies (see there).
template <class Store, class Target, class Act> struct direct_store {
  Store store;
  Target target;
  Act act;
  template <class A> void operator()(index_t n, index_t c0, index_t lanes, index_t pos, index_t count, A* out) const {
    store(n, c0, lanes, pos, count, out);
  }
};
template <class S> inline constexpr bool is_direct_store = false;
template <class S, class T, class Act> inline constexpr bool is_direct_store<direct_store<S, T, Act>> = true;

// block(c0, lanes, wl, bl) sets bl[l] to the bias of channel c0 + l and returns the block's
// weights as [steps][L] (packed at codegen time, or gathered into wl by gather_lane_weights; zero
// past `lanes`); row(block, r, lanes, dst) writes padded input row r of channels [c0, c0 + lanes),
// whose data start at `block`, to dst[iw * L + lane] for iw < padded_width (padded_lane_row, or
// the lanes' quads); store(n, c0, lanes, pos, count, out) writes output positions [pos, pos +
// count) of channels [c0, c0 + lanes) from out[i * L + lane] (its scratch to reuse). A block's
// channels are read before they are written. Outputs are held until
// a multiple of L positions is ready, across row ends: each store is then whole register
// transposes (arch::active::deinterleave_lanes) however narrow the rows, where a row at a time
// leaves a 5-column plane's transposes two thirds empty (DS-CNN: half the depthwise time).
// A store may also be a direct_store (above): its target(n, c0), where not null, is where
// position i of the block's outputs goes as its L lanes (a blocked output of the accumulators'
// type); the kernel then writes there, applying the store's act (targets with arch::active::
// depthwise_lane_taps_activate), and the store itself is not called (a float layer's copy from
// `out`, activated, was a sixth of its time). A struct rather than more parameters: two more made
// GCC stop inlining this function for Cortex-M, 12 KB more code on MobileNet.
template <class A, bool Quads = false, class P, class X, class Block, class Row, class Store>
inline void depthwise_by_lanes(const P& p, const X* x, Block&& block, Row&& row, Store&& store,
                               void* scratch) noexcept {
  constexpr bool direct = is_direct_store<std::decay_t<Store>>;
  using E = std::conditional_t<Quads, std::uint32_t, A>;  // a window element (and a weight)
  static_assert(sizeof(E) == sizeof(A), "the scratch holds 4-byte elements");
  constexpr index_t L = arch::active::depthwise_lanes, C = lane_columns<Quads>;
  const index_t tap_rows = lane_tap_rows(p), wp = padded_width(p), steps = lane_steps<Quads>(p);
  const index_t group = lane_group_rows(p), in_plane = p.in[1] * p.in[2], row_size = wp * L;
  const index_t qw = ceil_div(p.kernel[2], C);
  E* const xl = static_cast<E*>(scratch);
  E* const wl = xl + lane_window_rows(p) * row_size;
  A* const bl = reinterpret_cast<A*>(wl + p.kernel[1] * p.kernel[2] * L);
  A* const out = bl + L;
  index_t* const off = reinterpret_cast<index_t*>(out + lane_out_positions(p) * L);
  index_t* const base = off + p.kernel[1] * p.kernel[2];
  // Step (kh, kq) (kernel columns C * kq on) of the output at row g of a group, column ow reads
  // window element base[g * out_w + ow] + off[kh * qw + kq] (times L lanes).
  for (index_t kh = 0; kh < p.kernel[1]; ++kh)
    for (index_t kq = 0; kq < qw; ++kq)
      off[kh * qw + kq] = (kh * p.dilation[1] * wp + C * kq * p.dilation[2]) * L;
  for (index_t g = 0; g < group; ++g)
    for (index_t ow = 0; ow < p.out[2]; ++ow) base[g * p.out[2] + ow] = (g * p.stride[1] * wp + ow * p.stride[2]) * L;
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c0 = 0; c0 < p.out_channels; c0 += L) {
      const index_t lanes = p.out_channels - c0 < L ? p.out_channels - c0 : L;
      const E* const wb = block(c0, lanes, wl, bl);
      const X* xb = x + (n * p.in_channels + c0) * in_plane;
      A* to = nullptr;
      if constexpr (direct) to = store.target(n, c0);
      index_t first = 0, loaded = 0;  // the window holds padded rows [first, loaded)
      index_t held = 0, stored = 0;   // output positions in `out`, and stored before them
      for (index_t oh = 0; oh < p.out[1]; oh += group) {
        const index_t rows = p.out[1] - oh < group ? p.out[1] - oh : group;
        const index_t top = oh * p.stride[1], end = top + (rows - 1) * p.stride[1] + tap_rows;
        // Rows the previous group loaded and this one reads move to the front of the window.
        if (loaded > top)
          std::memmove(xl, xl + (top - first) * row_size, sizeof(E) * static_cast<std::size_t>((loaded - top) * row_size));
        else
          loaded = top;
        first = top;
        for (; loaded < end; ++loaded) row(xb, loaded, lanes, xl + (loaded - first) * row_size);
        A* const dst = to ? to + stored * L : out + held * L;
        if constexpr (Quads)
          arch::active::depthwise_lane_quads(rows * p.out[2], base, steps, wb, off, xl, bl, dst);
        else if constexpr (direct)
          arch::active::depthwise_lane_taps(rows * p.out[2], base, steps, wb, off, xl, bl, dst, store.act);
        else
          arch::active::depthwise_lane_taps(rows * p.out[2], base, steps, wb, off, xl, bl, dst);
        if (to) {
          stored += rows * p.out[2];
          continue;
        }
        held += rows * p.out[2];
        const index_t count = oh + rows == p.out[1] ? held : held - held % L;
        if (count > 0) {
          store(n, c0, lanes, stored, count, out);
          stored += count;
          held -= count;
          std::memmove(out, out + count * L, sizeof(A) * static_cast<std::size_t>(held * L));
        }
      }
    }
}
}  // namespace detail

// Whether the depthwise kernels below take this geometry (1-D or 2-D, one channel per group).
template <class P> constexpr bool depthwise_applies(const P& p) noexcept {
  return p.group == p.in_channels && p.group == p.out_channels && p.kernel[0] == 1 && p.in[0] == 1 &&
         p.out[0] == 1;
}

// Scratch of both kernels: the padded plane and the wide accumulator plane (4-byte elements), or
// the lanes' window and weights, whichever is larger (the target picks the path, not the codegen).
template <class P> constexpr std::size_t depthwise_scratch_bytes(const P& p) noexcept {
  const std::size_t planes =
      static_cast<std::size_t>(p.stride[2] * detail::phase_size(p) + p.out[1] * detail::acc_pitch(p)) * 4;
  const std::size_t lanes = detail::lanes_possible(p) ? detail::lanes_scratch_bytes(p) : 0;
  return planes > lanes ? planes : lanes;
}

namespace detail {
// Stride-1 layers go through a window of whole padded rows, band_rows output rows at a time
// (depthwise_band): as many as fit the scratch the window path takes anyway, after
// depthwise_lane_row_lead positions for the outputs. That always holds one output row's input
// rows (the window path's window does), so no arena grows for the band path.
template <class P> constexpr bool band_applies(const P& p) noexcept {
  return p.stride[1] == 1 && p.stride[2] == 1;
}
template <class P> constexpr index_t band_halo(const P& p) noexcept { return (p.kernel[1] - 1) * p.dilation[1]; }
template <class P> constexpr index_t band_rows(const P& p) noexcept {
  const index_t floats = static_cast<index_t>(depthwise_scratch_bytes(p) / sizeof(float));
  const index_t row = padded_width(p) * channel_block;
  const index_t fit = (floats - arch::generic::depthwise_lane_row_lead * channel_block) / row - band_halo(p);
  return fit < p.out[1] ? fit : p.out[1];
}
}  // namespace detail

namespace detail {
// Float depthwise by lanes from and to either channel layout (see depthwise_by_layout), the
// weights from block (see depthwise_by_lanes).
template <channel_layout In, channel_layout Out, class Block>
inline void depthwise_f32_lanes(const conv_params& p, const float* x, Block&& block, float* y, void* scratch) noexcept {
  constexpr index_t L = arch::active::depthwise_lanes;
  static_assert(L == channel_block, "a lane group is a channel block");
  // The kernel activates and writes a blocked output in place where it takes the activation
  // (hosts); elsewhere the stores activate, copying a blocked output from the kernel's.
  constexpr bool fused = arch::active::depthwise_lane_taps_activate;
  const index_t out_plane = p.out[1] * p.out[2];
  with_activation(p.act, [&](auto act) {
    const auto row = padded_lane_row<float>(p, [&](const float* in, index_t ih, index_t lanes, index_t width, float* dst) {
      if constexpr (In == channel_layout::blocked)
        std::memcpy(dst, in + ih * p.in[2] * L, sizeof(float) * static_cast<std::size_t>(width * L));
      else
        interleave_planar<conv_params, float, float>{p, 0.f}(in, ih, lanes, width, dst);
    });
    const auto store = [&](index_t n, index_t c0, index_t lanes, index_t pos, index_t count, float* out) {
      float* const yb = y + (n * p.out_channels + c0) * out_plane;
      if constexpr (Out == channel_layout::blocked) {
        arch::active::activate_row(yb + pos * L, out, count * L, act);  // not reached where fused
      } else {
        if constexpr (!fused) arch::active::activate_row(out, out, count * L, act);
        arch::active::deinterleave_lanes(out, count, lanes, yb + pos, out_plane);
      }
    };
    if constexpr (fused) {
      const auto target = [&](index_t n, index_t c0) -> float* {
        return Out == channel_layout::blocked ? y + (n * p.out_channels + c0) * out_plane : nullptr;
      };
      using direct = direct_store<decltype(store), decltype(target), decltype(act)>;
      depthwise_by_lanes<float>(p, x, block, row, direct{store, target, act}, scratch);
    } else {
      depthwise_by_lanes<float>(p, x, block, row, store, scratch);
    }
  });
}
}  // namespace detail

namespace detail {
// arch::active::depthwise_lane_row with the common geometries' stride, dilation and kernel width
// as constants, so that the kernel reuses its loads.
template <class Act>
inline void lane_row(index_t n, const float* x, index_t pitch, index_t rows, const float* w, const float* bias,
                     float* out, Act act, index_t s, index_t d, index_t kw) noexcept {
  if (s == 1 && d == 1 && kw == 3)
    arch::active::depthwise_lane_row<1, 1, 3>(n, x, pitch, rows, w, bias, out, act, s, d, kw);
  else if (s == 2 && d == 1 && kw == 3)
    arch::active::depthwise_lane_row<2, 1, 3>(n, x, pitch, rows, w, bias, out, act, s, d, kw);
  else if (s == 1 && d == 1 && kw == 5)
    arch::active::depthwise_lane_row<1, 1, 5>(n, x, pitch, rows, w, bias, out, act, s, d, kw);
  else
    arch::active::depthwise_lane_row(n, x, pitch, rows, w, bias, out, act, s, d, kw);
}

// Calls f(x, w, bias, y) for each batch item and block of channel_block channels with the block's
// input, packed weights, biases (zeros where the layer has none) and output: a block starts at
// the same offset in either channel layout.
template <class F>
inline void for_each_lane_block(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                                F&& f) noexcept {
  constexpr index_t L = channel_block;
  alignas(64) static constexpr float no_bias[L] = {};
  const index_t in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2], taps = p.kernel[1] * p.kernel[2];
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.out_channels; c += L)
      f(x + (n * p.in_channels + c) * in_plane, w + c * taps, bias ? bias + c : no_bias,
        y + (n * p.out_channels + c) * out_plane);
}

// A stride-1 float depthwise layer between any channel layouts (whole blocks of channels), on
// targets with arch::active::depthwise_lane_row: per band of output rows, the window of the padded
// input rows it reads (planar rows interleaved into lanes; the rows the band before read last
// moved to the front), then one kernel call over the window as a single row of padded-width
// output rows, whose columns past the output width are computed and dropped. The outputs go
// depthwise_lane_row_lead positions before the window, over input no later position reads, and
// are then copied out (deinterleaved for a planar output). One call over the band gives narrow
// planes whole blocks of positions (MobileNet's 6x6 layers row by row: 25 % slower than the
// window path before). In place too: a band reads input rows below the output rows written before.
template <channel_layout In, channel_layout Out, class Act>
inline void depthwise_band(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                           float* scratch, Act act) noexcept {
  constexpr index_t L = channel_block;
  const index_t wp = padded_width(p), in_w = p.in[2], in_h = p.in[1], out_w = p.out[2], out_h = p.out[1];
  const index_t in_plane = in_h * in_w, out_plane = out_h * out_w;
  const index_t halo = band_halo(p), band = band_rows(p), row_size = wp * L;
  float* const window = scratch + arch::active::depthwise_lane_row_lead * L;
  // Columns [c0, c1) of a padded row hold input columns c - pad[2].
  const index_t c0 = p.pad[2] < wp ? p.pad[2] : wp, c1 = p.pad[2] + in_w < wp ? p.pad[2] + in_w : wp;
  for_each_lane_block(p, x, w, bias, y, [&](const float* xb, const float* wb, const float* bb, float* yb) {
    index_t loaded = 0;  // padded rows in the window from the band before
    for (index_t oh = 0; oh < out_h; oh += band) {
      const index_t rows = out_h - oh < band ? out_h - oh : band;
      if (loaded > 0)
        std::memmove(window, window + band * row_size, sizeof(float) * static_cast<std::size_t>(loaded * row_size));
      for (index_t r = loaded; r < rows + halo; ++r) {
        float* const dst = window + r * row_size;
        const index_t ih = oh + r - p.pad[1];
        if (ih < 0 || ih >= in_h || c1 <= c0) {
          std::memset(dst, 0, sizeof(float) * static_cast<std::size_t>(row_size));
          continue;
        }
        std::memset(dst, 0, sizeof(float) * static_cast<std::size_t>(c0 * L));
        if constexpr (In == channel_layout::blocked)
          std::memcpy(dst + c0 * L, xb + (ih * in_w + c0 - p.pad[2]) * L,
                      sizeof(float) * static_cast<std::size_t>((c1 - c0) * L));
        else
          arch::active::interleave_lanes(xb + ih * in_w + c0 - p.pad[2], in_plane, L, c1 - c0, 0.f, dst + c0 * L);
        std::memset(dst + c1 * L, 0, sizeof(float) * static_cast<std::size_t>((wp - c1) * L));
      }
      loaded = halo;
      lane_row((rows - 1) * wp + out_w, window, p.dilation[1] * row_size, p.kernel[1], wb, bb, scratch, act, 1,
               p.dilation[2], p.kernel[2]);
      for (index_t r = 0; r < rows; ++r)
        if constexpr (Out == channel_layout::blocked)
          std::memcpy(yb + (oh + r) * out_w * L, scratch + r * row_size,
                      sizeof(float) * static_cast<std::size_t>(out_w * L));
        else
          arch::active::deinterleave_lanes(scratch + r * row_size, out_w, L, yb + (oh + r) * out_w, out_plane);
    }
  });
}

// A strided float depthwise layer from a blocked input to a blocked output straight from the
// input rows (arch::active::depthwise_lane_row), on targets with that kernel, where the window
// path copies every input row into its window, moves the rows the next group of output rows reads
// again to its front, and loads each input vector once per tap (MobileNet's 16-channel 48x48
// stride-2 layer: 5.2 -> 1.9 us). Not in place: it reads input rows after it writes output rows.
// Rows whose taps reach past the top or bottom take only the kernel rows inside.
// The edge columns, whose taps reach into the padding, are gathered from all rows: each into a
// zero-padded copy of the columns it reads, side by side, so that one call computes up to
// edge_batch of them (one call per edge had a lone chain of dependent multiply-adds each: a
// 6x6 plane's 12 edges cost more than its 24 inner positions). Weights packed by
// pack_depthwise_weights; the scratch is depthwise_scratch_bytes(p) bytes.
template <class Act>
inline void depthwise_blocked_rows(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                                   float* scratch, Act act) noexcept {
  constexpr index_t L = channel_block, edge_batch = 32;
  const index_t kh_n = p.kernel[1], kw_n = p.kernel[2], sh = p.stride[1], dh = p.dilation[1];
  const index_t s = p.stride[2], d = p.dilation[2], in_w = p.in[2], in_h = p.in[1], out_w = p.out[2];
  // Output columns [lo, hi) read only columns inside the row: the first and the last kernel
  // column both inside.
  index_t lo, hi, first_lo, first_hi;
  kiln::detail::valid_range(in_w, out_w, s, p.pad[2], 0, first_lo, first_hi);
  kiln::detail::valid_range(in_w, out_w, s, p.pad[2], (kw_n - 1) * d, lo, hi);
  if (first_lo > lo) lo = first_lo;
  if (first_hi < hi) hi = first_hi;
  if (hi < lo) hi = lo;
  // An edge's copy: kh_n rows of the `span` columns it reads; `cap` of them side by side, then
  // their outputs.
  const index_t span = (kw_n - 1) * d + 1;
  index_t cap = static_cast<index_t>(depthwise_scratch_bytes(p) / sizeof(float)) / ((kh_n * span + 1) * L);
  if (cap > edge_batch) cap = edge_batch;
  float* const edge_out = scratch + kh_n * cap * span * L;
  const auto row = [&](index_t n, const float* xr, index_t pitch, index_t rows, const float* wr, const float* br,
                       index_t step, float* out) { lane_row(n, xr, pitch, rows, wr, br, out, act, step, d, kw_n); };
  for_each_lane_block(p, x, w, bias, y, [&](const float* xb, const float* wb, const float* bb, float* yb) {
    for (index_t oh = 0; oh < p.out[1]; ++oh) {
      if (hi == lo) break;
      // Kernel rows [k0, k1) read input rows inside the plane.
      index_t k0 = 0, k1 = kh_n;
      const index_t top = oh * sh - p.pad[1];
      while (k0 < kh_n && top + k0 * dh < 0) ++k0;
      while (k1 > k0 && top + (k1 - 1) * dh >= in_h) --k1;
      const float* const x0 = k1 > k0 ? xb + ((top + k0 * dh) * in_w + lo * s - p.pad[2]) * L : xb;
      row(hi - lo, x0, dh * in_w * L, k1 - k0, wb + k0 * kw_n * L, bb, s, yb + (oh * out_w + lo) * L);
    }
    // The edges, `cap` at a time: edge e's copy is columns [e * span, (e + 1) * span) of every
    // kernel row's copy row, zero where the input has no row or column.
    index_t held = 0;
    index_t where[edge_batch];
    const auto flush = [&] {
      row(held, scratch, cap * span * L, kh_n, wb, bb, span, edge_out);
      for (index_t e = 0; e < held; ++e) std::memcpy(yb + where[e] * L, edge_out + e * L, sizeof(float) * L);
      held = 0;
    };
    for (index_t oh = 0; oh < p.out[1]; ++oh)
      for (index_t ow = 0; ow < out_w; ++ow) {
        if (ow == lo) ow = hi;
        if (ow >= out_w) break;
        for (index_t i = 0; i < kh_n; ++i) {
          const index_t ih = oh * sh - p.pad[1] + i * dh;
          for (index_t c = 0; c < span; ++c) {
            const index_t iw = ow * s - p.pad[2] + c;
            float* const dst = scratch + ((i * cap + held) * span + c) * L;
            if (ih >= 0 && ih < in_h && iw >= 0 && iw < in_w)
              std::memcpy(dst, xb + (ih * in_w + iw) * L, sizeof(float) * L);
            else
              std::memset(dst, 0, sizeof(float) * L);
          }
        }
        where[held++] = oh * out_w + ow;
        if (held == cap) flush();
      }
    if (held > 0) flush();
  });
}
}  // namespace detail

// Float depthwise by lanes from and to either channel layout (packed/layout.hpp): a blocked input
// row goes into the window as it is and a blocked output is stored as computed, where planar ones
// pass through register transposes (half of DS-CNN's depthwise time). Weights packed by
// pack_depthwise_weights, so a block's taps are read as they are. Channels in whole blocks of 16;
// the scratch is depthwise_scratch_bytes(p).
template <channel_layout In, channel_layout Out>
inline void depthwise_by_layout(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                                void* scratch) noexcept {
  const auto by_window = [&] {
    const index_t taps = p.kernel[1] * p.kernel[2];
    detail::depthwise_f32_lanes<In, Out>(
        p, x,
        [&](index_t c0, index_t, float*, float* bl) {
          for (index_t l = 0; l < channel_block; ++l) bl[l] = bias ? bias[c0 + l] : 0.f;
          return w + c0 * taps;
        },
        y, scratch);
  };
  if constexpr (arch::active::depthwise_lane_rows) {
    float* const f = static_cast<float*>(scratch);
    constexpr bool blocked = In == channel_layout::blocked && Out == channel_layout::blocked;
    if (detail::band_applies(p)) {
      if (arch::active::depthwise_lane_row_bands)
        detail::with_activation(p.act, [&](auto act) { detail::depthwise_band<In, Out>(p, x, w, bias, y, f, act); });
      else
        by_window();
    } else if (blocked && x != y) {  // not in place: the row path reads input rows after it writes output rows
      detail::with_activation(p.act, [&](auto act) { detail::depthwise_blocked_rows(p, x, w, bias, y, f, act); });
    } else {
      by_window();
    }
  } else {
    by_window();
  }
}

inline void depthwise(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                      void* scratch) noexcept {
  const index_t pitch = detail::acc_pitch(p), in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  if (detail::lanes_apply<float>(p)) {
    detail::depthwise_f32_lanes<channel_layout::planar, channel_layout::planar>(
        p, x,
        [&](index_t c0, index_t lanes, float* wl, float* bl) {
          return detail::gather_lane_weights(
              p, w, c0, lanes, [&](index_t c, index_t, float& b, float&) { b = bias ? bias[c] : 0.f; }, wl, bl);
        },
        y, scratch);
    return;
  }
  float* const xp = static_cast<float*>(scratch);
  float* const acc = xp + p.stride[2] * detail::phase_size(p);
  detail::zero_phase_planes(p, xp);
  const auto taps = detail::plan_plane_taps<float>(p);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.out_channels; ++c) {
      detail::copy_to_phase_planes(p, x + (n * p.in_channels + c) * in_plane, 0.f, xp);
      detail::depthwise_plane(p, taps, xp, w + c * p.kernel[1] * p.kernel[2], 0.f, bias ? bias[c] : 0.f, acc);
      float* yc = y + (n * p.out_channels + c) * out_plane;
      detail::with_activation(p.act, [&](auto act) {
        for (index_t oh = 0; oh < p.out[1]; ++oh)
          arch::active::activate_row(yc + oh * p.out[2], acc + oh * pitch, p.out[2], act);
      });
    }
}

namespace detail {
// Whether every weight less its zero point is an int8 (the lane quads' weights): always for int8
// weights with zero points 0 and uint8 ones with 128, else checked weight by weight.
template <class W> inline bool lane_quad_weights_fit(const qconv_params& p, const W* w, const W* w_zp) noexcept {
  constexpr std::int32_t centre = std::is_signed_v<W> ? 0 : 128;
  const index_t zps = w_zp ? p.w_zp_count : 0, taps = p.kernel[1] * p.kernel[2];
  bool centred = true;
  for (index_t i = 0; i < zps; ++i) centred = centred && w_zp[i] == centre;
  if (centred && (w_zp || std::is_signed_v<W>)) return true;
  for (index_t c = 0; c < p.out_channels; ++c) {
    const std::int32_t wz = w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? c : 0]) : 0;
    for (index_t t = 0; t < taps; ++t) {
      const std::int32_t v = static_cast<std::int32_t>(w[c * taps + t]) - wz;
      if (v < -128 || v > 127) return false;
    }
  }
  return true;
}

// The lane quads' weights of the block of channels [c0, c0 + lanes) as [kh][kq][lane] words, bytes
// in memory order (the quads are little-endian words) w - wz of kernel columns 4 kq + b, zero past
// the kernel and the lanes; bl[l] the folded bias (see qlinear_depthwise_lanes) of lane l, zero
// past the lanes. xz_u8: the input zero point as the quads hold it. Loops over lanes inside, no
// division by the quad: with run-time shapes (no --specialize) the gather per tap and lane took
// DS-CNN int8 a tenth of its time.
template <class W>
inline void lane_quad_block(const qconv_params& p, const W* w, const W* w_zp, const std::int32_t* bias,
                            std::uint8_t xz_u8, index_t c0, index_t lanes, std::uint32_t* wl, std::int32_t* bl) noexcept {
  constexpr index_t L = arch::generic::depthwise_lanes;
  const index_t taps = p.kernel[1] * p.kernel[2], qw = ceil_div(p.kernel[2], 4);
  std::uint8_t* const wb = reinterpret_cast<std::uint8_t*>(wl);
  std::memset(wb, 0, sizeof(std::uint32_t) * static_cast<std::size_t>(p.kernel[1] * qw * L));
  std::int32_t wz[L], sum[L];
  for (index_t l = 0; l < lanes; ++l) {
    wz[l] = w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? c0 + l : 0]) : 0;
    sum[l] = 0;
  }
  for (index_t kh = 0; kh < p.kernel[1]; ++kh)
    for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
      const W* wt = w + c0 * taps + kh * p.kernel[2] + kw;
      std::uint8_t* const dst = wb + 4 * (kh * qw + kw / 4) * L + kw % 4;
      for (index_t l = 0; l < lanes; ++l) {
        const std::int32_t v = static_cast<std::int32_t>(wt[l * taps]) - wz[l];
        sum[l] += v;
        dst[4 * l] = static_cast<std::uint8_t>(v);
      }
    }
  for (index_t l = 0; l < L; ++l)
    bl[l] = l < lanes ? (bias ? bias[c0 + l] : 0) - static_cast<std::int32_t>(xz_u8) * sum[l] : 0;
}
}  // namespace detail

// Lane quads of a whole int8 depthwise layer, packed at codegen time (lane_quad_block per block of
// channel_block channels) for the targets whose depthwise runs on them (arch::active::
// depthwise_int8_quads): words and biases; where the weights less their zero points fit int8
// (lane_quad_weights_fit).
template <class P> constexpr std::size_t lane_quad_words(const P& p) noexcept {
  return static_cast<std::size_t>(round_up(p.out_channels, channel_block) * p.kernel[1] * ceil_div(p.kernel[2], 4));
}
template <class P> constexpr std::size_t lane_quad_biases(const P& p) noexcept {
  return static_cast<std::size_t>(round_up(p.out_channels, channel_block));
}
template <class X, class W>
inline void pack_lane_quads(const qconv_params& p, const W* w, const W* w_zp, const std::int32_t* bias, X x_zp,
                            std::uint32_t* words, std::int32_t* biases) noexcept {
  constexpr index_t L = channel_block;
  const auto xz_u8 = static_cast<std::uint8_t>(static_cast<std::int32_t>(x_zp) + (std::is_signed_v<X> ? 128 : 0));
  const index_t block_words = p.kernel[1] * ceil_div(p.kernel[2], 4) * L;
  for (index_t c0 = 0; c0 < p.out_channels; c0 += L)
    detail::lane_quad_block(p, w, w_zp, bias, xz_u8, c0, p.out_channels - c0 < L ? p.out_channels - c0 : L,
                            words + c0 / L * block_words, biases + c0);
}

namespace detail {

// int8 depthwise by lanes from and to either channel layout (see depthwise_by_layout): a blocked
// input row goes into the window as it is, and a blocked output is stored as requantized. Where
// the target has dot products (arch::active::depthwise_int8_quads) and the weights fit int8, the
// window holds lane quads: x' = x (+ 128 for int8 x) as uint8, four kernel columns per word, the
// padding x's zero point, and the bias takes the zero point's term, exact in int32:
//   sum (x - xz)(w - wz) = sum x'(w - wz) - xz' sum (w - wz)      (xz' = xz (+ 128))
// where a padding tap's x' = xz' adds nothing, as the reference skips it.
template <channel_layout In, channel_layout Out, class X, class W, class Y>
inline void qlinear_depthwise_lanes(const qconv_params& p, const X* x, std::int32_t xz, const W* w, const W* w_zp,
                                    const std::uint32_t* quads, const std::int32_t* quad_bias, const float* scale,
                                    const std::int32_t* bias, std::int32_t yz, Y* y, void* scratch) noexcept {
  constexpr index_t L = arch::active::depthwise_lanes;
  const index_t out_plane = p.out[1] * p.out[2];
  float s[L] = {};  // lanes past the last channel requantize too (and are dropped): defined
  requant_params rq[L] = {};
  const auto channel = [&](index_t c, index_t l) {  // notes lane l's scale; returns its weight zero point
    s[l] = scale[p.rq_count > 1 ? c : 0];
    rq[l] = requant_from_float(s[l]);
    return w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? c : 0]) : 0;
  };
  const auto store = [&](index_t n, index_t c0, index_t lanes, index_t pos, index_t count, const std::int32_t* out) {
    Y* const yb = y + (n * p.out_channels + c0) * out_plane;
    if constexpr (Out == channel_layout::blocked) {
      arch::active::requantize_lanes(out, count, s, rq, yz, yb + pos * L);
    } else {
      Y* const q = reinterpret_cast<Y*>(static_cast<unsigned char*>(scratch) + lanes_work_bytes(p));
      arch::active::requantize_lanes(out, count, s, rq, yz, q);
      arch::active::deinterleave_lanes(q, count, lanes, yb + pos, out_plane);
    }
  };
  if constexpr (arch::active::depthwise_int8_quads) {
    // Packed at codegen time (pack_lane_quads), or gathered block by block here.
    if (quads || lane_quad_weights_fit(p, w, w_zp)) {
      constexpr std::int32_t offset = std::is_signed_v<X> ? 128 : 0;
      const auto xz_u8 = static_cast<std::uint8_t>(xz + offset);
      const index_t wp = padded_width(p), d = p.dilation[2];
      const index_t block_words = p.kernel[1] * ceil_div(p.kernel[2], 4) * L;
      std::uint8_t* const u = static_cast<std::uint8_t*>(scratch) + lane_quad_row_offset(p);  // a planar row's lanes
      depthwise_by_lanes<std::int32_t, true>(
          p, x,
          [&](index_t c0, index_t lanes, std::uint32_t* wl, std::int32_t* bl) {
            for (index_t l = 0; l < lanes; ++l) channel(c0 + l, l);
            if (quads) {
              std::memcpy(bl, quad_bias + c0, sizeof(std::int32_t) * L);
              return quads + c0 / L * block_words;
            }
            lane_quad_block(p, w, w_zp, bias, xz_u8, c0, lanes, wl, bl);
            return static_cast<const std::uint32_t*>(wl);
          },
          [&](const X* xb, index_t r, index_t lanes, std::uint32_t* dst) {
            const index_t ih = r - p.pad[1];
            if (ih < 0 || ih >= p.in[1]) {  // every byte the zero point
              std::memset(dst, xz_u8, sizeof(std::uint32_t) * static_cast<std::size_t>(wp * L));
              return;
            }
            const std::uint8_t* row;
            if constexpr (In == channel_layout::blocked) {
              row = reinterpret_cast<const std::uint8_t*>(xb + ih * p.in[2] * L);
            } else {  // the lanes' row interleaved first (x' already)
              interleave_planar<qconv_params, X, std::uint8_t>{p, static_cast<std::uint8_t>(-offset)}(
                  xb, ih, lanes, p.in[2], u);
              row = u;
            }
            arch::active::lane_quads(row, -p.pad[2], p.in[2], wp, d, xz_u8,
                                     In == channel_layout::blocked ? static_cast<std::uint8_t>(offset) : 0, dst);
          },
          store, scratch);
      return;
    }
  }
  depthwise_by_lanes<std::int32_t>(
      p, x,
      [&](index_t c0, index_t lanes, std::int32_t* wl, std::int32_t* bl) {
        return gather_lane_weights(
            p, w, c0, lanes,
            [&](index_t c, index_t l, std::int32_t& b, std::int32_t& wz) {
              b = bias ? bias[c] : 0;
              wz = channel(c, l);
            },
            wl, bl);
      },
      padded_lane_row<std::int32_t>(p,
                                    [&](const X* in, index_t ih, index_t lanes, index_t width, std::int32_t* dst) {
                                      if constexpr (In == channel_layout::blocked) {
                                        const X* row = in + ih * p.in[2] * L;
                                        for (index_t i = 0; i < width * L; ++i)
                                          dst[i] = static_cast<std::int32_t>(row[i]) - xz;
                                      } else {
                                        interleave_planar<qconv_params, X, std::int32_t>{p, xz}(in, ih, lanes, width,
                                                                                                dst);
                                      }
                                    }),
      store, scratch);
}

// int8 depthwise on the wide plane of each channel (see depthwise_plane), read and written with
// element strides xs and ys: 1 for a planar tensor, a channel block's 16 for a blocked one, whose
// channel c starts at lane c % 16 of its block. Strides at run time, so every layout pair shares
// one instance (Cortex-M code). The planes hold the target's element type (int16 where two fit a
// DSP multiply-add); the accumulators start where 4-byte planes would end, so the scratch size is
// the same for every target.
template <class X, class W, class Y>
inline void qlinear_depthwise_planes(const qconv_params& p, const X* x, index_t xs, std::int32_t xz, const W* w,
                                     const W* w_zp, const float* scale, const std::int32_t* bias, std::int32_t yz, Y* y,
                                     index_t ys, void* scratch) noexcept {
  const index_t pitch = acc_pitch(p), in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  using T = arch::active::depthwise_int8_plane;
  T* const xp = static_cast<T*>(scratch);
  std::int32_t* const acc = static_cast<std::int32_t*>(scratch) + p.stride[2] * phase_size(p);
  // A channel's first element: its plane (planar), or its lane of the block (blocked).
  auto first = [](index_t c, index_t plane, index_t es) { return (c - c % es) * plane + c % es; };
  zero_phase_planes(p, xp);
  const auto taps = plan_plane_taps<T>(p);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.out_channels; ++c) {
      const std::int32_t wz = w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? c : 0]) : 0;
      const X* xc = x + n * p.in_channels * in_plane + first(c, in_plane, xs);
      if (xs == 1) copy_to_phase_planes<1>(p, xc, static_cast<T>(xz), xp);
      else copy_to_phase_planes<channel_block>(p, xc, static_cast<T>(xz), xp);
      depthwise_plane(p, taps, xp, w + c * p.kernel[1] * p.kernel[2], static_cast<T>(wz), bias ? bias[c] : 0, acc);
      const float s = scale[p.rq_count > 1 ? c : 0];
      const requant_params rq = requant_from_float(s);
      Y* yc = y + n * p.out_channels * out_plane + first(c, out_plane, ys);
      // The output shape in locals: the byte stores may alias p (a reference), whose fields GCC
      // reloaded after every output where the shapes are not constants.
      const index_t out_h = p.out[1], out_w = p.out[2];
      // A lane apart (blocked), in place: requantizing a piece of the row into a buffer and
      // copying it out took the M4 twice the instructions per output.
      for (index_t oh = 0; oh < out_h; ++oh) {
        if (ys == 1) arch::active::requantize_row(acc + oh * pitch, out_w, s, rq, yz, yc + oh * out_w);
        else arch::active::requantize_row_strided(acc + oh * pitch, out_w, s, rq, yz, yc + oh * out_w * ys, ys);
      }
    }
}
}  // namespace detail

// int8 depthwise from and to either channel layout (packed/layout.hpp), as the float
// depthwise_by_layout: by lanes where the target takes lanes for this plane (a blocked input row
// widened into the window as it is, a blocked output stored as requantized), else each channel's
// wide plane read and written a lane apart (Cortex-M: its DSP plane kernel either way). Weights in
// ONNX layout; quads and quad_bias, when not null, the same weights and bias packed by
// pack_lane_quads for targets with lane quads (the generated code passes them through
// KILN_LANE_QUADS, null elsewhere, so other targets keep no copy). The scratch is
// depthwise_scratch_bytes(p).
template <channel_layout In, channel_layout Out, class X, class W, class Y>
inline void qlinear_depthwise_by_layout(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                                        const std::uint32_t* quads, const std::int32_t* quad_bias,
                                        const float* scale, const std::int32_t* bias, const Y* y_zp, Y* y,
                                        void* scratch) noexcept {
  const std::int32_t xz = x_zp ? static_cast<std::int32_t>(x_zp[0]) : 0;
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  if (detail::lanes_apply<std::int32_t>(p)) {
    detail::qlinear_depthwise_lanes<In, Out>(p, x, xz, w, w_zp, quads, quad_bias, scale, bias, yz, y, scratch);
    return;
  }
  detail::qlinear_depthwise_planes(p, x, In == channel_layout::blocked ? channel_block : 1, xz, w, w_zp, scale, bias, yz,
                                   y, Out == channel_layout::blocked ? channel_block : 1, scratch);
}

template <class X, class W, class Y>
inline void qlinear_depthwise(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                              const float* scale, const std::int32_t* bias, const Y* y_zp, Y* y,
                              void* scratch) noexcept {
  qlinear_depthwise_by_layout<channel_layout::planar, channel_layout::planar>(p, x, x_zp, w, w_zp, nullptr, nullptr,
                                                                             scale, bias, y_zp, y, scratch);
}

}  // namespace kiln::packed
