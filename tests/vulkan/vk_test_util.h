/*
 * vk_test_util.h: drives the Vulkan plugin's op table directly (no libtq runtime), on
 * the lavapipe device (a CPU-type device: selected by name since its score is negative).
 */
#ifndef TQ_VK_TEST_UTIL_H
#define TQ_VK_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "tq/tq_plugin.h"
#include "tq/tq_ref.h"

extern const tq_host_api vkt_host;
extern int64_t vkt_mem[TQ_MEM_CLASS_COUNT];       /* plugin-accounted bytes per class */
extern int64_t vkt_mem_peak[TQ_MEM_CLASS_COUNT];

typedef struct vkt {
    const tq_backend_ops *ops;
    void *state;
    uint32_t device;
    void *ctx;
} vkt;

/* Opens the plugin and a context on the device whose name contains "llvmpipe" (or
 * TQ_TEST_VULKAN_DEVICE). Returns false (test skipped) when there is no such device. */
bool vkt_open(vkt *t, const char *options);
void vkt_close(vkt *t);
tq_status vkt_open_status(vkt *t, const char *options);

/* Plugin buffer + tensor ref; turbo rows padded as the contract says. */
typedef struct vkt_tensor {
    tq_tensor_ref ref;
    uint64_t bytes;
} vkt_tensor;
void vkt_tensor_new(vkt *t, vkt_tensor *out, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                    int64_t ne3, uint64_t offset);
void vkt_tensor_free(vkt *t, vkt_tensor *tn);
void vkt_tensor_write(vkt *t, vkt_tensor *tn, const void *src, uint64_t size);
void vkt_tensor_read(vkt *t, vkt_tensor *tn, void *dst, uint64_t size);

/* Records op into a fresh sequence, runs it, optionally returns its timing. */
void vkt_run(vkt *t, const tq_op *op, tq_plugin_timing *timing);
tq_status vkt_run_status(vkt *t, const tq_op *op, tq_plugin_timing *timing);

float vkt_randn(uint64_t *state);
void  vkt_fill_randn(float *x, int64_t n, uint64_t seed);

/* The brief's quantize comparison for one row; returns a description of the first real
 * mismatch or NULL. */
const char *vkt_compare_quantized_row(tq_type type, const float *src, int64_t n,
                                      const uint8_t *got, const uint8_t *want, char *msg,
                                      size_t cap);

#endif
