// The kernels that read and write channel-blocked tensors (packed/layout.hpp: NCHW16c), on
// whichever architecture this build selected, against the reference conv on planar tensors:
// every layout pair, batches of 1 and 2, each fused activation kind, and position counts below,
// at, above and at multiples of each target's tile rows (1, 4, 6, 12).
#include <kiln/ops/conv.hpp>
#include <kiln/ops/quant.hpp>
#include <kiln/packed/depthwise.hpp>
#include <kiln/packed/pointwise.hpp>
#include <kiln/packed/pool.hpp>
#include <kiln/packed/qdense.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using kiln::index_t;
using kiln::packed::channel_layout;

struct lcg {
  std::uint32_t s;
  float uniform() {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / 16777216.f * 2.f - 1.f;
  }
};

// Element (n, c, pos) of a planar tensor at its blocked index: the layout's definition, written
// out independently of the kernels.
template <class T>
std::vector<T> to_blocked(const std::vector<T>& x, index_t batch, index_t c, index_t positions) {
  std::vector<T> b(x.size(), std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN() : T(0x5a));
  for (index_t n = 0; n < batch; ++n)
    for (index_t ch = 0; ch < c; ++ch)
      for (index_t pos = 0; pos < positions; ++pos)
        b[static_cast<std::size_t>((n * c + ch - ch % 16) * positions + pos * 16 + ch % 16)] =
            x[static_cast<std::size_t>((n * c + ch) * positions + pos)];
  return b;
}
template <class T>
std::vector<T> from_blocked(const std::vector<T>& b, index_t batch, index_t c, index_t positions) {
  std::vector<T> x(b.size());
  for (index_t n = 0; n < batch; ++n)
    for (index_t ch = 0; ch < c; ++ch)
      for (index_t pos = 0; pos < positions; ++pos)
        x[static_cast<std::size_t>((n * c + ch) * positions + pos)] =
            b[static_cast<std::size_t>((n * c + ch - ch % 16) * positions + pos * 16 + ch % 16)];
  return x;
}

template <class P = kiln::conv_params>
P params(index_t batch, index_t c, index_t m, index_t group, index_t h, index_t w, index_t k,
                         index_t stride, index_t pad, index_t dilation) {
  P p{};
  p.batch = batch;
  p.in_channels = c;
  p.out_channels = m;
  p.group = group;
  const index_t in[3] = {1, h, w};
  for (int a = 0; a < 3; ++a) {
    const bool spatial = a > 0;
    p.in[a] = in[a];
    p.kernel[a] = spatial ? k : 1;
    p.stride[a] = spatial ? stride : 1;
    p.pad[a] = spatial ? pad : 0;
    p.dilation[a] = spatial ? dilation : 1;
    p.out[a] = (in[a] + 2 * p.pad[a] - p.dilation[a] * (p.kernel[a] - 1) - 1) / p.stride[a] + 1;
  }
  return p;
}

const kiln::activation activations[] = {{kiln::act_kind::none, 0, 0},
                                        {kiln::act_kind::relu, 0, 0},
                                        {kiln::act_kind::clip, -0.25f, 0.5f},
                                        {kiln::act_kind::leaky_relu, 0.1f, 0}};

std::vector<float> random(lcg& rng, index_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = rng.uniform();
  return v;
}

void require_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
  }
}

