/*
 * cpu_pool.c: persistent workers woken by a generation counter. One dispatch costs a
 * mutex, a broadcast and a wait for the last worker; no allocation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_pool.h"

typedef struct worker {
    cpu_pool *pool;
    int index;
    pthread_t thread;
} worker;

struct cpu_pool {
    int n_threads;
    int n_started;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
    uint64_t generation;
    int pending;                 /* workers still inside the current dispatch */
    bool quit;
    cpu_pool_fn fn;
    void *arg;
    int64_t n_tasks;
    atomic_llong next;
};

static void drain(cpu_pool *p, int thread)
{
    for (;;) {
        long long t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            return;
        p->fn(p->arg, (int64_t)t, thread);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    cpu_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->quit)
            pthread_cond_wait(&p->cv_start, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, w->index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int cpu_pool_create(int n_threads, size_t stack_bytes, cpu_pool **out, char *err, size_t err_len)
{
    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    cpu_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, err_len, "out of memory creating the thread pool");
        return ENOMEM;
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->next, 0);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads, sizeof(worker));
        if (!p->workers) {
            cpu_pool_destroy(p);
            snprintf(err, err_len, "out of memory creating the thread pool");
            return ENOMEM;
        }
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_attr_setstacksize(&attr, stack_bytes);
    for (int i = 1; rc == 0 && i < n_threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        rc = pthread_create(&p->workers[i].thread, &attr, worker_main, &p->workers[i]);
        if (rc == 0)
            p->n_started = i;
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start worker thread %d of %d with a %zu-byte stack: %s",
                 p->n_started + 1, n_threads - 1, stack_bytes, strerror(rc));
        cpu_pool_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cpu_pool_destroy(cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int cpu_pool_threads(const cpu_pool *p)
{
    return p ? p->n_threads : 1;
}

void cpu_pool_run(cpu_pool *p, int64_t n_tasks, cpu_pool_fn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->pending = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
