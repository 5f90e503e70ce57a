#!/bin/sh
# tools/tq.sh: set-up-to-finish entry points of tq on Debian 12.
#
#   sh tools/tq.sh run  [tqrun args...]   install what is missing, build, run tqrun
#                                         (default: check + short bench on every backend)
#   sh tools/tq.sh test                   install what is missing, build twice (release and
#                                         ASan+UBSan) and run the whole ctest suite on both,
#                                         then the concurrency tests under TSan
#
# Environment: TQ_BUILD_DIR (default ./build), TQ_JOBS (default nproc), TQ_SKIP_APT=1 to
# never call apt-get, TQ_TEST_SANITIZE=0 to skip the sanitizer pass, TQ_TEST_TSAN=0 to skip
# the ThreadSanitizer pass (concurrency tests).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${TQ_BUILD_DIR:-$here/build}
jobs=${TQ_JOBS:-$(nproc 2>/dev/null || echo 2)}

# Debian packages tq builds and tests with (runtime drivers included: lavapipe, PoCL).
pkgs="build-essential cmake pkg-config git python3 libcjson-dev libcmocka-dev libdrm-dev
      libvulkan-dev glslc mesa-vulkan-drivers ocl-icd-opencl-dev ocl-icd-libopencl1
      opencl-headers pocl-opencl-icd clang libclang-rt-14-dev"

say() { printf 'tq: %s\n' "$*" >&2; }

install_missing() {
    missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "${TQ_SKIP_APT:-0}" = 1 ]; then
        say "missing packages:$missing (TQ_SKIP_APT=1: not installing)"; exit 1
    fi
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { say "need root or sudo to install:$missing"; exit 1; }
        sudo="sudo"
    fi
    say "installing:$missing"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
}

configure_build() { # dir, extra cmake args...
    dir=$1; shift
    cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
    install_missing
    configure_build "$build"
    exec "$build/bin/tqrun" "$@"
    ;;
test)
    install_missing
    say "release build: $build"
    configure_build "$build" -DTQ_WERROR=ON
    (cd "$build" && ctest --output-on-failure -j "$jobs")
    if [ "${TQ_TEST_SANITIZE:-1}" != 0 ]; then
        say "ASan+UBSan build: $build-asan"
        configure_build "$build-asan" -DTQ_SANITIZE=address,undefined -DTQ_WERROR=ON
        # Leak checking stays on: the GPU plugins keep their ICD loaders mapped after
        # shutdown (loaders cannot be unloaded safely), so what LSan sees is tq's own.
        (cd "$build-asan" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
            UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
            ctest --output-on-failure -j "$jobs")
    fi
    if [ "${TQ_TEST_TSAN:-1}" != 0 ]; then
        # TSan: only what the concurrency tests use (runtime, ref, cpu), and only them.
        say "TSan build (concurrency tests): $build-tsan"
        cmake -S "$here" -B "$build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DTQ_SANITIZE=thread -DTQ_WERROR=ON -DTQ_BUILD_VULKAN=OFF -DTQ_BUILD_OPENCL=OFF \
            -DTQ_BUILD_TOOLS=OFF >/dev/null
        cmake --build "$build-tsan" -j "$jobs" --target concurrency_threads
        (cd "$build-tsan" && TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
            ctest --output-on-failure -L concurrency)
    fi
    ;;
*)
    say "usage: sh tools/tq.sh run [tqrun args...] | sh tools/tq.sh test"
    exit 2
    ;;
esac
