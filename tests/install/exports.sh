#!/bin/sh
# exports.sh LIBTQ PLUGIN...: every plugin exports exactly tq_plugin_query, and libtq only
# tq_* names. Anything else exported could be interposed by, or interpose on, another
# copy of the same code in the process (a second libtq, a plugin loaded twice).
set -u
fail=0
defined() { nm -D --defined-only "$1" | awk '$2 ~ /^[TtDdBbRrVvWwiu]$/ { print $3 }' |
            sed 's/@.*//' | grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$'; }
lib=$1; shift
bad=$(defined "$lib" | grep -v '^tq_')
n=$(defined "$lib" | grep -c '^tq_')
if [ -n "$bad" ]; then
    echo "FAIL: $lib exports non-tq symbols:"; echo "$bad"; fail=1
else
    echo "ok: $lib exports $n symbols, all tq_*"
fi
for p in "$@"; do
    got=$(defined "$p" | tr '\n' ' ')
    if [ "$got" != "tq_plugin_query " ]; then
        echo "FAIL: $p exports: $got(expected only tq_plugin_query)"; fail=1
    else
        echo "ok: $p exports only tq_plugin_query"
    fi
done
exit $fail
