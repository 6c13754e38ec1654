/* test_proto.c - agent protocol messages: every request and response
 * round-trips; truncated, oversized and malformed input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

static struct kf_keyset *
keys(size_t n, bool with_keys)
{
    struct kf_keyset *ks = kf_keyset_new();

    for (size_t i = 0; i < n; i++) {
        struct kf_key_entry e = {0};
        char p[64];
        snprintf(p, sizeof(p), "HTTP/web%zu.lab.test@LAB.TEST", i);
        e.principal = p;
        e.kvno = (uint32_t)(i + 2);
        e.enctype = 18;
        e.timestamp = 1700000000u;
        e.key_len = with_keys ? 32 : 0;
        memset(e.key, (int)(0x40 + i), e.key_len);
        assert_int_equal(kf_keyset_add(ks, &e), 0);
    }
    return ks;
}

static void
same_keys(const struct kf_keyset *a, const struct kf_keyset *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->v[i].principal, b->v[i].principal);
        assert_int_equal(a->v[i].kvno, b->v[i].kvno);
        assert_int_equal(a->v[i].enctype, b->v[i].enctype);
        assert_int_equal(a->v[i].timestamp, b->v[i].timestamp);
        assert_int_equal(a->v[i].key_len, b->v[i].key_len);
        assert_memory_equal(a->v[i].key, b->v[i].key, a->v[i].key_len);
    }
}

/* Every proper prefix of an encoded message, and the message with one
 * byte more, must be refused. */
static void
prefixes_refused(const struct kf_buf *b, bool request)
{
    size_t n = kf_buf_len(b);
    uint8_t *longer = malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        struct kf_err err = {0};
        if (request) {
            struct kf_proto_request *r = NULL;
            assert_int_equal(kf_proto_request_decode(kf_buf_ptr(b), i, &r, &err), KF_ERR_INVALID);
            assert_null(r);
        } else {
            struct kf_proto_response *r = NULL;
            assert_int_equal(kf_proto_response_decode(kf_buf_ptr(b), i, &r, &err),
                             KF_ERR_INVALID);
            assert_null(r);
        }
        assert_non_null(strstr(err.msg, "malformed"));
    }
    memcpy(longer, kf_buf_ptr(b), n);
    longer[n] = 0;
    if (request) {
        struct kf_proto_request *r = NULL;
        assert_int_equal(kf_proto_request_decode(longer, n + 1, &r, NULL), KF_ERR_INVALID);
    } else {
        struct kf_proto_response *r = NULL;
        assert_int_equal(kf_proto_response_decode(longer, n + 1, &r, NULL), KF_ERR_INVALID);
    }
    free(longer);
}

static struct kf_proto_request *
request_round_trip(const struct kf_proto_request *in)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_proto_request *out = NULL;
    struct kf_err err = {0};

    kf_buf_set_secret(b);
    assert_int_equal(kf_proto_request_encode(in, b, &err), KF_OK);
    assert_int_equal(kf_proto_request_decode(kf_buf_ptr(b), kf_buf_len(b), &out, &err), KF_OK);
    assert_int_equal(out->op, in->op);
    prefixes_refused(b, true);
    return out;
}

static void
test_requests(void **state)
{
    struct kf_proto_request in = {0}, *out;
    static const uint8_t tok[] = {0x6e, 0x01, 0x00};

    (void)state;
    in.op = KF_OP_STATUS;
    out = request_round_trip(&in);
    kf_proto_request_free(out);
    in.op = KF_OP_EXPORT;
    kf_proto_request_free(request_round_trip(&in));

    in.op = KF_OP_STAGE;
    in.kvno = 7;
    in.keys = keys(3, true);
    out = request_round_trip(&in);
    assert_int_equal(out->kvno, 7);
    same_keys(in.keys, out->keys);
    kf_proto_request_free(out);
    kf_keyset_free(in.keys);
    in.keys = NULL;

    in.op = KF_OP_WITHDRAW;
    in.kvno = 0xfffffffe;
    out = request_round_trip(&in);
    assert_true(out->kvno == 0xfffffffe);
    kf_proto_request_free(out);
    in.op = KF_OP_PRUNE;
    in.kvno = 3;
    out = request_round_trip(&in);
    assert_int_equal(out->kvno, 3);
    kf_proto_request_free(out);

    in.op = KF_OP_CHECK;
    in.principal = (char *)(uintptr_t)"HTTP/web.lab.test@LAB.TEST";
    in.token = (uint8_t *)(uintptr_t)tok;
    in.token_len = sizeof(tok);
    out = request_round_trip(&in);
    assert_string_equal(out->principal, "HTTP/web.lab.test@LAB.TEST");
    assert_int_equal(out->token_len, 3);
    assert_memory_equal(out->token, tok, 3);
    kf_proto_request_free(out);
}

