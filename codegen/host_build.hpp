// Helpers shared by the subcommands that build and run generated code on the host
// (`kiln check`, `kiln bench`): finding kiln's include folder, quoting for the shell, file I/O.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace kiln::cg {

// Single-quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);

// kiln's include folder: `explicit_dir` when given, else $KILN_INCLUDE_DIR, else ../include next
// to the kiln executable, else the source tree kiln was built from. Throws when none holds kiln.hpp.
std::filesystem::path find_include_dir(const std::string& explicit_dir);

// A fresh folder under the system temp folder, named <prefix>XXXXXX.
std::filesystem::path make_temp_dir(const std::string& prefix);

// The host C++ compiler: `cxx` when given, else $CXX, else c++.
std::string host_compiler(const std::string& cxx);

std::string read_all(const std::filesystem::path& p);
void write_all(const std::filesystem::path& p, const void* data, std::size_t n);

}  // namespace kiln::cg
