/*
 * main.c: tqrun's entry: dispatches to one subcommand per file (cmd_*.c).
 */
#include <stdio.h>
#include <string.h>

#include "tqrun.h"
#include "tqrun_compare.h"

static const char usage[] =
    "usage: tqrun [SUBCOMMAND] [OPTIONS]\n"
    "\n"
    "tqrun is the command-line face of tq: it lists the backends libtq found, checks them\n"
    "against the scalar reference, benchmarks them and measures memory.\n"
    "\n"
    "subcommands:\n"
    "  (none)    check + a short decode bench on every backend except ref, one table\n"
    "  list      plugins, manifests, backends, devices, DRM render nodes\n"
    "  check     every op, type and shape against the ref backend (pass/fail table)\n"
    "  bench     timings with repeats: min, median, GB/s, GFLOP/s\n"
    "  quality   MSE and cosine of each format on unit-sphere Gaussian vectors\n"
    "  memory    KV-cache bytes per context and type pair, predicted and measured\n"
    "  compare   side-by-side table of two sets of --json results (regressions)\n"
    "\n"
    "options every subcommand accepts:\n"
    "  -b, --backend NAME[,NAME]  backends to use (default: all loaded except ref)\n"
    "  -d, --device QUERY         device index, stable id or name substring\n"
    "  -o, --options \"k=v,...\"    context options, e.g. variant=scalar, threads=2\n"
    "      --plugin-path DIRS     extra plugin directories (':'-separated, absolute)\n"
    "      --no-default-plugins   search only --plugin-path (not TQ_PLUGIN_PATH, install dir)\n"
    "      --json FILE            write results as tq-results JSON ('-' = stdout)\n"
    "      --seed S               seed of the deterministic inputs (default 1)\n"
    "  -v, --verbose              more output\n"
    "  -h, --help                 help (also 'tqrun SUBCOMMAND --help')\n"
    "      --version              version and the commit tqrun was built from\n"
    "\n"
    "Exit status: 0 ok, 1 a check or limit failed, 2 usage error, 3 cannot run.\n"
    "Manual: docs/tqrun.md\n";

int main(int argc, char **argv)
{
    /* Line-buffered even into a pipe, so tables and stderr messages interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(usage, stdout);
        return TR_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        bool known = false;
        bool dirty = tr_source_dirty(&known);
        printf("tqrun %s (commit %s%s), libtq API %d.%d.%d\n", tr_version(), tr_build_commit(),
               tr_build_dirty() || (known && dirty) ? ", dirty" : "", TQ_VERSION_MAJOR,
               TQ_VERSION_MINOR, TQ_VERSION_PATCH);
        return TR_EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-')
        return tr_cmd_default(argc - 1, argv + 1);
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "list", tr_cmd_list },       { "check", tr_cmd_check },
        { "bench", tr_cmd_bench },     { "quality", tr_cmd_quality },
        { "memory", tr_cmd_memory },
    };
    if (strcmp(argv[1], "compare") == 0)
        return tr_cmd_compare(argc - 1, argv + 1); /* compare takes argv[0] = "compare" */
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "tqrun: unknown subcommand '%s' (list, check, bench, quality, memory, compare)\n"
            "Try 'tqrun --help'.\n", argv[1]);
    return TR_EXIT_USAGE;
}
