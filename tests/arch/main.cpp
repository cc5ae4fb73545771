// doctest's runner for the arch tests (tests/arch/test_*.cpp); compiled once, linked into every variant.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
