/* progress.h - how far a long operation is, and what it warns about, for
 * whoever shows it.
 *
 * The engine never prints: a command that runs over many servers (a
 * rotation, sync, `assignment test`), many directory writes (`topology
 * enable`) or several steps (`doctor`) calls the sink it was given, and the
 * CLI decides whether and how to show it (a line on a terminal; a warning
 * on stderr). */
#ifndef KF_PROGRESS_H
#define KF_PROGRESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct kf_progress {
    const char *phase; /* "stage", "verify", "check", "enable", "doctor" */
    size_t done;       /* items finished */
    size_t total;      /* items in this phase */
    const char *unit;  /* "servers", "writes", "steps" */
    /* The item in flight the longest (a server FQDN, an SPN, a step), NULL
     * when none is pending. Valid during the call only. */
    const char *pending;
};

/* Called from any thread, never concurrently for one sink. */
typedef void (*kf_progress_fn)(const struct kf_progress *p, void *ctx);

/* A warning that does not fail the operation (one sentence, no prefix),
 * as it happens. Called from any thread, never concurrently for one sink. */
typedef void (*kf_warning_fn)(const char *msg, void *ctx);

struct kf_progress_sink {
    kf_progress_fn fn; /* NULL: nobody listens */
    void *ctx;
    kf_warning_fn warn; /* NULL: warnings are dropped */
};

/* Report P to SINK (which may be NULL or have no fn). */
static inline void
kf_progress_report(const struct kf_progress_sink *sink, const struct kf_progress *p)
{
    if (sink != NULL && sink->fn != NULL)
        sink->fn(p, sink->ctx);
}

/* Report a warning, formatted like printf, to SINK (NULL or no warn: dropped). */
static inline void kf_progress_warn(const struct kf_progress_sink *sink, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
kf_progress_warn(const struct kf_progress_sink *sink, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (sink == NULL || sink->warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sink->warn(msg, sink->ctx);
}

#endif
