/* mem.c - secret wiping and small string helpers. */
#include "mem.h"

#include <string.h>
#include <sys/prctl.h>

void
kf_free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

void
kf_free_secret_str(char *s)
{
    if (s == NULL)
        return;
    kf_free_secret(s, strlen(s));
}

int
kf_mem_no_dumps(void)
{
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

size_t
kf_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size > 0) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

char *
kf_strdup0(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}
