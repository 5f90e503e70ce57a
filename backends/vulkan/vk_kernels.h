/*
 * vk_kernels.h: the compute kernels embedded in the plugin as SPIR-V.
 * The arrays are generated at build time from kernels/vulkan (one .comp per kernel) (embed_spirv.cmake).
 */
#ifndef TQ_VK_KERNELS_H
#define TQ_VK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum tq_vk_kernel {
    TQ_VK_KERNEL_QUANTIZE = 0,
    TQ_VK_KERNEL_DEQUANTIZE,
    TQ_VK_KERNEL_ROTATE,
    TQ_VK_KERNEL_ATTN,
    TQ_VK_KERNEL_ATTN_REDUCE,
    TQ_VK_KERNEL_ATTN_FD,
    TQ_VK_KERNEL_COUNT
} tq_vk_kernel;

typedef struct tq_vk_spirv {
    const char *name;
    const uint32_t *code;
    size_t size;               /* bytes */
} tq_vk_spirv;

/* Indexed by tq_vk_kernel; order fixed by backends/vulkan/CMakeLists.txt. */
extern const tq_vk_spirv tq_vk_spirv_table[TQ_VK_KERNEL_COUNT];

#endif /* TQ_VK_KERNELS_H */