struct depthwise_shape {
  index_t c, h, w, k, stride, pad, dilation;
};
// DS-CNN's and MobileNet's planes (25x5, strided 12x12), a single row, a 5x5 window, dilation,
// no padding with a stride, one to three blocks of channels. For the host's row and band paths
// (packed::detail::depthwise_blocked_rows and _band): a plane of several bands (40x40), strided
// rows of every inner width from 0 to 11 and both parities, padding wider than half the kernel,
// a kernel wider than the input, dilation with a stride, a 5x5 stride-2 window, a 1x1 plane.
const depthwise_shape depthwise_shapes[] = {
    {64, 25, 5, 3, 1, 1, 1}, {32, 12, 12, 3, 2, 1, 1}, {16, 1, 40, 1, 1, 0, 1}, {16, 9, 9, 5, 1, 2, 1},
    {48, 10, 10, 3, 1, 2, 2}, {16, 7, 9, 3, 2, 0, 1},  {32, 3, 3, 3, 1, 1, 1},  {16, 40, 40, 3, 1, 1, 1},
    {16, 6, 24, 3, 2, 1, 1}, {16, 5, 23, 3, 2, 1, 1},  {16, 4, 20, 3, 2, 0, 1}, {16, 3, 13, 3, 2, 1, 1},
    {16, 5, 5, 3, 2, 2, 1},  {16, 2, 3, 5, 2, 2, 1},   {16, 11, 11, 3, 2, 2, 2}, {16, 13, 17, 5, 2, 2, 1},
    {16, 1, 1, 3, 2, 1, 1},  {16, 7, 7, 3, 1, 0, 1},   {32, 6, 6, 3, 1, 1, 1}};
template <class P> P depthwise_params(const depthwise_shape& s, index_t batch) {
  auto p = params<P>(batch, s.c, s.c, s.c, s.h, s.w, s.k, s.stride, s.pad, s.dilation);
  if (s.h == 1) {  // a 1-D window over the row
    p.kernel[1] = 1;
    p.out[1] = 1;
  }
  REQUIRE(kiln::packed::depthwise_applies(p));
  return p;
}

template <channel_layout In, channel_layout Out>
void depthwise_case(const kiln::conv_params& p, const std::vector<float>& x, const std::vector<float>& w,
                    const float* bias, const std::vector<float>& want) {  // bias: null for a Conv without one
  CAPTURE(In == channel_layout::blocked);
  CAPTURE(Out == channel_layout::blocked);
  const index_t in_positions = p.in[1] * p.in[2], out_positions = p.out[1] * p.out[2];
  const auto xin = In == channel_layout::blocked ? to_blocked(x, p.batch, p.in_channels, in_positions) : x;
  std::vector<float> packed(w.size(), std::nanf(""));
  kiln::packed::pack_depthwise_weights(w.data(), p.out_channels, p.kernel[1] * p.kernel[2], packed.data());
  std::vector<float> y(want.size(), -99.f);
  // Stale scratch (as in a reused arena): an output that reads any of it unwritten is NaN.
  std::vector<float> scratch(kiln::packed::depthwise_scratch_bytes(p) / sizeof(float) + 1, std::nanf(""));
  kiln::packed::depthwise_by_layout<In, Out>(p, xin.data(), packed.data(), bias, y.data(), scratch.data());
  require_close(Out == channel_layout::blocked ? from_blocked(y, p.batch, p.out_channels, out_positions) : y, want);
  if (In == Out && p.in[1] == p.out[1] && p.in[2] == p.out[2]) {
    // In place, as the planner may place a layer whose layouts and shapes agree (codegen/ops/nn.cpp).
    CAPTURE("in place");
    auto io = xin;
    std::fill(scratch.begin(), scratch.end(), std::nanf(""));
    kiln::packed::depthwise_by_layout<In, Out>(p, io.data(), packed.data(), bias, io.data(), scratch.data());
    require_close(Out == channel_layout::blocked ? from_blocked(io, p.batch, p.out_channels, out_positions) : io, want);
  }
}

}  // namespace

TEST_CASE("depthwise between channel layouts equals the reference conv") {
  using L = channel_layout;
  lcg rng{11};
  int cases = 0;
  for (const auto& s : depthwise_shapes) {
    const index_t batch = ++cases % 2 == 0 ? 2 : 1;
    CAPTURE(cases);
    auto p = depthwise_params<kiln::conv_params>(s, batch);
    const auto x = random(rng, batch * s.c * s.h * s.w), w = random(rng, s.c * p.kernel[1] * p.kernel[2]),
               bias = random(rng, s.c);
    for (const auto& act : activations) {
      p.act = act;
      std::vector<float> want(static_cast<std::size_t>(batch * s.c * p.out[1] * p.out[2]));
      kiln::conv<float>(p, x.data(), w.data(), bias.data(), want.data());
      depthwise_case<L::planar, L::planar>(p, x, w, bias.data(), want);
      depthwise_case<L::planar, L::blocked>(p, x, w, bias.data(), want);
      depthwise_case<L::blocked, L::planar>(p, x, w, bias.data(), want);
      depthwise_case<L::blocked, L::blocked>(p, x, w, bias.data(), want);
    }
    // Without a bias (a Conv with two inputs).
    std::vector<float> want(static_cast<std::size_t>(batch * s.c * p.out[1] * p.out[2]));
    kiln::conv<float>(p, x.data(), w.data(), nullptr, want.data());
    depthwise_case<L::blocked, L::blocked>(p, x, w, nullptr, want);
  }
}

