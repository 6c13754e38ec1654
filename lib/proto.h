/* proto.h - the krbfleet agent protocol: frames, GSSAPI sealing, messages.
 *
 * Spoken over TCP between the krbfleet CLI (client) and krbfleetd (agent).
 *
 * FRAMES. Every message is a frame: a u32 big-endian length N, then N bytes,
 * 1 <= N <= KF_PROTO_FRAME_MAX (1 MiB). Before authentication the agent
 * accepts only frames up to KF_PROTO_HANDSHAKE_FRAME_MAX (64 KiB). A frame
 * whose length is 0 or over the limit ends the connection.
 *
 * PHASE 1, handshake. The client initiates a GSSAPI (krb5 mechanism)
 * context to host/<agent-fqdn> with GSS_C_MUTUAL_FLAG, GSS_C_CONF_FLAG,
 * GSS_C_INTEG_FLAG, GSS_C_REPLAY_FLAG and GSS_C_SEQUENCE_FLAG. Each
 * handshake frame is
 *     u8 kind, string data                         (KF_HS_TOKEN, KF_HS_ERROR)
 *     u8 kind, u32 version, u32 flags, string data (KF_HS_OPEN)
 * kind KF_HS_TOKEN carries a context token (client -> agent and agent ->
 * client); kind KF_HS_ERROR (agent -> client only) a message saying why the
 * agent gave up, after which it closes. KF_HS_OPEN (client -> agent, first
 * frame only, protocol version 2 on) carries the first token with the
 * client's highest protocol version (>= 2) and flags (KF_HS_WANT_STATUS;
 * unknown bits are ignored). A version 1 client opens with KF_HS_TOKEN.
 * At most KF_PROTO_HANDSHAKE_ROUNDS tokens go each way (krb5 needs one:
 * AP-REQ, then AP-REP). Both sides require mutual authentication,
 * confidentiality and integrity in the established context. The agent then
 * sends one sealed HELLO response (below) saying whether the client is
 * authorised; if not, it closes. With KF_HS_WANT_STATUS and an authorised
 * client, a sealed STATUS response follows the HELLO in the same write as
 * the last context token: one round trip after TCP's.
 *
 * VERSIONS. The connection's version is the lower of the client's highest
 * (1 for KF_HS_TOKEN, else KF_HS_OPEN's) and the agent's highest
 * (KF_PROTO_VERSION); both sides put it in every sealed message, and the
 * client learns it from the HELLO (version 2 on: the agent's highest is
 * in its body). An agent that predates KF_HS_OPEN closes at such a frame;
 * the client then connects again with KF_HS_TOKEN (version 1). An
 * operation or field is added only with a new version: kf_proto_op_since
 * says which version brought each operation, and a client sends one only
 * on a connection of that version or higher. From version 2 on an agent
 * answers an operation it does not know with UNSUPPORTED (op echoed, no
 * body) and the connection stays open; a version 1 agent answers INVALID
 * and closes.
 *
 * PHASE 2, sealed messages. Each frame is one gss_wrap token with
 * confidentiality (conf_state is checked on both sides: an unsealed token
 * ends the connection). Plaintext requests and responses are:
 *     request:  u8 version, u8 op, body
 *     response: u8 version, u8 op, u8 result, string message, body
 * One response per request, in order. The body is present only when
 * result is KF_RES_OK (HELLO: always). A string is a u32 length and bytes;
 * every count and length has a maximum (below) and a message with trailing
 * bytes is malformed. GSSAPI per-message tokens carry sequence numbers and
 * a direction flag, so a message cannot be replayed, reordered or reflected.
 *
 *   op        request body                     response body
 *   HELLO     (none; sent by the agent)        string client principal,
 *                                              string agent principal,
 *                                              string agent version,
 *                                              u32 agent's highest protocol
 *                                              version (version 2 on)
 *   STATUS    (none)                           u64 agent time (ms since epoch),
 *                                              string agent version,
 *                                              string agent principal,
 *                                              string keytab path,
 *                                              u8 exists, u32 uid, u32 gid,
 *                                              string group name, u32 mode,
 *                                              u64 mtime (s), u64 size,
 *                                              entries without keys,
 *                                              (version 3 on) u32 accounts,
 *                                              each string account, u32 n,
 *                                              n x (u32 kvno, u64 time):
 *                                              the committed kvnos
 *   STAGE     u32 kvno, entries with keys      u32 entries in the keytab now
 *   WITHDRAW  u32 kvno                         u32 entries removed
 *   PRUNE     u32 kvno (remove those below)    u32 entries removed
 *   EXPORT    (none)                           entries with keys
 *   CHECK     string principal ("" any),       u8 accepted, u32 kvno,
 *             string token (AP-REQ or GSS      u32 ticket kvno, u32 enctype,
 *             krb5 initial context token)      string server, string client,
 *                                              string reason
 *
 *   COMMIT    (version 3 on)
 *             string account (NAME$@REALM),    u32 committed kvnos the agent
 *             u32 kvno, u32 grace (s),         now keeps for the account
 *             string members group ("" none)
 *             u32 n, n x string principal
 *             (the managed ones, 1..512),
 *             u32 m, m x string server
 *             ("fqdn" or "fqdn:port", 0..4096)
 *
 *   entries:  u32 count (<= KF_KEYTAB_ENTRIES_MAX), then each
 *             string principal (<= KF_KEYTAB_PRINCIPAL_MAX), u32 kvno,
 *             u32 enctype, u32 timestamp, string key (<= KF_KEY_MAX;
 *             empty in STATUS)
 *
 * The encoders and decoders are pure (no I/O, no global state) and take
 * bytes, so they can be fuzzed (tests/fuzz/fuzz_agent_frame.c). Buffers
 * that may hold keys are secret (kf_buf_set_secret) and wiped.
 */
