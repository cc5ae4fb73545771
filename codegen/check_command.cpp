// kiln check: generate headers for models in the ONNX backend-test layout, build them all into one
// host driver (one compiler run per batch keeps hundreds of models fast), run every data set and
// compare every output with the reference.
#include "check_command.hpp"

#include "host_build.hpp"
#include "pipeline.hpp"
#include "tensor_data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace kiln::cg {

namespace fs = std::filesystem;

namespace {

struct data_set {
  fs::path dir;
  std::vector<decoded_tensor> inputs, outputs;
};

struct variant {
  std::string ns;
  std::vector<std::size_t> sets;          // data sets this build serves
  std::vector<std::size_t> fed_inputs;    // model input positions still fed at run time
  std::vector<dtype> output_types;
  std::vector<double> output_steps;  // quantization step of each output; 0 when not quantized
};

struct model_case {
  fs::path dir;
  std::vector<data_set> sets;
  std::vector<variant> variants;
  enum class status { pending, passed, failed, unsupported } state = status::pending;
  std::string message;
};

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix, const std::string& suffix) {
  std::vector<std::pair<long, fs::path>> found;
  if (!fs::is_directory(dir)) return {};
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + suffix.size()) continue;
    if (name.substr(name.size() - suffix.size()) != suffix) continue;
    const auto num = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) continue;
    found.emplace_back(std::stol(num), e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

// Compiles every variant of `cases` into one driver; returns the compiler's output on failure.
bool build_driver(const std::vector<model_case*>& cases, const fs::path& work, const std::string& name,
                  const check_options& o, const fs::path& include, std::string& log) {
  std::string src = "// kiln check driver: runs one generated model on raw input files.\n";
  src += "#include <cstdio>\n#include <cstdlib>\n#include <vector>\n";
  std::vector<std::string> infos;
  for (auto* c : cases)
    for (auto& v : c->variants) {
      src += fmt::format("#include \"{}.hpp\"\n", v.ns);
      infos.push_back(fmt::format("&{}::info", v.ns));
    }
  src += "\nstatic const kiln::model_info* const models[] = {\n";
  for (const auto& i : infos) src += "    " + i + ",\n";
  src += R"(};

static bool read_file(const char* path, void* data, std::size_t n) {
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  const bool ok = std::fread(data, 1, n, f) == n;
  std::fclose(f);
  return ok;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const kiln::model_info& m = *models[std::atoi(argv[1])];
  if (static_cast<std::size_t>(argc) != 2 + m.input_count + m.output_count) return 2;
  std::vector<std::vector<unsigned char>> in(m.input_count), out(m.output_count);
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (std::size_t i = 0; i < m.input_count; ++i) {
    in[i].resize(m.inputs[i].bytes + 1);
    if (!read_file(argv[2 + i], in[i].data(), m.inputs[i].bytes)) return 3;
    in_ptrs.push_back(in[i].data());
  }
  for (std::size_t i = 0; i < m.output_count; ++i) {
    out[i].resize(m.outputs[i].bytes + 1);
    out_ptrs.push_back(out[i].data());
  }
  std::vector<unsigned char> arena(m.arena_bytes + kiln::arena_alignment);
  void* aligned = arena.data() + (kiln::arena_alignment - reinterpret_cast<std::uintptr_t>(arena.data()) % kiln::arena_alignment) % kiln::arena_alignment;
  m.run(in_ptrs.data(), out_ptrs.data(), aligned);
  for (std::size_t i = 0; i < m.output_count; ++i) {
    std::FILE* f = std::fopen(argv[2 + m.input_count + i], "wb");
    if (!f) return 4;
    std::fwrite(out[i].data(), 1, m.outputs[i].bytes, f);
    std::fclose(f);
  }
  return 0;
}
)";
  write_all(work / (name + ".cpp"), src.data(), src.size());
  std::string cxx = o.cxx;
  if (cxx.empty()) cxx = std::getenv("CXX") ? std::getenv("CXX") : "c++";
  const std::string flags = o.cxxflags.empty() ? "-std=c++17 -O1 -Wall -Wextra -Wpedantic -Werror" : o.cxxflags;
  const std::string cmd = fmt::format("{} {} -I{} -I{} {} -o {} > {} 2>&1", cxx, flags, shell_quote(include.string()),
                                      shell_quote(work.string()), shell_quote((work / (name + ".cpp")).string()),
                                      shell_quote((work / name).string()), shell_quote((work / (name + ".log")).string()));
  const int rc = std::system(cmd.c_str());
  log = read_all(work / (name + ".log"));
  return rc == 0;
}