namespace {
// arch::*::depthwise_lane_row's contract (arch/generic/tiles.hpp), written out: n positions of
// one output row from `rows` blocked input rows, pitch elements apart.
constexpr index_t lanes = kiln::arch::generic::depthwise_lanes;
struct lane_row_shape {
  index_t n, rows, s, d, kw;
};
std::vector<float> lane_row_reference(const lane_row_shape& g, const float* x, index_t pitch, const float* w,
                                      const float* bias, const kiln::activation& act) {
  std::vector<float> out(static_cast<std::size_t>(g.n * lanes));
  for (index_t j = 0; j < g.n; ++j)
    for (index_t l = 0; l < lanes; ++l) {
      double a = bias[l];
      for (index_t i = 0; i < g.rows; ++i)
        for (index_t k = 0; k < g.kw; ++k)
          a += double{w[(i * g.kw + k) * lanes + l]} * x[i * pitch + (j * g.s + k * g.d) * lanes + l];
      out[static_cast<std::size_t>(j * lanes + l)] = kiln::activate(act, static_cast<float>(a));
    }
  return out;
}
}  // namespace

// The portable depthwise_lane_row is the contract the fast targets' kernels meet, and no target
// runs it in a model (depthwise_lane_rows is false where it is the active one): both are checked
// here against the formula, on the geometries the layers specialize (3x3 at stride 1 and 2, 5x5)
// and others, position counts around every block width (16, 8, 4, 1 and the overlapped last
// block), rows whose columns past the last read are NaN, and in place at stride 1 with the outputs
// depthwise_lane_row_lead positions behind the input, as the bands run them.
TEST_CASE("depthwise_lane_row of the generic and the active target meets its contract") {
  using kiln::packed::detail::with_activation;
  lcg rng{17};
  const lane_row_shape geometries[] = {{0, 3, 1, 1, 3}, {0, 3, 2, 1, 3}, {0, 5, 1, 1, 5}, {0, 2, 3, 2, 2},
                                       {0, 1, 1, 1, 1}, {0, 3, 1, 2, 3}, {0, 1, 2, 1, 5}};
  static_assert(kiln::arch::active::depthwise_lane_row_lead == kiln::arch::generic::depthwise_lane_row_lead);
  constexpr index_t lead = kiln::arch::generic::depthwise_lane_row_lead;
  int checked = 0;
  for (lane_row_shape g : geometries)
    for (index_t n = 0; n <= 72; n += n < 40 ? 1 : 8) {
      g.n = n;
      const index_t width = n == 0 ? 0 : (n - 1) * g.s + (g.kw - 1) * g.d + 1;  // positions read
      const index_t pitch = (width + 3) * lanes;                                  // a gap of NaNs
      // lead positions before the rows for the outputs written in place; NaN past each row's width
      std::vector<float> buffer(static_cast<std::size_t>(lead * lanes + g.rows * pitch), std::nanf(""));
      float* const x = buffer.data() + lead * lanes;
      for (index_t i = 0; i < g.rows; ++i)
        for (index_t e = 0; e < width * lanes; ++e) x[i * pitch + e] = rng.uniform();
      const auto w = random(rng, g.rows * g.kw * lanes), bias = random(rng, lanes);
      for (const auto& act : activations) {
        CAPTURE(g.n);
        CAPTURE(g.rows);
        CAPTURE(g.s);
        CAPTURE(g.d);
        CAPTURE(g.kw);
        CAPTURE(act.kind);
        const auto want = lane_row_reference(g, x, pitch, w.data(), bias.data(), act);
        std::vector<float> generic(want.size(), -99.f), active(want.size(), -99.f);
        with_activation(act, [&](auto f) {
          kiln::arch::generic::depthwise_lane_row(n, x, pitch, g.rows, w.data(), bias.data(), generic.data(), f, g.s,
                                                  g.d, g.kw);
          kiln::packed::detail::lane_row(n, x, pitch, g.rows, w.data(), bias.data(), active.data(), f, g.s, g.d, g.kw);
        });
        {
          CAPTURE("generic");
          require_close(generic, want);
        }
        {
          CAPTURE("active");
          require_close(active, want);
        }
        if (g.s == 1) {
          auto io = buffer;
          float* const xi = io.data() + lead * lanes;
          with_activation(act, [&](auto f) {
            kiln::arch::generic::depthwise_lane_row(n, xi, pitch, g.rows, w.data(), bias.data(), io.data(), f, g.s,
                                                    g.d, g.kw);
          });
          CAPTURE("generic in place");
          require_close(std::vector<float>(io.begin(), io.begin() + n * lanes), want);
          io = buffer;
          with_activation(act, [&](auto f) {
            kiln::packed::detail::lane_row(n, xi, pitch, g.rows, w.data(), bias.data(), io.data(), f, g.s, g.d, g.kw);
          });
          CAPTURE("active in place");
          require_close(std::vector<float>(io.begin(), io.begin() + n * lanes), want);
        }
        ++checked;
      }
    }
  CHECK(checked == 7 * 45 * 4);
}

