/* kdc_gate.c - a process-wide counting semaphore for KDC requests. */
#include "kdc_gate.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed = PTHREAD_COND_INITIALIZER;
static int inflight;

void
kf_kdc_gate_enter(void)
{
    pthread_mutex_lock(&lock);
    while (inflight >= KF_KDC_INFLIGHT)
        pthread_cond_wait(&freed, &lock);
    inflight++;
    pthread_mutex_unlock(&lock);
}

void
kf_kdc_gate_leave(void)
{
    pthread_mutex_lock(&lock);
    inflight--;
    pthread_cond_signal(&freed);
    pthread_mutex_unlock(&lock);
}
