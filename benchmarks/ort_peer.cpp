#include "ort_peer.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace kiln_bench {

namespace {

// ---- The part of ORT's C API this file uses, declared from its documented ABI. ----
//
// OrtGetApiBase() returns a struct of two function pointers: GetApi(uint32_t version) and
// GetVersionString(). GetApi returns the OrtApi table: a struct made only of function pointers,
// in declaration order, to which ORT only ever appends (the ABI promise of onnxruntime_c_api.h).
// So the table is read here as an array of pointers, and each function is found by its position.
// The positions below were counted from the declaration order of `struct OrtApi` in
// include/onnxruntime/core/session/onnxruntime_c_api.h of microsoft/onnxruntime; all of them are
// in the first (version 1) part of the table. The constructor below checks some of them at run
// time before the others are trusted.
struct OrtStatus;
struct OrtEnv;
struct OrtSession;
struct OrtSessionOptions;
struct OrtMemoryInfo;
struct OrtValue;
struct OrtAllocator;

using status_t = OrtStatus*;

struct api_base {
  const void* const* (*get_api)(std::uint32_t version) noexcept;
  const char* (*get_version_string)() noexcept;
};

enum api_index : std::size_t {
  CreateStatus = 0,                       // OrtStatus*(int code, const char* msg)
  GetErrorCode = 1,                       // int(const OrtStatus*)
  GetErrorMessage = 2,                    // const char*(const OrtStatus*)
  CreateEnv = 3,                          // (int log_level, const char* id, OrtEnv**)
  CreateSession = 7,                      // (const OrtEnv*, const char* path, const OrtSessionOptions*, OrtSession**)
  Run = 9,                                // (OrtSession*, run options, names, values, n, out names, n, out values)
  CreateSessionOptions = 10,              // (OrtSessionOptions**)
  SetSessionExecutionMode = 13,           // (OrtSessionOptions*, int mode)
  SetSessionGraphOptimizationLevel = 23,  // (OrtSessionOptions*, int level)
  SetIntraOpNumThreads = 24,              // (OrtSessionOptions*, int)
  SetInterOpNumThreads = 25,              // (OrtSessionOptions*, int)
  SessionGetInputCount = 30,              // (const OrtSession*, size_t*)
  SessionGetOutputCount = 31,             // (const OrtSession*, size_t*)
  SessionGetInputName = 36,               // (const OrtSession*, size_t, OrtAllocator*, char**)
  SessionGetOutputName = 37,              // (const OrtSession*, size_t, OrtAllocator*, char**)
  CreateTensorWithDataAsOrtValue = 49,    // (const OrtMemoryInfo*, void*, size_t, const int64_t*, size_t, int type, OrtValue**)
  CreateCpuMemoryInfo = 69,               // (int allocator type, int mem type, OrtMemoryInfo**)
  AllocatorFree = 76,                     // (OrtAllocator*, void*)
  GetAllocatorWithDefaultOptions = 78,    // (OrtAllocator**)
  ReleaseEnv = 92,                        // void(OrtEnv*)
  ReleaseStatus = 93,                     // void(OrtStatus*)
  ReleaseMemoryInfo = 94,                 // void(OrtMemoryInfo*)
  ReleaseSession = 95,                    // void(OrtSession*)
  ReleaseValue = 96,                      // void(OrtValue*)
  ReleaseSessionOptions = 100,            // void(OrtSessionOptions*)
};

// Enum values from the same header.
constexpr int ort_logging_level_error = 3;  // OrtLoggingLevel: VERBOSE, INFO, WARNING, ERROR, FATAL
constexpr int ort_invalid_argument = 2;     // OrtErrorCode: OK, FAIL, INVALID_ARGUMENT, ...
constexpr int ort_sequential = 0;           // ExecutionMode
constexpr int ort_enable_all = 99;          // GraphOptimizationLevel
constexpr int ort_arena_allocator = 1;      // OrtAllocatorType: Invalid = -1, Device = 0, Arena = 1
constexpr int ort_mem_type_default = 0;     // OrtMemType
// Every entry used is in version 1 of the table, and every later library still serves version 1.
constexpr std::uint32_t api_version = 1;

struct ort_api {
  void* handle = nullptr;
  const void* const* table = nullptr;
  std::string version;
  OrtEnv* env = nullptr;

