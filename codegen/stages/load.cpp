// Stage: read the model file into a ModelProto, with limits fit for large models.
#include "../stages.hpp"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <fcntl.h>
#include <unistd.h>

#include <climits>

namespace kiln::cg {

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
    google::protobuf::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT_MAX);  // protobuf's 64 MB default is too small for real weights
    ok = model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  ::close(fd);
  if (!ok) throw error(fmt::format("'{}' is not a valid ONNX model (protobuf parse failed)", file.string()));
  if (!model.has_graph()) throw error(fmt::format("'{}' has no graph", file.string()));
  return model;
}

}  // namespace kiln::cg
