#!/bin/sh
# Runs a Cortex-M firmware under qemu and checks its exit status (= main's return value,
# passed out through semihosting). Used by the <target>_qemu CTest tests.
#   sh run_qemu.sh QEMU BOARD FIRMWARE.elf [EXPECTED_STATUS (default 0) [more qemu arguments...]]
qemu=$1 board=$2 elf=$3 expected=${4:-0}
shift 3; [ $# -gt 0 ] && shift
# -semihosting-config is required: without it the semihosting BKPT locks the CPU up.
# </dev/null: -nographic puts qemu's monitor on stdio; keep it off any terminal.
timeout 60 "$qemu" -M "$board" -nographic -semihosting-config enable=on,target=native \
  "$@" -kernel "$elf" </dev/null
status=$?
if [ "$status" -ne "$expected" ]; then
  [ "$status" -eq 124 ] && echo "run_qemu: timed out after 60 s" >&2
  echo "run_qemu: exit status $status, expected $expected" >&2
  exit 1
fi
exit 0
