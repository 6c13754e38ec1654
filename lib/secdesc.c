/* secdesc.c - self-relative security descriptors: parse, change, build.
 *
 * Layout (MS-DTYP 2.4.6): a 20-byte header (revision 1, Sbz1, Control,
 * then the offsets of owner, group, SACL and DACL, 0 when absent), and the
 * parts wherever the offsets say. An ACL (2.4.5) is an 8-byte header
 * (revision 2 or 4, Sbz1, AclSize, AceCount, Sbz2) and AceCount ACEs, each
 * starting with type, flags and its own size. Everything little-endian
 * except a SID's 48-bit authority.
 */
#include "secdesc.h"

#include "mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SD_HEADER 20
#define ACL_HEADER 8
#define ACL_MAX 0xffff
#define ACL_REVISION 2
#define ACL_REVISION_DS 4
#define SE_DACL_PRESENT 0x0004
#define SE_SACL_PRESENT 0x0010
#define SE_SELF_RELATIVE 0x8000
#define OBJ_TYPE_PRESENT 0x1
#define OBJ_INHERITED_PRESENT 0x2
#define SID_MAX (8 + 4 * KF_SID_SUBAUTH_MAX)

struct ace_raw {
    uint8_t *b;
    size_t len;
};

struct kf_sd {
    uint16_t control;
    bool has_owner, has_group, has_dacl;
    struct kf_sid owner, group;
    uint8_t *sacl; /* kept verbatim, never changed */
    size_t sacl_len;
    uint8_t dacl_rev;
    struct ace_raw *aces;
    size_t n_aces;
};

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- GUIDs ---------------------------------------------------------------- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Text order of the 16 binary bytes: the first three fields reversed. */
static const uint8_t guid_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

