/* errors.c - status strings and the caller-owned error detail. */
#include "errors.h"

#include "escape.h"
#include "mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *
kf_strerror(kf_status code)
{
    switch (code) {
    case KF_OK: return "success";
    case KF_ERR_USAGE: return "usage error";
    case KF_ERR_INVALID: return "invalid value";
    case KF_ERR_NOT_FOUND: return "not found";
    case KF_ERR_EXISTS: return "already exists";
    case KF_ERR_CONFLICT: return "refused";
    case KF_ERR_CONFIG: return "configuration error";
    case KF_ERR_CREDENTIALS: return "credentials missing or expired";
    case KF_ERR_PERMISSION: return "permission denied";
    case KF_ERR_DIRECTORY: return "directory error";
    case KF_ERR_KDC: return "KDC error";
    case KF_ERR_AGENT: return "agent error";
    case KF_ERR_STORE: return "store error";
    case KF_ERR_IO: return "I/O error";
    case KF_ERR_NOMEM: return "out of memory";
    case KF_ERR_UNEXPECTED: return "unexpected error";
    }
    return "unknown error";
}

/* Store TEXT in ERR's message, escaped (escape.h): input echoed in a
 * message never reaches a terminal raw. A message cut to fit ends in
 * "...", never silently. */
static void
set_msg(struct kf_err *err, const char *text, bool cut)
{
    static const char more[] = "...";

    if (kf_escape(text, err->msg, sizeof(err->msg)) >= sizeof(err->msg) || cut) {
        size_t n = strlen(err->msg);
        if (n > sizeof(err->msg) - sizeof(more))
            n = sizeof(err->msg) - sizeof(more);
        /* back to the start of a character */
        while (n > 0 && ((unsigned char)err->msg[n] & 0xc0) == 0x80)
            n--;
        memcpy(err->msg + n, more, sizeof(more));
    }
}

const char *
kf_status_name(kf_status code)
{
    switch (code) {
    case KF_OK: return "ok";
    case KF_ERR_USAGE: return "usage";
    case KF_ERR_INVALID: return "invalid";
    case KF_ERR_NOT_FOUND: return "not_found";
    case KF_ERR_EXISTS: return "exists";
    case KF_ERR_CONFLICT: return "refused";
    case KF_ERR_CONFIG: return "config";
    case KF_ERR_CREDENTIALS: return "credentials";
    case KF_ERR_PERMISSION: return "permission";
    case KF_ERR_DIRECTORY: return "directory";
    case KF_ERR_KDC: return "kdc";
    case KF_ERR_AGENT: return "agent";
    case KF_ERR_STORE: return "store";
    case KF_ERR_IO: return "io";
    case KF_ERR_NOMEM: return "memory";
    case KF_ERR_UNEXPECTED: return "unexpected";
    }
    return "unexpected";
}

kf_status
kf_err_setv(struct kf_err *err, kf_status code, const char *fmt, va_list ap)
{
    char text[KF_ERR_MSG_MAX];
    int n;

    if (err == NULL)
        return code;
    err->code = code;
    n = vsnprintf(text, sizeof(text), fmt, ap);
    set_msg(err, n < 0 ? "" : text, n >= (int)sizeof(text));
    return code;
}

kf_status
kf_err_set(struct kf_err *err, kf_status code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kf_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

kf_status
kf_err_prefix(struct kf_err *err, const char *fmt, ...)
{
    char prefix[KF_ERR_MSG_MAX];
    char joined[2 * KF_ERR_MSG_MAX + 2];
    va_list ap;

    if (err == NULL)
        return KF_ERR_UNEXPECTED;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    set_msg(err, joined, false);
    return err->code;
}

void
kf_err_clear(struct kf_err *err)
{
    if (err == NULL)
        return;
    err->code = KF_OK;
    err->msg[0] = '\0';
}

int
kf_status_exit_code(kf_status code)
{
    if (code == KF_OK)
        return 0;
    return code == KF_ERR_USAGE ? 2 : 1;
}
