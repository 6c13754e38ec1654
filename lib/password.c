/* password.c - random printable passwords from getrandom(). */
#include "password.h"

#include "mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#define PW_FIRST 0x21                     /* '!' */
#define PW_LAST 0x7e                      /* '~' */
#define PW_RANGE (PW_LAST - PW_FIRST + 1) /* 94 */
/* Bytes at or above the largest multiple of PW_RANGE that fits in a byte
 * would make the first characters likelier: they are drawn again. */
#define PW_LIMIT ((256 / PW_RANGE) * PW_RANGE) /* 188 */

/* Fill BUF with LEN bytes from the kernel, retrying short reads and EINTR. */
static kf_status
fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return KF_ERR_IO;
        }
        got += (size_t)n;
    }
    return KF_OK;
}

kf_status
kf_password_new(size_t len, char **out)
{
    uint8_t pool[256];
    size_t have = 0, used = 0, i = 0;
    char *pw;
    kf_status st = KF_OK;

    *out = NULL;
    if (len == 0 || len > KF_PASSWORD_MAX)
        return KF_ERR_INVALID;
    /* whoever makes a password holds it (and its keys) from now on */
    kf_mem_no_dumps();
    pw = malloc(len + 1);
    if (pw == NULL)
        return KF_ERR_NOMEM;
    while (i < len) {
        if (used == have) {
            st = fill_random(pool, sizeof(pool));
            if (st != KF_OK)
                break;
            have = sizeof(pool);
            used = 0;
        }
        uint8_t b = pool[used++];
        if (b >= PW_LIMIT)
            continue;
        pw[i++] = (char)(PW_FIRST + b % PW_RANGE);
    }
    explicit_bzero(pool, sizeof(pool));
    if (st != KF_OK) {
        kf_free_secret(pw, len + 1);
        return st;
    }
    pw[len] = '\0';
    *out = pw;
    return KF_OK;
}
