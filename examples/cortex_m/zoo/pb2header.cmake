# cmake -DDIR=<model>/test_data_set_0 -DOUT=zoo_data.hpp -P pb2header.cmake
#
# Embeds a backend-test data set (input_K.pb, output_K.pb: serialized onnx.TensorProto as
# written by onnx.numpy_helper.from_array) as constexpr arrays, so firmware needs no file
# system. Plain CMake, no extra tools in CI.
#
# Each .pb is parsed as protobuf, not just sliced: only the fields from_array writes are
# accepted (dims = 1, data_type = 2, name = 8, raw_data = 9), data_type must be FLOAT (1),
# raw_data must be the last field, end exactly at the end of the file and hold
# 4 * product(dims) bytes. Anything else (float_data, doubles, trailing fields, ...) is a
# FATAL_ERROR rather than silently wrong data. The floats are kept as their little-endian
# IEEE-754 bits (exact; the firmware memcpy's them into float buffers).
cmake_minimum_required(VERSION 3.20)  # script mode: modern policies (while(TRUE), if(<number>))
if(NOT DIR OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DDIR=<test_data_set dir> -DOUT=<header> -P pb2header.cmake")
endif()

# Reads the varint at byte index `pos` of hex string `hex`; sets <out> and <pos_var> (next index).
function(_pb_varint hex pos out pos_var)
  set(value 0)
  set(shift 0)
  string(LENGTH "${hex}" hex_len)
  while(TRUE)
    math(EXPR at "${pos} * 2")
    if(at GREATER_EQUAL hex_len)
      message(FATAL_ERROR "${_pb_file}: truncated varint at byte ${pos}")
    endif()
    string(SUBSTRING "${hex}" ${at} 2 b)
    math(EXPR byte "0x${b}")
    math(EXPR value "${value} + ((${byte} & 127) << ${shift})")
    math(EXPR pos "${pos} + 1")
    math(EXPR shift "${shift} + 7")
    if(byte LESS 128)
      break()
    endif()
    if(shift GREATER 56)
      message(FATAL_ERROR "${_pb_file}: varint too long at byte ${pos}")
    endif()
  endwhile()
  set(${out} ${value} PARENT_SCOPE)
  set(${pos_var} ${pos} PARENT_SCOPE)
endfunction()

# Parses one TensorProto file; sets <prefix>_name, _dims (list), _rank, _count, _words.
function(_pb_tensor file prefix)
  set(_pb_file "${file}")
  file(SIZE "${file}" size)
  if(size LESS 2)
    message(FATAL_ERROR "${file}: ${size} bytes is not a float TensorProto")
  endif()
  # The header (everything before raw_data) is small; read at most 4 KB of it.
  set(limit ${size})
  if(limit GREATER 4096)
    set(limit 4096)
  endif()
  file(READ "${file}" hex HEX LIMIT ${limit})
  set(pos 0)
  set(dims "")
  set(name "")
  set(dtype -1)
  set(data_offset -1)
  while(pos LESS limit)
    _pb_varint("${hex}" ${pos} tag pos)
    math(EXPR field "${tag} >> 3")
    math(EXPR wire "${tag} & 7")
    if(field EQUAL 1 AND wire EQUAL 0)          # dims (proto2 repeated int64, unpacked)
      _pb_varint("${hex}" ${pos} d pos)
      list(APPEND dims ${d})
    elseif(field EQUAL 2 AND wire EQUAL 0)      # data_type
      _pb_varint("${hex}" ${pos} dtype pos)
    elseif(field EQUAL 8 AND wire EQUAL 2)      # name
      _pb_varint("${hex}" ${pos} n pos)
      set(codes "")
      foreach(k RANGE 1 ${n})
        if(n EQUAL 0)
          break()
        endif()
        math(EXPR at "${pos} * 2")
        string(SUBSTRING "${hex}" ${at} 2 b)
        math(EXPR c "0x${b}")
        if(c LESS 32 OR c GREATER 126)
          message(FATAL_ERROR "${file}: tensor name has a non-printable byte 0x${b}")
        endif()
        list(APPEND codes ${c})
        math(EXPR pos "${pos} + 1")
      endforeach()
      if(codes)
        string(ASCII ${codes} name)
      endif()
    elseif(field EQUAL 9 AND wire EQUAL 2)      # raw_data: must be the last field
      _pb_varint("${hex}" ${pos} raw_len pos)
      set(data_offset ${pos})
      math(EXPR data_end "${pos} + ${raw_len}")
      if(NOT data_end EQUAL size)
        message(FATAL_ERROR "${file}: raw_data (${raw_len} bytes at offset ${pos}) does not end at "
                            "the end of the file (${size} bytes): raw_data is not the last field")
      endif()
      break()
    else()
      message(FATAL_ERROR "${file}: unexpected protobuf field ${field} (wire type ${wire}) at byte "
                          "${pos}; only dims/data_type/name/raw_data (numpy_helper.from_array) are supported")
    endif()
  endwhile()
  if(data_offset LESS 0)
    message(FATAL_ERROR "${file}: no raw_data field")
  endif()
  if(NOT dtype EQUAL 1)
    message(FATAL_ERROR "${file}: data_type ${dtype}, only FLOAT (1) is supported")
  endif()
  set(count 1)
  foreach(d IN LISTS dims)
    math(EXPR count "${count} * ${d}")
  endforeach()
  math(EXPR expect "${count} * 4")
  if(NOT raw_len EQUAL expect)
    message(FATAL_ERROR "${file}: raw_data has ${raw_len} bytes, dims [${dims}] need ${expect}")
  endif()
  # Redundant with the parse, but cheap: header overhead must be small and positive.
  math(EXPR overhead "${size} - ${expect}")
  if(overhead LESS 4 OR overhead GREATER 1024)
    message(FATAL_ERROR "${file}: ${size} bytes for ${count} floats is implausible")
  endif()
  file(READ "${file}" data HEX OFFSET ${data_offset} LIMIT ${raw_len})
  string(LENGTH "${data}" data_len)
  math(EXPR want "${raw_len} * 2")
  if(NOT data_len EQUAL want)
    message(FATAL_ERROR "${file}: read ${data_len} hex digits of raw_data, expected ${want}")
  endif()
  string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])"
         "0x\\4\\3\\2\\1u," words "${data}")
  list(LENGTH dims rank)
  string(REPLACE "\\" "\\\\" name "${name}")
  string(REPLACE "\"" "\\\"" name "${name}")
  set(${prefix}_name "${name}" PARENT_SCOPE)
  set(${prefix}_dims "${dims}" PARENT_SCOPE)
  set(${prefix}_rank ${rank} PARENT_SCOPE)
  set(${prefix}_count ${count} PARENT_SCOPE)
  set(${prefix}_words "${words}" PARENT_SCOPE)
