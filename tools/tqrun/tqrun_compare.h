/* tqrun_compare.h: `tqrun compare` (compare.c) and its statistics (stats.c). */
#ifndef TQRUN_COMPARE_H
#define TQRUN_COMPARE_H

/* argv[0] is "compare"; returns the process exit status (docs/tqrun.md). */
int tr_cmd_compare(int argc, char **argv);

#endif
