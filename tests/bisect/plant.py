#!/usr/bin/env python3
"""plant.py KIND FILE: plants a known regression into a copy of tq for the bisect test.

  scratch  decode-attention split-K scratch x16 (the size scratch_layout returns)
  slow     the attention tasks run 5 times per call (same results, ~5x the time)
  broken   a syntax error (the commit does not build)
  unbreak  undo 'broken'

Fails loudly (exit 1) when the code it expects is not there, so a refactor of the CPU
backend breaks this test visibly instead of planting nothing.
"""
import re
import sys

MARK = "tq-bisect-test: planted"


def main():
    kind, path = sys.argv[1], sys.argv[2]
    src = open(path).read()
    if kind == "scratch":
        # the return statement of scratch_layout(): 'return EXPR;' -> 'return 16 * (EXPR);'
        pat = re.compile(r"(static size_t scratch_layout\([^)]*\)\s*\{.*?\n(\s*)return )([^;]+);",
                         re.S)
        new, n = pat.subn(lambda m: "%s16 * (%s); /* %s x16 scratch */" % (m.group(1), m.group(3), MARK),
                          src, count=1)
    elif kind == "slow":
        pat = re.compile(r"^([ \t]*)(cpu_pool_run\([^;]*\battn_task\b[^;]*\);)", re.M)
        new, n = pat.subn(lambda m: "%sfor (int planted_rep = 0; planted_rep < 5; planted_rep++) /* %s slow */\n"
                          "%s    %s" % (m.group(1), MARK, m.group(1), m.group(2)), src, count=1)
    elif kind == "broken":
        new, n = src + "\nthis is not C; /* %s broken */\n" % MARK, 1
    elif kind == "unbreak":
        pat = re.compile(r"\nthis is not C; /\* %s broken \*/\n" % re.escape(MARK))
        new, n = pat.subn("", src)
    else:
        sys.exit("plant.py: unknown kind '%s'" % kind)
    if n != 1 or new == src:
        sys.exit("plant.py: cannot plant '%s' in %s: the expected code is not there "
                 "(update tests/bisect/plant.py to the CPU backend's current code)" % (kind, path))
    open(path, "w").write(new)


if __name__ == "__main__":
    main()
