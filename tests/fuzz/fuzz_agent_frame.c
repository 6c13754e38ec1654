/* fuzz_agent_frame.c - every decoder of the agent protocol on arbitrary
 * bytes: frame headers, handshake frames, requests, responses, and the
 * Kerberos token parser of CHECK; every protocol version (proto.h,
 * VERSIONS): the KF_HS_OPEN frame, version 2 HELLOs, unknown operations.
 *
 * Besides the sanitizers' findings: what decodes must stay within its
 * documented bounds and must re-encode to exactly the same bytes (the
 * encoding is canonical); what fails must say so with KF_ERR_INVALID (or
 * NOMEM) and leave no message behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void
check_keys(const struct kf_keyset *ks, bool with_keys)
{
    check(ks != NULL && ks->n <= KF_KEYTAB_ENTRIES_MAX);
    for (size_t i = 0; i < ks->n; i++) {
        check(ks->v[i].principal != NULL && ks->v[i].principal[0] != '\0');
        check(strlen(ks->v[i].principal) <= KF_KEYTAB_PRINCIPAL_MAX);
        check(ks->v[i].key_len <= (with_keys ? KF_KEY_MAX : 0));
    }
}

/* Encoding what was decoded gives back the input. */
static void
same_bytes(const struct kf_buf *b, const uint8_t *data, size_t size)
{
    check(kf_buf_len(b) == size && memcmp(kf_buf_ptr(b), data, size) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kf_proto_request *req = NULL;
    struct kf_proto_response *resp = NULL;
    struct kf_err err = {0};
    struct kf_buf *b;
    kf_status st;

    /* frame header */
    if (size >= 4) {
        uint32_t len = 0;
        if (kf_proto_frame_len(data, KF_PROTO_FRAME_MAX, &len, NULL) == KF_OK)
            check(len >= 1 && len <= KF_PROTO_FRAME_MAX);
    }

    /* handshake frame body */
    {
        enum kf_hs_kind kind;
        const uint8_t *d = NULL;
        size_t n = 0;
        if (kf_proto_hs_decode(data, size, &kind, &d, &n, NULL) == KF_OK) {
            check(kind == KF_HS_TOKEN || kind == KF_HS_ERROR);
            check(d >= data && d + n <= data + size && n == size - 5);
        }
    }

    /* any handshake frame (what an agent reads) */
    {
        struct kf_hs_frame f;
        if (kf_proto_hs_parse(data, size, &f, NULL) == KF_OK) {
            size_t head = f.kind == KF_HS_OPEN ? 13 : 5;
            check(f.kind == KF_HS_TOKEN || f.kind == KF_HS_ERROR || f.kind == KF_HS_OPEN);
            check(f.data >= data && f.data + f.len <= data + size && f.len == size - head);
            check(f.kind == KF_HS_OPEN ? f.version >= 2 : f.version == 1);
            check(f.kind == KF_HS_ERROR || f.len >= 1);
            if (f.kind == KF_HS_OPEN) {
                b = kf_buf_new(KF_PROTO_HANDSHAKE_FRAME_MAX + 4);
                check(b != NULL);
                check(kf_proto_hs_open_encode(b, f.version, f.flags, f.data, f.len) == KF_OK);
                check(kf_buf_skip(b, 4) == KF_OK);
                same_bytes(b, data, size);
                kf_buf_free(b);
            }
        }
    }

    /* request */
    st = kf_proto_request_decode(data, size, &req, &err);
    if (st == KF_OK && kf_proto_op_since(req->op) == 0) {
        /* an operation of a newer version: decoded only from version 2 on,
         * its body unread; the agent answers it UNSUPPORTED */
        check(req->version >= 2 && req->version <= KF_PROTO_VERSION && req->op != KF_OP_HELLO);
        check(req->keys == NULL && req->token == NULL && req->principal == NULL);
        kf_proto_request_free(req);
    } else if (st == KF_OK) {
        check(req != NULL && req->op >= KF_OP_STATUS && req->op <= KF_OP_COMMIT);
        check(req->version >= KF_PROTO_VERSION_MIN && req->version <= KF_PROTO_VERSION);
        if (req->op == KF_OP_STAGE)
            check_keys(req->keys, true);
        if (req->op == KF_OP_CHECK)
            check(req->token_len >= 1 && req->token_len <= KF_PROTO_TOKEN_MAX);
        b = kf_buf_new(KF_PROTO_PLAIN_MAX);
        check(b != NULL);
        check(kf_proto_request_encode(req, b, NULL) == KF_OK);
        same_bytes(b, data, size);
        kf_buf_free(b);
        kf_proto_request_free(req);
    } else {
        check(req == NULL && (st == KF_ERR_INVALID || st == KF_ERR_NOMEM) && err.code == st);
    }

    /* response */
    st = kf_proto_response_decode(data, size, &resp, &err);
    if (st == KF_OK) {
        check(resp != NULL && resp->result <= KF_RES_UNSUPPORTED);
        check(resp->version >= KF_PROTO_VERSION_MIN && resp->version <= KF_PROTO_VERSION);
        check(kf_proto_op_since(resp->op) != 0 ||
              (resp->version >= 2 && resp->result == KF_RES_UNSUPPORTED));
        if (resp->op == KF_OP_HELLO)
            check(resp->agent_proto >= resp->version);
        if (resp->keys != NULL)
            check_keys(resp->keys, true);
        if (resp->status != NULL)
            check_keys(resp->status->entries, false);
        b = kf_buf_new(KF_PROTO_PLAIN_MAX);
        check(b != NULL);
        check(kf_proto_response_encode(resp, b, NULL) == KF_OK);
        same_bytes(b, data, size);
        kf_buf_free(b);
        kf_proto_response_free(resp);
    } else {
        check(resp == NULL && (st == KF_ERR_INVALID || st == KF_ERR_NOMEM));
    }

    /* the Kerberos token of CHECK */
    {
        const uint8_t *ap = NULL;
        size_t n = 0;
        if (kf_proto_token_apreq(data, size, &ap, &n, NULL) == KF_OK)
            check(ap >= data && n >= 2 && ap + n <= data + size && ap[0] == 0x6e);
    }
    return 0;
}