  template <class R, class... A>
  R call(api_index i, A... a) const {
    using fn = R (*)(A...) noexcept;
    return reinterpret_cast<fn>(const_cast<void*>(table[i]))(a...);
  }

  // Throws on a non-null status, with ORT's message.
  template <class... A>
  void check(const char* what, api_index i, A... a) const {
    if (status_t st = call<status_t>(i, a...)) {
      std::string msg = std::string("onnxruntime: ") + what + ": " + call<const char*>(GetErrorMessage, static_cast<const OrtStatus*>(st));
      call<void>(ReleaseStatus, st);
      throw std::runtime_error(msg);
    }
  }
};

ort_api load() {
  ort_api a;
  const std::string path = ort_library_path();
  a.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!a.handle) {
    const char* e = ::dlerror();
    throw std::runtime_error("cannot load ONNX Runtime (" + path + "): " + (e ? e : "?") +
                             "; run `cd tools/ort && npm install --ignore-scripts` or set KILN_ORT_LIB");
  }
  using get_base_fn = const api_base* (*)() noexcept;
  auto get_base = reinterpret_cast<get_base_fn>(::dlsym(a.handle, "OrtGetApiBase"));
  if (!get_base) throw std::runtime_error(path + " has no OrtGetApiBase");
  const api_base* base = get_base();
  const char* v = base ? base->get_version_string() : nullptr;
  if (!v || !(v[0] >= '1' && v[0] <= '9') || !std::strchr(v, '.'))
    throw std::runtime_error(path + ": OrtGetApiBase()->GetVersionString() does not look like a version");
  a.version = v;
  a.table = base->get_api(api_version);
  if (!a.table) throw std::runtime_error(path + ": GetApi(" + std::to_string(api_version) + ") returned null");
  // Self-check of the first entries and of ReleaseStatus: a status round trip must keep its code
  // and text. Wrong positions would fail here (or crash here, before any session exists).
  const char probe[] = "kiln ort_peer probe";
  status_t st = a.call<status_t>(CreateStatus, ort_invalid_argument, static_cast<const char*>(probe));
  if (!st) throw std::runtime_error("onnxruntime: CreateStatus returned null");
  const int code = a.call<int>(GetErrorCode, static_cast<const OrtStatus*>(st));
  const char* msg = a.call<const char*>(GetErrorMessage, static_cast<const OrtStatus*>(st));
  const bool ok = code == ort_invalid_argument && msg && std::strcmp(msg, probe) == 0;
  a.call<void>(ReleaseStatus, st);
  if (!ok) throw std::runtime_error("onnxruntime " + a.version + ": the C API table does not match ort_peer.cpp's positions");
  a.check("CreateEnv", CreateEnv, ort_logging_level_error, static_cast<const char*>("kiln_bench"), &a.env);
  return a;
}

