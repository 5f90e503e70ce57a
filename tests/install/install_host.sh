#!/bin/sh
# install_host.sh BUILD_DIR SOURCE_DIR WORK_DIR [SANITIZE_FLAGS]
#
# Installs the build tree into a fresh prefix, checks the installed layout, runs the
# INSTALLED tqrun with no plugin environment (libtq must find <libdir>/tq/plugins next to
# itself), then builds docs/examples/host against the installed tree twice -- through
# pkg-config and through CMake's find_package(tq) -- and runs both on the cpu backend.
# SANITIZE_FLAGS: the build's -fsanitize flags; a sanitized libtq needs a sanitized host.
set -u
build=$1 src=$2 work=$3 san=${4:-}
prefix=$work/prefix
fail() { echo "install_host: FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work" || fail "cannot create $work"
chmod 755 "$work"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "cmake --install failed"; }

# --- layout
for f in include/tq/tq.h include/tq/tq_plugin.h include/tq/tq_ref.h \
         include/tq/tq_format_constants.h lib/pkgconfig/tq.pc lib/cmake/tq/tqConfig.cmake \
         lib/cmake/tq/tqConfigVersion.cmake lib/cmake/tq/tqTargets.cmake \
         lib/tq/plugins/ref.json lib/tq/plugins/libtq_ref.so bin/tqrun bin/tq-bisect \
         bin/tq-bisect-step bin/tq-compare-commits; do
    [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
done
for m in "$prefix"/lib/tq/plugins/*.json; do
    lib=$(sed -n 's/.*"library" *: *"\([^"]*\)".*/\1/p' "$m")
    [ -f "$prefix/lib/tq/plugins/$lib" ] || fail "$m names $lib, which is not installed"
done
soname=$(readelf -d "$prefix/lib/libtq.so" | sed -n 's/.*SONAME.*\[\(.*\)\].*/\1/p')
[ "$soname" = libtq.so.0 ] || fail "libtq SONAME is '$soname', expected libtq.so.0"
[ -L "$prefix/lib/libtq.so" ] && [ -e "$prefix/lib/$soname" ] || fail "libtq.so symlink chain"
echo "layout ok: headers, libtq ($soname), plugins, tq.pc, tqConfig.cmake, tqrun, helpers"

# --- the installed tqrun finds the installed plugins with no environment, from anywhere
out=$(cd / && env -u TQ_PLUGIN_PATH -u LD_LIBRARY_PATH "$prefix/bin/tqrun" list 2>&1) ||
    { echo "$out"; fail "installed tqrun list failed"; }
echo "$out" | grep -q "^  $prefix/lib/tq/plugins\$" ||
    { echo "$out"; fail "installed tqrun does not search $prefix/lib/tq/plugins"; }
echo "$out" | grep -Eq "^ref +yes" || { echo "$out"; fail "installed ref plugin not loaded"; }
echo "$out" | grep -Eq "^cpu +yes" || { echo "$out"; fail "installed cpu plugin not loaded"; }
echo "$out" | grep -q "$build/lib/" && { echo "$out"; fail "installed tqrun loads from the build tree"; }
echo "installed tqrun: finds $prefix/lib/tq/plugins by itself"

# --- the example host, built against the installed tree only
run_host() { # label, binary
    o=$(cd / && env -u TQ_PLUGIN_PATH -u TQ_BACKEND -u LD_LIBRARY_PATH "$2" --backend cpu \
        --layers 2 --ctx 64 --tokens 6 --k q8_0 --v turbo3 2>&1)
    rc=$?
    echo "$o"
    [ $rc = 0 ] || fail "$1 host exited $rc"
    for p in "backend: cpu, device 0: .*chosen by --backend" "attention kernel variant: [a-z]" \
             "decode: 6 tokens x 2 layers .* tokens/s" \
             "KV memory: predicted 47616 bytes .* accounted 47616 bytes .*: exact" \
             "check: layer 0, last token vs tq_ref_attention: .*: ok"; do
        echo "$o" | grep -Eq -- "$p" || fail "$1 host output does not match /$p/"
    done
    got=$(ldd "$2" | sed -n 's/.*libtq\.so[^ ]* => \([^ ]*\) .*/\1/p')
    [ -n "$got" ] && [ "$(readlink -f "$got")" = "$(readlink -f "$prefix/lib/libtq.so.0")" ] ||
        { ldd "$2"; fail "$1 host is not linked to the installed libtq"; }
}
cflags="-O1 -g -Wall -Wextra -std=c11 $san"
make -s -C "$src/docs/examples/host" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
     OUT="$work/host-pkgconfig" CFLAGS="$cflags" >"$work/make.log" 2>&1 ||
    { cat "$work/make.log"; fail "pkg-config build failed"; }
run_host pkg-config "$work/host-pkgconfig"

env -u PKG_CONFIG_PATH cmake -S "$src/docs/examples/host" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$san" -DCMAKE_BUILD_TYPE=Debug \
    >"$work/cmake.log" 2>&1 && cmake --build "$work/cmake-build" >>"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; fail "find_package(tq) build failed"; }
grep -q "$prefix/lib/cmake/tq" "$work/cmake-build/CMakeCache.txt" ||
    fail "find_package(tq) did not use $prefix"
run_host find_package "$work/cmake-build/tq-example-host"
echo "install_host: ok"
