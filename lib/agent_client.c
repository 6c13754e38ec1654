/* agent_client.c - one sealed connection to one krbfleetd (agent_client.h). */
#include "agent_client.h"

#include <errno.h>
#include <fcntl.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kdc_gate.h"
#include "krb5pin.h"
#include "tickets.h"

struct kf_agent {
    int fd;               /* -1 once the connection is lost */
    int timeout_s;
    char *server;         /* server FQDN */
    char *where;          /* "address:port" */
    gss_ctx_id_t ctx;
    char *client;         /* our principal, as the agent saw it */
    char *agent_principal;
    char *agent_version;
    unsigned version;     /* the connection's protocol version */
    unsigned opened;      /* the version the handshake opened with */
    bool peer_closed;     /* the agent closed the connection (EOF or reset) */
    bool hs_refused;      /* the agent refused our token (KF_HS_ERROR) */
    /* The STATUS that came with the HELLO (version 2 on), and our clock
     * when the handshake began and when it came: kf_agent_status answers
     * with it unless another request was made since. */
    struct kf_proto_response *first_status;
    int64_t first_t0, first_t1;
};

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
lose(struct kf_agent *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

static kf_status
unreachable(struct kf_agent *a, struct kf_err *err, const char *what)
{
    lose(a);
    return kf_err_set(err, KF_ERR_AGENT,
                      "krbfleetd on %s (%s) %s; is krbfleetd running on %s and listening on %s?",
                      a->server, a->where, what, a->server, a->where);
}

/* Wait for EVENTS on the socket until DEADLINE (monotonic ms). */
static kf_status
wait_fd(struct kf_agent *a, short events, int64_t deadline, struct kf_err *err)
{
    for (;;) {
        struct pollfd p = {.fd = a->fd, .events = events};
        int64_t left = deadline - now_ms();
        char what[64];
        int r;

        if (left <= 0) {
            snprintf(what, sizeof(what), "did not answer within %d s", a->timeout_s);
            return unreachable(a, err, what);
        }
        r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return unreachable(a, err, "could not be polled");
        if (r > 0)
            return KF_OK;
    }
}

static kf_status
send_all(struct kf_agent *a, const uint8_t *p, size_t n, int64_t deadline, struct kf_err *err)
{
    while (n > 0) {
        ssize_t w = send(a->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            kf_status st = wait_fd(a, POLLOUT, deadline, err);
            if (st != KF_OK)
                return st;
            continue;
        }
        if (w < 0) {
            char what[160];
            snprintf(what, sizeof(what), "closed the connection (%s)", strerror(errno));
            return unreachable(a, err, what);
        }
        p += w;
        n -= (size_t)w;
    }
    return KF_OK;
}

static kf_status
recv_all(struct kf_agent *a, uint8_t *p, size_t n, int64_t deadline, struct kf_err *err)
{
    while (n > 0) {
        ssize_t r = recv(a->fd, p, n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            kf_status st = wait_fd(a, POLLIN, deadline, err);
            if (st != KF_OK)
                return st;
            continue;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            a->peer_closed = true;
        if (r <= 0) {
            char what[160];
            snprintf(what, sizeof(what), "closed the connection%s%s%s", r < 0 ? " (" : "",
                     r < 0 ? strerror(errno) : "", r < 0 ? ")" : "");
            return unreachable(a, err, what);
        }
        p += r;
        n -= (size_t)r;
    }
    return KF_OK;
}

/* Read one frame of at most MAX bytes into OUT (reset first). */
static kf_status
recv_frame(struct kf_agent *a, size_t max, struct kf_buf *out, int64_t deadline,
           struct kf_err *err)
{
    uint8_t hdr[4];
    uint8_t *body;
    uint32_t len;
    kf_status st;

    st = recv_all(a, hdr, sizeof(hdr), deadline, err);
    if (st != KF_OK)
        return st;
    if (kf_proto_frame_len(hdr, max, &len, err) != KF_OK) {
        lose(a);
        return kf_err_prefix(err, "krbfleetd on %s (%s) sent a bad frame", a->server, a->where);
    }
    body = malloc(len);
    if (body == NULL) {
        lose(a);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    st = recv_all(a, body, len, deadline, err);
    kf_buf_reset(out);
    if (st == KF_OK && kf_buf_put(out, body, len) != KF_OK)
        st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    free(body);
    return st;
}

static kf_status
tcp_connect(struct kf_agent *a, const char *host, int port, int64_t deadline, struct kf_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16], what[300];
    int gai, last = 0;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(what, sizeof(what), "cannot be found: %s", gai_strerror(gai));
        return unreachable(a, err, what);
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int so = 0;
        socklen_t sl = sizeof(so);
        struct pollfd p;
        int r;

        a->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (a->fd < 0) {
            last = errno;
            continue;
        }
        if (connect(a->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return KF_OK;
        }
        if (errno != EINPROGRESS) {
            last = errno;
            lose(a);
            continue;
        }
        for (;;) {
            int64_t left = deadline - now_ms();
            p.fd = a->fd;
            p.events = POLLOUT;
            r = left <= 0 ? 0 : poll(&p, 1, (int)(left > 60000 ? 60000 : left));
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 && left > 60000)
                continue;
            break;
        }
        if (r > 0 && getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0) {
            freeaddrinfo(res);
            return KF_OK;
        }
        last = r == 0 ? ETIMEDOUT : so != 0 ? so : errno;
        lose(a);
    }
    freeaddrinfo(res);
    snprintf(what, sizeof(what), "is unreachable (%s)", strerror(last != 0 ? last : ECONNREFUSED));
    return unreachable(a, err, what);
}

/* Classify a failed gss_init_sec_context. */
static kf_status
init_failed(struct kf_agent *a, OM_uint32 maj, OM_uint32 min, struct kf_err *err)
{
    char what[300];
    kf_status code = KF_ERR_AGENT;
    const char *hint = "";

    switch ((krb5_error_code)min) {
    case KRB5_FCC_NOFILE:
    case KRB5_CC_NOTFOUND:
    case KRB5_CC_NOSUPP:
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
    case KRB5_CC_END:
        code = KF_ERR_CREDENTIALS;
        hint = "; run kinit (or set KRB5CCNAME) and try again";
        break;
    case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
        hint = "; the KDC does not know that host principal: is the server joined, and is "
               "the FQDN right?";
        break;
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_UNKNOWN:
    case KRB5_REALM_CANT_RESOLVE:
        code = KF_ERR_KDC;
        break;
    default:
        if (maj == GSS_S_NO_CRED) {
            code = KF_ERR_CREDENTIALS;
            hint = "; run kinit (or set KRB5CCNAME) and try again";
        }
        break;
    }
    lose(a);
    snprintf(what, sizeof(what), "cannot authenticate to krbfleetd on %s as host/%s", a->server,
             a->server);
    kf_gss_err(err, code, maj, min, what);
    if (hint[0] != '\0' && err != NULL) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof(err->msg) - used, "%s", hint);
    }
    return code;
}

