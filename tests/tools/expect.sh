#!/bin/sh
# expect.sh RC PATTERN... -- COMMAND [ARGS...]
# Runs COMMAND, prints its output, and passes only if it exits with status RC and its
# combined stdout+stderr matches every extended-regex PATTERN (ctest alone can check
# either the exit status or the output, not both).
rc_want=$1
shift
n=0
while [ "$1" != "--" ]; do
  n=$((n + 1))
  eval "pat_$n=\$1"
  shift
done
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$rc_want" ]; then
  echo "expect.sh: exit status $rc, wanted $rc_want" >&2
  exit 1
fi
i=1
while [ $i -le $n ]; do
  eval "pat=\$pat_$i"
  if ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
    echo "expect.sh: output does not match: $pat" >&2
    exit 1
  fi
  i=$((i + 1))
done
exit 0
