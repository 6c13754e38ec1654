/* parallel.h - run one function over N items with at most CONCURRENCY in
 * flight (a small pool of threads pulling the next index). Used to drive
 * many agents at once; each item must be independent of the others. */
#ifndef KF_PARALLEL_H
#define KF_PARALLEL_H

#include <stddef.h>

/* Call FN(I, CTX) for every I in [0, N), on min(CONCURRENCY, N) threads.
 * PROGRESS (may be NULL) is called under a lock after each item with the
 * count done so far and OLDEST, the index of the item in flight the
 * longest (SIZE_MAX when none is). Returns 0, or -1 if no thread could be
 * started (then the items run on the calling thread, one by one). */
int kf_parallel_for(size_t n, int concurrency, void (*fn)(size_t i, void *ctx), void *ctx,
                    void (*progress)(size_t done, size_t total, size_t oldest, void *ctx));

#endif
