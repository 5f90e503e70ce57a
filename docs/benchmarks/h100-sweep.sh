#!/bin/bash
# H100 sweep for the next session: see docs/benchmarks/README.md. Needs .gl/ (loaders) and build-vk/ carried.
B=build-vk; T=$B/bin/tqrun
for f in .gl/*.deb; do dpkg -x $f / >/dev/null 2>&1; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json LD_LIBRARY_PATH=$PWD/$B/lib TQ_CACHE_DIR=/tmp/tqc
run() { local n=$1; shift
  timeout 150 $T bench "$@" --json $OUT/$n.json > $OUT/$n.txt 2>&1
  echo "== $n rc=$? :: $*" >> $OUT/summary.txt
  grep -E "^(vulkan|opencl) " $OUT/$n.txt | sed 's/  */ /g' | sed 's/NVIDIA H100 80GB HBM3 //; s/ h=32\/8 d=128//' >> $OUT/summary.txt; }
# 1. reduce=shared (default) vs reduce=transpose, one process per case, ctx 131072
for ty in f16 q8_0 turbo3 turbo4; do for r in shared transpose; do
  run red_${r}_${ty//\//_} --backend vulkan --types $ty --ctx 131072 --rotate-buffers 1 --repeats 10 --options reduce=$r
done; done
for m in nodequant normsonly; do run red_transpose_t3_$m --backend vulkan --types turbo3 --ctx 131072 --rotate-buffers 1 --repeats 10 --options reduce=transpose,mode=$m; done
run red_transpose_nseq8 --backend vulkan --types q8_0,turbo3 --ctx 131072 --nseq 8 --rotate-buffers 1 --repeats 5 --options reduce=transpose
# 2. allocation granule (default) vs exact sizes, many cases in one process
M="--types f16,q8_0,turbo3,turbo4,q8_0/turbo4 --ctx 32768 --rotate-buffers 4 --repeats 20"
run vk_multi_granule --backend vulkan $M
run vk_multi_exact --backend vulkan $M --options alloc=exact
run cl_multi --backend opencl $M
run vk_multi131k --backend vulkan --types f16,q8_0,turbo3,turbo4,q8_0/turbo4 --ctx 131072 --rotate-buffers 2 --repeats 10
run cl_multi131k --backend opencl --types f16,q8_0,turbo3,turbo4,q8_0/turbo4 --ctx 131072 --rotate-buffers 2 --repeats 10
run vk_multi4k --backend vulkan,opencl --types f16,q8_0,turbo3,turbo4 --ctx 4096 --rotate-buffers 8 --repeats 20
run vk_nseq8 --backend vulkan --types f16,q8_0,turbo3,turbo4 --ctx 131072 --nseq 8 --rotate-buffers 1 --repeats 5
run cl_nseq8 --backend opencl --types f16,q8_0,turbo3,turbo4 --ctx 131072 --nseq 8 --rotate-buffers 1 --repeats 5
for m in nodequant normsonly readbytes indices; do run vk_t3_$m --backend vulkan --types turbo3 --ctx 131072 --rotate-buffers 2 --repeats 10 --options mode=$m; done
timeout 200 $T check --backend vulkan > $OUT/check_vulkan.txt 2>&1; echo "check vulkan rc=$?" >> $OUT/summary.txt; tail -1 $OUT/check_vulkan.txt >> $OUT/summary.txt
