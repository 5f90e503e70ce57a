#!/bin/sh
# The format constants (codebooks, midpoints, rotation sign words) exist once, in
# kernels/tq_format_constants.h: every backend's kernels must take them from there.
# Fails, naming file and line, when one of those values is written as a literal anywhere
# else in the sources. tests/formats/gen_kat.py is exempt: it is the independent oracle.
set -eu
top=${1:?usage: constants_once.sh SOURCE_DIR}
hdr="$top/kernels/tq_format_constants.h"
[ -f "$hdr" ] || { echo "constants_once: $hdr not found"; exit 2; }
# codebook and midpoint magnitudes (e.g. 0.190207) and the sign words (0x...u)
vals=$(sed -n '/#define TQ_TURBO[234]_\(CODEBOOK\|MIDPOINTS\)/,/^$/p' "$hdr" |
       grep -o '0\.[0-9]\{5,\}' | sort -u)
words=$(sed -n '/#define TQ_TURBO_S[12]_WORDS/,/^$/p' "$hdr" | grep -o '0x[0-9a-fA-F]\{8\}' | sort -u)
[ -n "$vals" ] && [ -n "$words" ] || { echo "constants_once: no constants parsed from $hdr"; exit 2; }
n=0
for v in $vals $words; do
    hits=$(cd "$top" && grep -rn -i -F "$v" runtime backends kernels plugins tools \
               --include='*.c' --include='*.h' --include='*.cl' --include='*.comp' \
               --include='*.glsl' | grep -v '^kernels/tq_format_constants.h:' || true)
    if [ -n "$hits" ]; then
        echo "constants_once: $v is written outside tq_format_constants.h:"
        echo "$hits"
        n=$((n + 1))
    fi
done
count=$(echo $vals $words | wc -w)
[ "$n" -eq 0 ] || exit 1
echo "constants_once: $count values, each only in kernels/tq_format_constants.h"
