/* mem.h - ownership helpers: cleanup attributes, TAKE_PTR, secret wiping. */
#ifndef KF_MEM_H
#define KF_MEM_H

#include <stddef.h>
#include <stdlib.h>

/* Run FUNC(&var) when var goes out of scope. */
#define _cleanup_(func) __attribute__((cleanup(func)))
#define _cleanup_free_ _cleanup_(kf_freep)

/* Hand the pointer out and leave NULL behind, so cleanup does nothing. */
#define TAKE_PTR(p)                                                                                \
    __extension__({                                                                                \
        __typeof__(p) _tp = (p);                                                                   \
        (p) = NULL;                                                                                \
        _tp;                                                                                       \
    })

/* Define a cleanup helper `name##p` for a type with a NULL-accepting free. */
#define KF_DEFINE_CLEANUP(type, func)                                                              \
    static inline void func##p(type **p)                                                           \
    {                                                                                              \
        func(*p);                                                                                  \
        *p = NULL;                                                                                 \
    }

static inline void
kf_freep(void *p)
{
    free(*(void **)p);
    *(void **)p = NULL;
}

/* Wipe LEN bytes at P, then free P. Accepts NULL. */
void kf_free_secret(void *p, size_t len);

/* Wipe a NUL-terminated secret string, then free it. Accepts NULL. */
void kf_free_secret_str(char *s);

/* Make this process non-dumpable (PR_SET_DUMPABLE 0): no core file, no
 * ptrace by other users, /proc/PID/mem root's only. Call it before the
 * first key or password is derived or received; it lasts for the process.
 * Returns 0, or -1 with errno when the kernel refused. */
int kf_mem_no_dumps(void);

/* Copy SRC into DST of SIZE bytes, always terminating; returns strlen(src)
 * so truncation is detectable (>= size). */
size_t kf_strlcpy(char *dst, const char *src, size_t size);

/* strdup that returns NULL for NULL. */
char *kf_strdup0(const char *s);

#endif