/* A GSSAPI initiator credential over a MEMORY ccache holding a copy of the
 * caller's TGT (from the default ccache), so the service ticket for
 * host/<server> is asked for here and never written to the caller's cache.
 * With a FILE ccache every lookup reads (and locks, entry by entry) the
 * whole file, and a rotation adding one host ticket per agent made that
 * quadratic: 1,000 agents cost ~10 s of system time in fcntl locks and
 * reads, and left a 1.3 MB cache that slowed every later Kerberos call.
 * The ccache is the process's shared one of tickets.h when in use (the
 * ticket then comes from there while it is valid; *CACHED says so), else
 * a private one of this connection (*MEM, destroyed by private_cred_done).
 * Leaves *CRED as GSS_C_NO_CREDENTIAL (use the default ccache as it is)
 * when there is no TGT to copy, so errors are then reported as before.
 * Free with private_cred_done. */
static void
private_cred(const char *server, krb5_context *kctx, krb5_ccache *mem, gss_cred_id_t *cred,
             bool *cached)
{
    krb5_ccache def = NULL, cc = NULL, shared = NULL;
    krb5_principal client = NULL, tgs = NULL, svc = NULL;
    krb5_creds match, tgt, got, *ticket = NULL;
    const krb5_data *realm;
    char name[300];
    gss_key_value_element_desc elem = {"ccache", name};
    gss_key_value_set_desc store = {1, &elem};
    gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
    OM_uint32 maj, min;

    *kctx = NULL;
    *mem = NULL;
    *cred = GSS_C_NO_CREDENTIAL;
    *cached = false;
    memset(&match, 0, sizeof(match));
    memset(&tgt, 0, sizeof(tgt));
    memset(&got, 0, sizeof(got));
    if (krb5_init_context(kctx) != 0) {
        *kctx = NULL;
        return;
    }
    if (krb5_cc_default(*kctx, &def) != 0 || krb5_cc_get_principal(*kctx, def, &client) != 0)
        goto out;
    realm = krb5_princ_realm(*kctx, client);
    if (krb5_build_principal_ext(*kctx, &tgs, realm->length, realm->data, 6, "krbtgt",
                                 realm->length, realm->data, 0) != 0)
        goto out;
    match.client = client;
    match.server = tgs;
    if (krb5_cc_retrieve_cred(*kctx, def, 0, &match, &tgt) != 0)
        goto out;
    if (kf_tickets_ccache(*kctx, client, &tgt, name, sizeof(name)) &&
        krb5_cc_resolve(*kctx, name, &shared) == 0) {
        cc = shared;
    } else {
        if (krb5_cc_new_unique(*kctx, "MEMORY", NULL, mem) != 0)
            goto out;
        if (krb5_cc_initialize(*kctx, *mem, client) != 0 ||
            krb5_cc_store_cred(*kctx, *mem, &tgt) != 0)
            goto out;
        cc = *mem;
        snprintf(name, sizeof(name), "MEMORY:%s", krb5_cc_get_name(*kctx, *mem));
    }
    /* The KDC exchange now, through the gate (kdc_gate.h), unless the
     * shared cache has the ticket for a while yet; GSSAPI then finds the
     * ticket in the cache. On failure GSSAPI asks again below and reports
     * why. */
    match.server = NULL;
    if (krb5_sname_to_principal(*kctx, server, "host", KRB5_NT_SRV_HST, &svc) == 0) {
        match.server = svc;
        if (shared != NULL) {
            match.times.endtime = (krb5_timestamp)time(NULL) + 60;
            *cached = krb5_cc_retrieve_cred(*kctx, shared, KRB5_TC_MATCH_TIMES, &match, &got) == 0;
            krb5_free_cred_contents(*kctx, &got);
            match.times.endtime = 0;
            if (!*cached) /* an old one about to expire must not be the answer */
                kf_tickets_drop(*kctx, svc);
        }
        if (!*cached) {
            kf_kdc_gate_enter();
            krb5_get_credentials(*kctx, 0, cc, &match, &ticket);
            kf_kdc_gate_leave();
            krb5_free_creds(*kctx, ticket);
        }
    }
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                &store, cred, NULL, NULL);
    if (GSS_ERROR(maj))
        *cred = GSS_C_NO_CREDENTIAL;