#ifndef KF_PROTO_H
#define KF_PROTO_H

#include <gssapi/gssapi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentstate.h"
#include "buf.h"
#include "errors.h"
#include "keys.h"
#include "keytab.h"

/* The highest protocol version this build speaks, and the lowest (the
 * first agents and CLIs, which open with KF_HS_TOKEN). */
#define KF_PROTO_VERSION 3
#define KF_PROTO_VERSION_MIN 1
#define KF_PROTO_PORT 7390
#define KF_PROTO_FRAME_MAX (1024 * 1024)
#define KF_PROTO_HANDSHAKE_FRAME_MAX (64 * 1024)
#define KF_PROTO_HANDSHAKE_ROUNDS 4
#define KF_PROTO_TOKEN_MAX (KF_PROTO_HANDSHAKE_FRAME_MAX - 16) /* GSS or AP-REQ token */
#define KF_PROTO_STRING_MAX 1024 /* messages, versions, paths, group names */
/* A plaintext message: the largest STATUS/EXPORT/STAGE, with room for the
 * wrap token's overhead inside a frame. */
#define KF_PROTO_PLAIN_MAX (KF_PROTO_FRAME_MAX - 4096)

enum kf_hs_kind {
    KF_HS_TOKEN = 1,
    KF_HS_ERROR = 2,
    KF_HS_OPEN = 3, /* version 2 on: the client's first token, version, flags */
};

/* KF_HS_OPEN flags */
#define KF_HS_WANT_STATUS 0x1u /* send STATUS right after an OK HELLO */

enum kf_proto_op {
    KF_OP_HELLO = 0,
    KF_OP_STATUS = 1,
    KF_OP_STAGE = 2,
    KF_OP_WITHDRAW = 3,
    KF_OP_PRUNE = 4,
    KF_OP_EXPORT = 5,
    KF_OP_CHECK = 6,
    KF_OP_COMMIT = 7,
};

enum kf_proto_result {
    KF_RES_OK = 0,
    KF_RES_DENIED = 1,      /* not authorised */
    KF_RES_INVALID = 2,     /* the request is malformed or its values are wrong */
    KF_RES_FAILED = 3,      /* the agent could not do it (keytab I/O...) */
    KF_RES_UNSUPPORTED = 4, /* unknown operation or version */
};

/* "STATUS", "STAGE"...; "unknown operation" for others. */
const char *kf_proto_op_name(unsigned op);

