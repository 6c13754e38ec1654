/* parallel.c - a bounded pool of threads over an index range. */
#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct pool {
    pthread_mutex_t lock;
    size_t next, done, n;
    size_t oldest;  /* no item below it is in flight */
    bool *finished; /* per item; NULL: OLDEST is not tracked */
    void (*fn)(size_t, void *);
    void (*progress)(size_t, size_t, size_t, void *);
    void *ctx;
};

/* Items start in index order, so the one in flight the longest is the
 * lowest started index not finished yet. Under the lock. */
static size_t
oldest_pending(struct pool *p)
{
    if (p->finished == NULL)
        return SIZE_MAX;
    while (p->oldest < p->next && p->finished[p->oldest])
        p->oldest++;
    return p->oldest < p->next ? p->oldest : SIZE_MAX;
}

static void *
worker(void *arg)
{
    struct pool *p = arg;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&p->lock);
        i = p->next < p->n ? p->next++ : p->n;
        pthread_mutex_unlock(&p->lock);
        if (i == p->n)
            return NULL;
        p->fn(i, p->ctx);
        pthread_mutex_lock(&p->lock);
        p->done++;
        if (p->finished != NULL)
            p->finished[i] = true;
        if (p->progress != NULL)
            p->progress(p->done, p->n, oldest_pending(p), p->ctx);
        pthread_mutex_unlock(&p->lock);
    }
}

int
kf_parallel_for(size_t n, int concurrency, void (*fn)(size_t i, void *ctx), void *ctx,
                void (*progress)(size_t done, size_t total, size_t oldest, void *ctx))
{
    struct pool p = {.n = n, .fn = fn, .progress = progress, .ctx = ctx};
    size_t nthreads = concurrency < 1 ? 1 : (size_t)concurrency, started = 0;
    pthread_t *threads;
    pthread_attr_t attr;

    if (n == 0)
        return 0;
    if (nthreads > n)
        nthreads = n;
    pthread_mutex_init(&p.lock, NULL);
    if (progress != NULL)
        p.finished = calloc(n, sizeof(*p.finished)); /* NULL: progress without OLDEST */
    threads = calloc(nthreads, sizeof(*threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    for (size_t t = 0; threads != NULL && t < nthreads; t++)
        if (pthread_create(&threads[t], &attr, worker, &p) == 0)
            started++;
    pthread_attr_destroy(&attr);
    if (started == 0)
        worker(&p);
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    free(p.finished);
    pthread_mutex_destroy(&p.lock);
    return started == 0 ? -1 : 0;
}
