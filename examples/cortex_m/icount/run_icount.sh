#!/bin/sh
# Runs a counting firmware under qemu with -icount (see icount.hpp) and checks it. Used by the
# <target>_icount CTest tests.
#   sh run_icount.sh QEMU BOARD FIRMWARE.elf SHIFT RUNS [instructions]
# Each of the RUNS runs must exit with status 0. With "instructions": each run must print exactly
# one line "instructions=<N>", and N must be the same in every run (repeatability; no absolute
# count is asserted). The output of the last run is passed through.
qemu=$1 board=$2 elf=$3 shift=$4 runs=$5 want=${6:-}
first=""
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  # qemu 7.2 sends semihosting output to stderr.
  out=$(timeout 300 "$qemu" -M "$board" -nographic -semihosting-config enable=on,target=native \
        -icount shift="$shift" -kernel "$elf" </dev/null 2>&1)
  status=$?
  if [ "$status" -ne 0 ]; then
    printf '%s\n' "$out"
    [ "$status" -eq 124 ] && echo "run_icount: timed out after 300 s" >&2
    echo "run_icount: run $i: exit status $status, expected 0" >&2
    exit 1
  fi
  [ "$want" = "instructions" ] || continue
  lines=$(printf '%s\n' "$out" | grep -c '^instructions=[0-9][0-9]*$')
  if [ "$lines" -ne 1 ]; then
    printf '%s\n' "$out"
    echo "run_icount: run $i: expected one line instructions=<N>, found $lines" >&2
    exit 1
  fi
  n=$(printf '%s\n' "$out" | sed -n 's/^instructions=\([0-9][0-9]*\)$/\1/p')
  if [ -z "$first" ]; then
    first=$n
  elif [ "$n" != "$first" ]; then
    echo "run_icount: not repeatable: run 1 counted $first instructions, run $i counted $n" >&2
    exit 1
  fi
done
printf '%s\n' "$out"
exit 0
