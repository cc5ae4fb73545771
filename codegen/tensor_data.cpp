#include "tensor_data.hpp"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace kiln::cg {

namespace fs = std::filesystem;
using TP = onnx::TensorProto;

std::optional<dtype> from_onnx_type(int t, std::string* name) {
  switch (t) {
    case TP::FLOAT: return dtype::f32;
    case TP::DOUBLE: return dtype::f64;
    case TP::INT8: return dtype::i8;
    case TP::UINT8: return dtype::u8;
    case TP::INT16: return dtype::i16;
    case TP::UINT16: return dtype::u16;
    case TP::INT32: return dtype::i32;
    case TP::UINT32: return dtype::u32;
    case TP::INT64: return dtype::i64;
    case TP::UINT64: return dtype::u64;
    case TP::BOOL: return dtype::boolean;
    default:
      if (name) *name = TP::DataType_IsValid(t) ? fmt::format("{}", TP::DataType_Name(static_cast<TP::DataType>(t)))
                                                 : fmt::format("unknown element type {}", t);
      return std::nullopt;
  }
}

int to_onnx_type(dtype t) {
  switch (t) {
    case dtype::f32: return TP::FLOAT;
    case dtype::f64: return TP::DOUBLE;
    case dtype::i8: return TP::INT8;
    case dtype::u8: return TP::UINT8;
    case dtype::i16: return TP::INT16;
    case dtype::u16: return TP::UINT16;
    case dtype::i32: return TP::INT32;
    case dtype::u32: return TP::UINT32;
    case dtype::i64: return TP::INT64;
    case dtype::u64: return TP::UINT64;
    case dtype::boolean: return TP::BOOL;
  }
  return TP::UNDEFINED;
}

template <class To, class Field>
static void copy_field(const Field& f, std::vector<std::uint8_t>& out) {
  out.resize(static_cast<std::size_t>(f.size()) * sizeof(To));
  auto* p = reinterpret_cast<To*>(out.data());
  for (int i = 0; i < f.size(); ++i) p[i] = static_cast<To>(f.Get(i));
}

// A decimal byte count from external_data; anything else (signs, junk, overflow) is an error.
static std::uint64_t parse_size(const std::string& v, const char* key, const std::string& what) {
  std::uint64_t n = 0;
  const bool digits = !v.empty() && v.size() <= 19 && v.find_first_not_of("0123456789") == std::string::npos;
  if (digits) n = std::stoull(v);
  if (!digits || n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw error(fmt::format("tensor '{}': external data {} '{}' is not a byte count", what, key, v));
  return n;
}

// Read straight into the tensor's bytes: large models hold one copy of each weight, not two.
static std::vector<std::uint8_t> read_external(const TP& t, const fs::path& model_dir, const std::string& what,
                                               std::uint64_t expected_bytes, const std::string& dims) {
  std::string location;
  std::uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = parse_size(kv.value(), "offset", what);
    else if (kv.key() == "length") { length = parse_size(kv.value(), "length", what); has_length = true; }
  }
  if (location.empty()) throw error(fmt::format("tensor '{}': external data has no location", what));
  const fs::path rel(location);
  if (rel.is_absolute()) throw error(fmt::format("tensor '{}': external data location '{}' is absolute", what, location));
  const fs::path base = fs::weakly_canonical(model_dir.empty() ? fs::path(".") : model_dir);
  const fs::path file = fs::weakly_canonical(base / rel);
  const auto b = base.string(), f = file.string();
  if (f.compare(0, b.size(), b) != 0 || (f.size() > b.size() && f[b.size()] != '/'))
    throw error(fmt::format("tensor '{}': external data '{}' is outside the model's folder", what, location));
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw error(fmt::format("tensor '{}': external data file '{}' does not exist or is not a regular file", what, location));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw error(fmt::format("tensor '{}': cannot open external data file '{}'", what, location));
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  if (end < 0) throw error(fmt::format("tensor '{}': cannot read external data file '{}'", what, location));
  const auto size = static_cast<std::uint64_t>(end);
  if (!has_length) length = size >= offset ? size - offset : 0;
  if (offset > size || length > size - offset)
    throw error(fmt::format("tensor '{}': external data file '{}' is shorter than offset {} + length {}", what,
                            location, offset, length));
  if (expected_bytes != length)  // checked before allocating: a bogus length must not allocate gigabytes
    throw error(fmt::format("tensor '{}': external data length {} does not match its dims {}, which need {} bytes", what,
                            length, dims, expected_bytes));
  std::vector<std::uint8_t> data(static_cast<std::size_t>(length));
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(length));
  if (static_cast<std::uint64_t>(in.gcount()) != length)
    throw error(fmt::format("tensor '{}': reading {} bytes of external data from '{}' failed", what, length, location));
  return data;
}

