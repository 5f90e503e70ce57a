#!/bin/sh
# expect.sh RC REGEX [NOT_REGEX] -- COMMAND...: runs COMMAND, fails unless it exits with RC
# and its combined output matches the extended regex REGEX (and not NOT_REGEX, if given).
# Used by CLI tests where the exact exit status matters (ctest's WILL_FAIL accepts any).
rc_want=$1; re=$2; shift 2
not_re=""
if [ "$1" != "--" ]; then not_re=$1; shift; fi
[ "$1" = "--" ] && shift
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [ "$rc" != "$rc_want" ]; then
    echo "expect.sh: exit status $rc, wanted $rc_want" >&2; exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$re"; then
    echo "expect.sh: output does not match /$re/" >&2; exit 1
fi
if [ -n "$not_re" ] && printf '%s\n' "$out" | grep -Eq -- "$not_re"; then
    echo "expect.sh: output matches the forbidden /$not_re/" >&2; exit 1
fi
exit 0
