/* proto.c - agent protocol frames, messages and GSSAPI sealing (proto.h). */
#include "proto.h"

#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "strv.h"

const char *
kf_proto_op_name(unsigned op)
{
    switch (op) {
    case KF_OP_HELLO: return "HELLO";
    case KF_OP_STATUS: return "STATUS";
    case KF_OP_STAGE: return "STAGE";
    case KF_OP_WITHDRAW: return "WITHDRAW";
    case KF_OP_PRUNE: return "PRUNE";
    case KF_OP_EXPORT: return "EXPORT";
    case KF_OP_CHECK: return "CHECK";
    case KF_OP_COMMIT: return "COMMIT";
    }
    return "unknown operation";
}

unsigned
kf_proto_op_since(unsigned op)
{
    /* A new operation takes the next version and says so here. */
    return op <= KF_OP_CHECK ? 1 : op == KF_OP_COMMIT ? 3 : 0;
}

/* --- frames ----------------------------------------------------------- */

kf_status
kf_proto_frame_len(const uint8_t hdr[4], size_t max, uint32_t *len, struct kf_err *err)
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];

    if (n == 0 || n > max)
        return kf_err_set(err, KF_ERR_INVALID, "frame of %u bytes (allowed: 1 to %zu)",
                          (unsigned)n, max);
    *len = n;
    return KF_OK;
}

kf_status
kf_proto_frame_put(struct kf_buf *out, const void *body, size_t len)
{
    kf_status st;

    if (len == 0 || len > KF_PROTO_FRAME_MAX)
        return KF_ERR_INVALID;
    st = kf_buf_put_u32(out, (uint32_t)len);
    if (st == KF_OK)
        st = kf_buf_put(out, body, len);
    return st;
}

kf_status
kf_proto_hs_encode(struct kf_buf *out, enum kf_hs_kind kind, const void *data, size_t len)
{
    kf_status st;

    if (kind != KF_HS_TOKEN && kind != KF_HS_ERROR)
        return KF_ERR_INVALID;
    if (len > (kind == KF_HS_TOKEN ? (size_t)KF_PROTO_TOKEN_MAX : (size_t)KF_PROTO_STRING_MAX))
        return KF_ERR_INVALID;
    st = kf_buf_put_u32(out, (uint32_t)(1 + 4 + len));
    if (st == KF_OK)
        st = kf_buf_put_u8(out, (uint8_t)kind);
    if (st == KF_OK)
        st = kf_buf_put_string(out, data, len);
    return st;
}

kf_status
kf_proto_hs_open_encode(struct kf_buf *out, uint32_t version, uint32_t flags, const void *token,
                        size_t len)
{
    kf_status st;

    if (version < 2 || len == 0 || len > (size_t)KF_PROTO_TOKEN_MAX)
        return KF_ERR_INVALID;
    st = kf_buf_put_u32(out, (uint32_t)(1 + 4 + 4 + 4 + len));
    if (st == KF_OK)
        st = kf_buf_put_u8(out, KF_HS_OPEN);
    if (st == KF_OK)
        st = kf_buf_put_u32(out, version);
    if (st == KF_OK)
        st = kf_buf_put_u32(out, flags);
    if (st == KF_OK)
        st = kf_buf_put_string(out, token, len);
    return st;
}