decoded_tensor decode_tensor(const TP& t, const fs::path& model_dir, const std::string& what) {
  std::string type_name;
  const auto type = from_onnx_type(t.data_type(), &type_name);
  if (!type) throw unsupported_error::of_model(fmt::format("tensor '{}': element type {} is not supported", what, type_name));
  decoded_tensor d{*type, {}, {}};
  d.dims.assign(t.dims().begin(), t.dims().end());
  const auto count = checked_count(d.dims, what);  // negative dims and int64 overflow are errors here
  if (count > max_index_elements)
    throw error(fmt::format("tensor '{}' ({}) has {} elements; kiln's 32-bit index type addresses at most {}", what,
                            dims_string(d.dims), count, max_index_elements));
  const std::size_t need = checked_bytes(count, *type, what);
  if (t.data_location() == TP::EXTERNAL) {
    d.bytes = read_external(t, model_dir, what, need, dims_string(d.dims));
  } else if (t.has_raw_data()) {
    d.bytes.assign(t.raw_data().begin(), t.raw_data().end());
  } else {
    switch (*type) {
      case dtype::f32: copy_field<float>(t.float_data(), d.bytes); break;
      case dtype::f64: copy_field<double>(t.double_data(), d.bytes); break;
      case dtype::i64: copy_field<std::int64_t>(t.int64_data(), d.bytes); break;
      case dtype::u32: case dtype::u64: copy_field<std::uint64_t>(t.uint64_data(), d.bytes);
        if (*type == dtype::u32) {
          std::vector<std::uint32_t> v(d.bytes.size() / 8);
          for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint32_t>(reinterpret_cast<const std::uint64_t*>(d.bytes.data())[i]);
          d.bytes.assign(reinterpret_cast<const std::uint8_t*>(v.data()), reinterpret_cast<const std::uint8_t*>(v.data()) + v.size() * 4);
        }
        break;
      case dtype::i32: copy_field<std::int32_t>(t.int32_data(), d.bytes); break;
      case dtype::i16: copy_field<std::int16_t>(t.int32_data(), d.bytes); break;
      case dtype::u16: copy_field<std::uint16_t>(t.int32_data(), d.bytes); break;
      case dtype::i8: copy_field<std::int8_t>(t.int32_data(), d.bytes); break;
      case dtype::u8: copy_field<std::uint8_t>(t.int32_data(), d.bytes); break;
      case dtype::boolean: copy_field<bool>(t.int32_data(), d.bytes); break;
    }
  }
  if (d.bytes.size() != need)
    throw error(fmt::format("tensor '{}': holds {} bytes but its dims {} need {}", what, d.bytes.size(),
                            dims_string(d.dims), need));
  if (*type == dtype::boolean)  // raw bytes other than 0 and 1 would be invalid bools in folded kernels
    for (auto& b : d.bytes) b = b != 0;
  return d;
}

onnx::TensorProto read_tensor_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw error(fmt::format("cannot open '{}'", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  onnx::TensorProto t;
  if (!t.ParseFromString(ss.str())) throw error(fmt::format("'{}' is not a TensorProto", file.string()));
  return t;
}

}  // namespace kiln::cg