int
kf_guid_parse(const char *text, struct kf_guid *out)
{
    size_t k = 0;

    if (text == NULL || strlen(text) != 36)
        return -1;
    for (size_t i = 0; i < 36;) {
        int hi, lo;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i++] != '-')
                return -1;
            continue;
        }
        hi = hexval(text[i]);
        lo = hexval(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out->b[guid_order[k++]] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

void
kf_guid_format(const struct kf_guid *g, char out[KF_GUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t k = 0; k < 16; k++) {
        uint8_t v = g->b[guid_order[k]];
        if (k == 4 || k == 6 || k == 8 || k == 10)
            out[o++] = '-';
        out[o++] = hex[v >> 4];
        out[o++] = hex[v & 0xf];
    }
    out[o] = '\0';
}

bool
kf_guid_equal(const struct kf_guid *a, const struct kf_guid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* ---- SIDs and ACEs -------------------------------------------------------- */

bool
kf_sid_equal(const struct kf_sid *a, const struct kf_sid *b)
{
    if (a->revision != b->revision || a->authority != b->authority || a->n_sub != b->n_sub ||
        a->n_sub > KF_SID_SUBAUTH_MAX)
        return false;
    for (size_t i = 0; i < a->n_sub; i++)
        if (a->sub[i] != b->sub[i])
            return false;
    return true;
}

size_t
kf_sid_encode(const struct kf_sid *sid, uint8_t out[SID_MAX])
{
    if (sid->revision != 1 || sid->n_sub > KF_SID_SUBAUTH_MAX || sid->authority >> 48 != 0)
        return 0;
    out[0] = sid->revision;
    out[1] = sid->n_sub;
    for (int i = 0; i < 6; i++)
        out[2 + i] = (uint8_t)(sid->authority >> (8 * (5 - i)));
    for (size_t i = 0; i < sid->n_sub; i++)
        put32(out + 8 + 4 * i, sid->sub[i]);
    return 8 + 4 * (size_t)sid->n_sub;
}

/* A SID at P with AVAIL bytes left: its own length in *USED. */
static int
sid_at(const uint8_t *p, size_t avail, struct kf_sid *out, size_t *used)
{
    size_t n;

    if (avail < 8)
        return -1;
    n = 8 + 4 * (size_t)p[1];
    if (p[1] > KF_SID_SUBAUTH_MAX || n > avail || kf_sid_parse(p, n, out) != 0)
        return -1;
    *used = n;
    return 0;
}

static bool
is_object_type(uint8_t type)
{
    return type == KF_ACE_ALLOWED_OBJECT || type == KF_ACE_DENIED_OBJECT;
}

static bool
is_known_type(uint8_t type)
{
    return type == KF_ACE_ALLOWED || type == KF_ACE_DENIED || is_object_type(type);
}

int
kf_ace_parse(const void *buf, size_t len, struct kf_ace *out)
{
    const uint8_t *p = buf;
    size_t off = 8, used;

    memset(out, 0, sizeof(*out));
    if (p == NULL || len < 8 || len > 0xffff || get16(p + 2) != len || !is_known_type(p[0]))
        return -1;
    out->type = p[0];
    out->flags = p[1];
    out->mask = get32(p + 4);
    if (is_object_type(out->type)) {
        uint32_t f;
        if (len < 12)
            return -1;
        f = get32(p + 8);
        off = 12;
        if ((f & ~(uint32_t)(OBJ_TYPE_PRESENT | OBJ_INHERITED_PRESENT)) != 0)
            return -1;
        if (f & OBJ_TYPE_PRESENT) {
            if (len - off < 16)
                return -1;
            memcpy(out->object.b, p + off, 16);
            out->has_object = true;
            off += 16;
        }
        if (f & OBJ_INHERITED_PRESENT) {
            if (len - off < 16)
                return -1;
            memcpy(out->inherited.b, p + off, 16);
            out->has_inherited = true;
            off += 16;
        }
    }
    if (sid_at(p + off, len - off, &out->sid, &used) != 0)
        return -1;
    /* Windows pads an ACE to a multiple of 4 at most; SIDs already are. */
    if (len - off - used >= 4)
        return -1;
    return 0;
}

size_t
kf_ace_encode(const struct kf_ace *ace, uint8_t out[KF_ACE_MAX])
{
    size_t off = 8, n;
    uint8_t sid[SID_MAX];

    if (!is_known_type(ace->type) || (n = kf_sid_encode(&ace->sid, sid)) == 0)
        return 0;
    out[0] = ace->type;
    out[1] = ace->flags;
    put32(out + 4, ace->mask);
    if (is_object_type(ace->type)) {
        uint32_t f = (ace->has_object ? OBJ_TYPE_PRESENT : 0) |
                     (ace->has_inherited ? OBJ_INHERITED_PRESENT : 0);
        put32(out + 8, f);
        off = 12;
        if (ace->has_object) {
            memcpy(out + off, ace->object.b, 16);
            off += 16;
        }
        if (ace->has_inherited) {
            memcpy(out + off, ace->inherited.b, 16);
            off += 16;
        }
    }
    memcpy(out + off, sid, n);
    off += n;
    put16(out + 2, (uint16_t)off);
    return off;
}

bool
kf_ace_equal(const struct kf_ace *a, const struct kf_ace *b)
{
    return a->type == b->type && (a->flags & ~KF_ACE_INHERITED) == (b->flags & ~KF_ACE_INHERITED) &&
           a->mask == b->mask && a->has_object == b->has_object &&
           a->has_inherited == b->has_inherited &&
           (!a->has_object || kf_guid_equal(&a->object, &b->object)) &&
           (!a->has_inherited || kf_guid_equal(&a->inherited, &b->inherited)) &&
           kf_sid_equal(&a->sid, &b->sid);
}

/* ---- descriptors ---------------------------------------------------------- */

void
kf_sd_free(struct kf_sd *sd)
{
    if (sd == NULL)
        return;
    for (size_t i = 0; i < sd->n_aces; i++)
        free(sd->aces[i].b);
    free(sd->aces);
    free(sd->sacl);
    free(sd);
}
KF_DEFINE_CLEANUP(struct kf_sd, kf_sd_free)

/* The ACL at OFF: bounds of the whole and of each ACE. *SIZE: AclSize. */
static kf_status
acl_check(const uint8_t *p, size_t len, uint32_t off, const char *which, size_t *size,
          struct kf_err *err)
{
    size_t acl_size, count, q;

    if (off < SD_HEADER || off > len || len - off < ACL_HEADER)
        return kf_err_set(err, KF_ERR_INVALID, "the %s's header lies outside the descriptor",
                          which);
    if (p[off] != ACL_REVISION && p[off] != ACL_REVISION_DS)
        return kf_err_set(err, KF_ERR_INVALID, "the %s has revision %u (2 or 4 expected)", which,
                          p[off]);
    acl_size = get16(p + off + 2);
    count = get16(p + off + 4);
    if (acl_size < ACL_HEADER || acl_size > len - off)
        return kf_err_set(err, KF_ERR_INVALID,
                          "the %s claims %zu bytes, the descriptor has %zu after it", which,
                          acl_size, len - off);
    q = ACL_HEADER;
    for (size_t i = 0; i < count; i++) {
        size_t ace_size;
        if (acl_size - q < 4)
            return kf_err_set(err, KF_ERR_INVALID, "ACE %zu of the %s lies outside it", i, which);
        ace_size = get16(p + off + q + 2);
        if (ace_size < 4 || ace_size > acl_size - q)
            return kf_err_set(err, KF_ERR_INVALID, "ACE %zu of the %s has a bad size (%zu)", i,
                              which, ace_size);
        q += ace_size;
    }
    *size = acl_size;
    return KF_OK;
}

static kf_status
dacl_load(struct kf_sd *sd, const uint8_t *p, size_t len, uint32_t off, struct kf_err *err)
{
    size_t acl_size, count, q = ACL_HEADER;
    kf_status st = acl_check(p, len, off, "DACL", &acl_size, err);

    if (st != KF_OK)
        return st;
    sd->has_dacl = true;
    sd->dacl_rev = p[off];
    count = get16(p + off + 4);
    sd->aces = calloc(count ? count : 1, sizeof(*sd->aces));
    if (sd->aces == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t ace_size = get16(p + off + q + 2);
        sd->aces[i].b = malloc(ace_size);
        if (sd->aces[i].b == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        memcpy(sd->aces[i].b, p + off + q, ace_size);
        sd->aces[i].len = ace_size;
        sd->n_aces++;
        q += ace_size;
    }
    return KF_OK;
}

static kf_status
sid_load(const uint8_t *p, size_t len, uint32_t off, const char *which, struct kf_sid *out,
         struct kf_err *err)
{
    size_t used;

    if (off < SD_HEADER || off > len || sid_at(p + off, len - off, out, &used) != 0)
        return kf_err_set(err, KF_ERR_INVALID,
                          "the %s SID at offset %u is malformed or outside "
                          "the descriptor",
                          which, off);
    return KF_OK;
}

kf_status
kf_sd_parse(const void *buf, size_t len, struct kf_sd **out, struct kf_err *err)
{
    const uint8_t *p = buf;
    _cleanup_(kf_sd_freep) struct kf_sd *sd = NULL;
    uint32_t o_owner, o_group, o_sacl, o_dacl;
    kf_status st;

    *out = NULL;
    if (p == NULL || len < SD_HEADER)
        return kf_err_set(err, KF_ERR_INVALID, "a security descriptor of %zu bytes is too short",
                          len);
    if (len > KF_SD_MAX)
        return kf_err_set(err, KF_ERR_INVALID,
                          "a security descriptor of %zu bytes is over the limit of %d", len,
                          KF_SD_MAX);
    if (p[0] != 1)
        return kf_err_set(err, KF_ERR_INVALID, "security descriptor revision %u (1 expected)",
                          p[0]);
    sd = calloc(1, sizeof(*sd));
    if (sd == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    sd->control = get16(p + 2);
    if ((sd->control & SE_SELF_RELATIVE) == 0)
        return kf_err_set(err, KF_ERR_INVALID, "the security descriptor is not self-relative");
    o_owner = get32(p + 4);
    o_group = get32(p + 8);
    o_sacl = get32(p + 12);
    o_dacl = get32(p + 16);
    if (o_owner != 0) {
        if ((st = sid_load(p, len, o_owner, "owner", &sd->owner, err)) != KF_OK)
            return st;
        sd->has_owner = true;
    }
    if (o_group != 0) {
        if ((st = sid_load(p, len, o_group, "group", &sd->group, err)) != KF_OK)
            return st;
        sd->has_group = true;
    }
    if ((sd->control & SE_SACL_PRESENT) && o_sacl != 0) {
        size_t size;
        if ((st = acl_check(p, len, o_sacl, "SACL", &size, err)) != KF_OK)
            return st;
        sd->sacl = malloc(size);
        if (sd->sacl == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        memcpy(sd->sacl, p + o_sacl, size);
        sd->sacl_len = size;
    }
    if (sd->control & SE_DACL_PRESENT) {
        /* A NULL DACL grants everyone everything: nothing to add to. */
        if (o_dacl == 0)
            return kf_err_set(err, KF_ERR_INVALID,
                              "the object has a NULL DACL (everyone has full control)");
        if ((st = dacl_load(sd, p, len, o_dacl, err)) != KF_OK)
            return st;
    }
    *out = TAKE_PTR(sd);
    return KF_OK;
}

unsigned
kf_sd_parts(const struct kf_sd *sd)
{
    return (sd->has_owner ? KF_SD_OWNER : 0) | (sd->has_group ? KF_SD_GROUP : 0) |
           (sd->has_dacl ? KF_SD_DACL : 0) | (sd->sacl != NULL ? KF_SD_SACL : 0);
}

size_t
kf_sd_ace_count(const struct kf_sd *sd)
{
    return sd->n_aces;
}

bool
kf_sd_ace(const struct kf_sd *sd, size_t i, struct kf_ace *out)
{
    if (i >= sd->n_aces)
        return false;
    return kf_ace_parse(sd->aces[i].b, sd->aces[i].len, out) == 0;
}

long
kf_sd_find(const struct kf_sd *sd, const struct kf_ace *ace)
{
    struct kf_ace a;

    for (size_t i = 0; i < sd->n_aces; i++)
        if (kf_sd_ace(sd, i, &a) && (a.flags & KF_ACE_INHERITED) == 0 && kf_ace_equal(&a, ace))
            return (long)i;
    return -1;
}

static size_t
dacl_size(const struct kf_sd *sd)
{
    size_t n = ACL_HEADER;

    for (size_t i = 0; i < sd->n_aces; i++)
        n += sd->aces[i].len;
    return n;
}

kf_status
kf_sd_add(struct kf_sd *sd, const struct kf_ace *ace, struct kf_err *err)
{
    uint8_t buf[KF_ACE_MAX];
    size_t n = (ace->flags & KF_ACE_INHERITED) ? 0 : kf_ace_encode(ace, buf), at;
    struct ace_raw *v;

    if (n == 0)
        return kf_err_set(err, KF_ERR_INVALID, "cannot encode the ACE to add");
    if (dacl_size(sd) + n > ACL_MAX || sd->n_aces >= ACL_MAX)
        return kf_err_set(err, KF_ERR_CONFLICT, "the DACL would exceed its limit of %d bytes",
                          ACL_MAX);
    v = realloc(sd->aces, (sd->n_aces + 1) * sizeof(*v));
    if (v == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    sd->aces = v;
    for (at = 0; at < sd->n_aces; at++)
        if (sd->aces[at].len >= 2 && (sd->aces[at].b[1] & KF_ACE_INHERITED))
            break;
    v[sd->n_aces].b = malloc(n);
    if (v[sd->n_aces].b == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    {
        struct ace_raw add = {v[sd->n_aces].b, n};
        memcpy(add.b, buf, n);
        memmove(v + at + 1, v + at, (sd->n_aces - at) * sizeof(*v));
        v[at] = add;
    }
    sd->n_aces++;
    if (!sd->has_dacl) {
        sd->has_dacl = true;
        sd->dacl_rev = ACL_REVISION;
    }
    if (is_object_type(ace->type))
        sd->dacl_rev = ACL_REVISION_DS;
    return KF_OK;
}

void
kf_sd_remove(struct kf_sd *sd, size_t i)
{
    if (i >= sd->n_aces)
        return;
    free(sd->aces[i].b);
    memmove(sd->aces + i, sd->aces + i + 1, (sd->n_aces - i - 1) * sizeof(*sd->aces));
    sd->n_aces--;
}

const struct kf_sid *
kf_sd_owner(const struct kf_sd *sd)
{
    return sd->has_owner ? &sd->owner : NULL;
}

void
kf_sd_set_owner(struct kf_sd *sd, const struct kf_sid *owner)
{
    sd->owner = *owner;
    sd->has_owner = true;
}

kf_status
kf_sd_build(const struct kf_sd *sd, unsigned parts, uint8_t **out, size_t *len, struct kf_err *err)
{
    uint8_t owner[SID_MAX], group[SID_MAX];
    size_t n_owner = 0, n_group = 0, n_sacl = 0, n_dacl = 0, total, off = SD_HEADER;
    uint16_t control = (uint16_t)(sd->control & ~(SE_DACL_PRESENT | SE_SACL_PRESENT));
    _cleanup_free_ uint8_t *b = NULL;

    *out = NULL;
    *len = 0;
    if ((parts & KF_SD_OWNER) && sd->has_owner && (n_owner = kf_sid_encode(&sd->owner, owner)) == 0)
        return kf_err_set(err, KF_ERR_INVALID, "the owner SID cannot be encoded");
    if ((parts & KF_SD_GROUP) && sd->has_group && (n_group = kf_sid_encode(&sd->group, group)) == 0)
        return kf_err_set(err, KF_ERR_INVALID, "the group SID cannot be encoded");
    if ((parts & KF_SD_SACL) && sd->sacl != NULL)
        n_sacl = sd->sacl_len;
    if ((parts & KF_SD_DACL) && sd->has_dacl)
        n_dacl = dacl_size(sd);
    if (n_dacl > ACL_MAX)
        return kf_err_set(err, KF_ERR_CONFLICT, "the DACL exceeds its limit of %d bytes", ACL_MAX);
    total = SD_HEADER + n_owner + n_group + n_sacl + n_dacl;
    b = calloc(1, total);
    if (b == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    b[0] = 1;
    control |= SE_SELF_RELATIVE;
    if (n_owner > 0) {
        put32(b + 4, (uint32_t)off);
        memcpy(b + off, owner, n_owner);
        off += n_owner;
    }
    if (n_group > 0) {
        put32(b + 8, (uint32_t)off);
        memcpy(b + off, group, n_group);
        off += n_group;
    }
    if (n_sacl > 0) {
        control |= SE_SACL_PRESENT;
        put32(b + 12, (uint32_t)off);
        memcpy(b + off, sd->sacl, n_sacl);
        off += n_sacl;
    }
    if (n_dacl > 0) {
        control |= SE_DACL_PRESENT;
        put32(b + 16, (uint32_t)off);
        b[off] = sd->dacl_rev;
        put16(b + off + 2, (uint16_t)n_dacl);
        put16(b + off + 4, (uint16_t)sd->n_aces);
        off += ACL_HEADER;
        for (size_t i = 0; i < sd->n_aces; i++) {
            memcpy(b + off, sd->aces[i].b, sd->aces[i].len);
            off += sd->aces[i].len;
        }
    }
    put16(b + 2, control);
    *len = total;
    *out = TAKE_PTR(b);
    return KF_OK;
}

/* ---- access check ---------------------------------------------------------- */

static bool
in_token(const struct kf_sid *sid, const struct kf_sid *token, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kf_sid_equal(sid, &token[i]))
            return true;
    return false;
}

/* Does ACE A take part in the decision described by OBJECT / CHILD_CLASS? */
static bool
ace_applies(const struct kf_ace *a, const struct kf_guid *object, const struct kf_guid *child_class)
{
    if (child_class != NULL) {
        if ((a->flags & (KF_ACE_CONTAINER_INHERIT | KF_ACE_OBJECT_INHERIT)) == 0)
            return false;
        if (a->has_inherited && !kf_guid_equal(&a->inherited, child_class))
            return false;
    } else if (a->flags & KF_ACE_INHERIT_ONLY) {
        return false;
    }
    if (a->has_object && (object == NULL || !kf_guid_equal(&a->object, object)))
        return false;
    return true;
}

bool
kf_sd_grants(const struct kf_sd *sd, const struct kf_sid *token, size_t n, uint32_t mask,
             const struct kf_guid *object, const struct kf_guid *child_class)
{
    uint32_t granted = 0;
    struct kf_ace a;

    if (mask == 0)
        return true;
    for (size_t i = 0; i < sd->n_aces; i++) {
        uint32_t m;
        if (!kf_sd_ace(sd, i, &a) || !ace_applies(&a, object, child_class) ||
            !in_token(&a.sid, token, n))
            continue;
        m = (a.mask & KF_RIGHT_GENERIC_ALL) ? 0xffffffffu : a.mask;
        if (a.type == KF_ACE_DENIED || a.type == KF_ACE_DENIED_OBJECT) {
            if (m & mask & ~granted)
                return false;
        } else {
            granted |= m & mask;
            if (granted == mask)
                return true;
        }
    }
    return false;
}