TEST_CASE("pointwise into channel blocks equals the reference conv") {
  lcg rng{13};
  int cases = 0, blocked_inputs = 0;
  // Input channels in and out of whole blocks (planar inputs only), output channels of one to five
  // blocks (a target's two-block tile and a single block left over); positions leaving every
  // count a last tile can take after the full ones (packed::detail::with_rest_tile).
  for (index_t c : {3, 8, 16, 40, 48})
    for (index_t m : {16, 32, 48, 80})
      for (index_t positions : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 24, 25, 125}) {
        const index_t batch = ++cases % 3 == 0 ? 2 : 1;
        // 125 as DS-CNN's 25x5 plane, the rest as one row
        const index_t h = positions == 125 ? 25 : 1, w = positions / h;
        auto p = params(batch, c, m, 1, h, w, 1, 1, 0, 1);
        p.act = activations[cases % 4];
        CAPTURE(c);
        CAPTURE(m);
        CAPTURE(positions);
        CAPTURE(batch);
        REQUIRE(kiln::packed::pointwise_applies(p));
        const auto x = random(rng, batch * c * positions), wt = random(rng, m * c), bias = random(rng, m);
        std::vector<float> want(static_cast<std::size_t>(batch * m * positions));
        kiln::conv<float>(p, x.data(), wt.data(), bias.data(), want.data());
        std::vector<float> packed(wt.size());
        kiln::packed::pack_pointwise_weights(wt.data(), m, c, packed.data());
        std::vector<float> y(want.size(), -99.f);
        kiln::packed::pointwise<channel_layout::planar>(p, x.data(), packed.data(), bias.data(), y.data());
        require_close(from_blocked(y, batch, m, positions), want);
        if (c % 16 == 0) {
          const auto xb = to_blocked(x, batch, c, positions);
          std::fill(y.begin(), y.end(), -99.f);
          kiln::packed::pointwise<channel_layout::blocked>(p, xb.data(), packed.data(), bias.data(), y.data());
          require_close(from_blocked(y, batch, m, positions), want);
          ++blocked_inputs;
        }
      }
  // and without a bias
  auto p = params(1, 16, 32, 1, 1, 13, 1, 1, 0, 1);
  const auto x = random(rng, 16 * 13), wt = random(rng, 32 * 16);
  std::vector<float> want(32 * 13), packed(wt.size()), y(want.size());
  kiln::conv<float>(p, x.data(), wt.data(), nullptr, want.data());
  kiln::packed::pack_pointwise_weights(wt.data(), 32, 16, packed.data());
  kiln::packed::pointwise<channel_layout::planar>(p, x.data(), packed.data(), nullptr, y.data());
  require_close(from_blocked(y, 1, 32, 13), want);
  CHECK(blocked_inputs >= 60);
}