struct compare_result {
  bool ok = true;
  double max_abs = 0, max_rel = 0;
  std::size_t mismatches = 0;
  std::string first_bad;
};

template <class T>
compare_result compare_as(const std::uint8_t* got_bytes, const std::uint8_t* want_bytes, std::size_t n, double rtol,
                          double atol) {
  compare_result r;
  for (std::size_t i = 0; i < n; ++i) {
    T got, want;
    std::memcpy(&got, got_bytes + i * sizeof(T), sizeof(T));
    std::memcpy(&want, want_bytes + i * sizeof(T), sizeof(T));
    bool good;
    if constexpr (std::is_floating_point_v<T>) {
      const double g = got, w = want;
      if (std::isnan(g) || std::isnan(w)) good = std::isnan(g) && std::isnan(w);
      else if (std::isinf(g) || std::isinf(w)) good = g == w;
      else {
        const double abs = std::fabs(g - w), rel = w != 0 ? abs / std::fabs(w) : (abs == 0 ? 0 : HUGE_VAL);
        r.max_abs = std::max(r.max_abs, abs);
        r.max_rel = std::max(r.max_rel, rel);
        good = abs <= atol + rtol * std::fabs(w);
      }
    } else {
      good = got == want;
      const double abs = std::fabs(static_cast<double>(got) - static_cast<double>(want));
      r.max_abs = std::max(r.max_abs, abs);
    }
    if (!good) {
      if (r.ok) r.first_bad = fmt::format("element {}: got {} want {}", i, +got, +want);
      r.ok = false;
      ++r.mismatches;
    }
  }
  return r;
}

compare_result compare(dtype t, const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want,
                       double rtol, double atol) {
  const std::size_t n = want.size() / dtype_size(t);
  switch (t) {
    case dtype::f32: return compare_as<float>(got.data(), want.data(), n, rtol, atol);
    case dtype::f64: return compare_as<double>(got.data(), want.data(), n, rtol, atol);
    case dtype::i8: return compare_as<std::int8_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::u8: return compare_as<std::uint8_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::i16: return compare_as<std::int16_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::u16: return compare_as<std::uint16_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::i32: return compare_as<std::int32_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::u32: return compare_as<std::uint32_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::i64: return compare_as<std::int64_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::u64: return compare_as<std::uint64_t>(got.data(), want.data(), n, rtol, atol);
    case dtype::boolean: return compare_as<std::uint8_t>(got.data(), want.data(), n, rtol, atol);
  }
  return {};
}

// An output's quantization step: 1 for int8/uint8, the scale of a per-tensor DequantizeLinear
// that produces a float output (through the copy kiln adds for some outputs), else 0.
double quantization_step(const graph& g, tensor_id out) {
  const auto& t = g.at(out);
  if (t.type == dtype::i8 || t.type == dtype::u8) return 1;
  if (t.type != dtype::f32) return 0;
  const std::string source = t.name + "__source";
  for (const auto& n : g.nodes) {
    if (n.op_type != "DequantizeLinear" || n.outputs.empty() || n.outputs[0] == no_tensor || n.inputs.size() < 2) continue;
    const auto& o = g.at(n.outputs[0]);
    if (n.outputs[0] != out && o.name != source) continue;
    const auto& s = g.at(n.inputs[1]);
    if (!s.is_constant() || s.count() != 1) return 0;
    return s.as_doubles()[0];
  }
  return 0;
}

// Equal elements and the largest difference in quantization steps (`step` apart per step).
struct step_diff {
  std::size_t equal = 0, count = 0;
  long long max_steps = 0;
};
step_diff compare_steps(dtype t, const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want, double step) {
  step_diff d;
  auto value = [t](const std::vector<std::uint8_t>& b, std::size_t i) -> double {
    switch (t) {
      case dtype::i8: return static_cast<std::int8_t>(b[i]);
      case dtype::u8: return b[i];
      default: {
        float f;
        std::memcpy(&f, b.data() + i * 4, 4);
        return f;
      }
    }
  };
  d.count = want.size() / dtype_size(t);
  for (std::size_t i = 0; i < d.count; ++i) {
    const double g = value(got, i), w = value(want, i);
    if (g == w) {
      ++d.equal;
      continue;
    }
    const double steps = std::isfinite(g) && std::isfinite(w) ? std::llround(std::fabs(g - w) / step) : 1e18;
    d.max_steps = std::max<long long>(d.max_steps, std::max<long long>(1, static_cast<long long>(std::min(steps, 1e18))));
  }
  return d;
}

