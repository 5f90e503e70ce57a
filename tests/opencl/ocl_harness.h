/*
 * ocl_harness.h: drives the OpenCL plugin's op table directly (linked in, no runtime),
 * with a host API that records statuses, log lines and memory accounting, plus the
 * comparison rules every backend is held to against tq_ref_*.
 */
#ifndef TQ_OCL_HARNESS_H
#define TQ_OCL_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "tq/tq_plugin.h"
#include "tq/tq_ref.h"

typedef struct hx {
    const tq_backend_ops *ops;
    void *state;
    uint32_t device;
    void *ctx;
    int64_t mem_current[TQ_MEM_CLASS_COUNT];
    int64_t mem_peak[TQ_MEM_CLASS_COUNT];
} hx;

extern const tq_host_api hx_host;

/* The log lines seen so far (appended, newline-separated) and a reset. */
const char *hx_log_text(void);
void hx_log_clear(void);

/* Plugin init only (for error tests): returns the status of init. */
tq_status hx_init_state(hx *h);
/* init + the device named by TQ_TEST_OPENCL_DEVICE or the first usable one (PoCL here)
 * + a context with options. Fails the test on error. */
void hx_open(hx *h, const char *options);
void hx_close(hx *h);
/* Replaces the context by one made with options (same device). */
void hx_reopen_context(hx *h, const char *options);
/* The device index to use (first usable device), or UINT32_MAX. */
uint32_t hx_pick_device(hx *h);

/* A device tensor with contiguous rows. */
typedef struct hx_tensor {
    tq_tensor_ref ref;
    uint64_t bytes;
} hx_tensor;

void hx_tensor_new(hx *h, hx_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                   int64_t ne3);
/* The same inside a buffer whose first offset bytes are unused (views start anywhere 4-aligned). */
void hx_tensor_new_at(hx *h, hx_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                      int64_t ne3, uint64_t offset);
void hx_tensor_free(hx *h, hx_tensor *t);
void hx_upload(hx *h, hx_tensor *t, const void *data);
void hx_download(hx *h, hx_tensor *t, void *data);

/* Records op in a fresh sequence, submits, waits; returns the op's timing. */
tq_plugin_timing hx_run(hx *h, const tq_op *op);

/* Deterministic pseudo-random data. */
uint64_t hx_rand_u64(uint64_t *s);
float hx_rand_normal(uint64_t *s);

/* Comparison rules (see the brief): returns the number of violations, printing the first. */
int hx_check_quantize(tq_type type, const float *src, int64_t ne0, const uint8_t *got,
                      const uint8_t *want);
double hx_nmse(const float *out, const float *ref, size_t n, bool *bad_values);

#endif /* TQ_OCL_HARNESS_H */