TEST_CASE("a global average pool of channel blocks equals the reference pool") {
  lcg rng{17};
  // planes of 1, 9, 125 and 4096 positions (over the partial sums' 64), one to three blocks
  const index_t shapes[][4] = {{1, 16, 1, 1}, {2, 32, 3, 3}, {1, 64, 25, 5}, {1, 48, 64, 64}};
  for (const auto& s : shapes) {
    kiln::pool_params p{};
    p.kind = kiln::pool_kind::average;
    p.batch = s[0];
    p.channels = s[1];
    const index_t in[3] = {1, s[2], s[3]};
    for (int a = 0; a < 3; ++a) {
      p.in[a] = p.kernel[a] = in[a];
      p.out[a] = p.stride[a] = p.dilation[a] = 1;
    }
    const index_t positions = s[2] * s[3];
    CAPTURE(positions);
    const auto x = random(rng, s[0] * s[1] * positions);
    std::vector<float> want(static_cast<std::size_t>(s[0] * s[1])), got(want.size(), -99.f);
    kiln::pool<float>(p, x.data(), want.data());
    const auto xb = to_blocked(x, s[0], s[1], positions);
    kiln::packed::global_average_pool_blocked(p, xb.data(), got.data());
    require_close(got, want);
  }
}

namespace {

// int8 layers: every value random over its type, weight zero points (per channel) when asked, a
// scale per output channel small enough that outputs spread over the type without all saturating.
template <class X, class W, class Y> struct qlayer {
  kiln::qconv_params p;
  std::vector<X> x;
  std::vector<W> w, w_zp;
  std::vector<std::int32_t> bias;
  std::vector<float> scale;
  X x_zp;
  Y y_zp;
  std::vector<Y> want;

  template <class T> static T any(lcg& rng) {
    const float u = (rng.uniform() + 1.f) / 2.f;  // [0, 1)
    return static_cast<T>(std::numeric_limits<T>::min() + static_cast<int>(u * 255.99f));
  }
  qlayer(lcg& rng, kiln::qconv_params q, bool weight_zero_points) : p(q) {
    const index_t k = p.in_channels / p.group * p.kernel[1] * p.kernel[2];
    p.w_zp_count = weight_zero_points ? p.out_channels : 1;
    p.rq_count = p.out_channels;
    x.resize(static_cast<std::size_t>(p.batch * p.in_channels * p.in[1] * p.in[2]));
    w.resize(static_cast<std::size_t>(p.out_channels * k));
    for (auto& v : x) v = any<X>(rng);
    for (auto& v : w) v = any<W>(rng);
    for (index_t i = 0; i < p.w_zp_count; ++i)
      w_zp.push_back(weight_zero_points ? any<W>(rng) : W(std::is_signed_v<W> ? 0 : 128));
    for (index_t i = 0; i < p.out_channels; ++i) {
      bias.push_back(static_cast<std::int32_t>(rng.uniform() * 5000.f));
      scale.push_back((0.0005f + 0.002f * (rng.uniform() + 1.f)) / static_cast<float>(k));
    }
    x_zp = any<X>(rng);
    y_zp = any<Y>(rng);
    want.resize(static_cast<std::size_t>(p.batch * p.out_channels * p.out[1] * p.out[2]));
    kiln::qlinear_conv(p, x.data(), &x_zp, w.data(), w_zp.data(), scale.data(), bias.data(), &y_zp, want.data());
  }
  void require_equal(const std::vector<Y>& got) const {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      REQUIRE(+got[i] == +want[i]);
    }
  }
};

int packed_quad_cases = 0;  // layers run with their weights packed as lane quads too