kf_status
kf_proto_hs_parse(const uint8_t *p, size_t len, struct kf_hs_frame *f, struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_from(p, len);
    uint8_t k;
    uint32_t version = 1, flags = 0;
    const uint8_t *d;
    size_t n;

    if (b == NULL)
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame too large");
    if (kf_buf_get_u8(b, &k) != KF_OK || (k != KF_HS_TOKEN && k != KF_HS_ERROR && k != KF_HS_OPEN))
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame of unknown kind");
    if (k == KF_HS_OPEN &&
        (kf_buf_get_u32(b, &version) != KF_OK || kf_buf_get_u32(b, &flags) != KF_OK))
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame truncated");
    if (k == KF_HS_OPEN && version < 2)
        return kf_err_set(err, KF_ERR_INVALID, "handshake opened with protocol version %u (2 or "
                                               "more; version 1 opens with a token frame)",
                          (unsigned)version);
    if (kf_buf_get_string_direct(b, k == KF_HS_ERROR ? KF_PROTO_STRING_MAX : KF_PROTO_TOKEN_MAX,
                                 &d, &n) != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame truncated or too long");
    if (kf_buf_len(b) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame has trailing bytes");
    if (k != KF_HS_ERROR && n == 0)
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame with an empty token");
    if (k == KF_HS_ERROR && memchr(d, '\0', n) != NULL)
        return kf_err_set(err, KF_ERR_INVALID, "handshake error message with a NUL byte");
    f->kind = (enum kf_hs_kind)k;
    f->version = version;
    f->flags = flags;
    f->data = d;
    f->len = n;
    return KF_OK;
}

kf_status
kf_proto_hs_decode(const uint8_t *p, size_t len, enum kf_hs_kind *kind, const uint8_t **data,
                   size_t *data_len, struct kf_err *err)
{
    struct kf_hs_frame f;
    kf_status st = kf_proto_hs_parse(p, len, &f, err);

    if (st != KF_OK)
        return st;
    if (f.kind == KF_HS_OPEN)
        return kf_err_set(err, KF_ERR_INVALID, "handshake frame of unknown kind");
    *kind = f.kind;
    *data = f.data;
    *data_len = f.len;
    return KF_OK;
}

/* --- messages: encoding ----------------------------------------------- */

/* Encoders chain puts: the first failure sticks in ST. */
#define PUT(expr)                                                                                  \
    do {                                                                                           \
        if (st == KF_OK)                                                                           \
            st = (expr);                                                                           \
    } while (0)

static kf_status
put_str(struct kf_buf *b, const char *s, size_t max)
{
    size_t n = s == NULL ? 0 : strlen(s);

    if (n > max)
        return KF_ERR_INVALID;
    return kf_buf_put_string(b, s == NULL ? "" : s, n);
}

static kf_status
put_entries(struct kf_buf *b, const struct kf_keyset *ks, bool with_keys)
{
    size_t n = ks == NULL ? 0 : ks->n;
    kf_status st = KF_OK;

    if (n > KF_KEYTAB_ENTRIES_MAX)
        return KF_ERR_INVALID;
    PUT(kf_buf_put_u32(b, (uint32_t)n));
    for (size_t i = 0; i < n && st == KF_OK; i++) {
        const struct kf_key_entry *e = &ks->v[i];

        if (e->key_len > KF_KEY_MAX)
            return KF_ERR_INVALID;
        PUT(put_str(b, e->principal, KF_KEYTAB_PRINCIPAL_MAX));
        PUT(kf_buf_put_u32(b, e->kvno));
        PUT(kf_buf_put_u32(b, (uint32_t)e->enctype));
        PUT(kf_buf_put_u32(b, e->timestamp));
        PUT(kf_buf_put_string(b, e->key, with_keys ? e->key_len : 0));
    }
    return st;
}

static bool
op_known(unsigned op)
{
    return kf_proto_op_since(op) != 0;
}

/* The version a message of R->version is encoded with (0: 1), if valid. */
static bool
version_ok(unsigned v)
{
    return v >= KF_PROTO_VERSION_MIN && v <= KF_PROTO_VERSION;
}

static unsigned
version_of(unsigned v)
{
    return v == 0 ? KF_PROTO_VERSION_MIN : v;
}

static kf_status
put_names(struct kf_buf *b, char *const *v, size_t n, size_t max)
{
    kf_status st = KF_OK;

    if (n > max)
        return KF_ERR_INVALID;
    PUT(kf_buf_put_u32(b, (uint32_t)n));
    for (size_t i = 0; i < n; i++)
        PUT(put_str(b, v[i], KF_AGENTSTATE_NAME_MAX));
    return st;
}

/* STATUS's committed kvnos: u32 accounts, each string account, u32 n,
 * n x (u32 kvno, u64 at). */
static kf_status
put_committed(struct kf_buf *b, const struct kf_agent_state *s)
{
    size_t n = s == NULL ? 0 : s->n;
    kf_status st = KF_OK;

    if (n > KF_AGENTSTATE_ACCOUNTS_MAX)
        return KF_ERR_INVALID;
    PUT(kf_buf_put_u32(b, (uint32_t)n));
    for (size_t i = 0; i < n; i++) {
        const struct kf_committed_account *a = &s->v[i];
        if (a->n_commits > KF_AGENTSTATE_COMMITS_MAX)
            return KF_ERR_INVALID;
        PUT(put_str(b, a->account, KF_AGENTSTATE_NAME_MAX));
        PUT(kf_buf_put_u32(b, (uint32_t)a->n_commits));
        for (size_t k = 0; k < a->n_commits; k++) {
            PUT(kf_buf_put_u32(b, a->commits[k].kvno));
            PUT(kf_buf_put_u64(b, (uint64_t)a->commits[k].at));
        }
    }
    return st;
}

kf_status
kf_proto_request_encode(const struct kf_proto_request *r, struct kf_buf *out, struct kf_err *err)
{
    unsigned v = version_of(r->version);
    kf_status st = KF_OK;

    if (!op_known(r->op) || r->op == KF_OP_HELLO || !version_ok(v))
        return kf_err_set(err, KF_ERR_INVALID, "cannot send request op %u (version %u)",
                          (unsigned)r->op, v);
    if (kf_proto_op_since(r->op) > v)
        return kf_err_set(err, KF_ERR_INVALID, "%s needs protocol version %u; the connection "
                                               "speaks %u",
                          kf_proto_op_name(r->op), kf_proto_op_since(r->op), v);
    PUT(kf_buf_put_u8(out, (uint8_t)v));
    PUT(kf_buf_put_u8(out, (uint8_t)r->op));
    switch (r->op) {
    case KF_OP_STAGE:
        if (r->keys == NULL || r->keys->n == 0)
            return kf_err_set(err, KF_ERR_INVALID, "STAGE without keys");
        PUT(kf_buf_put_u32(out, r->kvno));
        PUT(put_entries(out, r->keys, true));
        break;
    case KF_OP_WITHDRAW:
    case KF_OP_PRUNE:
        PUT(kf_buf_put_u32(out, r->kvno));
        break;
    case KF_OP_CHECK:
        if (r->token_len == 0 || r->token_len > KF_PROTO_TOKEN_MAX)
            return kf_err_set(err, KF_ERR_INVALID, "CHECK token of %zu bytes (1 to %d)",
                              r->token_len, KF_PROTO_TOKEN_MAX);
        PUT(put_str(out, r->principal, KF_KEYTAB_PRINCIPAL_MAX));
        PUT(kf_buf_put_string(out, r->token, r->token_len));
        break;
    case KF_OP_COMMIT:
        if (r->n_principals == 0 || r->kvno == 0)
            return kf_err_set(err, KF_ERR_INVALID, "COMMIT without a kvno or principals");
        PUT(put_str(out, r->account, KF_AGENTSTATE_NAME_MAX));
        PUT(kf_buf_put_u32(out, r->kvno));
        PUT(kf_buf_put_u32(out, r->grace_s));
        PUT(put_str(out, r->members_group, KF_AGENTSTATE_NAME_MAX));
        PUT(put_names(out, r->principals, r->n_principals, KF_AGENTSTATE_PRINCIPALS_MAX));
        PUT(put_names(out, r->servers, r->n_servers, KF_AGENTSTATE_SERVERS_MAX));
        break;
    default:
        break;
    }
    if (st != KF_OK)
        return kf_err_set(err, st, "cannot encode %s request: %s", kf_proto_op_name(r->op),
                          st == KF_ERR_NOMEM ? "out of memory" : "a field is too long");
    return KF_OK;
}

static kf_status
put_status(struct kf_buf *b, const struct kf_agent_status *s, unsigned v)
{
    kf_status st = KF_OK;

    PUT(kf_buf_put_u64(b, (uint64_t)s->time_ms));
    PUT(put_str(b, s->version, KF_PROTO_STRING_MAX));
    PUT(put_str(b, s->principal, KF_KEYTAB_PRINCIPAL_MAX));
    PUT(put_str(b, s->keytab, KF_PROTO_STRING_MAX));
    PUT(kf_buf_put_u8(b, s->file.exists ? 1 : 0));
    PUT(kf_buf_put_u32(b, s->file.uid));
    PUT(kf_buf_put_u32(b, s->file.gid));
    PUT(put_str(b, s->group, KF_PROTO_STRING_MAX));
    PUT(kf_buf_put_u32(b, s->file.mode));
    PUT(kf_buf_put_u64(b, (uint64_t)s->file.mtime));
    PUT(kf_buf_put_u64(b, (uint64_t)s->file.size));
    PUT(put_entries(b, s->entries, false));
    if (v >= 3)
        PUT(put_committed(b, s->committed));
    return st;
}

kf_status
kf_proto_response_encode(const struct kf_proto_response *r, struct kf_buf *out,
                         struct kf_err *err)
{
    unsigned v = version_of(r->version);
    kf_status st = KF_OK;

    /* an unknown operation is answered UNSUPPORTED, from version 2 on */
    if (!version_ok(v) || r->op > 255 || r->result > KF_RES_UNSUPPORTED ||
        (!op_known(r->op) && (v < 2 || r->result != KF_RES_UNSUPPORTED)))
        return kf_err_set(err, KF_ERR_INVALID, "cannot send response op %u result %u (version %u)",
                          (unsigned)r->op, (unsigned)r->result, v);
    PUT(kf_buf_put_u8(out, (uint8_t)v));
    PUT(kf_buf_put_u8(out, (uint8_t)r->op));
    PUT(kf_buf_put_u8(out, (uint8_t)r->result));
    PUT(put_str(out, r->message, KF_PROTO_STRING_MAX));
    if (r->op == KF_OP_HELLO) {
        PUT(put_str(out, r->client, KF_KEYTAB_PRINCIPAL_MAX));
        PUT(put_str(out, r->agent_principal, KF_KEYTAB_PRINCIPAL_MAX));
        PUT(put_str(out, r->agent_version, KF_PROTO_STRING_MAX));
        if (v >= 2) {
            if (r->agent_proto < v)
                return kf_err_set(err, KF_ERR_INVALID, "HELLO of version %u says the agent "
                                                       "speaks %u",
                                  v, (unsigned)r->agent_proto);
            PUT(kf_buf_put_u32(out, r->agent_proto));
        }
    } else if (!op_known(r->op)) {
        /* UNSUPPORTED: no body */
    } else if (r->result == KF_RES_OK) {
        switch (r->op) {
        case KF_OP_STATUS:
            if (r->status == NULL)
                return kf_err_set(err, KF_ERR_INVALID, "STATUS response without a status");
            PUT(put_status(out, r->status, v));
            break;
        case KF_OP_STAGE:
        case KF_OP_WITHDRAW:
        case KF_OP_PRUNE:
        case KF_OP_COMMIT:
            PUT(kf_buf_put_u32(out, r->count));
            break;
        case KF_OP_EXPORT:
            PUT(put_entries(out, r->keys, true));
            break;
        case KF_OP_CHECK:
            PUT(kf_buf_put_u8(out, r->check.accepted ? 1 : 0));
            PUT(kf_buf_put_u32(out, r->check.kvno));
            PUT(kf_buf_put_u32(out, r->check.ticket_kvno));
            PUT(kf_buf_put_u32(out, (uint32_t)r->check.enctype));
            PUT(put_str(out, r->check.server, KF_KEYTAB_PRINCIPAL_MAX));
            PUT(put_str(out, r->check.client, KF_KEYTAB_PRINCIPAL_MAX));
            PUT(put_str(out, r->check.reason, KF_PROTO_STRING_MAX));
            break;
        default:
            break;
        }
    }
    if (st != KF_OK)
        return kf_err_set(err, st, "cannot encode %s response: %s", kf_proto_op_name(r->op),
                          st == KF_ERR_NOMEM ? "out of memory" : "a field is too long");
    return KF_OK;
}

#undef PUT

/* --- messages: decoding ----------------------------------------------- */

/* Decoders chain gets: the first failure sticks in ST, FIELD names it. */
struct dec {
    struct kf_buf *b;
    kf_status st;
    const char *field;
};

static void
fail(struct dec *d, kf_status st, const char *field)
{
    if (d->st == KF_OK) {
        d->st = st;
        d->field = field;
    }
}

static uint8_t
get_u8(struct dec *d, const char *field)
{
    uint8_t v = 0;
    kf_status st;

    if (d->st == KF_OK && (st = kf_buf_get_u8(d->b, &v)) != KF_OK)
        fail(d, st, field);
    return v;
}

static uint32_t
get_u32(struct dec *d, const char *field)
{
    uint32_t v = 0;
    kf_status st;

    if (d->st == KF_OK && (st = kf_buf_get_u32(d->b, &v)) != KF_OK)
        fail(d, st, field);
    return v;
}

static uint64_t
get_u64(struct dec *d, const char *field)
{
    uint64_t v = 0;
    kf_status st;

    if (d->st == KF_OK && (st = kf_buf_get_u64(d->b, &v)) != KF_OK)
        fail(d, st, field);
    return v;
}

static char *
get_str(struct dec *d, size_t max, const char *field)
{
    char *s = NULL;
    kf_status st;

    if (d->st == KF_OK && (st = kf_buf_get_cstring(d->b, max, &s)) != KF_OK)
        fail(d, st, field);
    return s;
}

static struct kf_keyset *
get_entries(struct dec *d, bool with_keys)
{
    struct kf_keyset *ks;
    uint32_t n = get_u32(d, "entry count");

    if (d->st != KF_OK)
        return NULL;
    if (n > KF_KEYTAB_ENTRIES_MAX) {
        fail(d, KF_ERR_INVALID, "entry count");
        return NULL;
    }
    ks = kf_keyset_new();
    if (ks == NULL) {
        fail(d, KF_ERR_NOMEM, "entries");
        return NULL;
    }
    for (uint32_t i = 0; i < n && d->st == KF_OK; i++) {
        struct kf_key_entry e = {0};
        const uint8_t *key = NULL;
        size_t key_len = 0;
        kf_status st;

        e.principal = get_str(d, KF_KEYTAB_PRINCIPAL_MAX, "entry principal");
        e.kvno = get_u32(d, "entry kvno");
        e.enctype = (int32_t)get_u32(d, "entry enctype");
        e.timestamp = get_u32(d, "entry timestamp");
        if (d->st == KF_OK &&
            (st = kf_buf_get_string_direct(d->b, with_keys ? KF_KEY_MAX : 0, &key, &key_len)) !=
                KF_OK)
            fail(d, st, "entry key");
        if (d->st == KF_OK && (e.principal[0] == '\0' || e.enctype <= 0))
            fail(d, KF_ERR_INVALID, e.principal[0] == '\0' ? "entry principal" : "entry enctype");
        if (d->st == KF_OK) {
            e.key_len = key_len;
            if (key_len > 0)
                memcpy(e.key, key, key_len);
            if (kf_keyset_add(ks, &e) != 0)
                fail(d, KF_ERR_NOMEM, "entries");
        }
        explicit_bzero(e.key, sizeof(e.key));
        free(e.principal);
    }
    if (d->st != KF_OK) {
        kf_keyset_free(ks);
        return NULL;
    }
    return ks;
}

/* A list of at most MAX names, each 1..KF_AGENTSTATE_NAME_MAX bytes. */
static void
get_names(struct dec *d, size_t max, char ***out, size_t *n, const char *field)
{
    uint32_t count = get_u32(d, field);

    if (d->st == KF_OK && count > max)
        fail(d, KF_ERR_INVALID, field);
    for (uint32_t i = 0; i < count && d->st == KF_OK; i++) {
        char *s = get_str(d, KF_AGENTSTATE_NAME_MAX, field);
        if (d->st == KF_OK && s[0] == '\0')
            fail(d, KF_ERR_INVALID, field);
        if (d->st == KF_OK && kf_strv_push(out, n, s) != 0)
            fail(d, KF_ERR_NOMEM, field);
        free(s);
    }
}

static struct kf_agent_state *
get_committed(struct dec *d)
{
    struct kf_agent_state *s = kf_agent_state_new();
    uint32_t n = get_u32(d, "committed accounts");

    if (s == NULL) {
        fail(d, KF_ERR_NOMEM, "committed");
        return NULL;
    }
    if (d->st == KF_OK && n > KF_AGENTSTATE_ACCOUNTS_MAX)
        fail(d, KF_ERR_INVALID, "committed accounts");
    if (d->st == KF_OK && n > 0 && (s->v = calloc(n, sizeof(*s->v))) == NULL)
        fail(d, KF_ERR_NOMEM, "committed");
    for (uint32_t i = 0; i < n && d->st == KF_OK; i++) {
        struct kf_committed_account *a = &s->v[i];
        uint32_t k;

        s->n = i + 1;
        a->account = get_str(d, KF_AGENTSTATE_NAME_MAX, "committed account");
        k = get_u32(d, "committed kvnos");
        if (d->st == KF_OK && (k == 0 || k > KF_AGENTSTATE_COMMITS_MAX))
            fail(d, KF_ERR_INVALID, "committed kvnos");
        if (d->st == KF_OK && (a->commits = calloc(k, sizeof(*a->commits))) == NULL)
            fail(d, KF_ERR_NOMEM, "committed");
        for (uint32_t j = 0; j < k && d->st == KF_OK; j++) {
            a->commits[j].kvno = get_u32(d, "committed kvno");
            a->commits[j].at = (int64_t)get_u64(d, "committed time");
            a->n_commits = j + 1;
        }
    }
    if (d->st != KF_OK) {
        kf_agent_state_free(s);
        return NULL;
    }
    return s;
}

/* Start decoding: version (into *VERSION) and op. An op this build does
 * not know is let through from version 2 on (the caller decides). */
static unsigned
get_header(struct dec *d, unsigned *version)
{
    uint8_t v = get_u8(d, "version");
    uint8_t op = get_u8(d, "operation");

    if (d->st == KF_OK && !version_ok(v))
        fail(d, KF_ERR_INVALID, "version");
    if (d->st == KF_OK && !op_known(op) && v < 2)
        fail(d, KF_ERR_INVALID, "operation");
    if (d->st == KF_OK && op_known(op) && kf_proto_op_since(op) > v)
        fail(d, KF_ERR_INVALID, "operation (newer than the message's version)");
    *version = v;
    return op;
}

static kf_status
finish(struct dec *d, const char *what, struct kf_err *err)
{
    if (d->st == KF_OK && kf_buf_len(d->b) != 0)
        fail(d, KF_ERR_INVALID, "end (trailing bytes)");
    if (d->st == KF_ERR_NOMEM)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory decoding a %s", what);
    if (d->st != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID, "malformed %s: bad %s", what, d->field);
    return KF_OK;
}

void
kf_proto_request_free(struct kf_proto_request *r)
{
    if (r == NULL)
        return;
    kf_keyset_free(r->keys);
    free(r->principal);
    free(r->token);
    free(r->account);
    free(r->members_group);
    kf_strv_free(r->principals, r->n_principals);
    kf_strv_free(r->servers, r->n_servers);
    free(r);
}

kf_status
kf_proto_request_decode(const uint8_t *p, size_t len, struct kf_proto_request **out,
                        struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_from(p, len);
    _cleanup_(kf_proto_request_freep) struct kf_proto_request *r = calloc(1, sizeof(*r));
    struct dec d = {.b = b};
    unsigned op;
    kf_status st;

    *out = NULL;
    if (b == NULL || r == NULL)
        return kf_err_set(err, b == NULL && len > KF_BUF_SIZE_MAX ? KF_ERR_INVALID : KF_ERR_NOMEM,
                          "cannot decode a request of %zu bytes", len);
    op = get_header(&d, &r->version);
    if (d.st == KF_OK && op == KF_OP_HELLO)
        fail(&d, KF_ERR_INVALID, "operation (HELLO is not a request)");
    r->op = (enum kf_proto_op)op;
    if (d.st == KF_OK && !op_known(op)) {
        /* the agent answers UNSUPPORTED: the body is not ours to read */
        *out = TAKE_PTR(r);
        return KF_OK;
    }
    if (d.st == KF_OK) {
        switch (r->op) {
        case KF_OP_STAGE:
            r->kvno = get_u32(&d, "kvno");
            r->keys = get_entries(&d, true);
            if (d.st == KF_OK && r->keys->n == 0)
                fail(&d, KF_ERR_INVALID, "entry count (STAGE needs at least one)");
            break;
        case KF_OP_WITHDRAW:
        case KF_OP_PRUNE:
            r->kvno = get_u32(&d, "kvno");
            break;
        case KF_OP_CHECK:
            r->principal = get_str(&d, KF_KEYTAB_PRINCIPAL_MAX, "principal");
            if (d.st == KF_OK &&
                (st = kf_buf_get_bytes(b, KF_PROTO_TOKEN_MAX, &r->token, &r->token_len)) != KF_OK)
                fail(&d, st, "token");
            if (d.st == KF_OK && r->token_len == 0)
                fail(&d, KF_ERR_INVALID, "token (empty)");
            break;
        case KF_OP_COMMIT:
            r->account = get_str(&d, KF_AGENTSTATE_NAME_MAX, "account");
            r->kvno = get_u32(&d, "kvno");
            r->grace_s = get_u32(&d, "grace");
            r->members_group = get_str(&d, KF_AGENTSTATE_NAME_MAX, "members group");
            get_names(&d, KF_AGENTSTATE_PRINCIPALS_MAX, &r->principals, &r->n_principals,
                      "principals");
            get_names(&d, KF_AGENTSTATE_SERVERS_MAX, &r->servers, &r->n_servers, "servers");
            if (d.st == KF_OK && (r->account[0] == '\0' || r->kvno == 0 || r->n_principals == 0))
                fail(&d, KF_ERR_INVALID, "COMMIT (account, kvno and principals are required)");
            break;
        default:
            break;
        }
    }
    st = finish(&d, "request", err);
    if (st != KF_OK)
        return st;
    *out = TAKE_PTR(r);
    return KF_OK;
}

void
kf_agent_status_free(struct kf_agent_status *s)
{
    if (s == NULL)
        return;
    free(s->version);
    free(s->principal);
    free(s->keytab);
    free(s->group);
    kf_keyset_free(s->entries);
    kf_agent_state_free(s->committed);
    free(s);
}

void
kf_proto_response_free(struct kf_proto_response *r)
{
    if (r == NULL)
        return;
    free(r->message);
    free(r->client);
    free(r->agent_principal);
    free(r->agent_version);
    kf_agent_status_free(r->status);
    kf_keyset_free(r->keys);
    kf_keytab_check_done(&r->check);
    free(r);
}

static struct kf_agent_status *
get_status(struct dec *d, unsigned version)
{
    struct kf_agent_status *s = calloc(1, sizeof(*s));
    uint8_t exists;

    if (s == NULL) {
        fail(d, KF_ERR_NOMEM, "status");
        return NULL;
    }
    s->time_ms = (int64_t)get_u64(d, "agent time");
    s->version = get_str(d, KF_PROTO_STRING_MAX, "agent version");
    s->principal = get_str(d, KF_KEYTAB_PRINCIPAL_MAX, "agent principal");
    s->keytab = get_str(d, KF_PROTO_STRING_MAX, "keytab path");
    exists = get_u8(d, "keytab exists");
    if (d->st == KF_OK && exists > 1)
        fail(d, KF_ERR_INVALID, "keytab exists");
    s->file.exists = exists == 1;
    s->file.uid = get_u32(d, "keytab uid");
    s->file.gid = get_u32(d, "keytab gid");
    s->group = get_str(d, KF_PROTO_STRING_MAX, "keytab group");
    s->file.mode = get_u32(d, "keytab mode");
    if (d->st == KF_OK && s->file.mode > 07777)
        fail(d, KF_ERR_INVALID, "keytab mode");
    s->file.mtime = (int64_t)get_u64(d, "keytab mtime");
    s->file.size = (int64_t)get_u64(d, "keytab size");
    s->entries = get_entries(d, false);
    if (d->st == KF_OK && version >= 3)
        s->committed = get_committed(d);
    if (d->st != KF_OK) {
        kf_agent_status_free(s);
        return NULL;
    }
    return s;
}

kf_status
kf_proto_response_decode(const uint8_t *p, size_t len, struct kf_proto_response **out,
                         struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_from(p, len);
    _cleanup_(kf_proto_response_freep) struct kf_proto_response *r = calloc(1, sizeof(*r));
    struct dec d = {.b = b};
    uint8_t result, accepted;
    kf_status st;

    *out = NULL;
    if (b == NULL || r == NULL)
        return kf_err_set(err, b == NULL && len > KF_BUF_SIZE_MAX ? KF_ERR_INVALID : KF_ERR_NOMEM,
                          "cannot decode a response of %zu bytes", len);
    r->op = (enum kf_proto_op)get_header(&d, &r->version);
    result = get_u8(&d, "result");
    if (d.st == KF_OK && result > KF_RES_UNSUPPORTED)
        fail(&d, KF_ERR_INVALID, "result");
    if (d.st == KF_OK && !op_known(r->op) && result != KF_RES_UNSUPPORTED)
        fail(&d, KF_ERR_INVALID, "operation (unknown, and not answered UNSUPPORTED)");
    r->result = (enum kf_proto_result)result;
    r->message = get_str(&d, KF_PROTO_STRING_MAX, "message");
    if (d.st == KF_OK && r->op == KF_OP_HELLO) {
        r->client = get_str(&d, KF_KEYTAB_PRINCIPAL_MAX, "client principal");
        r->agent_principal = get_str(&d, KF_KEYTAB_PRINCIPAL_MAX, "agent principal");
        r->agent_version = get_str(&d, KF_PROTO_STRING_MAX, "agent version");
        r->agent_proto = 1;
        if (r->version >= 2) {
            r->agent_proto = get_u32(&d, "agent protocol version");
            if (d.st == KF_OK && r->agent_proto < r->version)
                fail(&d, KF_ERR_INVALID, "agent protocol version (below the message's)");
        }
    } else if (d.st == KF_OK && !op_known(r->op)) {
        /* UNSUPPORTED: no body */
    } else if (d.st == KF_OK && r->result == KF_RES_OK) {
        switch (r->op) {
        case KF_OP_STATUS:
            r->status = get_status(&d, r->version);
            break;
        case KF_OP_STAGE:
        case KF_OP_WITHDRAW:
        case KF_OP_PRUNE:
        case KF_OP_COMMIT:
            r->count = get_u32(&d, "count");
            if (d.st == KF_OK && r->count > KF_KEYTAB_ENTRIES_MAX)
                fail(&d, KF_ERR_INVALID, "count");
            break;
        case KF_OP_EXPORT:
            r->keys = get_entries(&d, true);
            break;
        case KF_OP_CHECK:
            accepted = get_u8(&d, "accepted");
            if (d.st == KF_OK && accepted > 1)
                fail(&d, KF_ERR_INVALID, "accepted");
            r->check.accepted = accepted == 1;
            r->check.kvno = get_u32(&d, "kvno");
            r->check.ticket_kvno = get_u32(&d, "ticket kvno");
            r->check.enctype = (int32_t)get_u32(&d, "enctype");
            r->check.server = get_str(&d, KF_KEYTAB_PRINCIPAL_MAX, "server");
            r->check.client = get_str(&d, KF_KEYTAB_PRINCIPAL_MAX, "client");
            r->check.reason = get_str(&d, KF_PROTO_STRING_MAX, "reason");
            break;
        default:
            break;
        }
    }
    st = finish(&d, "response", err);
    if (st != KF_OK)
        return st;
    *out = TAKE_PTR(r);
    return KF_OK;
}

/* --- Kerberos tokens -------------------------------------------------- */

/* One DER tag-length header at P (LEN bytes): tag *TAG, content length
 * *CLEN, header length *HLEN; the content must fit in LEN. */
static bool
der_header(const uint8_t *p, size_t len, uint8_t *tag, size_t *hlen, size_t *clen)
{
    size_t n, i = 2;

    if (len < 2)
        return false;
    *tag = p[0];
    if ((p[0] & 0x1f) == 0x1f)
        return false; /* multi-byte tags: not used by these tokens */
    if (p[1] < 0x80) {
        n = p[1];
    } else {
        size_t k = p[1] & 0x7f;
        if (k == 0 || k > 4 || len < 2 + k)
            return false; /* indefinite or absurd lengths */
        n = 0;
        for (size_t j = 0; j < k; j++)
            n = n << 8 | p[2 + j];
        i = 2 + k;
    }
    if (n > len - i)
        return false;
    *hlen = i;
    *clen = n;
    return true;
}

kf_status
kf_proto_token_apreq(const uint8_t *token, size_t len, const uint8_t **apreq, size_t *apreq_len,
                     struct kf_err *err)
{
    static const uint8_t krb5_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                       0x12, 0x01, 0x02, 0x02};
    uint8_t tag;
    size_t h, c, h2, c2;

    if (!der_header(token, len, &tag, &h, &c))
        return kf_err_set(err, KF_ERR_INVALID, "the token is not DER");
    if (tag == 0x6e) { /* [APPLICATION 14] AP-REQ */
        *apreq = token;
        *apreq_len = h + c;
        return KF_OK;
    }
    if (tag != 0x60) /* [APPLICATION 0] InitialContextToken */
        return kf_err_set(err, KF_ERR_INVALID, "the token is neither an AP-REQ nor a GSSAPI "
                                               "initial context token");
    token += h;
    len = c;
    if (len < sizeof(krb5_oid) + 2 || memcmp(token, krb5_oid, sizeof(krb5_oid)) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "the GSSAPI token is not for the krb5 mechanism");
    token += sizeof(krb5_oid);
    len -= sizeof(krb5_oid);
    if (token[0] != 0x01 || token[1] != 0x00)
        return kf_err_set(err, KF_ERR_INVALID, "the GSSAPI krb5 token is not an AP-REQ");
    token += 2;
    len -= 2;
    if (!der_header(token, len, &tag, &h2, &c2) || tag != 0x6e)
        return kf_err_set(err, KF_ERR_INVALID, "the GSSAPI krb5 token holds no AP-REQ");
    *apreq = token;
    *apreq_len = h2 + c2;
    return KF_OK;
}

/* --- GSSAPI ----------------------------------------------------------- */

/* Append the messages of STATUS (of TYPE) to OUT (SIZE bytes). */
static void
gss_messages(OM_uint32 status, int type, char *out, size_t size)
{
    OM_uint32 more = 0, min;
    size_t used = strlen(out);

    do {
        gss_buffer_desc m = GSS_C_EMPTY_BUFFER;
        if (GSS_ERROR(gss_display_status(&min, status, type, GSS_C_NO_OID, &more, &m)))
            break;
        if (used < size) {
            int w = snprintf(out + used, size - used, "%s%.*s", used > 0 ? "; " : "",
                             (int)m.length, (const char *)m.value);
            if (w > 0)
                used += (size_t)w;
        }
        gss_release_buffer(&min, &m);
    } while (more != 0);
}

kf_status
kf_gss_err(struct kf_err *err, kf_status code, OM_uint32 major, OM_uint32 minor, const char *what)
{
    char text[768] = "";

    gss_messages(major, GSS_C_GSS_CODE, text, sizeof(text));
    if (minor != 0)
        gss_messages(minor, GSS_C_MECH_CODE, text, sizeof(text));
    return kf_err_set(err, code, "%s: %s", what, text[0] != '\0' ? text : "GSSAPI error");
}

kf_status
kf_proto_seal(gss_ctx_id_t ctx, const struct kf_buf *plain, struct kf_buf *out, struct kf_err *err)
{
    gss_buffer_desc in, wrapped = GSS_C_EMPTY_BUFFER;
    OM_uint32 maj, min, rmin;
    int conf = 0;
    kf_status st;

    if (kf_buf_len(plain) > KF_PROTO_PLAIN_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "message of %zu bytes is too large to send",
                          kf_buf_len(plain));
    in.length = kf_buf_len(plain);
    in.value = (void *)(uintptr_t)kf_buf_ptr(plain);
    maj = gss_wrap(&min, ctx, 1, GSS_C_QOP_DEFAULT, &in, &conf, &wrapped);
    if (GSS_ERROR(maj))
        return kf_gss_err(err, KF_ERR_UNEXPECTED, maj, min, "cannot seal a message");
    if (!conf) {
        gss_release_buffer(&rmin, &wrapped);
        return kf_err_set(err, KF_ERR_UNEXPECTED, "GSSAPI did not seal a message (no "
                                                  "confidentiality)");
    }
    st = kf_proto_frame_put(out, wrapped.value, wrapped.length);
    gss_release_buffer(&rmin, &wrapped);
    if (st != KF_OK)
        return kf_err_set(err, st, "cannot queue a sealed message");
    return KF_OK;
}

kf_status
kf_proto_unseal(gss_ctx_id_t ctx, const uint8_t *p, size_t len, struct kf_buf *plain,
                struct kf_err *err)
{
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    OM_uint32 maj, min, rmin;
    int conf = 0;
    gss_qop_t qop = 0;
    kf_status st;

    kf_buf_set_secret(plain);
    in.length = len;
    in.value = (void *)(uintptr_t)p;
    maj = gss_unwrap(&min, ctx, &in, &out, &conf, &qop);
    if (GSS_ERROR(maj) || (maj & (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN |
                                  GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN)) != 0) {
        if (out.value != NULL)
            explicit_bzero(out.value, out.length);
        gss_release_buffer(&rmin, &out);
        if (!GSS_ERROR(maj))
            return kf_err_set(err, KF_ERR_INVALID, "a message was replayed or out of order");
        return kf_gss_err(err, KF_ERR_INVALID, maj, min, "cannot unseal a message");
    }
    if (!conf) {
        explicit_bzero(out.value, out.length);
        gss_release_buffer(&rmin, &out);
        return kf_err_set(err, KF_ERR_INVALID, "a message was not sealed (no confidentiality)");
    }
    st = kf_buf_put(plain, out.value, out.length);
    if (out.value != NULL)
        explicit_bzero(out.value, out.length);
    gss_release_buffer(&rmin, &out);
    if (st != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID, "sealed message too large");
    return KF_OK;
}
