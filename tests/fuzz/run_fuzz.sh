#!/bin/sh
# run_fuzz.sh FUZZER CORPUS SECONDS WORKDIR: runs one libFuzzer target for a bounded time,
# starting from the corpus kept in the repo (new inputs go to a scratch directory, never
# into the repo). Exit 77 (ctest: skipped) when the fuzzer could not be built here.
# On a crash the reproducer is left in WORKDIR; commit it to the corpus with the fix.
set -u
bin=$1 corpus=$2 secs=$3 work=$4
if [ ! -x "$bin" ]; then
    echo "run_fuzz: $bin was not built (no clang with libFuzzer here; see the fuzz_build test); skipped"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work/new" || exit 1
"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/new" "$corpus" >"$work/log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    tail -n 80 "$work/log"
    echo "run_fuzz: $(basename "$bin") FAILED (exit $rc); reproducer(s):" "$work"/crash-* \
         "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
    exit 1
fi
grep -E "^Done|stat::number_of_executed_units|INITED|DONE" "$work/log"
echo "run_fuzz: $(basename "$bin"): clean for ${secs} s"
