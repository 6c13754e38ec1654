/* errors.h - krbfleet status codes and caller-owned error details.
 *
 * Every fallible function returns a kf_status and, when it fails, fills a
 * struct kf_err that the caller owns (usually on the stack). Codes are
 * grouped by who must act: the person typing the command (usage, input),
 * the admin's credentials, the directory, the KDC, an agent, the store, the
 * local system, or us (unexpected).
 */
#ifndef KF_ERRORS_H
#define KF_ERRORS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    KF_OK = 0,
    /* the request itself is wrong: fix the command line or the input */
    KF_ERR_USAGE = -1,     /* command line malformed (exit 2) */
    KF_ERR_INVALID = -2,   /* a value is malformed (name, address, document) */
    KF_ERR_NOT_FOUND = -3, /* the named object does not exist */
    KF_ERR_EXISTS = -4,    /* the object exists already / name taken */
    KF_ERR_CONFLICT = -5,  /* refused: would break a rule (children, lock) */
    KF_ERR_CONFIG = -6,    /* configuration file wrong */
    /* the admin's credentials */
    KF_ERR_CREDENTIALS = -10,
    KF_ERR_PERMISSION = -11,
    /* remote parties */
    KF_ERR_DIRECTORY = -20,
    KF_ERR_KDC = -30,
    KF_ERR_AGENT = -40,
    /* local state */
    KF_ERR_STORE = -50,
    KF_ERR_IO = -60,
    KF_ERR_NOMEM = -70,
    KF_ERR_UNEXPECTED = -99,
} kf_status;

#define KF_ERR_MSG_MAX 1024

/* Detail of the last failure, owned by the caller. */
struct kf_err {
    kf_status code;
    char msg[KF_ERR_MSG_MAX];
};

/* Short description of a status code; static string, never NULL. */
const char *kf_strerror(kf_status code);

/* Stable machine name of a status code for JSON output ("usage",
 * "not_found", "refused", ...; docs/json.md lists them); never NULL. */
const char *kf_status_name(kf_status code);

/* Record CODE and a printf-style message in ERR (which may be NULL).
 * The message is escaped (escape.h): a control character or bidi override
 * from echoed input shows as \x1b or \u202e; one cut to fit ends in "...".
 * Returns CODE, so callers can write `return kf_err_set(err, ...)`. */
kf_status kf_err_set(struct kf_err *err, kf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
kf_status kf_err_setv(struct kf_err *err, kf_status code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prefix the existing message in ERR with a printf-style context, keeping
 * its code. Returns the code. */
kf_status kf_err_prefix(struct kf_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clear ERR to KF_OK and an empty message. */
void kf_err_clear(struct kf_err *err);

/* Exit status for a CLI: 2 for usage errors, 1 for any other failure. */
int kf_status_exit_code(kf_status code);

#endif
