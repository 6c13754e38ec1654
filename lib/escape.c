/* escape.c - text from outside, made safe to show on a terminal. */
#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decode one UTF-8 sequence at S. Returns its length (1-4) and sets *CP,
 * or 0 when the byte at S does not start a valid sequence (overlong forms,
 * surrogates and values above U+10FFFF are invalid). */
static size_t
utf8_decode(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t n;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        c &= 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        c &= 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static bool
cp_unsafe(uint32_t c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c ||
           c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* The character at S: its length *N and, when it must be escaped, its
 * escape in ESC (at most "\\uXXXX"); returns true in that case. */
static bool
next_char(const unsigned char *s, size_t *n, char esc[8])
{
    uint32_t cp;

    *n = utf8_decode(s, &cp);
    if (*n == 0) {
        *n = 1;
        snprintf(esc, 8, "\\x%02x", s[0]);
        return true;
    }
    if (!cp_unsafe(cp))
        return false;
    if (cp < 0x80)
        snprintf(esc, 8, "\\x%02x", (unsigned)cp);
    else
        snprintf(esc, 8, "\\u%04x", (unsigned)cp);
    return true;
}

size_t
kf_escape(const char *in, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t need = 0, used = 0;
    bool full = false;

    while (*s != '\0') {
        char esc[8];
        size_t n, len;
        const char *piece = (const char *)s;

        if (next_char(s, &n, esc)) {
            piece = esc;
            len = strlen(esc);
        } else {
            len = n;
        }
        need += len;
        if (!full && size > 0 && used + len < size) {
            memcpy(out + used, piece, len);
            used += len;
        } else {
            full = true;
        }
        s += n;
    }
    if (size > 0)
        out[used] = '\0';
    return need;
}

char *
kf_escape_dup(const char *in)
{
    size_t need = kf_escape(in, NULL, 0);
    char *out = malloc(need + 1);

    if (out != NULL)
        kf_escape(in, out, need + 1);
    return out;
}

const char *
kf_text_unsafe(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        char esc[8];
        size_t n;
        if (next_char(p, &n, esc)) {
            if (len != NULL)
                *len = n;
            return (const char *)p;
        }
        p += n;
    }
    return NULL;
}

kf_status
kf_text_check(const char *s, const char *what, struct kf_err *err)
{
    char shown[8];
    size_t n = 0;
    const char *bad = s != NULL ? kf_text_unsafe(s, &n) : NULL;

    if (bad == NULL)
        return KF_OK;
    next_char((const unsigned char *)bad, &n, shown);
    /* kf_err_set escapes the value itself */
    return kf_err_set(err, KF_ERR_INVALID,
                      "%s \"%.*s\" contains %s (%s at byte %zu); control characters, bidi "
                      "overrides and invalid UTF-8 are refused",
                      what, (int)strnlen(s, 100), s,
                      (unsigned char)bad[0] >= 0x80 && n == 1 ? "an invalid UTF-8 byte"
                      : (unsigned char)bad[0] < 0x80          ? "a control character"
                                                              : "a control or bidi character",
                      shown, (size_t)(bad - s) + 1);
}