template <channel_layout In, channel_layout Out, class X, class W, class Y>
void qdepthwise_case(const qlayer<X, W, Y>& l) {
  CAPTURE(In == channel_layout::blocked);
  CAPTURE(Out == channel_layout::blocked);
  const auto& p = l.p;
  const index_t in_positions = p.in[1] * p.in[2], out_positions = p.out[1] * p.out[2];
  const auto x = In == channel_layout::blocked ? to_blocked(l.x, p.batch, p.in_channels, in_positions) : l.x;
  std::vector<Y> y(l.want.size(), Y(0x33));
  // Stale scratch (as in a reused arena): a kernel reading any of it unwritten overflows.
  std::vector<std::int32_t> scratch(kiln::packed::depthwise_scratch_bytes(p) / 4 + 1, 0x3fffffff);
  kiln::packed::qlinear_depthwise_by_layout<In, Out>(p, x.data(), &l.x_zp, l.w.data(), l.w_zp.data(), nullptr, nullptr,
                                                     l.scale.data(), l.bias.data(), &l.y_zp, y.data(), scratch.data());
  const auto planar_y = [&] { return Out == channel_layout::blocked ? from_blocked(y, p.batch, p.out_channels, out_positions) : y; };
  l.require_equal(planar_y());
  // The weights and bias as the code generator packs them for targets with lane quads, where they
  // fit (KILN_LANE_QUADS passes them there; elsewhere the kernel never reads them). The copies
  // carry the only bias and weights the quads path reads: ONNX weights of the wrong sign fail it.
  if (kiln::packed::detail::lane_quad_weights_fit(p, l.w.data(), l.w_zp.data())) {
    std::vector<std::uint32_t> quads(kiln::packed::lane_quad_words(p));
    std::vector<std::int32_t> quad_bias(kiln::packed::lane_quad_biases(p));
    kiln::packed::pack_lane_quads(p, l.w.data(), l.w_zp.data(), l.bias.data(), l.x_zp, quads.data(), quad_bias.data());
    std::vector<W> negated(l.w.size());
    for (std::size_t i = 0; i < negated.size(); ++i) negated[i] = static_cast<W>(~l.w[i]);
    const W* onnx = kiln::arch::active::depthwise_int8_quads ? negated.data() : l.w.data();
    std::fill(y.begin(), y.end(), Y(0x33));
    std::fill(scratch.begin(), scratch.end(), 0x3fffffff);
    kiln::packed::qlinear_depthwise_by_layout<In, Out>(p, x.data(), &l.x_zp, onnx, l.w_zp.data(),
                                                       KILN_LANE_QUADS(quads.data()), KILN_LANE_QUADS(quad_bias.data()),
                                                       l.scale.data(), l.bias.data(), &l.y_zp, y.data(), scratch.data());
    l.require_equal(planar_y());
    ++packed_quad_cases;
  }
  // The per-channel plane path, which targets without int8 lanes (Cortex-M) take for every layout.
  std::fill(y.begin(), y.end(), Y(0x33));
  std::fill(scratch.begin(), scratch.end(), 0x3fffffff);
  const index_t xs = In == channel_layout::blocked ? 16 : 1, ys = Out == channel_layout::blocked ? 16 : 1;
  kiln::packed::detail::qlinear_depthwise_planes(p, x.data(), xs, l.x_zp, l.w.data(), l.w_zp.data(), l.scale.data(),
                                                 l.bias.data(), l.y_zp, y.data(), ys, scratch.data());
  l.require_equal(planar_y());
}

template <class X, class W, class Y> void check_qdepthwise(bool weight_zero_points) {
  using L = channel_layout;
  lcg rng{19};
  int cases = 0;
  const int packed_before = packed_quad_cases;
  for (const auto& s : depthwise_shapes) {
    const index_t batch = ++cases % 2 == 0 ? 2 : 1;
    CAPTURE(cases);
    const qlayer<X, W, Y> l(rng, depthwise_params<kiln::qconv_params>(s, batch), weight_zero_points);
    qdepthwise_case<L::planar, L::planar>(l);
    qdepthwise_case<L::planar, L::blocked>(l);
    qdepthwise_case<L::blocked, L::planar>(l);
    qdepthwise_case<L::blocked, L::blocked>(l);
  }
  // Centred weight zero points always fit the quads: every layer ran packed as well.
  if (!weight_zero_points) CHECK(packed_quad_cases - packed_before == 4 * cases);
}