static struct kf_proto_response *
response_round_trip(const struct kf_proto_response *in)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_proto_response *out = NULL;
    struct kf_err err = {0};

    assert_int_equal(kf_proto_response_encode(in, b, &err), KF_OK);
    assert_int_equal(kf_proto_response_decode(kf_buf_ptr(b), kf_buf_len(b), &out, &err), KF_OK);
    assert_int_equal(out->op, in->op);
    assert_int_equal(out->result, in->result);
    assert_string_equal(out->message, in->message ? in->message : "");
    prefixes_refused(b, false);
    return out;
}

static void
test_responses(void **state)
{
    struct kf_proto_response in = {0}, *out;
    struct kf_agent_status st = {0};

    (void)state;
    in.op = KF_OP_HELLO;
    in.client = (char *)(uintptr_t)"kfadmin@LAB.TEST";
    in.agent_principal = (char *)(uintptr_t)"host/fe01.lab.test@LAB.TEST";
    in.agent_version = (char *)(uintptr_t)"0.1.0";
    out = response_round_trip(&in);
    assert_string_equal(out->client, "kfadmin@LAB.TEST");
    assert_string_equal(out->agent_principal, "host/fe01.lab.test@LAB.TEST");
    kf_proto_response_free(out);
    in.result = KF_RES_DENIED;
    in.message = (char *)(uintptr_t)"not allowed";
    kf_proto_response_free(response_round_trip(&in));
    memset(&in, 0, sizeof(in));

    in.op = KF_OP_STATUS;
    st.time_ms = 1700000000123;
    st.version = (char *)(uintptr_t)"0.1.0";
    st.principal = (char *)(uintptr_t)"host/fe01.lab.test@LAB.TEST";
    st.keytab = (char *)(uintptr_t)"/etc/krbfleet/http.keytab";
    st.file.exists = true;
    st.file.uid = 0;
    st.file.gid = 33;
    st.file.mode = 0640;
    st.file.mtime = 1700000000;
    st.file.size = 1234;
    st.group = (char *)(uintptr_t)"www-data";
    st.entries = keys(2, false);
    in.status = &st;
    out = response_round_trip(&in);
    assert_true(out->status->time_ms == st.time_ms);
    assert_string_equal(out->status->group, "www-data");
    assert_int_equal(out->status->file.mode, 0640);
    assert_int_equal(out->status->file.gid, 33);
    same_keys(st.entries, out->status->entries);
    kf_proto_response_free(out);
    /* keys are never allowed in a STATUS answer */
    {
        _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
        struct kf_keyset *k = keys(1, true);
        kf_keyset_free(st.entries);
        st.entries = k;
        assert_int_equal(kf_proto_response_encode(&in, b, NULL), KF_OK);
        /* the encoder drops them */
        assert_int_equal(kf_proto_response_decode(kf_buf_ptr(b), kf_buf_len(b), &out, NULL),
                         KF_OK);
        assert_int_equal(out->status->entries->v[0].key_len, 0);
        kf_proto_response_free(out);
    }
    kf_keyset_free(st.entries);
    in.status = NULL;

    in.op = KF_OP_STAGE;
    in.count = 6;
    out = response_round_trip(&in);
    assert_int_equal(out->count, 6);
    kf_proto_response_free(out);

    in.op = KF_OP_EXPORT;
    in.keys = keys(4, true);
    out = response_round_trip(&in);
    same_keys(in.keys, out->keys);
    kf_proto_response_free(out);
    kf_keyset_free(in.keys);
    in.keys = NULL;

    in.op = KF_OP_CHECK;
    in.check.accepted = true;
    in.check.kvno = 3;
    in.check.ticket_kvno = 3;
    in.check.enctype = 18;
    in.check.server = (char *)(uintptr_t)"HTTP/web.lab.test@LAB.TEST";
    in.check.client = (char *)(uintptr_t)"kfadmin@LAB.TEST";
    out = response_round_trip(&in);
    assert_true(out->check.accepted);
    assert_int_equal(out->check.kvno, 3);
    assert_string_equal(out->check.server, "HTTP/web.lab.test@LAB.TEST");
    kf_proto_response_free(out);

    in.op = KF_OP_WITHDRAW;
    in.result = KF_RES_FAILED;
    in.message = (char *)(uintptr_t)"cannot write /etc/krbfleet/http.keytab";
    out = response_round_trip(&in);
    assert_int_equal(out->count, 0);
    kf_proto_response_free(out);
}

