#!/bin/sh
# fuzz_build.sh CLANG SOURCE_DIR BUILD_DIR: configures and builds tests/fuzz/project with
# clang. Exit 77 (skipped) when clang cannot build -fsanitize=fuzzer (libclang-rt missing).
set -u
cc=$1 src=$2 out=$3
if ! cmake -S "$src/tests/fuzz/project" -B "$out" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out.configure.log" 2>&1; then
    cat "$out.configure.log"
    if grep -q "cannot build -fsanitize=fuzzer" "$out.configure.log"; then
        echo "fuzz_build: $cc has no libFuzzer: fuzz targets skipped"
        exit 77
    fi
    exit 1
fi
cmake --build "$out" -j 2