out:
    if (*cred == GSS_C_NO_CREDENTIAL && *mem != NULL) {
        krb5_cc_destroy(*kctx, *mem);
        *mem = NULL;
    }
    if (shared != NULL)
        krb5_cc_close(*kctx, shared);
    krb5_free_cred_contents(*kctx, &tgt);
    krb5_free_principal(*kctx, tgs);
    krb5_free_principal(*kctx, svc);
    krb5_free_principal(*kctx, client);
    if (def != NULL)
        krb5_cc_close(*kctx, def);
}

static void
private_cred_done(krb5_context kctx, krb5_ccache mem, gss_cred_id_t *cred)
{
    OM_uint32 min;

    if (*cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, cred);
    if (mem != NULL)
        krb5_cc_destroy(kctx, mem);
    if (kctx != NULL)
        krb5_free_context(kctx);
}

/* Connect to HOST:PORT and authenticate. The connection is opened only
 * once the first token is ready, so it follows the connect at once.
 * VERSION 1 opens with a KF_HS_TOKEN frame (what every agent understands);
 * a higher one with KF_HS_OPEN (VERSION, FLAGS). */
static kf_status
handshake(struct kf_agent *a, const char *host, int port, gss_cred_id_t cred, unsigned version,
          uint32_t hs_flags, int64_t deadline, struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *out = kf_buf_new(KF_PROTO_HANDSHAKE_FRAME_MAX + 4);
    _cleanup_(kf_buf_freep) struct kf_buf *in = kf_buf_new(KF_PROTO_FRAME_MAX);
    gss_buffer_desc namebuf, itok = GSS_C_EMPTY_BUFFER, otok;
    gss_name_t target = GSS_C_NO_NAME;
    OM_uint32 maj, min, rmin, flags = 0;
    const OM_uint32 want = GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
    char *svc = NULL;
    kf_status st = KF_OK;
    int rounds = 0;

    if (out == NULL || in == NULL || asprintf(&svc, "host@%s", a->server) < 0)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    namebuf.value = svc;
    namebuf.length = strlen(svc);
    maj = gss_import_name(&min, &namebuf, GSS_C_NT_HOSTBASED_SERVICE, &target);
    free(svc);
    if (GSS_ERROR(maj))
        return kf_gss_err(err, KF_ERR_USAGE, maj, min, "bad server name");
    for (;;) {
        otok.length = 0;
        otok.value = NULL;
        maj = gss_init_sec_context(&min, cred, &a->ctx, target,
                                   (gss_OID)gss_mech_krb5,
                                   want | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, &itok, NULL, &otok, &flags, NULL);
        if (GSS_ERROR(maj)) {
            gss_release_buffer(&rmin, &otok);
            st = init_failed(a, maj, min, err);
            break;
        }
        if (otok.length > 0) {
            kf_buf_reset(out);
            if (rounds == 0 && version >= 2)
                st = kf_proto_hs_open_encode(out, version, hs_flags, otok.value, otok.length);
            else
                st = kf_proto_hs_encode(out, KF_HS_TOKEN, otok.value, otok.length);
            gss_release_buffer(&rmin, &otok);
            if (st != KF_OK) {
                st = kf_err_set(err, KF_ERR_UNEXPECTED, "GSSAPI token too large");
                break;
            }
            if (a->fd < 0 && (st = tcp_connect(a, host, port, deadline, err)) != KF_OK)
                break;
            st = send_all(a, kf_buf_ptr(out), kf_buf_len(out), deadline, err);
            if (st != KF_OK)
                break;
        }
        if (maj == GSS_S_COMPLETE)
            break;
        if (++rounds > KF_PROTO_HANDSHAKE_ROUNDS) {
            lose(a);
            st = kf_err_set(err, KF_ERR_AGENT, "krbfleetd on %s: handshake did not finish",
                            a->server);
            break;
        }
        enum kf_hs_kind kind;
        const uint8_t *data;
        size_t n;
        st = recv_frame(a, KF_PROTO_HANDSHAKE_FRAME_MAX, in, deadline, err);
        if (st != KF_OK)
            break;
        if (kf_proto_hs_decode(kf_buf_ptr(in), kf_buf_len(in), &kind, &data, &n, err) != KF_OK) {
            lose(a);
            st = kf_err_prefix(err, "krbfleetd on %s", a->server);
            break;
        }
        if (kind == KF_HS_ERROR) {
            a->hs_refused = true;
            lose(a);
            st = kf_err_set(err, KF_ERR_AGENT, "krbfleetd on %s refused the handshake: %.*s",
                            a->server, (int)n, (const char *)data);
            break;
        }
        itok.value = (void *)(uintptr_t)data;
        itok.length = n;
    }
    gss_release_name(&rmin, &target);
    if (st != KF_OK)
        return st;
    if ((flags & want) != want) {
        lose(a);
        return kf_err_set(err, KF_ERR_AGENT,
                          "krbfleetd on %s: the GSSAPI context lacks mutual authentication or "
                          "sealing",
                          a->server);
    }
    return KF_OK;
}