const ort_api& api() {
  static std::once_flag once;
  static ort_api a;
  static std::string failure;
  std::call_once(once, [] {
    try {
      a = load();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw std::runtime_error(failure);
  return a;
}

}  // namespace

std::string ort_library_path() {
  if (const char* env = std::getenv("KILN_ORT_LIB"); env && *env) return env;
#ifdef KILN_ORT_DEFAULT_LIB
  return KILN_ORT_DEFAULT_LIB;
#else
  return "libonnxruntime.so.1";
#endif
}

std::string ort_version() { return api().version; }

struct ort_session::state {
  const ort_api* a = nullptr;
  OrtSessionOptions* options = nullptr;
  OrtSession* session = nullptr;
  OrtMemoryInfo* memory = nullptr;
  std::vector<ort_binding> inputs, outputs;
  std::vector<OrtValue*> in_values, out_values;
  std::vector<const char*> in_names, out_names;
  bool bound_outputs = true;

  OrtValue* make_value(const ort_binding& b) const {
    OrtValue* v = nullptr;
    a->check(("tensor for '" + b.name + "'").c_str(), CreateTensorWithDataAsOrtValue, static_cast<const OrtMemoryInfo*>(memory),
             b.data, b.bytes, static_cast<const std::int64_t*>(b.dims.data()), b.dims.size(), static_cast<int>(b.type), &v);
    return v;
  }

  std::vector<std::string> names(api_index count_fn, api_index name_fn) const {
    std::size_t n = 0;
    a->check("name count", count_fn, static_cast<const OrtSession*>(session), &n);
    OrtAllocator* alloc = nullptr;
    a->check("GetAllocatorWithDefaultOptions", GetAllocatorWithDefaultOptions, &alloc);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
      char* s = nullptr;
      a->check("name", name_fn, static_cast<const OrtSession*>(session), i, alloc, &s);
      out.emplace_back(s);
      a->check("AllocatorFree", AllocatorFree, alloc, static_cast<void*>(s));
    }
    return out;
  }

  void run_once(OrtValue** outs) const {
    a->check("Run", Run, session, static_cast<const void*>(nullptr), static_cast<const char* const*>(in_names.data()),
             static_cast<const OrtValue* const*>(in_values.data()), in_values.size(),
             static_cast<const char* const*>(out_names.data()), out_names.size(), outs);
  }

  ~state() {
    if (!a) return;
    for (auto* v : in_values) a->call<void>(ReleaseValue, v);
    for (auto* v : out_values) if (v) a->call<void>(ReleaseValue, v);
    if (memory) a->call<void>(ReleaseMemoryInfo, memory);
    if (session) a->call<void>(ReleaseSession, session);
    if (options) a->call<void>(ReleaseSessionOptions, options);
  }
};

ort_session::ort_session(const std::string& model_file, std::vector<ort_binding> inputs, std::vector<ort_binding> outputs)
    : s_(std::make_unique<state>()) {
  auto& s = *s_;
  s.a = &api();
  const auto& a = *s.a;
  s.inputs = std::move(inputs);
  s.outputs = std::move(outputs);
  a.check("CreateSessionOptions", CreateSessionOptions, &s.options);
  a.check("SetIntraOpNumThreads", SetIntraOpNumThreads, s.options, 1);
  a.check("SetInterOpNumThreads", SetInterOpNumThreads, s.options, 1);
  a.check("SetSessionExecutionMode", SetSessionExecutionMode, s.options, ort_sequential);
  a.check("SetSessionGraphOptimizationLevel", SetSessionGraphOptimizationLevel, s.options, ort_enable_all);
  a.check(("CreateSession(" + model_file + ")").c_str(), CreateSession, static_cast<const OrtEnv*>(a.env), model_file.c_str(),
          static_cast<const OrtSessionOptions*>(s.options), &s.session);

  // The model's own names must be those the caller binds (this also checks those positions).
  auto sorted = [](std::vector<std::string> v) { std::sort(v.begin(), v.end()); return v; };
  std::vector<std::string> want_in, want_out;
  for (const auto& b : s.inputs) want_in.push_back(b.name);
  for (const auto& b : s.outputs) want_out.push_back(b.name);
  const auto got_in = s.names(SessionGetInputCount, SessionGetInputName);
  const auto got_out = s.names(SessionGetOutputCount, SessionGetOutputName);
  if (sorted(got_in) != sorted(want_in) || sorted(got_out) != sorted(want_out))
    throw std::runtime_error("onnxruntime: " + model_file + ": the session's input/output names differ from the bindings");

  a.check("CreateCpuMemoryInfo", CreateCpuMemoryInfo, ort_arena_allocator, ort_mem_type_default, &s.memory);
  for (const auto& b : s.inputs) {
    s.in_values.push_back(s.make_value(b));
    s.in_names.push_back(b.name.c_str());
  }
  for (const auto& b : s.outputs) {
    s.out_values.push_back(s.make_value(b));
    s.out_names.push_back(b.name.c_str());
  }
  // ORT checks preallocated outputs against the shapes it infers; if it refuses them, let it
  // allocate the outputs itself on every run.
  try {
    s.run_once(s.out_values.data());
  } catch (const std::runtime_error&) {
    for (auto*& v : s.out_values) {
      a.call<void>(ReleaseValue, v);
      v = nullptr;
    }
    s.bound_outputs = false;
    run();
  }
}

ort_session::~ort_session() = default;

void ort_session::run() {
  auto& s = *s_;
  if (s.bound_outputs) {
    s.run_once(s.out_values.data());
    return;
  }
  std::vector<OrtValue*> outs(s.out_names.size(), nullptr);
  s.run_once(outs.data());
  for (auto* v : outs) if (v) s.a->call<void>(ReleaseValue, v);
}

}  // namespace kiln_bench