/* COMMIT (issue 11) and the committed kvnos of STATUS. */
static void
test_commit(void **state)
{
    char p1[] = "KERBAUTH$@LAB.TEST", p2[] = "HTTP/web.lab.test@LAB.TEST", s1[] = "fe01.lab.test";
    char *princ[] = {p1, p2}, *srvs[] = {s1}, empty[] = "";
    char *bad[] = {p1, empty};
    struct kf_proto_request in = {0}, *out;
    struct kf_proto_response rin = {0}, *rout;
    struct kf_agent_status st = {0};
    struct kf_agent_state *cs = kf_agent_state_new();
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_err err = {0};

    (void)state;
    in.op = KF_OP_COMMIT;
    in.version = 2; /* COMMIT came with version 3 */
    in.account = p1;
    in.kvno = 9;
    in.principals = princ;
    in.n_principals = 2;
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "COMMIT needs protocol version 3"));
    kf_buf_reset(b);
    in.version = 3;
    in.kvno = 9;
    in.grace_s = 36000;
    in.members_group = (char *)(uintptr_t)"LAB\\web-servers";
    in.principals = princ;
    in.n_principals = 2;
    in.servers = srvs;
    in.n_servers = 1;
    out = request_round_trip(&in);
    assert_string_equal(out->account, p1);
    assert_int_equal(out->kvno, 9);
    assert_int_equal(out->grace_s, 36000);
    assert_string_equal(out->members_group, "LAB\\web-servers");
    assert_int_equal(out->n_principals, 2);
    assert_string_equal(out->principals[1], p2);
    assert_int_equal(out->n_servers, 1);
    assert_string_equal(out->servers[0], s1);
    kf_proto_request_free(out);
    /* no principals, kvno 0: the encoder refuses; an empty name: the decoder */
    in.n_principals = 0;
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
    in.n_principals = 2;
    in.principals = bad;
    kf_buf_reset(b);
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_OK);
    out = (void *)1;
    assert_int_equal(kf_proto_request_decode(kf_buf_ptr(b), kf_buf_len(b), &out, &err),
                     KF_ERR_INVALID);
    assert_null(out);
    assert_non_null(strstr(err.msg, "principals"));

    rin.op = KF_OP_COMMIT;
    rin.version = 3;
    rin.count = 2;
    rout = response_round_trip(&rin);
    assert_int_equal(rout->count, 2);
    kf_proto_response_free(rout);

    assert_int_equal(kf_agent_state_commit(cs, p1, 8, 100, 10, NULL, princ, 2, NULL, 0, &err), KF_OK);
    assert_int_equal(kf_agent_state_commit(cs, p1, 9, 200, 10, NULL, princ, 2, NULL, 0, &err), KF_OK);
    memset(&rin, 0, sizeof(rin));
    rin.op = KF_OP_STATUS;
    rin.version = 3;
    st.version = empty;
    st.principal = empty;
    st.keytab = empty;
    st.group = empty;
    st.committed = cs;
    rin.status = &st;
    rout = response_round_trip(&rin);
    assert_non_null(rout->status->committed);
    assert_int_equal(rout->status->committed->n, 1);
    assert_string_equal(rout->status->committed->v[0].account, p1);
    assert_int_equal(rout->status->committed->v[0].n_commits, 2);
    assert_int_equal(rout->status->committed->v[0].commits[1].kvno, 9);
    assert_int_equal(rout->status->committed->v[0].commits[1].at, 200);
    kf_proto_response_free(rout);
    /* a version 2 STATUS has no committed list, and decodes as it always did */
    rin.version = 2;
    rout = response_round_trip(&rin);
    assert_null(rout->status->committed);
    kf_proto_response_free(rout);
    kf_agent_state_free(cs);
}

