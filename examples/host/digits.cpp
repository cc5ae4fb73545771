// Classifies handwritten digits with a model baked in at build time by kiln_add_model().
//
//   digits HELDOUT.BIN                 classify the first image, then report accuracy on all
//   digits HELDOUT.BIN --expect-accuracy 0.961111
//                                      also fail unless kiln's accuracy equals ONNX Runtime's
//   digits HELDOUT.BIN --samples N     print N samples' logits bit-exactly (compared with firmware)
#include <digits_model.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct heldout {
  std::uint32_t count = 0;
  std::vector<float> images;  // count * 64, 8x8 grey levels in [0, 1]
  std::vector<std::uint8_t> labels;
};

bool load(const char* path, heldout& h) {
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  bool ok = std::fread(&h.count, 4, 1, f) == 1;
  h.images.resize(std::size_t{h.count} * 64);
  h.labels.resize(h.count);
  ok = ok && std::fread(h.images.data(), 4, h.images.size(), f) == h.images.size();
  ok = ok && std::fread(h.labels.data(), 1, h.labels.size(), f) == h.labels.size();
  std::fclose(f);
  return ok;
}

int argmax(const float* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s HELDOUT.BIN [--expect-accuracy A | --samples N]\n", argv[0]);
    return 2;
  }
  heldout h;
  if (!load(argv[1], h) || h.count == 0) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  static digits_model::arena_t arena;  // digits_model::arena_bytes, known at compile time
  digits_model::input_t image;
  digits_model::logits_t logits;

  if (argc == 4 && std::strcmp(argv[2], "--samples") == 0) {
    const auto n = std::min<std::uint32_t>(static_cast<std::uint32_t>(std::atoi(argv[3])), h.count);
    for (std::uint32_t s = 0; s < n; ++s) {
      std::memcpy(image.data, &h.images[std::size_t{s} * 64], sizeof image.data);
      digits_model::run(image, logits, arena);
      std::printf("sample %u: class %d logits", s, argmax(logits.data, 10));
      for (float v : logits) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        std::printf(" 0x%08x", static_cast<unsigned>(bits));
      }
      std::printf("\n");
    }
    return 0;
  }

  std::memcpy(image.data, h.images.data(), sizeof image.data);
  digits_model::run(image, logits, arena);
  std::printf("first held-out image: predicted %d, label %d\n", argmax(logits.data, 10), h.labels[0]);

  std::uint32_t correct = 0;
  for (std::uint32_t s = 0; s < h.count; ++s) {
    std::memcpy(image.data, &h.images[std::size_t{s} * 64], sizeof image.data);
    digits_model::run(image, logits, arena);
    correct += argmax(logits.data, 10) == h.labels[s];
  }
  const double accuracy = static_cast<double>(correct) / h.count;
  std::printf("accuracy on %u held-out images: %.6f (%u correct)\n", h.count, accuracy, correct);
  std::printf("footprint: weights %zu bytes (flash), arena %zu bytes (RAM)\n", digits_model::weight_bytes,
              digits_model::arena_bytes);
  if (argc == 4 && std::strcmp(argv[2], "--expect-accuracy") == 0) {
    const double want = std::atof(argv[3]);
    if (std::fabs(accuracy - want) > 0.5 / h.count) {
      std::printf("FAIL: ONNX Runtime's accuracy is %.6f\n", want);
      return 1;
    }
    std::printf("matches ONNX Runtime's accuracy %.6f\n", want);
  }
  return 0;
}