/* The protocol version that brought OP (1 for HELLO..CHECK), 0 if this
 * build does not know OP. */
unsigned kf_proto_op_since(unsigned op);

/* --- frames ----------------------------------------------------------- */

/* Length announced by a frame header HDR (4 bytes), checked to be within
 * 1..MAX. Errors: KF_ERR_INVALID. */
kf_status kf_proto_frame_len(const uint8_t hdr[4], size_t max, uint32_t *len,
                             struct kf_err *err);

/* Append a frame holding BODY (LEN bytes, 1..KF_PROTO_FRAME_MAX) to OUT. */
kf_status kf_proto_frame_put(struct kf_buf *out, const void *body, size_t len);

/* A handshake frame body: kind and data (a token or an error message). */
kf_status kf_proto_hs_encode(struct kf_buf *out, enum kf_hs_kind kind, const void *data,
                             size_t len);
/* A KF_HS_OPEN frame: VERSION (2..), FLAGS and the first TOKEN. */
kf_status kf_proto_hs_open_encode(struct kf_buf *out, uint32_t version, uint32_t flags,
                                  const void *token, size_t len);
/* Decode a handshake frame body of LEN bytes at P, of kind KF_HS_TOKEN or
 * KF_HS_ERROR (what an agent sends): *DATA points into P.
 * Errors: KF_ERR_INVALID (unknown kind, bad length, trailing bytes, an
 * error message with a NUL or over KF_PROTO_STRING_MAX). */
kf_status kf_proto_hs_decode(const uint8_t *p, size_t len, enum kf_hs_kind *kind,
                             const uint8_t **data, size_t *data_len, struct kf_err *err);

/* A handshake frame of any kind (what a client sends). */
struct kf_hs_frame {
    enum kf_hs_kind kind;
    uint32_t version;     /* KF_HS_OPEN: the client's highest (>= 2); else 1 */
    uint32_t flags;       /* KF_HS_OPEN: as sent, unknown bits included */
    const uint8_t *data;  /* the token or message, pointing into the input */
    size_t len;
};
/* Decode a handshake frame body of any kind into *F. Errors: as
 * kf_proto_hs_decode, and a KF_HS_OPEN version below 2. */
kf_status kf_proto_hs_parse(const uint8_t *p, size_t len, struct kf_hs_frame *f,
                            struct kf_err *err);

/* --- messages --------------------------------------------------------- */

struct kf_proto_request {
    unsigned version;        /* of the connection; 0 encodes as 1 */
    enum kf_proto_op op;     /* decoded: may be one this build does not know
                              * (version 2 on; its body is not read) */
    uint32_t kvno;           /* STAGE, WITHDRAW, PRUNE */
    struct kf_keyset *keys;  /* STAGE: the entries (their kvno is ignored) */
    char *principal;         /* CHECK: "" for any */
    uint8_t *token;          /* CHECK */
    size_t token_len;
    /* COMMIT: ACCOUNT's KVNO is the directory's (kvno above) */
    char *account;           /* NAME$@REALM */
    uint32_t grace_s;        /* keep older committed sets this long */
    char *members_group;     /* "DOMAIN\\group" whose computers may fetch; "" none */
    char **principals;       /* the account's managed principals */
    size_t n_principals;
    char **servers;          /* the account's servers, "fqdn" or "fqdn:port" */
    size_t n_servers;
};

/* The agent's STATUS answer. */
struct kf_agent_status {
    int64_t time_ms;        /* the agent's clock, ms since the epoch */
    char *version;          /* krbfleetd version */
    char *principal;        /* the agent's own principal (host/FQDN@REALM) */
    char *keytab;           /* path of the web keytab */
    struct kf_keytab_info file; /* exists, uid, gid, mode, mtime, size */
    char *group;            /* name of the file's group, "" if unknown */
    struct kf_keyset *entries; /* principal, kvno, enctype, timestamp; key_len 0 */
    struct kf_agent_state *committed; /* COMMITs kept (accounts, kvnos, times; no principals
                                       * or servers); NULL from agents before COMMIT */
    int64_t skew_ms;        /* filled by the client: agent clock minus ours */
};
void kf_agent_status_free(struct kf_agent_status *s); /* accepts NULL */
KF_DEFINE_CLEANUP(struct kf_agent_status, kf_agent_status_free)

