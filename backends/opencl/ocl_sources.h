/*
 * ocl_sources.h: the kernel sources embedded at build time (embed_cl.cmake), in program
 * order: kernels/tq_format_constants.h first (the one definition of the format
 * constants), then the kernels/opencl .cl files. Passed to clCreateProgramWithSource as they are,
 * so the runtime compiler never has to resolve an #include.
 */
#ifndef TQ_OCL_SOURCES_H
#define TQ_OCL_SOURCES_H

#include <stddef.h>

typedef struct tq_ocl_source {
    const char *name;    /* file name, for build logs */
    const char *text;    /* NUL-terminated */
    size_t size;         /* bytes, without the NUL */
} tq_ocl_source;

extern const tq_ocl_source tq_ocl_sources[];
extern const unsigned tq_ocl_source_count;

#endif /* TQ_OCL_SOURCES_H */
