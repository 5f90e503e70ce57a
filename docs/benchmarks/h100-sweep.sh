#!/bin/bash
# The H100 report sweep (docs/benchmarks/README.md): checks, then decode attention for
# Vulkan (default, and keys=4 to compare the automatic keys-per-step rule) and OpenCL
# (default; turbo3 also on split-k-coop) at ctx 4096 / 32768 / 131072 and 8 sequences,
# one process per case, the Vulkan turbo3 profiling ladder and one-token quantize. Run on
# the device machine from the repository root with .gl/ (loaders, see
# docs/benchmarks/README.md) and $B (default build-vk: bin/tqrun, lib) carried; results
# go to $OUT/summary.txt and $OUT/r/*.json.
B=${B:-build-vk}; T=$B/bin/tqrun
for f in .gl/*.deb; do dpkg -x $f / >/dev/null 2>&1; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json LD_LIBRARY_PATH=$PWD/$B/lib TQ_CACHE_DIR=/tmp/tqc
mkdir -p $OUT/r
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu --format=csv,noheader -lms 100 > $OUT/r/clocks.csv 2>&1 &
SMI=$!
# cases past 540 s are skipped (and listed) so the results are packed within the device
# machine's 10-minute limit
run() { local n=$1; shift
  [ $SECONDS -gt 540 ] && { echo "== $n skipped (time)" >> $OUT/summary.txt; return; }
  timeout 150 $T bench "$@" --json $OUT/r/$n.json > $OUT/r/$n.txt 2>&1
  echo "== $n rc=$? :: $*" >> $OUT/summary.txt
  grep -E "^(vulkan|opencl) |warning" $OUT/r/$n.txt | sed 's/  */ /g' | sed 's/NVIDIA H100 80GB HBM3 //; s/ h=32\/8 d=128//; s/ nq=1//' >> $OUT/summary.txt; }
for b in vulkan opencl; do
  timeout 300 $T check --backend $b > $OUT/r/check_$b.txt 2>&1; echo "check $b rc=$?" >> $OUT/summary.txt; tail -1 $OUT/r/check_$b.txt >> $OUT/summary.txt
done
# one process per case: see "Timing pitfalls" 2 in README.md
TYPES="f16 q8_0 q4_0 turbo2 turbo3 turbo4 q8_0/turbo4"
for b in vulkan opencl; do
  for t in $TYPES; do
    n=${t/\//-}
    run ${b}_131k_$n --backend $b --types $t --ctx 131072 --rotate-buffers 2 --repeats 20
    run ${b}_32k_$n --backend $b --types $t --ctx 32768 --rotate-buffers 4 --repeats 20
    run ${b}_4k_$n --backend $b --types $t --ctx 4096 --rotate-buffers 16 --repeats 50
  done
  for t in f16 q8_0 turbo3 turbo4; do
    run ${b}_n8_$t --backend $b --types $t --ctx 131072 --nseq 8 --repeats 10
  done
done
# turbo3 on OpenCL's split-k-coop too: the same run's comparison with split-k-mma
run opencl_coop_131k_turbo3 --backend opencl --types turbo3 --ctx 131072 --rotate-buffers 2 --repeats 20 --options variant=split-k-coop/wg128
run opencl_coop_n8_turbo3 --backend opencl --types turbo3 --ctx 131072 --nseq 8 --repeats 10 --options variant=split-k-coop/wg128
for t in f16 q8_0 turbo3 turbo4; do
  run vulkan_k4_131k_$t --backend vulkan --types $t --ctx 131072 --rotate-buffers 2 --repeats 20 --options keys=4
done
for m in nodequant normsonly readbytes indices; do
  run vulkan_t3_$m --backend vulkan --types turbo3 --ctx 131072 --rotate-buffers 2 --repeats 20 --options mode=$m
done
run quantize --backend vulkan,opencl --op quantize --types turbo3,q8_0 --ctx 1 --repeats 50
kill $SMI 2>/dev/null
cd $OUT && tar czf r.tgz r && rm -rf r   # one file: the device returns a limited number
