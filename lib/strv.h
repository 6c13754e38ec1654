/* strv.h - growable arrays of strings the array owns (char **v, size_t n). */
#ifndef KF_STRV_H
#define KF_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* Append a copy of S; 0, or -1 when out of memory (nothing changed). */
int kf_strv_push(char ***v, size_t *n, const char *s);

/* Append a printf-formatted string (at most 1023 bytes). */
int kf_strv_pushf(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True if S is in V, compared case-insensitively (names, SPNs). */
bool kf_strv_contains_ci(char *const *v, size_t n, const char *s);

/* Free every string and the array; accepts NULL. */
void kf_strv_free(char **v, size_t n);

#endif
