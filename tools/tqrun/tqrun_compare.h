/* tqrun_compare.h: `tqrun compare` (compare.c) and its statistics (stats.c). */
#ifndef TQRUN_COMPARE_H
#define TQRUN_COMPARE_H

#include <stddef.h>

/* argv[0] is "compare"; returns the process exit status (docs/tqrun.md). */
int tr_cmd_compare(int argc, char **argv);
/* Reads one results document from memory as compare reads a file, pairs each record with
 * itself, frees everything; 0 if it was readable (for tests/fuzz: no command line). */
int tr_compare_load_buffer(const char *text, size_t len);

#endif
