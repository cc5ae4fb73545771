// Runs a generated single-input, single-output float model on a raw float32 input file and
// compares with a raw float32 reference: driver INPUT.bin EXPECTED.bin. Build it with
// -include THE_HEADER -DKILN_NS=its_namespace.
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

bool read_floats(const char* file, std::vector<float>& v) {
  std::FILE* f = std::fopen(file, "rb");
  if (!f) return false;
  const bool ok = std::fread(v.data(), sizeof(float), v.size(), f) == v.size() && std::fgetc(f) == EOF;
  std::fclose(f);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const auto& info = KILN_NS::info;
  if (argc != 3 || info.input_count != 1 || info.output_count != 1) return 2;
  std::vector<float> x(info.inputs[0].count), y(info.outputs[0].count), ref(y.size());
  if (!read_floats(argv[1], x) || !read_floats(argv[2], ref)) {
    std::fprintf(stderr, "cannot read %s or %s with the model's sizes\n", argv[1], argv[2]);
    return 1;
  }
  static KILN_NS::arena_t arena;
  const void* in[] = {x.data()};
  void* out[] = {y.data()};
  info.run(in, out, &arena);
  // float32 sums of thousands of terms against numpy's float64: within atol + rtol*|ref|, as in
  // `kiln check`. `worst` is the error as a fraction of that tolerance.
  const double atol = 1e-4, rtol = 1e-3;
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i)
    worst = std::fmax(worst, std::fabs(y[i] - ref[i]) / (atol + rtol * std::fabs(ref[i])));
  std::printf("weights %zu bytes, arena %zu bytes, worst error %g of the tolerance\n", info.weight_bytes,
              info.arena_bytes, worst);
  return worst <= 1 ? 0 : 1;
}
