#include "host_build.hpp"

#include "ir.hpp"  // kiln::cg::error

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace kiln::cg {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

fs::path find_include_dir(const std::string& explicit_dir) {
  std::vector<fs::path> candidates;
  if (!explicit_dir.empty()) candidates.emplace_back(explicit_dir);
  if (const char* env = std::getenv("KILN_INCLUDE_DIR")) candidates.emplace_back(env);
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "include");
#ifdef KILN_SOURCE_INCLUDE_DIR
  candidates.emplace_back(KILN_SOURCE_INCLUDE_DIR);
#endif
  for (const auto& c : candidates)
    if (fs::exists(c / "kiln" / "kiln.hpp")) return c;
  throw error("cannot find kiln's include folder: pass --include DIR or set KILN_INCLUDE_DIR");
}

fs::path make_temp_dir(const std::string& prefix) {
  std::string t = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(t.data())) throw error("cannot create a temporary folder");
  return t;
}

std::string host_compiler(const std::string& cxx) {
  if (!cxx.empty()) return cxx;
  const char* env = std::getenv("CXX");
  return env && *env ? env : "c++";
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const fs::path& p, const void* data, std::size_t n) {
  std::ofstream out(p, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) throw error(fmt::format("cannot write '{}'", p.string()));
}

}  // namespace kiln::cg