struct kf_proto_response {
    unsigned version;       /* of the connection; 0 encodes as 1 */
    enum kf_proto_op op;    /* unknown ones only with UNSUPPORTED (version 2 on) */
    enum kf_proto_result result;
    char *message;          /* why, when result is not OK; may be "" */
    /* HELLO */
    char *client;           /* the client's principal as the agent saw it */
    char *agent_principal;
    char *agent_version;
    uint32_t agent_proto;   /* the agent's highest protocol version (1 before 2) */
    /* STATUS */
    struct kf_agent_status *status;
    /* STAGE: entries in the keytab now; WITHDRAW, PRUNE: entries removed;
     * COMMIT: committed kvnos kept for the account */
    uint32_t count;
    /* EXPORT */
    struct kf_keyset *keys;
    /* CHECK */
    struct kf_keytab_check check;
};

/* Free R and everything it owns (keys wiped). Accept NULL. */
void kf_proto_request_free(struct kf_proto_request *r);
void kf_proto_response_free(struct kf_proto_response *r);
KF_DEFINE_CLEANUP(struct kf_proto_request, kf_proto_request_free)
KF_DEFINE_CLEANUP(struct kf_proto_response, kf_proto_response_free)

/* Append the plaintext of R to OUT (make OUT secret for STAGE/EXPORT).
 * Errors: KF_ERR_INVALID (a field over its maximum, unknown op),
 * KF_ERR_NOMEM. */
kf_status kf_proto_request_encode(const struct kf_proto_request *r, struct kf_buf *out,
                                  struct kf_err *err);
kf_status kf_proto_response_encode(const struct kf_proto_response *r, struct kf_buf *out,
                                   struct kf_err *err);

/* Decode a plaintext request / response of LEN bytes at P into a new
 * message stored in *OUT (free with kf_proto_*_free); nothing is stored
 * on failure. Errors: KF_ERR_INVALID with the reason (wrong version,
 * unknown op or result, a count or length over its maximum, truncated,
 * trailing bytes, NUL in a string), KF_ERR_NOMEM. */
kf_status kf_proto_request_decode(const uint8_t *p, size_t len, struct kf_proto_request **out,
                                  struct kf_err *err);
kf_status kf_proto_response_decode(const uint8_t *p, size_t len, struct kf_proto_response **out,
                                   struct kf_err *err);

/* The AP-REQ inside TOKEN: TOKEN itself if it is one (DER [APPLICATION 14]),
 * or the AP-REQ of a GSSAPI krb5 initial context token (RFC 1964/4121:
 * [APPLICATION 0] { OID 1.2.840.113554.1.2.2, 01 00, AP-REQ }). *APREQ
 * points into TOKEN. Errors: KF_ERR_INVALID. */
kf_status kf_proto_token_apreq(const uint8_t *token, size_t len, const uint8_t **apreq,
                               size_t *apreq_len, struct kf_err *err);

/* --- GSSAPI ----------------------------------------------------------- */

/* Record a GSSAPI failure (major and minor status, both translated) in ERR
 * with CODE and the context WHAT; returns CODE. */
kf_status kf_gss_err(struct kf_err *err, kf_status code, OM_uint32 major, OM_uint32 minor,
                     const char *what);

/* gss_wrap PLAIN with confidentiality and append it to OUT as a frame.
 * Errors: KF_ERR_UNEXPECTED (GSSAPI failed or did not seal), KF_ERR_INVALID
 * (too large), KF_ERR_NOMEM. */
kf_status kf_proto_seal(gss_ctx_id_t ctx, const struct kf_buf *plain, struct kf_buf *out,
                        struct kf_err *err);

/* gss_unwrap the frame body at P (LEN bytes) into PLAIN (made secret; the
 * GSSAPI copy is wiped). Refuses tokens that were not sealed, replayed or
 * out of order. Errors: KF_ERR_INVALID. */
kf_status kf_proto_unseal(gss_ctx_id_t ctx, const uint8_t *p, size_t len, struct kf_buf *plain,
                          struct kf_err *err);

#endif
