/*
 * vk_sequence.h: what a recorded op is made of (shared by vk_sequence.c and vk_ops.c).
 */
#ifndef TQ_VK_SEQUENCE_H
#define TQ_VK_SEQUENCE_H

#include "vk_internal.h"

typedef struct tq_vk_dispatch {
    tq_vk_pipeline *pl;
    VkDescriptorSet ds;
    uint32_t push[TQ_VK_PUSH_WORDS];   /* push[0]: first workgroup index of this dispatch */
    uint32_t groups;
    bool barrier_after;                /* the next dispatch of the op reads what this wrote */
} tq_vk_dispatch;

typedef struct tq_vk_rec {
    tq_op_kind kind;
    char op[32];
    char variant[64];
    uint64_t bytes_read, bytes_written;
    /* WRITE / READ: one buffer copy through staging */
    bool is_copy;
    VkBuffer csrc, cdst;
    uint64_t csrc_off, cdst_off, csize;
    void *host_dst;            /* READ: where the staging contents go after wait */
    tq_vk_buffer *owned[4];    /* staging, scratch, rows: freed with the record */
    uint32_t n_owned;
    tq_vk_dispatch *disp;
    uint32_t n_disp, cap_disp;
} tq_vk_rec;

typedef struct tq_vk_seq tq_vk_seq;

/* A storage-buffer binding of [off, off+len) of b: the descriptor is bound at an offset
 * aligned down to minStorageBufferOffsetAlignment, and *rel gets off minus that. */
typedef struct tq_vk_binding {
    tq_vk_buffer *b;
    uint64_t off, len;
} tq_vk_binding;

tq_vk_ctx *tq_vk_seq_ctx(tq_vk_seq *seq);
/* Appends dispatches of groups workgroups (split as the device's limit requires; push[0]
 * is overwritten with each part's first group). rel_offsets receives, per binding, the
 * byte offset of binding[i].off inside the bound range. */
tq_status tq_vk_rec_bind(tq_vk_seq *seq, tq_vk_pipeline *pl, const tq_vk_binding *bind,
                         uint32_t n_bind, VkDescriptorSet *out_ds, uint32_t *rel_offsets);
tq_status tq_vk_rec_dispatch(tq_vk_seq *seq, tq_vk_rec *rec, tq_vk_pipeline *pl,
                             VkDescriptorSet ds, const uint32_t *push, uint64_t groups,
                             bool barrier_after);
tq_status tq_vk_rec_own(tq_vk_seq *seq, tq_vk_rec *rec, tq_vk_buffer *b);

/* vk_ops.c */
tq_status tq_vk_ops_supports(tq_vk_ctx *ctx, const tq_op *op);
tq_status tq_vk_ops_record(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op);

#endif /* TQ_VK_SEQUENCE_H */