endfunction()

set(body "")
foreach(kind input output)
  file(GLOB files "${DIR}/${kind}_*.pb")
  list(LENGTH files n)
  if(n EQUAL 0 AND kind STREQUAL "output")
    message(FATAL_ERROR "${DIR}: no output_K.pb files")
  endif()
  set(table "")
  set(total 0)
  if(n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(k RANGE ${last})  # by index, not glob order: output_10 sorts before output_2
      set(f "${DIR}/${kind}_${k}.pb")
      if(NOT EXISTS "${f}")
        message(FATAL_ERROR "${DIR}: ${n} ${kind}_K.pb files but no ${kind}_${k}.pb")
      endif()
      _pb_tensor("${f}" t)
      string(REPLACE ";" ", " dims_c "${t_dims}")
      if(t_rank EQUAL 0)
        set(dims_c "0")  # scalar: placeholder, rank is 0
      endif()
      string(APPEND body "// ${kind}_${k}.pb: '${t_name}' [${dims_c}], ${t_count} floats\n"
             "inline constexpr std::int32_t ${kind}_${k}_dims[] = {${dims_c}};\n"
             "inline constexpr std::uint32_t ${kind}_${k}_bits[] = {${t_words}};\n")
      string(APPEND table "    {\"${t_name}\", ${t_rank}, ${kind}_${k}_dims, ${t_count}, ${kind}_${k}_bits},\n")
      math(EXPR total "${total} + ${t_count}")
    endforeach()
  endif()
  string(APPEND body "inline constexpr std::size_t ${kind}_count = ${n};\n"
         "inline constexpr std::size_t ${kind}_total = ${total};  // floats over all ${kind}s\n")
  if(n GREATER 0)
    string(APPEND body "inline constexpr tensor ${kind}s[] = {\n${table}};\n\n")
  else()
    string(APPEND body "inline constexpr const tensor* ${kind}s = nullptr;\n\n")
  endif()
endforeach()

file(WRITE "${OUT}.tmp" "// Generated from ${DIR} by examples/cortex_m/zoo/pb2header.cmake. Do not edit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace zoo_data {

struct tensor {
  const char* name;            // the ONNX name stored in the .pb
  std::int32_t rank;
  const std::int32_t* dims;
  std::size_t count;           // floats
  const std::uint32_t* bits;   // IEEE-754 bits of each float, row-major
};

${body}}  // namespace zoo_data
")
file(RENAME "${OUT}.tmp" "${OUT}")
