/* parallel.c - a bounded pool of threads over an index range. */
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>

struct pool {
    pthread_mutex_t lock;
    size_t next, done, n;
    void (*fn)(size_t, void *);
    void (*progress)(size_t, size_t, void *);
    void *ctx;
};

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
        if (p->progress != NULL)
            p->progress(p->done, p->n, p->ctx);
        pthread_mutex_unlock(&p->lock);
    }
}

int
kf_parallel_for(size_t n, int concurrency, void (*fn)(size_t i, void *ctx), void *ctx,
                void (*progress)(size_t done, size_t total, void *ctx))
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
    pthread_mutex_destroy(&p.lock);
    return started == 0 ? -1 : 0;
}
