/* buf.c - bounded byte buffers (see buf.h). */
#include "buf.h"

#include <string.h>

struct kf_buf {
    uint8_t *d;          /* storage (NULL while empty and never grown) */
    const uint8_t *cd;   /* read-only view (kf_buf_from), else == d */
    size_t off;          /* first unconsumed byte */
    size_t size;         /* bytes in use, from 0 */
    size_t alloc;        /* bytes allocated at d */
    size_t max;          /* size may never exceed this */
    bool readonly;
    bool secret;
};

static const uint8_t empty_byte;

/* Reject a buffer whose fields contradict each other: a bug, so abort
 * rather than read or write out of bounds (sshbuf_check_sanity). */
static void
sanity(const struct kf_buf *b)
{
    if (b == NULL || b->off > b->size || b->size > b->max || b->max > KF_BUF_SIZE_MAX ||
        (!b->readonly && b->size > b->alloc))
        abort();
}

struct kf_buf *
kf_buf_new(size_t max)
{
    struct kf_buf *b;

    if (max > KF_BUF_SIZE_MAX)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->max = max;
    return b;
}

struct kf_buf *
kf_buf_from(const void *data, size_t len)
{
    struct kf_buf *b;

    if (len > KF_BUF_SIZE_MAX || (data == NULL && len > 0))
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->cd = data;
    b->size = len;
    b->max = len;
    b->readonly = true;
    return b;
}

static void
release(struct kf_buf *b)
{
    if (b->d != NULL && b->secret)
        explicit_bzero(b->d, b->alloc);
    free(b->d);
    b->d = NULL;
    b->alloc = 0;
}

void
kf_buf_free(struct kf_buf *b)
{
    if (b == NULL)
        return;
    if (!b->readonly)
        release(b);
    free(b);
}

void
kf_buf_set_secret(struct kf_buf *b)
{
    sanity(b);
    b->secret = true;
}

bool
kf_buf_is_secret(const struct kf_buf *b)
{
    sanity(b);
    return b->secret;
}

void
kf_buf_reset(struct kf_buf *b)
{
    sanity(b);
    if (b->readonly) {
        b->off = b->size;
        return;
    }
    if (b->secret && b->d != NULL)
        explicit_bzero(b->d, b->alloc);
    b->off = 0;
    b->size = 0;
}

static const uint8_t *
base(const struct kf_buf *b)
{
    return b->readonly ? b->cd : b->d;
}

size_t
kf_buf_len(const struct kf_buf *b)
{
    sanity(b);
    return b->size - b->off;
}

const uint8_t *
kf_buf_ptr(const struct kf_buf *b)
{
    sanity(b);
    return base(b) == NULL ? &empty_byte : base(b) + b->off;
}

size_t
kf_buf_max(const struct kf_buf *b)
{
    sanity(b);
    return b->max;
}

kf_status
kf_buf_skip(struct kf_buf *b, size_t n)
{
    sanity(b);
    if (n > b->size - b->off)
        return KF_ERR_INVALID;
    b->off += n;
    return KF_OK;
}

/* Make room for N more bytes and return where they go. Consumed bytes at
 * the front are reclaimed first; a grown block doubles, up to the maximum. */
static kf_status
reserve(struct kf_buf *b, size_t n, uint8_t **where)
{
    size_t need, want;
    uint8_t *nd;

    sanity(b);
    if (b->readonly)
        return KF_ERR_INVALID;
    if (n > b->max - (b->size - b->off))
        return KF_ERR_INVALID;
    if (b->off > 0 && b->size + n > b->alloc) {
        memmove(b->d, b->d + b->off, b->size - b->off);
        b->size -= b->off;
        if (b->secret)
            explicit_bzero(b->d + b->size, b->off);
        b->off = 0;
    }
    need = b->size + n;
    if (need > b->alloc) {
        want = b->alloc < 256 ? 256 : b->alloc;
        while (want < need)
            want = want > b->max / 2 ? b->max : want * 2;
        if (want > b->max)
            want = b->max;
        nd = malloc(want);
        if (nd == NULL)
            return KF_ERR_NOMEM;
        if (b->size > 0)
            memcpy(nd, b->d, b->size);
        release(b);
        b->d = nd;
        b->alloc = want;
    }
    *where = b->d + b->size;
    b->size += n;
    return KF_OK;
}

kf_status
kf_buf_put(struct kf_buf *b, const void *data, size_t len)
{
    uint8_t *p;
    kf_status st;

    if (len == 0)
        return KF_OK;
    st = reserve(b, len, &p);
    if (st == KF_OK)
        memcpy(p, data, len);
    return st;
}

