/* strv.c - growable arrays of owned strings. */
#include "strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
kf_strv_push(char ***v, size_t *n, const char *s)
{
    char *copy = strdup(s);
    char **bigger;

    if (copy == NULL)
        return -1;
    bigger = realloc(*v, (*n + 1) * sizeof(char *));
    if (bigger == NULL) {
        free(copy);
        return -1;
    }
    *v = bigger;
    (*v)[(*n)++] = copy;
    return 0;
}

int
kf_strv_pushf(char ***v, size_t *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return kf_strv_push(v, n, buf);
}

bool
kf_strv_contains_ci(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], s) == 0)
            return true;
    return false;
}

void
kf_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
