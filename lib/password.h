/* password.h - random passwords for directory accounts.
 *
 * A password made here is never shown, logged or stored: it lives in a heap
 * buffer that the caller wipes and frees with kf_free_secret_str().
 */
#ifndef KF_PASSWORD_H
#define KF_PASSWORD_H

#include <stddef.h>

#include "errors.h"

#define KF_PASSWORD_LEN 120  /* what the rotation and `account new` use */
#define KF_PASSWORD_MAX 4096 /* longer requests are refused */

/* Store in *OUT a new NUL-terminated string of LEN random printable ASCII
 * characters (0x21 '!' .. 0x7e '~', no space), each drawn uniformly from
 * getrandom() by rejection sampling. The process is made non-dumpable first
 * (kf_mem_no_dumps): `account new` and the rotation both come here. The caller owns *OUT and frees it with
 * kf_free_secret_str(). *OUT is left NULL on failure.
 * Errors: KF_ERR_INVALID (LEN is 0 or over KF_PASSWORD_MAX), KF_ERR_NOMEM,
 * KF_ERR_IO (the kernel's random source failed). */
kf_status kf_password_new(size_t len, char **out);

#endif
