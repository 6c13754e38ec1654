/* b64.h - base64 (RFC 4648, standard alphabet, padded) for Negotiate
 * tokens. The decoder is a parser of outside input: bounded, strict. */
#ifndef KF_B64_H
#define KF_B64_H

#include <stddef.h>

/* Encode LEN bytes of IN; returns a new NUL-terminated string or NULL. */
char *kf_b64_encode(const unsigned char *in, size_t len);

/* Decode IN (LEN characters, no white space) into a new buffer of *OUTLEN
 * bytes; NULL if IN is not valid padded base64 or longer than MAX input
 * characters. */
unsigned char *kf_b64_decode(const char *in, size_t len, size_t max, size_t *outlen);

#endif
