// ONNX names become valid, unique, stable C++ identifiers.
#include <doctest/doctest.h>

#include "names.hpp"

using kiln::cg::name_table;
using kiln::cg::sanitize;

TEST_CASE("sanitize turns any string into an identifier") {
  CHECK(sanitize("conv1.weight") == "conv1_weight");
  CHECK(sanitize("/features/0/Conv_output_0") == "features_0_Conv_output_0");
  CHECK(sanitize("123abc") == "t123abc");
  CHECK(sanitize("") == "t");
  CHECK(sanitize("::") == "t");
  CHECK(sanitize("a  b--c") == "a_b_c");
  CHECK(sanitize("__x__") == "x");  // leading underscores and double underscores are reserved in C++
}

TEST_CASE("name_table avoids keywords, its own names and collisions") {
  name_table t;
  CHECK(t.unique("class") == "class_2");
  CHECK(t.unique("weights") == "weights_2");
  CHECK(t.unique("x.y") == "x_y");
  CHECK(t.unique("x/y") == "x_y_2");
  CHECK(t.unique("x:y") == "x_y_3");
  CHECK(t.unique("x_y_2") == "x_y_2_2");
}