kf_status
kf_buf_put_u8(struct kf_buf *b, uint8_t v)
{
    return kf_buf_put(b, &v, 1);
}

kf_status
kf_buf_put_u16(struct kf_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    return kf_buf_put(b, p, sizeof(p));
}

kf_status
kf_buf_put_u32(struct kf_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return kf_buf_put(b, p, sizeof(p));
}

kf_status
kf_buf_put_u64(struct kf_buf *b, uint64_t v)
{
    kf_status st = kf_buf_put_u32(b, (uint32_t)(v >> 32));

    if (st != KF_OK)
        return st;
    st = kf_buf_put_u32(b, (uint32_t)v);
    if (st != KF_OK) /* undo the first half: a failed put changes nothing */
        b->size -= 4;
    return st;
}

kf_status
kf_buf_put_string(struct kf_buf *b, const void *data, size_t len)
{
    kf_status st;

    sanity(b);
    if (len > UINT32_MAX || len > b->max || 4 > b->max - len ||
        len + 4 > b->max - (b->size - b->off))
        return KF_ERR_INVALID;
    st = kf_buf_put_u32(b, (uint32_t)len);
    if (st != KF_OK)
        return st;
    st = kf_buf_put(b, data, len);
    if (st != KF_OK)
        b->size -= 4;
    return st;
}

kf_status
kf_buf_put_cstring(struct kf_buf *b, const char *s)
{
    return kf_buf_put_string(b, s == NULL ? "" : s, s == NULL ? 0 : strlen(s));
}

kf_status
kf_buf_get(struct kf_buf *b, void *out, size_t len)
{
    sanity(b);
    if (len > b->size - b->off)
        return KF_ERR_INVALID;
    if (len > 0)
        memcpy(out, base(b) + b->off, len);
    b->off += len;
    return KF_OK;
}

kf_status
kf_buf_get_u8(struct kf_buf *b, uint8_t *v)
{
    return kf_buf_get(b, v, 1);
}

kf_status
kf_buf_get_u16(struct kf_buf *b, uint16_t *v)
{
    uint8_t p[2];
    kf_status st = kf_buf_get(b, p, sizeof(p));

    if (st == KF_OK)
        *v = (uint16_t)((p[0] << 8) | p[1]);
    return st;
}

kf_status
kf_buf_get_u32(struct kf_buf *b, uint32_t *v)
{
    uint8_t p[4];
    kf_status st = kf_buf_get(b, p, sizeof(p));

    if (st == KF_OK)
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return st;
}

kf_status
kf_buf_get_u64(struct kf_buf *b, uint64_t *v)
{
    uint8_t p[8];
    kf_status st = kf_buf_get(b, p, sizeof(p));

    if (st == KF_OK) {
        uint64_t r = 0;
        for (int i = 0; i < 8; i++)
            r = r << 8 | p[i];
        *v = r;
    }
    return st;
}

kf_status
kf_buf_get_string_direct(struct kf_buf *b, size_t max, const uint8_t **data, size_t *len)
{
    const uint8_t *p;
    size_t avail;
    uint32_t n;

    sanity(b);
    avail = b->size - b->off;
    if (avail < 4)
        return KF_ERR_INVALID;
    p = base(b) + b->off;
    n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (n > max || n > avail - 4)
        return KF_ERR_INVALID;
    *data = p + 4;
    *len = n;
    b->off += 4 + (size_t)n;
    return KF_OK;
}

kf_status
kf_buf_get_bytes(struct kf_buf *b, size_t max, uint8_t **out, size_t *len)
{
    size_t save = b == NULL ? 0 : b->off, n;
    const uint8_t *p;
    uint8_t *copy;
    kf_status st = kf_buf_get_string_direct(b, max, &p, &n);

    if (st != KF_OK)
        return st;
    copy = malloc(n + 1);
    if (copy == NULL) {
        b->off = save;
        return KF_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(copy, p, n);
    copy[n] = 0;
    *out = copy;
    *len = n;
    return KF_OK;
}

kf_status
kf_buf_get_cstring(struct kf_buf *b, size_t max, char **out)
{
    size_t save = b == NULL ? 0 : b->off, n;
    const uint8_t *p;
    char *copy;
    kf_status st = kf_buf_get_string_direct(b, max, &p, &n);

    if (st != KF_OK)
        return st;
    if (n > 0 && memchr(p, '\0', n) != NULL) {
        b->off = save;
        return KF_ERR_INVALID;
    }
    copy = malloc(n + 1);
    if (copy == NULL) {
        b->off = save;
        return KF_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(copy, p, n);
    copy[n] = '\0';
    *out = copy;
    return KF_OK;
}