/* Read and unseal one response, decode it, check it answers OP. */
static kf_status
recv_response(struct kf_agent *a, enum kf_proto_op op, int64_t deadline,
              struct kf_proto_response **out, struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *frame = kf_buf_new(KF_PROTO_FRAME_MAX);
    _cleanup_(kf_buf_freep) struct kf_buf *plain = kf_buf_new(KF_PROTO_FRAME_MAX);
    struct kf_proto_response *r = NULL;
    kf_status st;

    if (frame == NULL || plain == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_buf_set_secret(plain);
    st = recv_frame(a, KF_PROTO_FRAME_MAX, frame, deadline, err);
    if (st != KF_OK)
        return st;
    if (kf_proto_unseal(a->ctx, kf_buf_ptr(frame), kf_buf_len(frame), plain, err) != KF_OK ||
        kf_proto_response_decode(kf_buf_ptr(plain), kf_buf_len(plain), &r, err) != KF_OK) {
        lose(a);
        if (err != NULL) {
            kf_err_prefix(err, "krbfleetd on %s (%s)", a->server, a->where);
            err->code = KF_ERR_AGENT;
        }
        return KF_ERR_AGENT;
    }
    if (r->op != op || (a->version != 0 && r->version != a->version)) {
        lose(a);
        kf_proto_response_free(r);
        return kf_err_set(err, KF_ERR_AGENT,
                          "krbfleetd on %s answered %s (protocol version %u) to %s (version %u)",
                          a->server, kf_proto_op_name(r->op), r->version, kf_proto_op_name(op),
                          a->version);
    }
    *out = r;
    return KF_OK;
}

static void
drop_ticket(krb5_context kctx, const char *server)
{
    krb5_principal svc = NULL;

    if (krb5_sname_to_principal(kctx, server, "host", KRB5_NT_SRV_HST, &svc) == 0)
        kf_tickets_drop(kctx, svc);
    krb5_free_principal(kctx, svc);
}

/* Back to before the handshake: no connection, no context. */
static void
reset_session(struct kf_agent *a)
{
    OM_uint32 min;

    lose(a);
    if (a->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&min, &a->ctx, GSS_C_NO_BUFFER);
    a->ctx = GSS_C_NO_CONTEXT;
    a->peer_closed = false;
    a->hs_refused = false;
}

/* The handshake, in the highest version both speak: KF_HS_OPEN first; an
 * agent from before version 2 closes at that frame without a word, and
 * then it is KF_HS_TOKEN (version 1) on a new connection, with a new
 * authenticator from the same ticket. */
static kf_status
open_session(struct kf_agent *a, const char *address, int port, gss_cred_id_t cred,
             int64_t deadline, struct kf_err *err)
{
    kf_status st;

    a->peer_closed = false;
    a->opened = KF_PROTO_VERSION;
    st = handshake(a, address, port, cred, KF_PROTO_VERSION, KF_HS_WANT_STATUS, deadline, err);
    if (st == KF_OK || !a->peer_closed || a->ctx == GSS_C_NO_CONTEXT)
        return st;
    reset_session(a);
    a->opened = 1;
    return handshake(a, address, port, cred, 1, 0, deadline, err);
}

/* The HELLO, in the version we opened with (KF_HS_OPEN: the lower of ours
 * and the agent's; KF_HS_TOKEN: 1), and the STATUS that follows it when we
 * asked for one. */
static kf_status
recv_hello(struct kf_agent *a, bool opened, int64_t deadline, struct kf_proto_response **hello,
           struct kf_err *err)
{
    kf_status st = recv_response(a, KF_OP_HELLO, deadline, hello, err);
    unsigned want;

    if (st != KF_OK)
        return st;
    want = !opened ? 1 : (*hello)->agent_proto < KF_PROTO_VERSION ? (*hello)->agent_proto
                                                                   : KF_PROTO_VERSION;
    if ((*hello)->version != want) {
        lose(a);
        return kf_err_set(err, KF_ERR_AGENT,
                          "krbfleetd on %s answered in protocol version %u, not %u",
                          a->server, (*hello)->version, want);
    }
    a->version = want;
    if (opened && (*hello)->result == KF_RES_OK) {
        st = recv_response(a, KF_OP_STATUS, deadline, &a->first_status, err);
        a->first_t1 = wall_ms();
    }
    return st;
}

kf_status
kf_agent_connect(const char *address, int port, const char *server_fqdn, int timeout_s,
                 struct kf_agent **out, struct kf_err *err)
{
    _cleanup_(kf_agent_freep) struct kf_agent *a = NULL;
    _cleanup_(kf_proto_response_freep) struct kf_proto_response *hello = NULL;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    krb5_context kctx = NULL;
    krb5_ccache mem = NULL;
    int64_t deadline;
    kf_status st;

    *out = NULL;
    if (server_fqdn == NULL || server_fqdn[0] == '\0' || timeout_s < 1 || timeout_s > 3600 ||
        port < 0 || port > 65535)
        return kf_err_set(err, KF_ERR_USAGE,
                          "kf_agent_connect: need a server FQDN, a port 0..65535 and a timeout "
                          "of 1..3600 s");
    if (address == NULL || address[0] == '\0')
        address = server_fqdn;
    if (port == 0)
        port = KF_PROTO_PORT;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    a->fd = -1;
    a->timeout_s = timeout_s;
    a->ctx = GSS_C_NO_CONTEXT;
    a->server = strdup(server_fqdn);
    if (a->server == NULL ||
        asprintf(&a->where, strchr(address, ':') != NULL ? "[%s]:%d" : "%s:%d", address, port) <
            0) {
        a->where = NULL;
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    deadline = now_ms() + (int64_t)timeout_s * 1000;
    /* The ticket and the first token first, then the connection: the
     * agent gets our token right after the connect, so when it is full it
     * does not take us for one of the idle clients it closes to make room
     * (krbfleetd closes the oldest unauthenticated connection). */
    for (int attempt = 0;; attempt++) {
        bool cached;
        private_cred(a->server, &kctx, &mem, &cred, &cached);
        a->first_t0 = wall_ms();
        a->hs_refused = false;
        st = open_session(a, address, port, cred, deadline, err);
        if (st != KF_OK && a->hs_refused && cached && attempt == 0 && kctx != NULL) {
            /* a ticket from an earlier run the agent refuses (its host
             * keys changed): forget it and get a new one, once */
            drop_ticket(kctx, a->server);
            private_cred_done(kctx, mem, &cred);
            reset_session(a);
            continue;
        }
        private_cred_done(kctx, mem, &cred);
        break;
    }
    if (st == KF_OK)
        st = recv_hello(a, a->opened >= 2, deadline, &hello, err);
    if (st != KF_OK)
        return st;
    if (hello->result == KF_RES_DENIED) {
        lose(a);
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "krbfleetd on %s does not allow you (principal %s): add --allow %s to "
                          "its command line (or 'allow = %s' to its [agent] section)",
                          a->server, hello->client, hello->client, hello->client);
    }
    if (hello->result != KF_RES_OK) {
        lose(a);
        return kf_err_set(err, KF_ERR_AGENT, "krbfleetd on %s refused the session: %s",
                          a->server, hello->message);
    }
    a->client = TAKE_PTR(hello->client);
    a->agent_principal = TAKE_PTR(hello->agent_principal);
    a->agent_version = TAKE_PTR(hello->agent_version);
    *out = TAKE_PTR(a);
    return KF_OK;
}

void
kf_agent_free(struct kf_agent *a)
{
    OM_uint32 min;

    if (a == NULL)
        return;
    lose(a);
    if (a->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&min, &a->ctx, GSS_C_NO_BUFFER);
    free(a->server);
    free(a->where);
    free(a->client);
    free(a->agent_principal);
    free(a->agent_version);
    kf_proto_response_free(a->first_status);
    free(a);
}

const char *
kf_agent_server(const struct kf_agent *a)
{
    return a->server;
}

const char *
kf_agent_address(const struct kf_agent *a)
{
    return a->where;
}

const char *
kf_agent_client_principal(const struct kf_agent *a)
{
    return a->client != NULL ? a->client : "";
}

const char *
kf_agent_version(const struct kf_agent *a)
{
    return a->agent_version != NULL ? a->agent_version : "";
}

unsigned
kf_agent_proto_version(const struct kf_agent *a)
{
    return a->version;
}

/* What a response says, as a result for the caller: *OUT = R when OK,
 * else R is freed and the error says why. */
static kf_status
answer(struct kf_agent *a, const char *op, struct kf_proto_response *r,
       struct kf_proto_response **out, struct kf_err *err)
{
    kf_status st;

    switch (r->result) {
    case KF_RES_OK:
        *out = r;
        return KF_OK;
    case KF_RES_DENIED:
        st = kf_err_set(err, KF_ERR_PERMISSION, "krbfleetd on %s refused %s: %s", a->server, op,
                        r->message);
        break;
    case KF_RES_INVALID:
        st = kf_err_set(err, KF_ERR_INVALID, "krbfleetd on %s found the %s request wrong: %s",
                        a->server, op, r->message);
        break;
    case KF_RES_UNSUPPORTED:
        st = kf_err_set(err, KF_ERR_AGENT,
                        "krbfleetd %s on %s does not support %s (%s); upgrade krbfleetd there",
                        kf_agent_version(a), a->server, op, r->message);
        break;
    default:
        st = kf_err_set(err, KF_ERR_AGENT, "krbfleetd on %s could not do %s: %s", a->server, op,
                        r->message);
        break;
    }
    kf_proto_response_free(r);
    return st;
}

/* Send REQ, receive its response in *OUT; a non-OK result is an error. */
static kf_status
call(struct kf_agent *a, const struct kf_proto_request *req, struct kf_proto_response **out,
     struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *plain = kf_buf_new(KF_PROTO_PLAIN_MAX);
    _cleanup_(kf_buf_freep) struct kf_buf *frame = kf_buf_new(KF_PROTO_FRAME_MAX + 4);
    struct kf_proto_response *r = NULL;
    int64_t deadline = now_ms() + (int64_t)a->timeout_s * 1000;
    const char *op = kf_proto_op_name(req->op);
    kf_status st;

    *out = NULL;
    kf_proto_response_free(TAKE_PTR(a->first_status)); /* the state may change now */
    if (a->fd < 0)
        return kf_err_set(err, KF_ERR_AGENT,
                          "the connection to krbfleetd on %s (%s) was lost; connect again",
                          a->server, a->where);
    if (kf_proto_op_since(req->op) > a->version)
        return kf_err_set(err, KF_ERR_AGENT,
                          "krbfleetd %s on %s speaks protocol version %u, which has no %s (from "
                          "version %u); upgrade krbfleetd there",
                          kf_agent_version(a), a->server, a->version, op,
                          kf_proto_op_since(req->op));
    if (plain == NULL || frame == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_buf_set_secret(plain);
    struct kf_proto_request versioned = *req;
    versioned.version = a->version;
    st = kf_proto_request_encode(&versioned, plain, err);
    if (st == KF_OK)
        st = kf_proto_seal(a->ctx, plain, frame, err);
    if (st != KF_OK)
        return kf_err_prefix(err, "krbfleetd on %s: %s", a->server, op);
    st = send_all(a, kf_buf_ptr(frame), kf_buf_len(frame), deadline, err);
    if (st == KF_OK)
        st = recv_response(a, req->op, deadline, &r, err);
    if (st != KF_OK)
        return st;
    return answer(a, op, r, out, err);
}

kf_status
kf_agent_status(struct kf_agent *a, struct kf_agent_status **out, struct kf_err *err)
{
    struct kf_proto_request req = {.op = KF_OP_STATUS};
    struct kf_proto_response *r = NULL;
    int64_t t0 = wall_ms(), t1;
    kf_status st;

    *out = NULL;
    if (a->first_status != NULL) { /* came with the HELLO, nothing asked since */
        t0 = a->first_t0;
        t1 = a->first_t1;
        st = answer(a, "STATUS", TAKE_PTR(a->first_status), &r, err);
    } else {
        st = call(a, &req, &r, err);
        t1 = wall_ms();
    }
    if (st != KF_OK)
        return st;
    *out = TAKE_PTR(r->status);
    (*out)->skew_ms = (*out)->time_ms - (t0 + (t1 - t0) / 2);
    kf_proto_response_free(r);
    return KF_OK;
}

kf_status
kf_agent_stage(struct kf_agent *a, uint32_t kvno, const struct kf_keyset *keys, size_t *entries,
               struct kf_err *err)
{
    struct kf_proto_request req = {.op = KF_OP_STAGE, .kvno = kvno};
    struct kf_proto_response *r = NULL;
    kf_status st;

    if (keys == NULL || keys->n == 0)
        return kf_err_set(err, KF_ERR_INVALID, "nothing to stage on %s", a->server);
    req.keys = (struct kf_keyset *)(uintptr_t)keys; /* only read by the encoder */
    st = call(a, &req, &r, err);
    if (st != KF_OK)
        return st;
    if (entries != NULL)
        *entries = r->count;
    kf_proto_response_free(r);
    return KF_OK;
}

static kf_status
remove_op(struct kf_agent *a, enum kf_proto_op op, uint32_t kvno, size_t *removed,
          struct kf_err *err)
{
    struct kf_proto_request req = {.op = op, .kvno = kvno};
    struct kf_proto_response *r = NULL;
    kf_status st = call(a, &req, &r, err);

    if (st != KF_OK)
        return st;
    if (removed != NULL)
        *removed = r->count;
    kf_proto_response_free(r);
    return KF_OK;
}

kf_status
kf_agent_withdraw(struct kf_agent *a, uint32_t kvno, size_t *removed, struct kf_err *err)
{
    return remove_op(a, KF_OP_WITHDRAW, kvno, removed, err);
}

kf_status
kf_agent_prune(struct kf_agent *a, uint32_t kvno, size_t *removed, struct kf_err *err)
{
    return remove_op(a, KF_OP_PRUNE, kvno, removed, err);
}

kf_status
kf_agent_export(struct kf_agent *a, struct kf_keyset **out, struct kf_err *err)
{
    struct kf_proto_request req = {.op = KF_OP_EXPORT};
    struct kf_proto_response *r = NULL;
    kf_status st;

    *out = NULL;
    st = call(a, &req, &r, err);
    if (st != KF_OK)
        return st;
    *out = TAKE_PTR(r->keys);
    kf_proto_response_free(r);
    return KF_OK;
}

kf_status
kf_agent_check(struct kf_agent *a, const char *principal, const void *token, size_t token_len,
               struct kf_keytab_check *out, struct kf_err *err)
{
    struct kf_proto_request req = {.op = KF_OP_CHECK};
    struct kf_proto_response *r = NULL;
    kf_status st;

    memset(out, 0, sizeof(*out));
    req.principal = (char *)(uintptr_t)(principal != NULL ? principal : "");
    req.token = (uint8_t *)(uintptr_t)token;
    req.token_len = token_len;
    st = call(a, &req, &r, err);
    if (st != KF_OK)
        return st;
    *out = r->check;
    memset(&r->check, 0, sizeof(r->check));
    kf_proto_response_free(r);
    return KF_OK;
}

bool
kf_agent_has_commit(const struct kf_agent *a)
{
    return a != NULL && a->version >= kf_proto_op_since(KF_OP_COMMIT);
}

kf_status
kf_agent_commit(struct kf_agent *a, const char *account, uint32_t kvno, uint32_t grace_s,
                const char *members_group, char *const *principals, size_t n_principals, char *const *servers,
                size_t n_servers, size_t *kept, struct kf_err *err)
{
    struct kf_proto_request req = {.op = KF_OP_COMMIT,
                                   .account = (char *)(uintptr_t)account,
                                   .kvno = kvno,
                                   .grace_s = grace_s,
                                   .members_group = (char *)(uintptr_t)(members_group ? members_group : ""),
                                   .principals = (char **)(uintptr_t)principals,
                                   .n_principals = n_principals,
                                   .servers = (char **)(uintptr_t)servers,
                                   .n_servers = n_servers};
    struct kf_proto_response *r = NULL;
    kf_status st = call(a, &req, &r, err);

    if (st != KF_OK)
        return st;
    if (kept != NULL)
        *kept = r->count;
    kf_proto_response_free(r);
    return KF_OK;
}

kf_status
kf_agent_ticket_token(const char *service_principal, const char *kdc, uint8_t **token,
                      size_t *len, uint32_t *ticket_kvno, struct kf_err *err)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL, mem = NULL;
    krb5_creds in, *creds = NULL, match, tgt;
    krb5_principal tgs = NULL;
    krb5_auth_context ac = NULL;
    krb5_data apreq = {0};
    krb5_ticket *tkt = NULL;
    krb5_error_code ret;
    kf_status st = KF_OK;

    *token = NULL;
    *len = 0;
    memset(&in, 0, sizeof(in));
    memset(&match, 0, sizeof(match));
    memset(&tgt, 0, sizeof(tgt));
    if (kdc != NULL) {
        /* the realm to pin is the service's: parse it with a plain context */
        krb5_context plain = NULL;
        krb5_principal sp = NULL;
        char realm[256] = "";
        if ((ret = krb5_init_context(&plain)) != 0)
            return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot start libkrb5 (error %d)",
                              (int)ret);
        if ((ret = krb5_parse_name(plain, service_principal, &sp)) == 0)
            snprintf(realm, sizeof(realm), "%.*s", (int)sp->realm.length, sp->realm.data);
        krb5_free_principal(plain, sp);
        if (ret != 0) {
            st = kf_krb5_err(plain, ret, KF_ERR_INVALID, err, "service principal");
            krb5_free_context(plain);
            return st;
        }
        krb5_free_context(plain);
        if ((st = kf_krb5_pinned_context(realm, kdc, &ctx, err)) != KF_OK)
            return st;
    } else if ((ret = krb5_init_context(&ctx)) != 0) {
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot start libkrb5 (error %d)", (int)ret);
    }
    if ((ret = krb5_cc_default(ctx, &cc)) != 0 ||
        (ret = krb5_cc_get_principal(ctx, cc, &in.client)) != 0) {
        st = kf_krb5_err(ctx, ret, KF_ERR_CREDENTIALS, err,
                         "no Kerberos ticket (run kinit or set KRB5CCNAME)");
        goto out;
    }
    if ((ret = krb5_parse_name(ctx, service_principal, &in.server)) != 0) {
        st = kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, "service principal");
        goto out;
    }
    /* A fresh ticket: ask the KDC with a private cache holding only our
     * TGT, so a service ticket cached before a rotation (old kvno) is never
     * reused and none is left behind in the caller's cache. */
    if ((ret = krb5_build_principal_ext(
             ctx, &tgs, in.client->realm.length, in.client->realm.data, KRB5_TGS_NAME_SIZE,
             KRB5_TGS_NAME, in.client->realm.length, in.client->realm.data, 0)) != 0)
        goto krberr;
    match.client = in.client;
    match.server = tgs;
    if ((ret = krb5_cc_retrieve_cred(ctx, cc, 0, &match, &tgt)) != 0) {
        st = kf_krb5_err(ctx, ret, KF_ERR_CREDENTIALS, err,
                         "no ticket-granting ticket (run kinit)");
        goto out;
    }
    if ((ret = krb5_cc_new_unique(ctx, "MEMORY", NULL, &mem)) != 0 ||
        (ret = krb5_cc_initialize(ctx, mem, in.client)) != 0 ||
        (ret = krb5_cc_store_cred(ctx, mem, &tgt)) != 0)
        goto krberr;
    kf_kdc_gate_enter();
    ret = krb5_get_credentials(ctx, 0, mem, &in, &creds);
    kf_kdc_gate_leave();
    if (ret != 0) {
        st = kf_krb5_err(ctx, ret,
                         ret == KRB5KRB_AP_ERR_TKT_EXPIRED ? KF_ERR_CREDENTIALS : KF_ERR_KDC, err,
                         "cannot get a service ticket");
        kf_err_prefix(err, "%s", service_principal);
        goto out;
    }
    if ((ret = krb5_mk_req_extended(ctx, &ac, 0, NULL, creds, &apreq)) != 0) {
        st = kf_krb5_err(ctx, ret, KF_ERR_UNEXPECTED, err, "cannot make an AP-REQ");
        goto out;
    }
    if (ticket_kvno != NULL) {
        *ticket_kvno = 0;
        if (krb5_decode_ticket(&creds->ticket, &tkt) == 0)
            *ticket_kvno = tkt->enc_part.kvno;
    }
    *token = malloc(apreq.length);
    if (*token == NULL) {
        st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(*token, apreq.data, apreq.length);
    *len = apreq.length;
    goto out;
krberr:
    st = kf_krb5_err(ctx, ret, KF_ERR_UNEXPECTED, err, "preparing a private ticket cache");
out:
    krb5_free_cred_contents(ctx, &tgt);
    krb5_free_principal(ctx, tgs);
    if (mem != NULL)
        krb5_cc_destroy(ctx, mem);
    if (tkt != NULL)
        krb5_free_ticket(ctx, tkt);
    krb5_free_data_contents(ctx, &apreq);
    if (ac != NULL)
        krb5_auth_con_free(ctx, ac);
    if (creds != NULL)
        krb5_free_creds(ctx, creds);
    krb5_free_principal(ctx, in.client);
    krb5_free_principal(ctx, in.server);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return st;
}
