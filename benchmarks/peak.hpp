// The single-core peak float throughput of this machine, measured with an FMA loop.
#pragma once

namespace kiln_bench {

struct peak_result {
  double gflops;     // best of several timed loops
  const char* isa;   // which instruction set the loop used
};

peak_result measure_peak_gflops();

}  // namespace kiln_bench
