/* b64.c - base64 for Negotiate tokens. */
#include "b64.h"

#include <stdbool.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
kf_b64_encode(const unsigned char *in, size_t len)
{
    size_t outlen = 4 * ((len + 2) / 3);
    char *out, *p;

    if (len > ((size_t)-1) / 2)
        return NULL;
    out = p = malloc(outlen + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        *p++ = alphabet[(v >> 18) & 63];
        *p++ = alphabet[(v >> 12) & 63];
        *p++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *p++ = i + 2 < len ? alphabet[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

static int
value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

unsigned char *
kf_b64_decode(const char *in, size_t len, size_t max, size_t *outlen)
{
    unsigned char *out;
    size_t n = 0;

    *outlen = 0;
    if (len == 0 || len % 4 != 0 || len > max)
        return NULL;
    out = malloc(len / 4 * 3);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i += 4) {
        int a = value(in[i]), b = value(in[i + 1]);
        int c = in[i + 2] == '=' ? -2 : value(in[i + 2]);
        int d = in[i + 3] == '=' ? -2 : value(in[i + 3]);
        bool last = i + 4 == len;
        /* strict: padding only at the end, and the bits it leaves unused zero */
        if (a < 0 || b < 0 || c == -1 || d == -1 || (!last && (c < 0 || d < 0)) ||
            (c == -2 && d != -2) || (c == -2 && (b & 15) != 0) ||
            (c >= 0 && d == -2 && (c & 3) != 0)) {
            free(out);
            return NULL;
        }
        out[n++] = (unsigned char)((a << 2) | (b >> 4));
        if (c >= 0)
            out[n++] = (unsigned char)(((b & 15) << 4) | (c >> 2));
        if (d >= 0)
            out[n++] = (unsigned char)(((c & 3) << 6) | d);
    }
    *outlen = n;
    return out;
}
