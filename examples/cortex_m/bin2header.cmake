# cmake -DIN=heldout.bin -DOUT=samples.hpp -DCOUNT=8 -P bin2header.cmake
# Embeds the first COUNT images and labels of a held-out set (format: tests/models/README.md)
# as constexpr arrays, so firmware needs no file system. Plain CMake: no extra tools in CI.
file(READ "${IN}" header HEX LIMIT 4)
string(SUBSTRING "${header}" 0 8 n_hex)
math(EXPR total "0x${n_hex}")  # little-endian: fix up below
string(REGEX MATCHALL ".." b "${n_hex}")
list(REVERSE b)
string(JOIN "" n_be ${b})
math(EXPR total "0x${n_be}")
math(EXPR image_bytes "${COUNT} * 256")
file(READ "${IN}" images HEX OFFSET 4 LIMIT ${image_bytes})
math(EXPR label_offset "4 + ${total} * 256")
file(READ "${IN}" labels HEX OFFSET ${label_offset} LIMIT ${COUNT})
string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])" "0x\\4\\3\\2\\1u, " words "${images}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\1, " label_list "${labels}")
string(REGEX REPLACE "([0-9a-f][0-9a-f]), " "0x\\1, " label_list "${label_list}")
file(WRITE "${OUT}" "// Generated from ${IN} by bin2header.cmake: the first ${COUNT} held-out digits.
#pragma once
#include <cstdint>
inline constexpr int sample_count = ${COUNT};
// IEEE-754 bits of each 8x8 image, row-major.
inline constexpr std::uint32_t sample_bits[${COUNT} * 64] = {${words}};
inline constexpr std::uint8_t sample_labels[${COUNT}] = {${label_list}};
")
