# cmake -DQEMU_BOARD=.. -DELF=.. -DHOST=<host digits exe> -DHELDOUT=.. -DCOUNT=8 -DNM=.. -P compare_with_host.cmake
# The firmware's per-sample lines (class and logits' bits) must equal the host build's exactly,
# and every weight array must sit in read-only data (flash), not RAM.
execute_process(COMMAND timeout 60 qemu-system-arm -M ${QEMU_BOARD} -nographic
                        -semihosting-config enable=on,target=native -kernel ${ELF}
                INPUT_FILE /dev/null OUTPUT_VARIABLE fw_out ERROR_VARIABLE fw_err RESULT_VARIABLE fw_rc)
set(fw_out "${fw_out}${fw_err}")  # qemu 7.2 writes semihosting output to stderr
if(NOT fw_rc EQUAL 0)
  message(FATAL_ERROR "firmware exited with ${fw_rc}:\n${fw_out}")
endif()
execute_process(COMMAND ${HOST} ${HELDOUT} --samples ${COUNT} OUTPUT_VARIABLE host_out RESULT_VARIABLE host_rc)
if(NOT host_rc EQUAL 0)
  message(FATAL_ERROR "host example exited with ${host_rc}")
endif()
string(REGEX MATCHALL "sample [^\n]*" fw_lines "${fw_out}")
string(REGEX MATCHALL "sample [^\n]*" host_lines "${host_out}")
list(LENGTH fw_lines n)
if(NOT n EQUAL COUNT OR NOT "${fw_lines}" STREQUAL "${host_lines}")
  message(FATAL_ERROR "firmware and host disagree\nfirmware:\n${fw_out}\nhost:\n${host_out}")
endif()
message(STATUS "firmware matches host on ${n} samples:\n${fw_out}")

# inline constexpr arrays are weak (V) symbols, so check the section, not the symbol type.
execute_process(COMMAND ${NM} -C -f sysv --defined-only ${ELF} OUTPUT_VARIABLE syms)
string(REGEX MATCHALL "digits_model::weights::[^\n]*" weights "${syms}")
list(LENGTH weights nw)
if(nw EQUAL 0)
  message(FATAL_ERROR "no digits_model::weights symbols in ${ELF}")
endif()
foreach(w IN LISTS weights)
  if(NOT w MATCHES "[|][.]rodata")
    message(FATAL_ERROR "weight not in read-only data: ${w}")
  endif()
endforeach()
message(STATUS "${nw} weight arrays, all in .rodata")
