// Stage: read the model file into a ModelProto, with limits fit for large models.
#include "../stages.hpp"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <fcntl.h>
#include <unistd.h>

#include <climits>

namespace kiln::cg {

namespace {

// Protobuf's default total-bytes limit is 64 MB, too small for real weights; 2 GiB - 1 is the most
// a single message can hold. Nesting stays at protobuf's default (100), which bounds the recursion
// of the parser and of everything that walks subgraphs afterwards.
bool parse_stream(google::protobuf::io::ZeroCopyInputStream& raw, onnx::ModelProto& model) {
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  return model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

onnx::ModelProto checked(bool ok, onnx::ModelProto model, const std::string& what) {
  if (!ok) throw error(fmt::format("'{}' is not a valid ONNX model (protobuf parse failed)", what));
  if (!model.has_graph()) throw error(fmt::format("'{}' has no graph", what));
  return model;
}

}  // namespace

onnx::ModelProto load_model(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw error(fmt::format("'{}' is not a readable file", file.string()));
  const auto size = std::filesystem::file_size(file, ec);
  if (!ec && size == 0) throw error(fmt::format("'{}' is empty, not an ONNX model", file.string()));
  if (!ec && size > static_cast<std::uintmax_t>(INT_MAX))
    throw error(fmt::format("'{}' is {} bytes, more than protobuf reads (2 GiB): store the weights as external data",
                            file.string(), size));
  const int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) throw error(fmt::format("cannot open '{}'", file.string()));
  onnx::ModelProto model;
  bool ok;
  {
    google::protobuf::io::FileInputStream raw(fd);
    ok = parse_stream(raw, model);
  }
  ::close(fd);
  return checked(ok, std::move(model), file.string());
}

onnx::ModelProto parse_model(const void* data, std::size_t size, const std::string& what) {
  if (size == 0) throw error(fmt::format("'{}' is empty, not an ONNX model", what));
  if (size > static_cast<std::size_t>(INT_MAX))
    throw error(fmt::format("'{}' is {} bytes, more than protobuf reads (2 GiB): store the weights as external data", what,
                            size));
  onnx::ModelProto model;
  google::protobuf::io::ArrayInputStream raw(data, static_cast<int>(size));
  const bool ok = parse_stream(raw, model);
  return checked(ok, std::move(model), what);
}

}  // namespace kiln::cg
