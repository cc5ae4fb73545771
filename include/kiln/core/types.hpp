// Element types, tensor metadata and the typed tensor wrapper used by generated code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {

// Element types a generated model can carry in its interface or arena.
enum class dtype : std::uint8_t { f32, f64, i8, u8, i16, u16, i32, u32, i64, u64, boolean };

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of<double> { static constexpr dtype value = dtype::f64; };
template <> struct dtype_of<std::int8_t> { static constexpr dtype value = dtype::i8; };
template <> struct dtype_of<std::uint8_t> { static constexpr dtype value = dtype::u8; };
template <> struct dtype_of<std::int16_t> { static constexpr dtype value = dtype::i16; };
template <> struct dtype_of<std::uint16_t> { static constexpr dtype value = dtype::u16; };
template <> struct dtype_of<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of<std::uint32_t> { static constexpr dtype value = dtype::u32; };
template <> struct dtype_of<std::int64_t> { static constexpr dtype value = dtype::i64; };
template <> struct dtype_of<std::uint64_t> { static constexpr dtype value = dtype::u64; };
template <> struct dtype_of<bool> { static constexpr dtype value = dtype::boolean; };

constexpr std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::f64: case dtype::i64: case dtype::u64: return 8;
    case dtype::f32: case dtype::i32: case dtype::u32: return 4;
    case dtype::i16: case dtype::u16: return 2;
    default: return 1;
  }
}

constexpr const char* dtype_name(dtype t) noexcept {
  switch (t) {
    case dtype::f32: return "float32";
    case dtype::f64: return "float64";
    case dtype::i8: return "int8";
    case dtype::u8: return "uint8";
    case dtype::i16: return "int16";
    case dtype::u16: return "uint16";
    case dtype::i32: return "int32";
    case dtype::u32: return "uint32";
    case dtype::i64: return "int64";
    case dtype::u64: return "uint64";
    case dtype::boolean: return "bool";
  }
  return "?";
}

// Metadata of one model input or output, for drivers that run any generated model.
struct tensor_info {
  const char* name;       // the ONNX name, unsanitised
  dtype type;
  std::int32_t rank;
  const std::int32_t* dims;  // `rank` entries; unused when rank == 0
  std::size_t count;         // number of elements
  std::size_t bytes;
};

using erased_run_fn = void (*)(const void* const* inputs, void* const* outputs, void* arena) noexcept;

// Everything a generic driver needs to run a generated model.
struct model_info {
  const char* name;
  const tensor_info* inputs;
  std::size_t input_count;
  const tensor_info* outputs;
  std::size_t output_count;
  std::size_t arena_bytes;
  std::size_t weight_bytes;
  erased_run_fn run;
};

// kiln compile --specialize wraps each layer's call in a lambda with this attribute: the compiler
// inlines the kernel there, so the layer's constexpr params become constants in its code.
#if defined(__GNUC__) || defined(__clang__)
#define KILN_SPECIALIZED __attribute__((flatten))
#else
#define KILN_SPECIALIZED
#endif

// Register tiles and the step visitors they call: a tile whose per-step lambda is not inlined
// keeps its accumulators in memory (GCC 12 gave up inlining one once a tile ran as column chunks:
// 3x slower). On a lambda it goes after the parameter list.
#if defined(__GNUC__) || defined(__clang__)
#define KILN_ALWAYS_INLINE __attribute__((always_inline))
#define KILN_KNOWN_CONSTANT(x) __builtin_constant_p(x)
#else
#define KILN_ALWAYS_INLINE
#define KILN_KNOWN_CONSTANT(x) false
#endif

// Loops over a tile's registers (a template constant of iterations): unrolled at every
// optimization level, by pragma. GCC 12 unrolls them completely only at -O3; at -O2 the
// accumulators stayed arrays in memory (ResNet-8 3.5x slower than at -O3), and at -Os the
// Cortex-M4 ran 1.2-1.7x the instructions for 0.1-0.8 KB less code (docs/footprint.md).
// KILN_UNROLL_LOOPS=0 leaves them to the compiler.
#ifndef KILN_UNROLL_LOOPS
#define KILN_UNROLL_LOOPS 1
#endif
#if KILN_UNROLL_LOOPS && defined(__clang__)
#define KILN_UNROLL _Pragma("unroll")
#elif KILN_UNROLL_LOOPS && defined(__GNUC__)
#define KILN_UNROLL _Pragma("GCC unroll 64")
#else
#define KILN_UNROLL
#endif
// A loop of a run-time count unrolled n times (a remainder loop after it).
#define KILN_PRAGMA(x) _Pragma(#x)
#if KILN_UNROLL_LOOPS && defined(__clang__)
#define KILN_UNROLL_BY(n) KILN_PRAGMA(unroll n)
#elif KILN_UNROLL_LOOPS && defined(__GNUC__)
#define KILN_UNROLL_BY(n) KILN_PRAGMA(GCC unroll n)
#else
#define KILN_UNROLL_BY(n)
#endif

// A helper kept out of the (flattened) layer body that calls it: see packed/direct.hpp.
#if defined(__GNUC__) || defined(__clang__)
#define KILN_NOINLINE __attribute__((noinline))
#define KILN_RESTRICT __restrict__
#else
#define KILN_NOINLINE
#define KILN_RESTRICT
#endif

// Around loops whose bound the code guarantees but GCC 12, in layers inlined with constant
// shapes (kiln compile --specialize), doubts on paths that never run: it warns of iterations past
// an array's end there (-Waggressive-loop-optimizations, or -Wstringop-overflow and
// -Warray-bounds once it turned the loop into a memcpy). Generated code must compile warning-free under -Werror.
#if defined(__GNUC__) && !defined(__clang__)
#define KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS                                             \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Waggressive-loop-optimizations\"") \
      _Pragma("GCC diagnostic ignored \"-Wstringop-overflow\"") _Pragma("GCC diagnostic ignored \"-Warray-bounds\"")
#define KILN_END_IGNORE_DEAD_PATH_BOUNDS _Pragma("GCC diagnostic pop")
#else
#define KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
#define KILN_END_IGNORE_DEAD_PATH_BOUNDS
#endif

// The arena must be aligned to this many bytes; planned offsets are multiples of it.
inline constexpr std::size_t arena_alignment = 16;

// A statically sized, suitably aligned arena a user can own as a global or a member.
template <std::size_t Bytes>
struct alignas(arena_alignment) arena_storage {
  unsigned char bytes[Bytes > 0 ? Bytes : 1];
  void* data() noexcept { return bytes; }
};

namespace detail {
template <std::int32_t... D> struct product { static constexpr std::size_t value = (std::size_t{1} * ... * static_cast<std::size_t>(D)); };
}  // namespace detail

// A dense row-major tensor whose shape is part of its type: the typed face of generated models.
template <class T, std::int32_t... Dims>
struct tensor {
  using value_type = T;
  static constexpr std::int32_t rank = sizeof...(Dims);
  static constexpr std::size_t size = detail::product<Dims...>::value;
  static constexpr std::int32_t shape[rank > 0 ? rank : 1] = {Dims...};

  T data[size > 0 ? size : 1];

  constexpr T& operator[](std::size_t i) noexcept { return data[i]; }
  constexpr const T& operator[](std::size_t i) const noexcept { return data[i]; }
  constexpr T* begin() noexcept { return data; }
  constexpr T* end() noexcept { return data + size; }
  constexpr const T* begin() const noexcept { return data; }
  constexpr const T* end() const noexcept { return data + size; }
};

}  // namespace kiln