template <class X, class W, class Y> void check_qpointwise(bool weight_zero_points) {
  lcg rng{23};
  int cases = 0, blocked_inputs = 0;
  // Input channels in and out of whole blocks (planar inputs only) and over a quad's multiple;
  // output channels of one block, of a dense panel's 64 and over it (80 = 64 + 16, 144 = 2 x 64 +
  // 16); positions around the dense tile's 4 rows (tiles of 1 to 4: packed::detail::
  // for_each_row_tile) and the 32 rows packed at a time.
  for (index_t c : {3, 8, 16, 48})
    for (index_t m : {16, 48, 80, 144})
      for (index_t positions : {1, 2, 3, 4, 5, 7, 9, 31, 32, 33, 70, 125}) {
        const index_t h = positions == 125 ? 25 : 1, w = positions / h;
        auto p = params<kiln::qconv_params>(1, c, m, 1, h, w, 1, 1, 0, 1);
        CAPTURE(c);
        CAPTURE(m);
        CAPTURE(positions);
        REQUIRE(kiln::packed::qlinear_pointwise_applies(p));
        const qlayer<X, W, Y> l(rng, p, weight_zero_points && ++cases % 2 == 0);
        const kiln::qgemm_params q{positions, m, c, true, true, 0, 0, l.p.w_zp_count, l.p.rq_count};
        std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(m, c));
        std::vector<std::int32_t> zp(static_cast<std::size_t>(l.p.w_zp_count)), folded(static_cast<std::size_t>(m));
        const bool any = kiln::packed::prepare_qdense(l.w.data(), m, c, 1, c, l.w_zp.data(), l.p.w_zp_count,
                                                      l.bias.data(), 1, l.x_zp, std::is_signed_v<X>, packed.data(),
                                                      zp.data(), folded.data());
        std::vector<unsigned char> scratch(kiln::packed::qlinear_pointwise_scratch_bytes(q.m, q.n, q.k), 0xab);
        std::vector<Y> y(l.want.size(), Y(0x33));
        kiln::packed::qlinear_pointwise<channel_layout::planar>(q, l.x.data(), packed.data(), any ? zp.data() : nullptr,
                                                                folded.data(), l.scale.data(), &l.y_zp, y.data(),
                                                                scratch.data());
        l.require_equal(from_blocked(y, 1, m, positions));
        if (c % 16 == 0) {
          const auto xb = to_blocked(l.x, 1, c, positions);
          std::fill(y.begin(), y.end(), Y(0x33));
          kiln::packed::qlinear_pointwise<channel_layout::blocked>(q, xb.data(), packed.data(),
                                                                   any ? zp.data() : nullptr, folded.data(),
                                                                   l.scale.data(), &l.y_zp, y.data(), scratch.data());
          l.require_equal(from_blocked(y, 1, m, positions));
          ++blocked_inputs;
        }
      }
  CHECK(blocked_inputs == 2 * 4 * 12);
}

}  // namespace

TEST_CASE("int8 depthwise between channel layouts equals the reference QLinearConv bit for bit") {
  SUBCASE("u8 x, s8 w, u8 y") { check_qdepthwise<std::uint8_t, std::int8_t, std::uint8_t>(false); }
  SUBCASE("s8 x, s8 w, s8 y, weight zero points") { check_qdepthwise<std::int8_t, std::int8_t, std::int8_t>(true); }
  SUBCASE("u8 x, u8 w, s8 y") { check_qdepthwise<std::uint8_t, std::uint8_t, std::int8_t>(false); }
}

TEST_CASE("int8 pointwise into channel blocks equals the reference QLinearConv bit for bit") {
  SUBCASE("u8 x, s8 w, u8 y") { check_qpointwise<std::uint8_t, std::int8_t, std::uint8_t>(false); }
  SUBCASE("s8 x, s8 w, s8 y, weight zero points") { check_qpointwise<std::int8_t, std::int8_t, std::int8_t>(true); }
  SUBCASE("u8 x, u8 w, u8 y, weight zero points") { check_qpointwise<std::uint8_t, std::uint8_t, std::uint8_t>(true); }
}
