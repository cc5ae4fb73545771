#include "names.hpp"

#include <cctype>

namespace kiln::cg {

namespace {
// C++ keywords, plus the names generated headers define themselves.
const char* const reserved[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
    "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
    "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
    "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
    "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
    "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    // the generated namespace's own members and common macros
    "kiln", "std", "weights", "params", "run", "run_erased", "info", "input_info", "output_info", "arena",
    "arena_t", "arena_bytes", "weight_bytes", "base", "main", "NULL", "EOF", "assert", "errno"};
}  // namespace

std::string sanitize(const std::string& raw) {
  std::string s;
  for (unsigned char c : raw) s += std::isalnum(c) ? static_cast<char>(c) : '_';
  // Collapse runs of '_' and trim them: names with leading '_' or "__" are reserved in C++.
  std::string out;
  for (char c : s)
    if (!(c == '_' && (out.empty() || out.back() == '_'))) out += c;
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) out = "t";
  if (std::isdigit(static_cast<unsigned char>(out[0]))) out = "t" + out;
  return out;
}

name_table::name_table() {
  for (const char* r : reserved) used_.insert(r);
}

std::string name_table::unique(const std::string& raw) {
  std::string base = sanitize(raw);
  if (!used_.count(base)) {
    used_.insert(base);
    return base;
  }
  for (int i = 2;; ++i) {
    std::string c = base + "_" + std::to_string(i);
    if (!used_.count(c)) {
      used_.insert(c);
      return c;
    }
  }
}

}  // namespace kiln::cg