static void
test_malformed(void **state)
{
    struct kf_proto_request *r = NULL;
    struct kf_proto_response *s = NULL;
    struct kf_err err = {0};
    /* a version this build does not speak */
    static const uint8_t v2[] = {KF_PROTO_VERSION + 1, KF_OP_STATUS};
    /* unknown op */
    static const uint8_t op9[] = {1, 9};
    /* HELLO is no request */
    static const uint8_t hello[] = {1, 0};
    /* STAGE announcing 1025 entries */
    static const uint8_t many[] = {1, KF_OP_STAGE, 0, 0, 0, 2, 0, 0, 0x04, 0x01};
    /* STAGE with zero entries */
    static const uint8_t none[] = {1, KF_OP_STAGE, 0, 0, 0, 2, 0, 0, 0, 0};
    /* STAGE with a key of 65 bytes */
    uint8_t bigkey[2 + 4 + 4 + 4 + 1 + 12 + 4 + 65];
    /* CHECK whose principal holds a NUL */
    static const uint8_t nul[] = {1, KF_OP_CHECK, 0, 0, 0, 3, 'a', 0, 'b', 0, 0, 0, 1, 0x6e};
    /* CHECK whose token announces 4 GiB - 1 */
    static const uint8_t huge[] = {1, KF_OP_CHECK, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x6e};
    /* response with result 9 */
    static const uint8_t res9[] = {1, KF_OP_STAGE, 9, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t i = 0;

    (void)state;
    assert_int_equal(kf_proto_request_decode(v2, sizeof(v2), &r, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "version"));
    assert_int_equal(kf_proto_request_decode(op9, sizeof(op9), &r, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "operation"));
    assert_int_equal(kf_proto_request_decode(hello, sizeof(hello), &r, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_request_decode(many, sizeof(many), &r, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "entry count"));
    assert_int_equal(kf_proto_request_decode(none, sizeof(none), &r, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_request_decode(nul, sizeof(nul), &r, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_request_decode(huge, sizeof(huge), &r, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_response_decode(res9, sizeof(res9), &s, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_request_decode(NULL, 0, &r, &err), KF_ERR_INVALID);
    assert_null(r);
    assert_null(s);

    memset(bigkey, 0, sizeof(bigkey));
    bigkey[i++] = 1;
    bigkey[i++] = KF_OP_STAGE;
    i += 3;
    bigkey[i++] = 2; /* kvno */
    i += 3;
    bigkey[i++] = 1; /* count */
    i += 3;
    bigkey[i++] = 1; /* principal "x" */
    bigkey[i++] = 'x';
    i += 3;
    bigkey[i++] = 2;  /* kvno */
    i += 3;
    bigkey[i++] = 18; /* enctype */
    i += 4;           /* timestamp */
    i += 3;
    bigkey[i++] = 65; /* key length */
    assert_int_equal(i + 65, sizeof(bigkey));
    assert_int_equal(kf_proto_request_decode(bigkey, sizeof(bigkey), &r, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "entry key"));
}

static void
test_encoder_bounds(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_proto_request in = {0};
    struct kf_err err = {0};
    char longp[KF_KEYTAB_PRINCIPAL_MAX + 2];

    (void)state;
    in.op = KF_OP_STAGE; /* without keys */
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
    in.op = KF_OP_CHECK; /* without a token */
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    in.principal = longp;
    in.token = (uint8_t *)(uintptr_t)"x";
    in.token_len = 1;
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
    in.op = KF_OP_HELLO;
    assert_int_equal(kf_proto_request_encode(&in, b, &err), KF_ERR_INVALID);
}

static void
test_frames(void **state)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    static const uint8_t big[4] = {0, 0x10, 0, 1};  /* 1 MiB + 1 */
    static const uint8_t max[4] = {0, 0x10, 0, 0};  /* 1 MiB */
    static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(1024);
    enum kf_hs_kind kind;
    const uint8_t *data;
    size_t n;
    uint32_t len;

    (void)state;
    assert_int_equal(kf_proto_frame_len(zero, KF_PROTO_FRAME_MAX, &len, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_frame_len(big, KF_PROTO_FRAME_MAX, &len, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_frame_len(huge, KF_PROTO_FRAME_MAX, &len, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_frame_len(max, KF_PROTO_FRAME_MAX, &len, NULL), KF_OK);
    assert_int_equal(len, KF_PROTO_FRAME_MAX);
    assert_int_equal(kf_proto_frame_len(max, KF_PROTO_HANDSHAKE_FRAME_MAX, &len, NULL),
                     KF_ERR_INVALID);

    assert_int_equal(kf_proto_hs_encode(b, KF_HS_TOKEN, "tok", 3), KF_OK);
    assert_int_equal(kf_proto_frame_len(kf_buf_ptr(b), 100, &len, NULL), KF_OK);
    assert_int_equal(len, 8);
    assert_int_equal(kf_buf_skip(b, 4), KF_OK);
    assert_int_equal(kf_proto_hs_decode(kf_buf_ptr(b), len, &kind, &data, &n, NULL), KF_OK);
    assert_int_equal(kind, KF_HS_TOKEN);
    assert_int_equal(n, 3);
    assert_memory_equal(data, "tok", 3);
    assert_int_equal(kf_proto_hs_decode(kf_buf_ptr(b), len - 1, &kind, &data, &n, NULL),
                     KF_ERR_INVALID);
    {
        static const uint8_t kind3[] = {3, 0, 0, 0, 1, 'x'};
        static const uint8_t empty[] = {1, 0, 0, 0, 0};
        static const uint8_t nul[] = {2, 0, 0, 0, 1, 0};
        assert_int_equal(kf_proto_hs_decode(kind3, sizeof(kind3), &kind, &data, &n, NULL),
                         KF_ERR_INVALID);
        assert_int_equal(kf_proto_hs_decode(empty, sizeof(empty), &kind, &data, &n, NULL),
                         KF_ERR_INVALID);
        assert_int_equal(kf_proto_hs_decode(nul, sizeof(nul), &kind, &data, &n, NULL),
                         KF_ERR_INVALID);
    }
}

static void
test_token_apreq(void **state)
{
    /* a raw AP-REQ: [APPLICATION 14] with 3 content bytes */
    static const uint8_t raw[] = {0x6e, 0x03, 0x30, 0x01, 0x00};
    /* the same inside a GSSAPI krb5 initial context token */
    static const uint8_t gss[] = {0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
                                  0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x03, 0x30, 0x01, 0x00};
    /* wrong mechanism (last OID byte) */
    static const uint8_t other[] = {0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
                                    0x01, 0x02, 0x03, 0x01, 0x00, 0x6e, 0x03, 0x30, 0x01, 0x00};
    /* length beyond the data, long-form lengths */
    static const uint8_t over[] = {0x6e, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00};
    const uint8_t *p;
    size_t n;

    (void)state;
    assert_int_equal(kf_proto_token_apreq(raw, sizeof(raw), &p, &n, NULL), KF_OK);
    assert_ptr_equal(p, raw);
    assert_int_equal(n, 5);
    assert_int_equal(kf_proto_token_apreq(gss, sizeof(gss), &p, &n, NULL), KF_OK);
    assert_ptr_equal(p, gss + 15);
    assert_int_equal(n, 5);
    assert_int_equal(kf_proto_token_apreq(other, sizeof(other), &p, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_token_apreq(over, sizeof(over), &p, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_token_apreq(gss, sizeof(gss) - 1, &p, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_token_apreq(raw, 1, &p, &n, NULL), KF_ERR_INVALID);
}

/* Protocol versions (proto.h, VERSIONS): the HELLO of version 2 carries
 * the agent's highest; an operation this build does not know is decoded
 * from version 2 on (and answered UNSUPPORTED), refused in version 1. */
static void
test_versions(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_proto_response in = {0}, *out = NULL;
    struct kf_proto_request *r = NULL, req = {0};
    struct kf_err err = {0};
    /* op 200 in version 2, with a body this build cannot read */
    static const uint8_t op200[] = {2, 200, 0xde, 0xad};
    static const uint8_t op200v1[] = {1, 200};
    /* an UNSUPPORTED answer to op 200, and the same in version 1 */
    static const uint8_t unsup[] = {2, 200, KF_RES_UNSUPPORTED, 0, 0, 0, 0};
    static const uint8_t unsupv1[] = {1, 200, KF_RES_UNSUPPORTED, 0, 0, 0, 0};
    /* an unknown op answered OK */
    static const uint8_t okunknown[] = {2, 200, KF_RES_OK, 0, 0, 0, 0};
    /* a version 1 HELLO: what agents before version 2 send */
    static const uint8_t hello1[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'c',
                                     0, 0, 0, 1, 'a', 0, 0, 0, 1, '1'};

    (void)state;
    in.version = 2;
    in.op = KF_OP_HELLO;
    in.client = (char *)(uintptr_t)"kfadmin@LAB.TEST";
    in.agent_principal = (char *)(uintptr_t)"host/fe01.lab.test@LAB.TEST";
    in.agent_version = (char *)(uintptr_t)"0.2.0";
    in.agent_proto = 7;
    assert_int_equal(kf_proto_response_encode(&in, b, &err), KF_OK);
    assert_int_equal(kf_buf_ptr(b)[0], 2);
    prefixes_refused(b, false);
    assert_int_equal(kf_proto_response_decode(kf_buf_ptr(b), kf_buf_len(b), &out, &err), KF_OK);
    assert_int_equal(out->version, 2);
    assert_int_equal(out->agent_proto, 7);
    kf_proto_response_free(out);
    in.agent_proto = 1; /* a HELLO of version 2 from an agent of version 1: nonsense */
    kf_buf_reset(b);
    assert_int_equal(kf_proto_response_encode(&in, b, &err), KF_ERR_INVALID);
    assert_int_equal(kf_proto_response_decode(hello1, sizeof(hello1), &out, &err), KF_OK);
    assert_int_equal(out->version, 1);
    assert_int_equal(out->agent_proto, 1);
    kf_proto_response_free(out);

    assert_int_equal(kf_proto_request_decode(op200, sizeof(op200), &r, &err), KF_OK);
    assert_int_equal(r->version, 2);
    assert_int_equal(r->op, 200);
    assert_int_equal(kf_proto_op_since(r->op), 0);
    kf_proto_request_free(r);
    assert_int_equal(kf_proto_request_decode(op200v1, sizeof(op200v1), &r, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "operation"));
    assert_int_equal(kf_proto_response_decode(unsup, sizeof(unsup), &out, &err), KF_OK);
    assert_int_equal(out->result, KF_RES_UNSUPPORTED);
    kf_proto_response_free(out);
    assert_int_equal(kf_proto_response_decode(unsupv1, sizeof(unsupv1), &out, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_proto_response_decode(okunknown, sizeof(okunknown), &out, &err),
                     KF_ERR_INVALID);
    /* the agent's answer to it round-trips; only UNSUPPORTED may echo it */
    memset(&in, 0, sizeof(in));
    in.version = 2;
    in.op = (enum kf_proto_op)200;
    in.result = KF_RES_UNSUPPORTED;
    kf_buf_reset(b);
    assert_int_equal(kf_proto_response_encode(&in, b, &err), KF_OK);
    assert_int_equal(kf_buf_len(b), sizeof(unsup));
    assert_memory_equal(kf_buf_ptr(b), unsup, sizeof(unsup));
    in.result = KF_RES_FAILED;
    assert_int_equal(kf_proto_response_encode(&in, b, &err), KF_ERR_INVALID);
    in.version = 1;
    in.result = KF_RES_UNSUPPORTED;
    assert_int_equal(kf_proto_response_encode(&in, b, &err), KF_ERR_INVALID);
    /* a client never sends what it does not know, nor a version it does not speak */
    req.version = 2;
    req.op = (enum kf_proto_op)200;
    assert_int_equal(kf_proto_request_encode(&req, b, &err), KF_ERR_INVALID);
    req.op = KF_OP_STATUS;
    req.version = KF_PROTO_VERSION + 1;
    assert_int_equal(kf_proto_request_encode(&req, b, &err), KF_ERR_INVALID);
    req.version = 0; /* 0 is version 1, what every agent reads */
    kf_buf_reset(b);
    assert_int_equal(kf_proto_request_encode(&req, b, &err), KF_OK);
    assert_int_equal(kf_buf_ptr(b)[0], 1);
    assert_int_equal(kf_proto_op_since(KF_OP_CHECK), 1);
}

/* KF_HS_OPEN: version, flags, token; refused below version 2, truncated or
 * with trailing bytes, and by the agent-to-client decoder. */
static void
test_hs_open(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(1024);
    struct kf_hs_frame f;
    enum kf_hs_kind kind;
    const uint8_t *data;
    size_t n;
    uint32_t len;
    static const uint8_t v1[] = {3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'x'};
    static const uint8_t tok[] = {1, 0, 0, 0, 1, 'x'};

    (void)state;
    assert_int_equal(kf_proto_hs_open_encode(b, 1, 0, "tok", 3), KF_ERR_INVALID);
    assert_int_equal(kf_proto_hs_open_encode(b, 2, 0, "", 0), KF_ERR_INVALID);
    assert_int_equal(kf_proto_hs_open_encode(b, 9, KF_HS_WANT_STATUS | 0x80u, "tok", 3), KF_OK);
    assert_int_equal(kf_proto_frame_len(kf_buf_ptr(b), 100, &len, NULL), KF_OK);
    assert_int_equal(len, 1 + 4 + 4 + 4 + 3);
    assert_int_equal(kf_buf_skip(b, 4), KF_OK);
    assert_int_equal(kf_proto_hs_parse(kf_buf_ptr(b), len, &f, NULL), KF_OK);
    assert_int_equal(f.kind, KF_HS_OPEN);
    assert_int_equal(f.version, 9);
    assert_int_equal(f.flags, KF_HS_WANT_STATUS | 0x80u);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.data, "tok", 3);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(kf_proto_hs_parse(kf_buf_ptr(b), i, &f, NULL), KF_ERR_INVALID);
    /* what an agent sends is never an OPEN */
    assert_int_equal(kf_proto_hs_decode(kf_buf_ptr(b), len, &kind, &data, &n, NULL),
                     KF_ERR_INVALID);
    assert_int_equal(kf_proto_hs_parse(v1, sizeof(v1), &f, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_proto_hs_parse(tok, sizeof(tok), &f, NULL), KF_OK);
    assert_int_equal(f.kind, KF_HS_TOKEN);
    assert_int_equal(f.version, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),      cmocka_unit_test(test_responses),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_encoder_bounds),
        cmocka_unit_test(test_frames),        cmocka_unit_test(test_token_apreq),
        cmocka_unit_test(test_versions),      cmocka_unit_test(test_hs_open),
        cmocka_unit_test(test_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
