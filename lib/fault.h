/* fault.h - crash and pause points for tests, compiled in only with
 * -Dfault_injection=true (KF_FAULT_INJECTION; build-asan). Elsewhere both
 * are no-ops.
 *
 *   KRBFLEET_FAULT=POINT[:N]   kf_fault(POINT, count) kills the process
 *                              (SIGKILL) once COUNT reaches N (default 1)
 *   KRBFLEET_PAUSE=POINT and KRBFLEET_PAUSE_FILE=PATH
 *                              kf_pause_at(POINT) says so on stderr and
 *                              waits until PATH exists (at most 10 minutes)
 */
#ifndef KF_FAULT_H
#define KF_FAULT_H

#ifdef KF_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void
kf_fault(const char *point, size_t count)
{
    const char *f = getenv("KRBFLEET_FAULT");
    size_t len = strlen(point);
    long n = 1;

    if (f == NULL || strncmp(f, point, len) != 0 || (f[len] != '\0' && f[len] != ':'))
        return;
    if (f[len] == ':')
        n = strtol(f + len + 1, NULL, 10);
    if ((long)count >= n) {
        fprintf(stderr, "krbfleet: fault injection: killed at %s\n", f);
        fflush(stderr);
        raise(SIGKILL);
    }
}

static inline void
kf_pause_at(const char *point)
{
    const char *p = getenv("KRBFLEET_PAUSE"), *file = getenv("KRBFLEET_PAUSE_FILE");
    struct timespec ts = {0, 50 * 1000 * 1000};

    if (p == NULL || file == NULL || strcmp(p, point) != 0)
        return;
    fprintf(stderr, "krbfleet: fault injection: paused at %s until %s exists\n", point, file);
    fflush(stderr);
    for (int i = 0; i < 12000 && access(file, F_OK) != 0; i++)
        nanosleep(&ts, NULL);
    fprintf(stderr, "krbfleet: fault injection: resumed at %s\n", point);
}
#else
#define kf_fault(point, count) ((void)0)
#define kf_pause_at(point) ((void)0)
#endif

#endif
