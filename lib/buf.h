/* buf.h - bounded byte buffers for wire messages and key material.
 *
 * A struct kf_buf holds bytes that are appended at the end (put) and consumed
 * from the front (get), like OpenSSH's sshbuf. Each buffer is created with a
 * maximum size: a put that would grow it past the maximum fails and leaves
 * it unchanged. Every get checks that the bytes are there and, for
 * length-prefixed fields, that the announced length is within the caller's
 * bound; a failed get consumes nothing.
 *
 * Integers are big-endian. A "string" is a u32 length followed by that many
 * bytes; kf_buf_get_cstring() additionally refuses NUL bytes inside.
 *
 * A buffer marked secret (kf_buf_set_secret) is wiped with explicit_bzero
 * whenever its memory is released: on free, on reset, and when it grows
 * (the old block is wiped before it is freed). Strings and byte arrays a
 * get copies out of a secret buffer are the caller's to wipe.
 *
 * Errors: KF_ERR_INVALID (not enough bytes, a length over its bound, a NUL
 * in a C string, a put past the maximum), KF_ERR_NOMEM. Functions here take
 * no struct kf_err: callers add the context (which message, which field).
 * A buffer is not thread-safe; distinct buffers are independent.
 */
#ifndef KF_BUF_H
#define KF_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "mem.h"

#define KF_BUF_SIZE_MAX (16u * 1024 * 1024) /* no buffer may be larger */

struct kf_buf;

/* A new empty buffer that may hold up to MAX bytes (at most
 * KF_BUF_SIZE_MAX). Returns NULL when out of memory or MAX is too large. */
struct kf_buf *kf_buf_new(size_t max);

/* A read-only buffer over LEN bytes at DATA, which are not copied and must
 * outlive it; puts on it fail. For decoders that parse received bytes.
 * Returns NULL when out of memory or LEN is over KF_BUF_SIZE_MAX. */
struct kf_buf *kf_buf_from(const void *data, size_t len);

/* Free B, wiping it first if it is secret. Accepts NULL. */
void kf_buf_free(struct kf_buf *b);
KF_DEFINE_CLEANUP(struct kf_buf, kf_buf_free)

/* Mark B as holding secrets (irreversible); existing contents count too. */
void kf_buf_set_secret(struct kf_buf *b);
bool kf_buf_is_secret(const struct kf_buf *b);

/* Empty B (wiping it if secret); its maximum is kept. */
void kf_buf_reset(struct kf_buf *b);

/* Bytes not yet consumed, and a pointer to the first of them (valid until
 * the next put, reset or free; never NULL). */
size_t kf_buf_len(const struct kf_buf *b);
const uint8_t *kf_buf_ptr(const struct kf_buf *b);
size_t kf_buf_max(const struct kf_buf *b);

/* Consume N bytes without reading them. */
kf_status kf_buf_skip(struct kf_buf *b, size_t n);

/* Append. */
kf_status kf_buf_put(struct kf_buf *b, const void *data, size_t len);
kf_status kf_buf_put_u8(struct kf_buf *b, uint8_t v);
kf_status kf_buf_put_u16(struct kf_buf *b, uint16_t v);
kf_status kf_buf_put_u32(struct kf_buf *b, uint32_t v);
kf_status kf_buf_put_u64(struct kf_buf *b, uint64_t v);
/* u32 length, then LEN bytes (LEN must fit in a u32). */
kf_status kf_buf_put_string(struct kf_buf *b, const void *data, size_t len);
/* kf_buf_put_string of strlen(S) bytes; S NULL is written as "". */
kf_status kf_buf_put_cstring(struct kf_buf *b, const char *s);

/* Consume. On failure nothing is consumed and *V is untouched. */
kf_status kf_buf_get(struct kf_buf *b, void *out, size_t len);
kf_status kf_buf_get_u8(struct kf_buf *b, uint8_t *v);
kf_status kf_buf_get_u16(struct kf_buf *b, uint16_t *v);
kf_status kf_buf_get_u32(struct kf_buf *b, uint32_t *v);
kf_status kf_buf_get_u64(struct kf_buf *b, uint64_t *v);

/* A string of at most MAX bytes, borrowed: *DATA points into B (valid until
 * B changes) and *LEN is its length. */
kf_status kf_buf_get_string_direct(struct kf_buf *b, size_t max, const uint8_t **data,
                                   size_t *len);

/* A string of at most MAX bytes, copied into a new allocation that the
 * caller owns (free it; kf_free_secret if it came from a secret buffer).
 * A zero-length string gives a non-NULL 1-byte allocation and *LEN 0. */
kf_status kf_buf_get_bytes(struct kf_buf *b, size_t max, uint8_t **out, size_t *len);

/* A string of at most MAX bytes with no NUL inside, copied into a new
 * NUL-terminated allocation the caller owns (free()). */
kf_status kf_buf_get_cstring(struct kf_buf *b, size_t max, char **out);

#endif