void prepare(model_case& c, std::size_t index, const fs::path& work, const check_options& o) {
  const auto model_file = c.dir / "model.onnx";
  for (const auto& sd : numbered(c.dir, "test_data_set_", "")) {
    data_set s;
    s.dir = sd;
    for (const auto& f : numbered(sd, "input_", ".pb")) s.inputs.push_back(decode_tensor(read_tensor_file(f), sd, f.string()));
    for (const auto& f : numbered(sd, "output_", ".pb")) s.outputs.push_back(decode_tensor(read_tensor_file(f), sd, f.string()));
    c.sets.push_back(std::move(s));
  }
  if (c.sets.empty()) throw error(fmt::format("'{}' has no test_data_set_N folders", c.dir.string()));
  const auto proto = load_model(model_file);
  std::set<std::string> inits;
  for (const auto& i : proto.graph().initializer()) inits.insert(i.name());
  std::vector<std::string> input_names;
  for (const auto& i : proto.graph().input())
    if (!inits.count(i.name())) input_names.push_back(i.name());
  for (const auto& s : c.sets)
    if (s.inputs.size() != input_names.size())
      throw error(fmt::format("'{}' has {} inputs but the model takes {}", s.dir.string(), s.inputs.size(), input_names.size()));

  // One build serves every data set unless an input had to be frozen into the header.
  for (std::size_t si = 0; si < c.sets.size(); ++si) {
    compile_options co;
    co.model = model_file;
    co.kernels = o.kernels;
    co.specialize = o.specialize;
    co.winograd = o.winograd;
    for (std::size_t i = 0; i < input_names.size(); ++i) co.input_shapes[input_names[i]] = c.sets[si].inputs[i].dims;
    co.ns = fmt::format("m{}_{}", index, si);
    compile_result r;
    for (;;) {
      try {
        r = compile(co);
        break;
      } catch (const needs_constant_error& e) {
        auto it = std::find(input_names.begin(), input_names.end(), e.tensor);
        if (it == input_names.end() || co.frozen_inputs.count(e.tensor)) throw;
        co.frozen_inputs[e.tensor] = c.sets[si].inputs[static_cast<std::size_t>(it - input_names.begin())].bytes;
        co.input_shapes.erase(e.tensor);
      }
    }
    variant v;
    v.ns = co.ns;
    for (std::size_t i = 0; i < input_names.size(); ++i)
      if (!co.frozen_inputs.count(input_names[i])) v.fed_inputs.push_back(i);
    for (auto o : r.g.outputs) {
      v.output_types.push_back(r.g.at(o).type);
      v.output_steps.push_back(quantization_step(r.g, o));
    }
    write_all(work / (v.ns + ".hpp"), r.header.data(), r.header.size());
    const bool shared = co.frozen_inputs.empty();
    if (shared)
      for (std::size_t s = 0; s < c.sets.size(); ++s) v.sets.push_back(s);
    else
      v.sets.push_back(si);
    c.variants.push_back(std::move(v));
    if (shared) break;
  }
}

