/*
 * cpu_pool.h: a persistent pthread pool with a parallel-for.
 *
 * Workers are created once per context with small (64 KiB) stacks, which also proves the
 * kernels need no large stack buffers. cpu_pool_run hands out task indices from an atomic
 * counter (dynamic scheduling: the machine is shared and noisy) and allocates nothing.
 * The calling thread works too, as thread 0.
 */
#ifndef TQ_CPU_POOL_H
#define TQ_CPU_POOL_H

#include <stddef.h>
#include <stdint.h>

#define CPU_POOL_STACK_BYTES (64 * 1024)

typedef struct cpu_pool cpu_pool;
/* thread is in [0, n_threads): use it to index per-thread workspace. */
typedef void (*cpu_pool_fn)(void *arg, int64_t task, int thread);

/* Returns 0, or an errno value (message in err). n_threads >= 1; n_threads - 1 workers. */
int cpu_pool_create(int n_threads, size_t stack_bytes, cpu_pool **out, char *err, size_t err_len);
void cpu_pool_destroy(cpu_pool *pool);
int cpu_pool_threads(const cpu_pool *pool);
/* Runs fn(arg, t, thread) for every t in [0, n_tasks) and returns when all are done. */
void cpu_pool_run(cpu_pool *pool, int64_t n_tasks, cpu_pool_fn fn, void *arg);

#endif /* TQ_CPU_POOL_H */