void run_case(model_case& c, const fs::path& work, const std::string& driver, std::size_t& model_index,
              const check_options& o) {
  std::string report;
  bool ok = true;
  for (const auto& v : c.variants) {
    const std::size_t mi = model_index++;
    for (auto si : v.sets) {
      const auto& s = c.sets[si];
      std::string cmd = shell_quote((work / driver).string()) + " " + std::to_string(mi);
      for (auto i : v.fed_inputs) {
        const auto f = work / fmt::format("{}_in{}.bin", v.ns, i);
        write_all(f, s.inputs[i].bytes.data(), s.inputs[i].bytes.size());
        cmd += " " + shell_quote(f.string());
      }
      for (std::size_t i = 0; i < s.outputs.size(); ++i) cmd += " " + shell_quote((work / fmt::format("{}_out{}.bin", v.ns, i)).string());
      if (s.outputs.size() != v.output_types.size()) {
        ok = false;
        report += fmt::format("\n  data set {}: {} reference outputs, model has {}", si, s.outputs.size(), v.output_types.size());
        continue;
      }
      const int rc = std::system((cmd + " > /dev/null 2>&1").c_str());
      if (rc != 0) {
        ok = false;
        report += fmt::format("\n  data set {}: the driver failed (status {})", si, rc);
        continue;
      }
      for (std::size_t i = 0; i < s.outputs.size(); ++i) {
        const auto got_s = read_all(work / fmt::format("{}_out{}.bin", v.ns, i));
        const std::vector<std::uint8_t> got(got_s.begin(), got_s.end());
        const auto& want = s.outputs[i];
        std::string verdict;
        if (want.type != v.output_types[i]) {
          ok = false;
          verdict = fmt::format("type {} but reference is {}", dtype_name(v.output_types[i]), dtype_name(want.type));
        } else if (got.size() != want.bytes.size()) {
          ok = false;
          verdict = fmt::format("{} bytes but reference has {}", got.size(), want.bytes.size());
        } else {
          const auto r = compare(want.type, got, want.bytes, o.rtol, o.atol);
          const double step = v.output_steps[i];
          bool good = r.ok;
          std::string steps;
          if (step > 0) {
            const auto d = compare_steps(want.type, got, want.bytes, step);
            if (o.max_lsb >= 0) good = d.max_steps <= o.max_lsb;
            steps = fmt::format(", equal {}/{} ({:.2f}%), max {} LSB", d.equal, d.count,
                                d.count ? 100.0 * static_cast<double>(d.equal) / static_cast<double>(d.count) : 100.0,
                                d.max_steps);
          }
          ok = ok && good;
          verdict = fmt::format("max abs {:.3g}, max rel {:.3g}{}{}", r.max_abs, r.max_rel, steps,
                                good ? "" : fmt::format(", {} mismatches, first at {}", r.mismatches, r.first_bad));
        }
        report += fmt::format("\n  data set {} output {}: {}", si, i, verdict);
      }
    }
  }
  c.state = ok ? model_case::status::passed : model_case::status::failed;
  c.message = report;
}

// Builds one driver for `cases` and runs them; on a compile error, recurses into halves.
void build_and_run(const std::vector<model_case*>& cases, const fs::path& work, const std::string& name,
                   const check_options& o, const fs::path& include) {
  if (cases.empty()) return;
  std::string log;
  if (build_driver(cases, work, name, o, include, log)) {
    std::size_t mi = 0;
    for (auto* c : cases) run_case(*c, work, name, mi, o);
    return;
  }
  if (cases.size() == 1) {
    cases[0]->state = model_case::status::failed;
    cases[0]->message = "generated code does not compile:\n" + log.substr(0, 4000);
    return;
  }
  const auto mid = cases.begin() + static_cast<std::ptrdiff_t>(cases.size() / 2);
  build_and_run({cases.begin(), mid}, work, name + "a", o, include);
  build_and_run({mid, cases.end()}, work, name + "b", o, include);
}

}  // namespace

int run_check(const check_options& o) {
  const auto include = find_include_dir(o.include_dir);
  fs::path work;
  if (!o.work_dir.empty()) {
    work = fs::absolute(o.work_dir);
    fs::create_directories(work);
  } else {
    std::string t = (fs::temp_directory_path() / "kiln-check-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw error("cannot create a temporary folder");
    work = t;
  }
  std::vector<model_case> cases(o.dirs.size());
  std::vector<model_case*> built;
  for (std::size_t i = 0; i < o.dirs.size(); ++i) {
    auto& c = cases[i];
    c.dir = o.dirs[i];
    try {
      prepare(c, i, work, o);
      built.push_back(&c);
    } catch (const unsupported_error& e) {
      c.state = model_case::status::unsupported;
      c.message = e.what();
    } catch (const std::exception& e) {
      c.state = model_case::status::failed;
      c.message = e.what();
    }
  }
  // One driver for the whole batch. If it does not compile, halve the batch until the models
  // whose code does not compile are isolated: a single bad model costs O(log n) compiler runs.
  build_and_run(built, work, "driver", o, include);
  std::size_t passed = 0, failed = 0, unsupported = 0;
  for (const auto& c : cases) {
    const char* tag = c.state == model_case::status::passed ? "PASS" : c.state == model_case::status::unsupported ? "UNSUPPORTED" : "FAIL";
    std::printf("%s %s%s%s\n", tag, c.dir.string().c_str(), c.message.empty() || c.message[0] == '\n' ? "" : ": ", c.message.c_str());
    if (c.state == model_case::status::passed) ++passed;
    else ++failed;
    if (c.state == model_case::status::unsupported) ++unsupported;
  }
  if (o.work_dir.empty()) fs::remove_all(work);
  if (unsupported) std::printf("(%zu of the failures are models kiln does not support)\n", unsupported);
  std::printf("%zu passed, %zu failed\n", passed, failed);
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}

}  // namespace kiln::cg
