/* dir_ad.c - the Active Directory backend: LDAP with SASL/GSSAPI (libldap).
 *
 * One connection to one domain controller, found from [directory] ldap_uri,
 * server, or DNS SRV _ldap._tcp.<domain>, authenticated with the caller's
 * Kerberos ticket. Plain LDAP requires a sealed SASL layer (SSF >= 56);
 * StartTLS and LDAPS carry GSSAPI with no SASL layer, because AD refuses
 * sealing inside TLS. Every request is bounded by [directory] timeout.
 *
 * LDAP results become kf_status in exactly one place, ad_fail().
 */
#include "dir_backend.h"

#include "config.h"
#include "dns_srv.h"
#include "krb5pin.h"
#include "mem.h"
#include "password.h"
#include "secdesc.h"

#include <ctype.h>
#include <errno.h>
#include <krb5.h>
#include <lber.h>
#include <ldap.h>
#include <netdb.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WKGUID_COMPUTERS "AA312825768811D1ADED00C04FD8D5CD"
#define GC_PORT 3268
#define GC_PORT_TLS 3269
#define LDAP_PORT_PLAIN 389
#define LDAP_PORT_TLS 636
#define MIN_SEAL_SSF 56
#define URI_MAX 512
#define CAND_MAX 16 /* servers tried in one kf_dir_open */
/* accountExpires: 100 ns ticks since 1601-01-01; 0 and INT64_MAX = never */
#define FILETIME_UNIX_EPOCH 116444736000000000LL

/* One LDAP connection and how to name it in messages. */
struct conn {
    LDAP *ld;
    char *uri;  /* "ldap://dc1.lab.test:389" */
    char *host; /* "dc1.lab.test" */
    int port;
    bool bound; /* the bind succeeded: say goodbye with an unbind */
};

struct ad {
    struct conn main;
    struct conn gc;    /* global catalog of the same DC, opened on first use */
    bool gc_offered;   /* the root DSE says isGlobalCatalogReady: TRUE */
    enum kf_tls tls;   /* how the connections are protected */
    struct timeval tv; /* [directory] timeout, for every request */
    char *config_nc;   /* CN=Configuration,... */
    char *computers;   /* the Computers container, looked up on first use */
    char *principal;   /* the ticket's client ("kfadmin@LAB.TEST"), for messages */
    char *ccache;      /* "KRB5CCNAME=FILE:/tmp/x" or "default cache FILE:..." */
};

/* What a request was for, to say what went wrong. */
enum phase {
    PH_CONNECT, /* TCP connect (and, for LDAPS, the TLS handshake) */
    PH_TLS,     /* StartTLS */
    PH_BIND,    /* SASL/GSSAPI */
    PH_OP,      /* any later request */
};

struct req {
    enum phase phase;
    const char *what;   /* for "failed to <what>": "read the account web$" */
    const char *right;  /* for "<principal> may not <right>"; NULL: use WHAT */
    const char *object; /* DN for "does not exist" / "exists already"; may be NULL */
    double started;     /* monotonic seconds when the request began; 0: unknown */
    int sys_errno;      /* PH_CONNECT: the socket's error, when known */
    bool grant;         /* `permission grant` on OBJECT's container gives this right */
};

static double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libldap takes char * (and char **) where it only reads. */
#define UNCONST(p) ((char *)(uintptr_t)(p))

static void
msgfreep(LDAPMessage **m)
{
    if (*m != NULL)
        ldap_msgfree(*m);
    *m = NULL;
}
#define _cleanup_msg_ _cleanup_(msgfreep)

static struct ad *
AD(struct kf_dir *dir)
{
    return dir->priv;
}

/* ------------------------------------------------------------------------ */
/* strings */

static void
lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

static char *
upper_dup(const char *s)
{
    char *u = strdup(s);

    if (u != NULL)
        for (char *p = u; *p != '\0'; p++)
            *p = (char)toupper((unsigned char)*p);
    return u;
}

/* printf into a new string; NULL when out of memory. */
static char *__attribute__((format(printf, 1, 2))) str_printf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* Escape VALUE for an LDAP filter (RFC 4515): '*', '(', ')', '\', NUL and
 * every byte outside printable ASCII become \XX. New string, or NULL. */
static char *
filter_escape(const char *value)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(value);
    char *out = malloc(3 * n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p == '*' || *p == '(' || *p == ')' || *p == '\\' || *p < 0x20 || *p >= 0x7f) {
            *o++ = '\\';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 0xf];
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

/* Escape VALUE as an RDN attribute value (RFC 4514). New string, or NULL. */
static char *
rdn_escape(const char *value)
{
    size_t n = strlen(value);
    char *out = malloc(2 * n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        if (strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
            (i == n - 1 && c == ' '))
            *o++ = '\\';
        *o++ = c;
    }
    *o = '\0';
    return out;
}

/* Parse all of S as a signed 64-bit decimal. */
static bool
parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* The quoted password as AD's unicodePwd wants it: UTF-16LE of "\"PW\"".
 * PW must be valid UTF-8. The new buffer *OUT (*LEN bytes) holds a secret:
 * free it with kf_free_secret(*OUT, *LEN). */
static kf_status
unicode_pwd(const char *pw, unsigned char **out, size_t *len)
{
    size_t n = strlen(pw), cap = (n + 2) * 2, o = 0;
    unsigned char *buf = malloc(cap);
    const unsigned char *p = (const unsigned char *)pw;

    *out = NULL;
    *len = 0;
    if (buf == NULL)
        return KF_ERR_NOMEM;
    buf[o++] = '"';
    buf[o++] = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t need;
        unsigned char c = p[i];

        if (c < 0x80) {
            cp = c;
            need = 0;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f;
            need = 1;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f;
            need = 2;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07;
            need = 3;
        } else {
            goto bad;
        }
        if (need > 0 && i + need >= n)
            goto bad; /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += need + 1;
        if (cp >= 0x10000) { /* a surrogate pair; 4 UTF-8 bytes gave room for it */
            cp -= 0x10000;
            uint16_t hi = (uint16_t)(0xd800 + (cp >> 10)), lo = (uint16_t)(0xdc00 + (cp & 0x3ff));
            buf[o++] = (unsigned char)(hi & 0xff);
            buf[o++] = (unsigned char)(hi >> 8);
            buf[o++] = (unsigned char)(lo & 0xff);
            buf[o++] = (unsigned char)(lo >> 8);
        } else {
            buf[o++] = (unsigned char)(cp & 0xff);
            buf[o++] = (unsigned char)(cp >> 8);
        }
    }
    buf[o++] = '"';
    buf[o++] = 0;
    *out = buf;
    *len = o;
    return KF_OK;
bad:
    kf_free_secret(buf, cap);
    return KF_ERR_INVALID;
}

/* ------------------------------------------------------------------------ */
/* errors: the one place LDAP results become kf_status */

/* The server's diagnostic message for the last request on LD, trimmed,
 * copied into BUF (empty if none). */
static void
diag_message(LDAP *ld, char *buf, size_t size)
{
    char *d = NULL;
    size_t n;

    buf[0] = '\0';
    if (ld == NULL || ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &d) != LDAP_OPT_SUCCESS ||
        d == NULL)
        return;
    kf_strlcpy(buf, d, size);
    ldap_memfree(d);
    n = strlen(buf);
    while (n > 0 && (isspace((unsigned char)buf[n - 1]) || buf[n - 1] == '\0'))
        buf[--n] = '\0';
}

static void
diag_clear(LDAP *ld)
{
    if (ld != NULL)
        ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, NULL);
}

static const char *
who(const struct ad *ad)
{
    return ad != NULL && ad->principal != NULL ? ad->principal : "the ticket's principal";
}

/* 0 if a TCP connection to HOST:PORT opens within TV, else the reason
 * (an errno value; ETIMEDOUT when it did not open in time). Tells a failed
 * TLS handshake from a server that is not there. */
static int
tcp_reachable(const char *host, int port, const struct timeval *tv)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char service[16];
    int ms = (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000);
    int result = EHOSTUNREACH;

    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return EHOSTUNREACH;
    for (struct addrinfo *p = ai; p != NULL && result != 0; p = p->ai_next) {
        int fd =
            socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            result = errno;
            continue;
        }
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
            result = 0;
        } else if (errno != EINPROGRESS) {
            result = errno;
        } else {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int e = 0, n;
            socklen_t l = sizeof(e);
            do
                n = poll(&pfd, 1, ms);
            while (n < 0 && errno == EINTR);
            if (n == 0)
                result = ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
                result = errno;
            else
                result = e;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return result;
}

/* Wait until LD's connection (started asynchronously) is established.
 * Returns 0, or an errno value (ETIMEDOUT after TV). */
static int
wait_connected(LDAP *ld, const struct timeval *tv)
{
    ber_socket_t fd = -1;
    struct pollfd pfd = {.events = POLLOUT};
    int ms = (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000), e = 0, n;
    socklen_t l = sizeof(e);

    if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0)
        return ENOTCONN;
    pfd.fd = fd;
    do
        n = poll(&pfd, 1, ms);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return ETIMEDOUT;
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
        return errno;
    return e;
}

static kf_status
ad_fail(struct kf_dir *dir, const struct conn *c, int rc, const struct req *rq, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    char diag[512], detail[700];
    const char *server = c->host;
    const char *right = rq->right != NULL ? rq->right : rq->what;

    diag_message(c->ld, diag, sizeof(diag));
    if (strcmp(diag, "(unknown error code)") == 0)
        diag[0] = '\0'; /* what libldap's GnuTLS layer says for any TLS failure */
    if (diag[0] != '\0' && strstr(diag, ldap_err2string(rc)) == NULL)
        snprintf(detail, sizeof(detail), "%s (%s)", ldap_err2string(rc), diag);
    else if (diag[0] != '\0')
        snprintf(detail, sizeof(detail), "%s", diag);
    else
        snprintf(detail, sizeof(detail), "%s", ldap_err2string(rc));

    /* Connecting: libldap says "can't contact" or "timeout" for a refused
     * connection, a silent server and a failed TLS handshake alike; the
     * clock and a plain TCP connect tell them apart. */
    if ((rq->phase == PH_CONNECT || rq->phase == PH_TLS) &&
        (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT)) {
        bool late = rq->sys_errno == ETIMEDOUT ||
                    (rq->started > 0 && mono_now() - rq->started >= (double)ad->tv.tv_sec - 0.05);
        int e = rq->sys_errno;

        if (late)
            return kf_err_set(err, KF_ERR_DIRECTORY,
                              "the directory server %s (%s) did not answer within %llds while "
                              "trying to %s",
                              server, c->uri, (long long)ad->tv.tv_sec, rq->what);
        if (e == 0)
            e = tcp_reachable(c->host, c->port, &ad->tv);
        if (e != 0)
            return kf_err_set(err, KF_ERR_DIRECTORY,
                              "cannot reach the directory server %s (%s): %s", server, c->uri,
                              strerror(e));
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "cannot set up TLS with the directory server %s (%s): the TLS "
                          "handshake failed (%s); its certificate must be for %s and signed by "
                          "a CA in %s",
                          server, c->uri, detail, c->host,
                          dir->cfg->directory.ca_file != NULL ? dir->cfg->directory.ca_file
                                                              : "the system's trust store "
                                                                "([directory] ca_file)");
    }

    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "lost the connection to the directory server %s (%s) while trying "
                          "to %s: %s",
                          server, c->uri, rq->what, detail);
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the directory server %s (%s) did not answer within %llds while trying "
                          "to %s",
                          server, c->uri, (long long)ad->tv.tv_sec, rq->what);
    case LDAP_INSUFFICIENT_ACCESS:
        if (rq->grant && rq->object != NULL) {
            char said[sizeof(detail) + 128];
            snprintf(said, sizeof(said), "directory server %s: %s", server, detail);
            return kf_dir_refused(dir, who(ad), right, rq->object, said, err);
        }
        return kf_err_set(err, KF_ERR_PERMISSION, "%s may not %s (directory server %s: %s)",
                          who(ad), right, server, detail);
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_LOCAL_ERROR:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
        if (rq->phase == PH_BIND && strstr(diag, "Server not found in Kerberos database") != NULL)
            return kf_err_set(err, KF_ERR_CONFIG,
                              "the KDC knows no service ldap/%s: name the directory server by "
                              "its DNS name, as in its ldap/ service principal, not by an "
                              "address or alias ([directory] server / ldap_uri; %s)",
                              c->host, detail);
        if (rq->phase == PH_BIND)
            return kf_err_set(err, KF_ERR_CREDENTIALS,
                              "Kerberos authentication (SASL/GSSAPI) to the directory server %s "
                              "(%s) failed: %s; check the ticket in %s (klist) or run kinit",
                              server, c->uri, detail, ad->ccache);
        break;
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the directory server %s (%s) refused to %s over this connection's "
                          "protection: %s (see [directory] tls)",
                          server, c->uri, rq->what, detail);
    case LDAP_NO_SUCH_OBJECT:
        return kf_err_set(err, KF_ERR_NOT_FOUND, "cannot %s: %s does not exist (%s)", rq->what,
                          rq->object != NULL ? rq->object : "the object", detail);
    case LDAP_ALREADY_EXISTS:
        return kf_err_set(err, KF_ERR_EXISTS, "cannot %s: %s exists already (%s)", rq->what,
                          rq->object != NULL ? rq->object : "the object", detail);
    case LDAP_TYPE_OR_VALUE_EXISTS:
        return kf_err_set(err, KF_ERR_EXISTS, "cannot %s: a value is there already (%s)", rq->what,
                          detail);
    case LDAP_NO_SUCH_ATTRIBUTE:
        return kf_err_set(err, KF_ERR_NOT_FOUND, "cannot %s: a value to remove is not there (%s)",
                          rq->what, detail);
    case LDAP_CONSTRAINT_VIOLATION:
    case LDAP_NOT_ALLOWED_ON_NONLEAF:
        return kf_err_set(err, KF_ERR_CONFLICT, "the directory server %s refused to %s: %s", server,
                          rq->what, detail);
    case LDAP_NO_MEMORY:
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory talking to %s", server);
    default:
        break;
    }
    return kf_err_set(err, KF_ERR_DIRECTORY, "the directory server %s failed to %s: %s", server,
                      rq->what, detail);
}

/* ------------------------------------------------------------------------ */
/* requests: every one bounded by the timeout and counted */

static int
do_search(struct kf_dir *dir, struct conn *c, const char *base, int scope, const char *filter,
          const char *const *attrs, LDAPMessage **res)
{
    struct timeval tv = AD(dir)->tv;

    *res = NULL;
    diag_clear(c->ld);
    dir->reads++;
    return ldap_search_ext_s(c->ld, base, scope, filter, (char **)(uintptr_t)attrs, 0, NULL, NULL,
                             &tv, LDAP_NO_LIMIT, res);
}

/* Search and fail through ad_fail unless the result is success. */
static kf_status
search(struct kf_dir *dir, struct conn *c, const char *base, int scope, const char *filter,
       const char *const *attrs, LDAPMessage **res, const struct req *rq, struct kf_err *err)
{
    int rc = do_search(dir, c, base, scope, filter, attrs, res);

    if (rc != LDAP_SUCCESS) {
        msgfreep(res);
        return ad_fail(dir, c, rc, rq, err);
    }
    return KF_OK;
}

/* First value of ATTR in entry E as a new string; NULL if absent. *OOM is
 * set when allocation failed. */
static char *
entry_str(LDAP *ld, LDAPMessage *e, const char *attr, bool *oom)
{
    struct berval **v = ldap_get_values_len(ld, e, attr);
    char *s = NULL;

    if (v == NULL)
        return NULL;
    if (v[0] != NULL) {
        s = strndup(v[0]->bv_val, v[0]->bv_len);
        if (s == NULL)
            *oom = true;
    }
    ldap_value_free_len(v);
    return s;
}

static char *
entry_dn(LDAP *ld, LDAPMessage *e, bool *oom)
{
    char *d = ldap_get_dn(ld, e), *s;

    if (d == NULL) {
        *oom = true;
        return NULL;
    }
    s = strdup(d);
    ldap_memfree(d);
    if (s == NULL)
        *oom = true;
    return s;
}

/* Every value of ATTR in entry E as new strings in *V (NULL-ended, N
 * counted); nothing when absent. -1 when out of memory. */
static int
entry_strv(LDAP *ld, LDAPMessage *e, const char *attr, char ***v, size_t *n)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    size_t count;
    int rc = 0;

    *v = NULL;
    *n = 0;
    if (vals == NULL)
        return 0;
    count = (size_t)ldap_count_values_len(vals);
    *v = calloc(count + 1, sizeof(char *));
    if (*v == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        (*v)[i] = strndup(vals[i]->bv_val, vals[i]->bv_len);
        if ((*v)[i] == NULL)
            rc = -1;
        else
            (*n)++;
    }
    ldap_value_free_len(vals);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* the caller's ticket */

/* Look at the default credential cache: it must exist and hold a TGT (or
 * any ticket) that has not expired. Sets ad->principal and ad->ccache. */
static kf_status
check_ticket(struct kf_dir *dir, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_principal client = NULL;
    krb5_cc_cursor cur = NULL;
    krb5_creds creds;
    krb5_error_code ret;
    char *ccname = NULL, *pname = NULL;
    const char *env = getenv("KRB5CCNAME");
    char hint[300];
    const char *realm = dir->cfg->directory.domain;
    char *urealm = realm != NULL ? upper_dup(realm) : NULL;
    time_t now = time(NULL), latest = 0;
    bool any_valid = false;
    kf_status st = KF_OK;

    ret = krb5_init_context(&ctx);
    if (ret != 0) {
        st = kf_err_set(err, KF_ERR_CONFIG, "cannot initialise Kerberos (krb5.conf?): %s",
                        strerror(ret));
        goto out;
    }
    ret = krb5_cc_default(ctx, &cc);
    if (ret == 0)
        ret = krb5_cc_get_full_name(ctx, cc, &ccname);
    if (ret != 0) {
        const char *m = krb5_get_error_message(ctx, ret);
        st = kf_err_set(err, KF_ERR_CREDENTIALS,
                        "no valid Kerberos ticket for the directory (KRB5CCNAME=%s): %s; run "
                        "kinit <admin>@%s",
                        env != NULL ? env : "unset", m, urealm != NULL ? urealm : "REALM");
        krb5_free_error_message(ctx, m);
        goto out;
    }
    ad->ccache =
        env != NULL ? str_printf("KRB5CCNAME=%s", env) : str_printf("the default cache %s", ccname);
    if (ad->ccache == NULL) {
        st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    ret = krb5_cc_get_principal(ctx, cc, &client);
    if (ret == 0)
        ret = krb5_unparse_name(ctx, client, &pname);
    if (ret != 0) {
        const char *m = krb5_get_error_message(ctx, ret);
        st = kf_err_set(err, KF_ERR_CREDENTIALS,
                        "no valid Kerberos ticket for the directory (%s): %s; run kinit "
                        "<admin>@%s",
                        ad->ccache, m, urealm != NULL ? urealm : "REALM");
        krb5_free_error_message(ctx, m);
        goto out;
    }
    ad->principal = strdup(pname);
    if (ad->principal == NULL) {
        st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(hint, sizeof(hint), "run kinit %s", pname);
    ret = krb5_cc_start_seq_get(ctx, cc, &cur);
    if (ret == 0) {
        while (krb5_cc_next_cred(ctx, cc, &cur, &creds) == 0) {
            /* any live ticket will do: a TGT, or one for the DC itself */
            if (!krb5_is_config_principal(ctx, creds.server)) {
                if ((time_t)(uint32_t)creds.times.endtime > now)
                    any_valid = true;
                else if ((time_t)(uint32_t)creds.times.endtime > latest)
                    latest = (time_t)(uint32_t)creds.times.endtime;
            }
            krb5_free_cred_contents(ctx, &creds);
        }
        krb5_cc_end_seq_get(ctx, cc, &cur);
    }
    if (!any_valid) {
        char when[64] = "";
        if (latest > 0) {
            struct tm tm;
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&latest, &tm));
            st = kf_err_set(err, KF_ERR_CREDENTIALS,
                            "no valid Kerberos ticket for the directory (%s): the ticket of %s "
                            "expired at %s; %s",
                            ad->ccache, pname, when, hint);
        } else {
            st = kf_err_set(err, KF_ERR_CREDENTIALS,
                            "no valid Kerberos ticket for the directory (%s): the cache of %s "
                            "holds no ticket; %s",
                            ad->ccache, pname, hint);
        }
    }
out:
    if (ctx != NULL) {
        krb5_free_unparsed_name(ctx, pname);
        krb5_free_string(ctx, ccname);
        krb5_free_principal(ctx, client);
        if (cc != NULL)
            krb5_cc_close(ctx, cc);
        krb5_free_context(ctx);
    }
    free(urealm);
    return st;
}

/* ------------------------------------------------------------------------ */
/* connecting */

/* GSSAPI asks no questions; answer whatever comes with the default. */
static int
sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
    sasl_interact_t *it = in;

    (void)ld;
    (void)flags;
    (void)defaults;
    for (; it->id != SASL_CB_LIST_END; it++) {
        it->result = it->defresult != NULL ? it->defresult : "";
        it->len = (unsigned)strlen(it->result);
    }
    return LDAP_SUCCESS;
}

static void
conn_close(struct conn *c)
{
    /* An unbind is only worth sending on a working connection; on a failed
     * one it would write to a dead socket. */
    if (c->ld != NULL && c->bound)
        ldap_unbind_ext_s(c->ld, NULL, NULL);
    else if (c->ld != NULL)
        ldap_destroy(c->ld);
    c->ld = NULL;
    c->bound = false;
    free(c->uri);
    free(c->host);
    c->uri = c->host = NULL;
}

static kf_status
set_opt(struct conn *c, int opt, const void *val, const char *name, struct kf_err *err)
{
    if (ldap_set_option(c->ld, opt, val) != LDAP_OPT_SUCCESS)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot set the LDAP option %s for %s", name,
                          c->uri);
    return KF_OK;
}

/* Connect C (uri/host/port filled in) and bind with the caller's ticket. */
static kf_status
conn_open(struct kf_dir *dir, struct conn *c, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    const struct kf_config *cfg = dir->cfg;
    int version = LDAP_VERSION3, rc;
    ber_len_t ssf_min, ssf_max, ssf = 0;
    kf_status st;

    rc = ldap_initialize(&c->ld, c->uri);
    if (rc != LDAP_SUCCESS)
        return kf_err_set(err, KF_ERR_CONFIG, "cannot use the LDAP URI %s: %s", c->uri,
                          ldap_err2string(rc));
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        st = set_opt(c, opt, val, #opt, err);                                                      \
        if (st != KF_OK)                                                                           \
            return st;                                                                             \
    } while (0)
    SET(LDAP_OPT_PROTOCOL_VERSION, &version);
    SET(LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    SET(LDAP_OPT_RESTART, LDAP_OPT_ON);
    SET(LDAP_OPT_NETWORK_TIMEOUT, &ad->tv);
    SET(LDAP_OPT_TIMEOUT, &ad->tv);
    /* libldap bounds the TLS handshake (LDAPS and StartTLS) by the network
     * timeout only with asynchronous connects; without this a server that
     * accepts and stays silent holds the handshake for minutes. */
    SET(LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON);
    /* Use the name as given: no reverse DNS to build ldap/<host>. */
    SET(LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON);
    if (ad->tls == KF_TLS_NO) {
        ssf_min = MIN_SEAL_SSF; /* sealing, or no connection */
        ssf_max = 0x7fffffff;
    } else {
        ssf_min = 0; /* TLS protects; AD refuses a SASL layer inside TLS */
        ssf_max = 0;
    }
    SET(LDAP_OPT_X_SASL_SSF_MIN, &ssf_min);
    SET(LDAP_OPT_X_SASL_SSF_MAX, &ssf_max);
    if (ad->tls != KF_TLS_NO) {
        int demand = LDAP_OPT_X_TLS_DEMAND, tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, client = 0;
        if (cfg->directory.ca_file != NULL)
            SET(LDAP_OPT_X_TLS_CACERTFILE, cfg->directory.ca_file);
        SET(LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        SET(LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12);
        SET(LDAP_OPT_X_TLS_NEWCTX, &client); /* last: builds the context */
    }
#undef SET

    /* Connect first, so that an unreachable server is reported as such and
     * not as whatever Kerberos says next. For LDAPS this includes the TLS
     * handshake; both are bounded by the network timeout. */
    {
        struct req rq = {.phase = PH_CONNECT, .what = "connect", .started = mono_now()};
        diag_clear(c->ld);
        rc = ldap_connect(c->ld);
        if (rc == LDAP_SUCCESS && ad->tls != KF_TLS_LDAPS) {
            rq.sys_errno = wait_connected(c->ld, &ad->tv);
            if (rq.sys_errno != 0)
                rc = LDAP_SERVER_DOWN;
        }
        if (rc != LDAP_SUCCESS)
            return ad_fail(dir, c, rc, &rq, err);
    }
    if (ad->tls == KF_TLS_STARTTLS) {
        struct req rq = {.phase = PH_TLS, .what = "start TLS", .started = mono_now()};
        diag_clear(c->ld);
        rc = ldap_start_tls_s(c->ld, NULL, NULL);
        if (rc != LDAP_SUCCESS)
            return ad_fail(dir, c, rc, &rq, err);
    }
    {
        struct req rq = {
            .phase = PH_BIND, .what = "authenticate (SASL/GSSAPI)", .started = mono_now()};
        diag_clear(c->ld);
        rc = ldap_sasl_interactive_bind_s(c->ld, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET,
                                          sasl_interact, NULL);
        if (rc != LDAP_SUCCESS)
            return ad_fail(dir, c, rc, &rq, err);
        c->bound = true;
    }
    if (ad->tls == KF_TLS_NO) {
        if (ldap_get_option(c->ld, LDAP_OPT_X_SASL_SSF, &ssf) != LDAP_OPT_SUCCESS ||
            ssf < MIN_SEAL_SSF)
            return kf_err_set(err, KF_ERR_DIRECTORY,
                              "the connection to the directory server %s (%s) is not sealed "
                              "(SASL security strength %lu)",
                              c->host, c->uri, (unsigned long)ssf);
    } else if (!ldap_tls_inplace(c->ld)) {
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the connection to the directory server %s (%s) is not protected by "
                          "TLS",
                          c->host, c->uri);
    }
    return KF_OK;
}

/* Fill C's uri/host/port from SCHEME, HOST, PORT. */
static kf_status
conn_target(struct conn *c, const char *scheme, const char *host, int port, struct kf_err *err)
{
    bool v6 = strchr(host, ':') != NULL;

    c->host = strdup(host);
    c->port = port;
    c->uri = str_printf("%s://%s%s%s:%d", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (c->host == NULL || c->uri == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

struct cand {
    char scheme[8];
    char host[256];
    int port;
};

/* The servers to try, in order: [directory] ldap_uri (each URI), else
 * server, else DNS SRV _ldap._tcp.<domain>. */
static kf_status
candidates(struct kf_dir *dir, struct cand *list, size_t *n, char *source, size_t source_size,
           struct kf_err *err)
{
    const struct kf_config *cfg = dir->cfg;
    enum kf_tls tls = cfg->directory.tls;
    const char *want = tls == KF_TLS_LDAPS ? "ldaps" : "ldap";
    int defport = tls == KF_TLS_LDAPS ? LDAP_PORT_TLS : LDAP_PORT_PLAIN;

    *n = 0;
    if (cfg->directory.ldap_uri != NULL) {
        _cleanup_free_ char *copy = strdup(cfg->directory.ldap_uri);
        char *save = NULL;
        if (copy == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        snprintf(source, source_size, "[directory] ldap_uri");
        for (char *u = strtok_r(copy, " \t,", &save); u != NULL && *n < CAND_MAX;
             u = strtok_r(NULL, " \t,", &save)) {
            LDAPURLDesc *lud = NULL;
            if (ldap_url_parse(u, &lud) != LDAP_URL_SUCCESS)
                return kf_err_set(err, KF_ERR_CONFIG, "[directory] ldap_uri: %s is not an LDAP URI",
                                  u);
            kf_status st = KF_OK;
            if (strcasecmp(lud->lud_scheme, "ldapi") == 0)
                st = kf_err_set(err, KF_ERR_CONFIG,
                                "[directory] ldap_uri: %s: ldapi:// cannot be used, Kerberos needs "
                                "the server's DNS name (ldap://NAME or ldaps://NAME)",
                                u);
            else if (strcasecmp(lud->lud_scheme, want) != 0)
                st = kf_err_set(err, KF_ERR_CONFIG,
                                "[directory] ldap_uri: %s does not match tls = %s (%s needs "
                                "%s:// URIs)",
                                u,
                                tls == KF_TLS_LDAPS      ? "ldaps"
                                : tls == KF_TLS_STARTTLS ? "starttls"
                                                         : "no",
                                tls == KF_TLS_LDAPS ? "ldaps" : "this setting", want);
            else if (lud->lud_host == NULL || lud->lud_host[0] == '\0')
                st = kf_err_set(err, KF_ERR_CONFIG, "[directory] ldap_uri: %s names no server", u);
            else if (strlen(lud->lud_host) >= sizeof(list[0].host))
                st = kf_err_set(err, KF_ERR_CONFIG, "[directory] ldap_uri: %s: host name too long",
                                u);
            if (st == KF_OK) {
                kf_strlcpy(list[*n].scheme, want, sizeof(list[*n].scheme));
                kf_strlcpy(list[*n].host, lud->lud_host, sizeof(list[*n].host));
                lower(list[*n].host);
                list[*n].port = lud->lud_port > 0 ? lud->lud_port : defport;
                (*n)++;
            }
            ldap_free_urldesc(lud);
            if (st != KF_OK)
                return st;
        }
        if (*n == 0)
            return kf_err_set(err, KF_ERR_CONFIG, "[directory] ldap_uri is empty");
        return KF_OK;
    }
    if (cfg->directory.server != NULL) {
        snprintf(source, source_size, "[directory] server");
        if (strlen(cfg->directory.server) >= sizeof(list[0].host))
            return kf_err_set(err, KF_ERR_CONFIG, "[directory] server: name too long");
        kf_strlcpy(list[0].scheme, want, sizeof(list[0].scheme));
        kf_strlcpy(list[0].host, cfg->directory.server, sizeof(list[0].host));
        list[0].port = defport;
        *n = 1;
        return KF_OK;
    }
    if (cfg->directory.domain == NULL)
        return kf_err_set(err, KF_ERR_CONFIG,
                          "no directory domain: set [directory] domain (or server / ldap_uri), "
                          "or default_realm in krb5.conf");
    {
        _cleanup_free_ char *name = str_printf("_ldap._tcp.%s", cfg->directory.domain);
        struct kf_srv *srv = NULL;
        size_t nsrv = 0;
        kf_status st;

        if (name == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        snprintf(source, source_size, "DNS SRV %s", name);
        st = kf_srv_lookup(name, &srv, &nsrv, err);
        if (st != KF_OK)
            return kf_err_prefix(err,
                                 "cannot find a domain controller for %s (set [directory] server "
                                 "or ldap_uri to name one)",
                                 cfg->directory.domain);
        for (size_t i = 0; i < nsrv && *n < CAND_MAX; i++) {
            if (strlen(srv[i].target) >= sizeof(list[0].host))
                continue;
            kf_strlcpy(list[*n].scheme, want, sizeof(list[*n].scheme));
            kf_strlcpy(list[*n].host, srv[i].target, sizeof(list[*n].host));
            /* the record names the LDAP port; LDAPS is on 636 of the same DC */
            list[*n].port = tls == KF_TLS_LDAPS ? LDAP_PORT_TLS : (int)srv[i].port;
            (*n)++;
        }
        kf_srv_free(srv, nsrv);
        if (*n == 0)
            return kf_err_set(err, KF_ERR_NOT_FOUND, "%s lists no usable server", name);
    }
    return KF_OK;
}

/* ------------------------------------------------------------------------ */
/* what the DC tells about itself */

static kf_status
read_root_dse(struct kf_dir *dir, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    static const char *const attrs[] = {"defaultNamingContext", "configurationNamingContext",
                                        "dnsHostName", "isGlobalCatalogReady", NULL};
    struct req rq = {.phase = PH_OP, .what = "read the root DSE"};
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *gc = NULL, *host = NULL;
    LDAPMessage *e;
    bool oom = false;
    kf_status st;

    st = search(dir, &ad->main, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &res, &rq, err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    if (e == NULL)
        return kf_err_set(err, KF_ERR_DIRECTORY, "the directory server %s (%s) shows no root DSE",
                          ad->main.host, ad->main.uri);
    dir->base_dn = entry_str(ad->main.ld, e, "defaultNamingContext", &oom);
    ad->config_nc = entry_str(ad->main.ld, e, "configurationNamingContext", &oom);
    host = entry_str(ad->main.ld, e, "dnsHostName", &oom);
    gc = entry_str(ad->main.ld, e, "isGlobalCatalogReady", &oom);
    if (oom)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (dir->base_dn == NULL || ad->config_nc == NULL)
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the directory server %s (%s) is not an Active Directory domain "
                          "controller (no defaultNamingContext in its root DSE)",
                          ad->main.host, ad->main.uri);
    ad->gc_offered = gc != NULL && strcasecmp(gc, "TRUE") == 0;
    if (host != NULL) {
        lower(host);
        dir->server = TAKE_PTR(host);
    } else {
        dir->server = strdup(ad->main.host);
        if (dir->server == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    return KF_OK;
}

/* "DC=lab,DC=test" -> "lab.test"; NULL when BASE has other components. */
static char *
domain_from_dn(const char *base)
{
    size_t n = strlen(base);
    char *out = malloc(n + 1), *o = out;
    const char *p = base;

    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        if (strncasecmp(p, "DC=", 3) != 0) {
            free(out);
            return NULL;
        }
        p += 3;
        if (o != out)
            *o++ = '.';
        while (*p != '\0' && *p != ',')
            *o++ = (char)tolower((unsigned char)*p++);
        if (*p == ',')
            p++;
    }
    *o = '\0';
    return out;
}

/* NetBIOS name and DNS root of our domain, from its crossRef object. */
static kf_status
read_partition(struct kf_dir *dir, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    static const char *const attrs[] = {"nETBIOSName", "dnsRoot", NULL};
    struct req rq = {.phase = PH_OP, .what = "read the domain's NetBIOS name"};
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *base = str_printf("CN=Partitions,%s", ad->config_nc);
    _cleanup_free_ char *esc = filter_escape(dir->base_dn), *filter = NULL, *root = NULL;
    LDAPMessage *e;
    bool oom = false;
    kf_status st;

    if (base == NULL || esc == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    filter = str_printf("(&(objectClass=crossRef)(nCName=%s))", esc);
    if (filter == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    st = search(dir, &ad->main, base, LDAP_SCOPE_ONELEVEL, filter, attrs, &res, &rq, err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    if (e != NULL) {
        dir->netbios = entry_str(ad->main.ld, e, "nETBIOSName", &oom);
        root = entry_str(ad->main.ld, e, "dnsRoot", &oom);
    }
    if (oom)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (dir->netbios == NULL)
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the directory server %s shows no NetBIOS name for %s (no crossRef in "
                          "%s)",
                          dir->server, dir->base_dn, base);
    if (root != NULL) {
        lower(root);
        dir->domain = TAKE_PTR(root);
    } else {
        dir->domain = domain_from_dn(dir->base_dn);
        if (dir->domain == NULL)
            return kf_err_set(err, KF_ERR_DIRECTORY, "cannot tell the DNS domain of %s",
                              dir->base_dn);
    }
    dir->realm = upper_dup(dir->domain);
    if (dir->realm == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

/* ------------------------------------------------------------------------ */
/* open / free */

static void
ad_free(struct kf_dir *dir)
{
    struct ad *ad = AD(dir);

    if (ad == NULL)
        return;
    conn_close(&ad->main);
    conn_close(&ad->gc);
    free(ad->config_nc);
    free(ad->computers);
    free(ad->principal);
    free(ad->ccache);
    free(ad);
    dir->priv = NULL;
}

static kf_status
ad_open(struct kf_dir *dir, struct kf_err *err)
{
    const struct kf_config *cfg = dir->cfg;
    struct ad *ad;
    struct cand list[CAND_MAX];
    char source[300], failures[KF_ERR_MSG_MAX] = "";
    size_t n = 0, i;
    kf_status st;

    ad = calloc(1, sizeof(*ad));
    if (ad == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    dir->priv = ad;
    ad->tls = cfg->directory.tls;
    ad->tv.tv_sec = cfg->directory.timeout_s > 0 ? (time_t)cfg->directory.timeout_s : 10;
    ad->tv.tv_usec = 0;

    st = check_ticket(dir, err);
    if (st != KF_OK)
        return st;
    st = candidates(dir, list, &n, source, sizeof(source), err);
    if (st != KF_OK)
        return st;
    for (i = 0; i < n; i++) {
        st = conn_target(&ad->main, list[i].scheme, list[i].host, list[i].port, err);
        if (st == KF_OK)
            st = conn_open(dir, &ad->main, err);
        if (st == KF_OK)
            break;
        conn_close(&ad->main);
        if (st != KF_ERR_DIRECTORY || n == 1)
            return st;
        /* unreachable: remember why and try the next one */
        size_t l = strlen(failures);
        snprintf(failures + l, sizeof(failures) - l, "%s%s", l > 0 ? "; " : "",
                 err != NULL ? err->msg : "unreachable");
    }
    if (i == n)
        return kf_err_set(err, KF_ERR_DIRECTORY, "no directory server from %s answered: %s", source,
                          failures);
    st = read_root_dse(dir, err);
    if (st != KF_OK)
        return st;
    st = read_partition(dir, err);
    if (st != KF_OK)
        return st;
    if (cfg->directory.domain != NULL && strcasecmp(cfg->directory.domain, dir->domain) != 0)
        return kf_err_set(err, KF_ERR_CONFIG,
                          "the directory server %s serves the domain %s, not %s ([directory] "
                          "domain)",
                          dir->server, dir->domain, cfg->directory.domain);
    return KF_OK;
}

/* ------------------------------------------------------------------------ */
/* accounts */

static const char *const account_attrs[] = {"sAMAccountName",
                                            "servicePrincipalName",
                                            "msDS-KeyVersionNumber",
                                            "msDS-SupportedEncryptionTypes",
                                            "userAccountControl",
                                            "accountExpires",
                                            "uSNChanged",
                                            "pwdLastSet",
                                            NULL};

/* Search the domain for sAMAccountName NAME$. *RES holds the result and
 * *ENTRY the account, or NULL when there is none (not an error here). */
static kf_status
find_account(struct kf_dir *dir, const char *name, const char *const *attrs, LDAPMessage **res,
             LDAPMessage **entry, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *esc = filter_escape(name), *filter = NULL, *what = NULL;
    kf_status st;

    *entry = NULL;
    if (esc == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    filter = str_printf("(sAMAccountName=%s$)", esc);
    what = str_printf("look up the account %s$ in %s", name, dir->base_dn);
    if (filter == NULL || what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dir->base_dn};
    st = search(dir, &ad->main, dir->base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, res, &rq, err);
    if (st != KF_OK)
        return st;
    *entry = ldap_first_entry(ad->main.ld, *res);
    return KF_OK;
}

static kf_status
not_found(struct kf_dir *dir, const char *name, struct kf_err *err)
{
    return kf_err_set(err, KF_ERR_NOT_FOUND, "no account %s$ in %s (directory server %s)", name,
                      dir->base_dn, dir->server);
}

/* The DN of account NAME (new string in *DN). */
static kf_status
account_dn(struct kf_dir *dir, const char *name, char **dn, struct kf_err *err)
{
    static const char *const attrs[] = {"sAMAccountName", NULL};
    _cleanup_msg_ LDAPMessage *res = NULL;
    LDAPMessage *e;
    bool oom = false;
    kf_status st;

    *dn = NULL;
    st = find_account(dir, name, attrs, &res, &e, err);
    if (st != KF_OK)
        return st;
    if (e == NULL)
        return not_found(dir, name, err);
    *dn = entry_dn(AD(dir)->main.ld, e, &oom);
    return oom ? kf_err_set(err, KF_ERR_NOMEM, "out of memory") : KF_OK;
}

static kf_status
ad_account_get(struct kf_dir *dir, const char *name, struct kf_dir_account **out,
               struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    LDAPMessage *e;
    struct kf_dir_account *a;
    _cleanup_free_ char *sam = NULL, *kvno = NULL, *enc = NULL, *uac = NULL, *exp = NULL,
                        *usn = NULL, *pls = NULL;
    bool oom = false;
    int64_t v;
    kf_status st;

    st = find_account(dir, name, account_attrs, &res, &e, err);
    if (st != KF_OK)
        return st;
    if (e == NULL)
        return not_found(dir, name, err);
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    a->kvno = -1;
    a->usn_changed = -1;
    a->pwd_last_set = -1;
    a->dn = entry_dn(ad->main.ld, e, &oom);
    sam = entry_str(ad->main.ld, e, "sAMAccountName", &oom);
    kvno = entry_str(ad->main.ld, e, "msDS-KeyVersionNumber", &oom);
    enc = entry_str(ad->main.ld, e, "msDS-SupportedEncryptionTypes", &oom);
    uac = entry_str(ad->main.ld, e, "userAccountControl", &oom);
    exp = entry_str(ad->main.ld, e, "accountExpires", &oom);
    usn = entry_str(ad->main.ld, e, "uSNChanged", &oom);
    pls = entry_str(ad->main.ld, e, "pwdLastSet", &oom);
    if (sam != NULL) {
        size_t l = strlen(sam);
        if (l > 1 && sam[l - 1] == '$')
            sam[l - 1] = '\0';
        a->name = TAKE_PTR(sam);
    } else {
        a->name = strdup(name);
        oom = oom || a->name == NULL;
    }
    if (parse_i64(kvno, &v) && v >= 0 && v <= INT32_MAX)
        a->kvno = (int)v;
    if (parse_i64(enc, &v) && v >= 0 && v <= UINT32_MAX)
        a->enctypes = (unsigned)v;
    if (parse_i64(uac, &v))
        a->disabled = ((uint64_t)v & KF_UAC_ACCOUNTDISABLE) != 0;
    if (parse_i64(exp, &v) && v != 0 && v != INT64_MAX) {
        int64_t now = (int64_t)time(NULL) * 10000000LL + FILETIME_UNIX_EPOCH;
        a->expired = v <= now;
    }
    if (parse_i64(usn, &v))
        a->usn_changed = v;
    /* FILETIME: 100 ns since 1601; 0 means "must change at next logon". */
    if (parse_i64(pls, &v) && v > FILETIME_UNIX_EPOCH)
        a->pwd_last_set = (v - FILETIME_UNIX_EPOCH) / 10000000LL;
    if (entry_strv(ad->main.ld, e, "servicePrincipalName", &a->spns, &a->n_spns) != 0)
        oom = true;
    if (oom) {
        kf_dir_account_free(a);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    *out = a;
    return KF_OK;
}

static const char *const traits_attrs[] = {"objectClass",
                                           "userAccountControl",
                                           "primaryGroupID",
                                           "msDS-AllowedToDelegateTo",
                                           "msDS-AllowedToActOnBehalfOfOtherIdentity",
                                           "servicePrincipalName",
                                           NULL};

/* tokenGroups of DN (a constructed attribute: base scope only) into a new
 * array *GROUPS of *N SIDs (NULL and 0 when none is readable). */
static kf_status
token_groups(struct kf_dir *dir, const char *dn, struct kf_sid **groups, size_t *n_groups,
             struct kf_err *err)
{
    static const char *const attrs[] = {"tokenGroups", NULL};
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *what = str_printf("read the group memberships (tokenGroups) of %s", dn);
    _cleanup_free_ struct kf_sid *v_sid = NULL;
    struct berval **v;
    LDAPMessage *e;
    size_t n;
    kf_status st;

    *groups = NULL;
    *n_groups = 0;
    if (what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dn};
    st = search(dir, &ad->main, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &res, &rq, err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    v = e != NULL ? ldap_get_values_len(ad->main.ld, e, "tokenGroups") : NULL;
    if (v == NULL)
        return KF_OK; /* none readable: the callers refuse or say so */
    n = (size_t)ldap_count_values_len(v);
    v_sid = calloc(n ? n : 1, sizeof(*v_sid));
    if (v_sid == NULL) {
        ldap_value_free_len(v);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (kf_sid_parse(v[i]->bv_val, v[i]->bv_len, &v_sid[i]) != 0) {
            st = kf_err_set(err, KF_ERR_DIRECTORY,
                            "%s sent a malformed group SID (%zu bytes) in the tokenGroups of %s",
                            dir->server, (size_t)v[i]->bv_len, dn);
            ldap_value_free_len(v);
            return st;
        }
    }
    ldap_value_free_len(v);
    *groups = TAKE_PTR(v_sid);
    *n_groups = n;
    return KF_OK;
}

static kf_status
read_token_groups(struct kf_dir *dir, struct kf_dir_traits *t, struct kf_err *err)
{
    return token_groups(dir, t->dn, &t->groups, &t->n_groups, err);
}

static kf_status
ad_account_traits(struct kf_dir *dir, const char *name, struct kf_dir_traits **out,
                  struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *uac = NULL, *pg = NULL;
    struct berval **rbcd;
    struct kf_dir_traits *t;
    LDAPMessage *e;
    bool oom = false;
    int64_t v;
    kf_status st;

    st = find_account(dir, name, traits_attrs, &res, &e, err);
    if (st != KF_OK)
        return st;
    if (e == NULL)
        return not_found(dir, name, err);
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    t->uac = t->primary_group = -1;
    t->dn = entry_dn(ad->main.ld, e, &oom);
    uac = entry_str(ad->main.ld, e, "userAccountControl", &oom);
    pg = entry_str(ad->main.ld, e, "primaryGroupID", &oom);
    if (parse_i64(uac, &v) && v >= 0 && v <= UINT32_MAX)
        t->uac = v;
    if (parse_i64(pg, &v) && v >= 0 && v <= UINT32_MAX)
        t->primary_group = v;
    rbcd = ldap_get_values_len(ad->main.ld, e, "msDS-AllowedToActOnBehalfOfOtherIdentity");
    t->rbcd = rbcd != NULL && rbcd[0] != NULL;
    if (rbcd != NULL)
        ldap_value_free_len(rbcd);
    if (entry_strv(ad->main.ld, e, "objectClass", &t->object_classes, &t->n_object_classes) != 0 ||
        entry_strv(ad->main.ld, e, "msDS-AllowedToDelegateTo", &t->delegate_to,
                   &t->n_delegate_to) != 0 ||
        entry_strv(ad->main.ld, e, "servicePrincipalName", &t->spns, &t->n_spns) != 0)
        oom = true;
    if (oom) {
        kf_dir_traits_free(t);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if ((st = read_token_groups(dir, t, err)) != KF_OK) {
        kf_dir_traits_free(t);
        return st;
    }
    *out = t;
    return KF_OK;
}

/* The Computers container, from the domain object's wellKnownObjects. */
static kf_status
computers_container(struct kf_dir *dir, const char **out, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    static const char *const attrs[] = {"wellKnownObjects", NULL};
    struct req rq = {.phase = PH_OP,
                     .what = "read the domain's well-known containers",
                     .right = NULL,
                     .object = dir->base_dn};
    _cleanup_msg_ LDAPMessage *res = NULL;
    static const char prefix[] = "B:32:" WKGUID_COMPUTERS ":";
    LDAPMessage *e;
    struct berval **v;
    kf_status st;

    if (ad->computers != NULL) {
        *out = ad->computers;
        return KF_OK;
    }
    st = search(dir, &ad->main, dir->base_dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &res, &rq,
                err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    v = e != NULL ? ldap_get_values_len(ad->main.ld, e, "wellKnownObjects") : NULL;
    for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
        size_t pl = sizeof(prefix) - 1;
        if (v[i]->bv_len > pl && strncasecmp(v[i]->bv_val, prefix, pl) == 0) {
            ad->computers = strndup(v[i]->bv_val + pl, v[i]->bv_len - pl);
            if (ad->computers == NULL) {
                ldap_value_free_len(v);
                return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            }
            break;
        }
    }
    if (v != NULL)
        ldap_value_free_len(v);
    if (ad->computers == NULL)
        return kf_err_set(err, KF_ERR_DIRECTORY,
                          "the domain %s names no Computers container (no wellKnownObjects "
                          "value for %s); pass a container",
                          dir->base_dn, WKGUID_COMPUTERS);
    *out = ad->computers;
    return KF_OK;
}

static kf_status
ad_account_create(struct kf_dir *dir, const char *name, const char *container, unsigned enctypes,
                  const char *password, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    static const char *const attrs[] = {"sAMAccountName", NULL};
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *rdn = NULL, *dn = NULL, *sam = NULL, *what = NULL, *right = NULL;
    char uac[16], enc[16];
    char *pw = NULL;
    unsigned char *upw = NULL;
    size_t upw_len = 0;
    LDAPMessage *e;
    kf_status st;
    int rc;

    if (container == NULL) {
        st = computers_container(dir, &container, err);
        if (st != KF_OK)
            return st;
    }
    st = find_account(dir, name, attrs, &res, &e, err);
    if (st != KF_OK)
        return st;
    if (e != NULL) {
        char *d = ldap_get_dn(ad->main.ld, e);
        st = kf_err_set(err, KF_ERR_EXISTS, "an account %s$ exists already: %s", name,
                        d != NULL ? d : "(no DN)");
        ldap_memfree(d);
        return st;
    }
    rdn = rdn_escape(name);
    if (rdn == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    dn = str_printf("CN=%s,%s", rdn, container);
    sam = str_printf("%s$", name);
    what = str_printf("create the computer account %s", dn != NULL ? dn : name);
    right = str_printf("create computer objects in %s", container);
    if (dn == NULL || sam == NULL || what == NULL || right == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    snprintf(uac, sizeof(uac), "%u", KF_UAC_WORKSTATION_TRUST_ACCOUNT);
    snprintf(enc, sizeof(enc), "%u", enctypes);

    if (password == NULL) {
        st = kf_password_new(KF_PASSWORD_LEN, &pw);
        if (st != KF_OK)
            return kf_err_set(err, st, "cannot make a password for %s: %s", name,
                              kf_strerror(st));
    }
    st = unicode_pwd(password != NULL ? password : pw, &upw, &upw_len);
    kf_free_secret_str(pw);
    if (st != KF_OK)
        return kf_err_set(err, st, "cannot encode the password for %s", name);

    {
        char *oc_v[] = {UNCONST("computer"), NULL};
        char *cn_v[] = {UNCONST(name), NULL};
        char *sam_v[] = {sam, NULL};
        char *uac_v[] = {uac, NULL};
        char *enc_v[] = {enc, NULL};
        char *desc_v[] = {UNCONST("Kerberos account of web server pools, managed by krbfleet"),
                          NULL};
        struct berval pwbv = {upw_len, (char *)upw};
        struct berval *pw_v[] = {&pwbv, NULL};
        LDAPMod m_oc = {LDAP_MOD_ADD, UNCONST("objectClass"), {.modv_strvals = oc_v}};
        LDAPMod m_cn = {LDAP_MOD_ADD, UNCONST("cn"), {.modv_strvals = cn_v}};
        LDAPMod m_sam = {LDAP_MOD_ADD, UNCONST("sAMAccountName"), {.modv_strvals = sam_v}};
        LDAPMod m_uac = {LDAP_MOD_ADD, UNCONST("userAccountControl"), {.modv_strvals = uac_v}};
        LDAPMod m_enc = {
            LDAP_MOD_ADD, UNCONST("msDS-SupportedEncryptionTypes"), {.modv_strvals = enc_v}};
        LDAPMod m_desc = {LDAP_MOD_ADD, UNCONST("description"), {.modv_strvals = desc_v}};
        LDAPMod m_pw = {
            LDAP_MOD_ADD | LDAP_MOD_BVALUES, UNCONST("unicodePwd"), {.modv_bvals = pw_v}};
        LDAPMod *mods[] = {&m_oc, &m_cn, &m_sam, &m_uac, &m_enc, &m_desc, &m_pw, NULL};
        struct req rq = {
            .phase = PH_OP, .what = what, .right = right, .object = dn, .grant = true};

        diag_clear(ad->main.ld);
        dir->writes++;
        rc = ldap_add_ext_s(ad->main.ld, dn, mods, NULL, NULL);
        kf_free_secret(upw, upw_len);
        if (rc == LDAP_NO_SUCH_OBJECT)
            return kf_err_set(err, KF_ERR_NOT_FOUND,
                              "cannot create %s: the container %s does not exist", dn, container);
        if (rc != LDAP_SUCCESS)
            return ad_fail(dir, &ad->main, rc, &rq, err);
    }
    return KF_OK;
}

static kf_status
ad_account_delete(struct kf_dir *dir, const char *name, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *dn = NULL, *what = NULL;
    kf_status st;
    int rc;

    st = account_dn(dir, name, &dn, err);
    if (st != KF_OK)
        return st;
    what = str_printf("delete %s", dn);
    if (what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dn, .grant = true};
    diag_clear(ad->main.ld);
    dir->writes++;
    rc = ldap_delete_ext_s(ad->main.ld, dn, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        return ad_fail(dir, &ad->main, rc, &rq, err);
    return KF_OK;
}

/* ------------------------------------------------------------------------ */
/* SPNs */

/* Open the global catalog of the same DC, with the same protection and
 * the same ticket. */
static kf_status
gc_open(struct kf_dir *dir, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    kf_status st;

    if (ad->gc.ld != NULL)
        return KF_OK;
    st = conn_target(&ad->gc, ad->tls == KF_TLS_LDAPS ? "ldaps" : "ldap", ad->main.host,
                     ad->tls == KF_TLS_LDAPS ? GC_PORT_TLS : GC_PORT, err);
    if (st == KF_OK)
        st = conn_open(dir, &ad->gc, err);
    if (st != KF_OK) {
        conn_close(&ad->gc);
        return kf_err_prefix(err, "the directory server %s is a global catalog but", dir->server);
    }
    return KF_OK;
}

/* Every object that holds SPN (case-insensitive), in the global catalog
 * when there is one: a duplicate is a list of two or more. */
static kf_status
ad_spn_holders(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out, size_t *n,
               struct kf_err *err)
{
    struct ad *ad = AD(dir);
    static const char *const attrs[] = {"sAMAccountName", NULL};
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *esc = filter_escape(spn), *filter = NULL, *what = NULL;
    struct conn *c = &ad->main;
    const char *base = dir->base_dn;
    struct kf_dir_owner *v = NULL;
    size_t count = 0;
    bool oom = false;
    kf_status st;

    if (esc == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (ad->gc_offered) {
        st = gc_open(dir, err);
        if (st != KF_OK)
            return st;
        c = &ad->gc;
        base = ""; /* the whole forest */
    }
    filter = str_printf("(servicePrincipalName=%s)", esc);
    what = str_printf("search for the SPN %s", spn);
    if (filter == NULL || what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what};
    st = search(dir, c, base, LDAP_SCOPE_SUBTREE, filter, attrs, &res, &rq, err);
    if (st != KF_OK)
        return st;
    for (LDAPMessage *e = ldap_first_entry(c->ld, res); e != NULL && !oom;
         e = ldap_next_entry(c->ld, e)) {
        struct kf_dir_owner *bigger = realloc(v, (count + 1) * sizeof(*v));
        if (bigger == NULL) {
            oom = true;
            break;
        }
        v = bigger;
        v[count].dn = entry_dn(c->ld, e, &oom);
        v[count].name = entry_str(c->ld, e, "sAMAccountName", &oom);
        if (v[count].name != NULL) {
            size_t l = strlen(v[count].name);
            if (l > 1 && v[count].name[l - 1] == '$')
                v[count].name[l - 1] = '\0';
        }
        count++;
    }
    if (oom) {
        kf_dir_owners_free(v, count);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    *out = v;
    *n = count;
    return KF_OK;
}

/* After the DC refused an SPN change as a conflict: say who holds which. */
static void
explain_conflict(struct kf_dir *dir, const char *dn, const char *const *add, size_t n_add,
                 struct kf_err *err)
{
    struct kf_err saved = *err, tmp = {0};
    char held[KF_ERR_MSG_MAX] = "";

    for (size_t i = 0; i < n_add; i++) {
        struct kf_dir_owner *v = NULL;
        size_t n = 0;
        if (ad_spn_holders(dir, add[i], &v, &n, &tmp) == KF_OK)
            for (size_t k = 0; k < n; k++)
                if (v[k].dn != NULL && strcasecmp(v[k].dn, dn) != 0) {
                    size_t l = strlen(held);
                    snprintf(held + l, sizeof(held) - l, "%s%s is held by %s", l > 0 ? ", " : "",
                             add[i], v[k].dn);
                    break;
                }
        kf_dir_owners_free(v, n);
    }
    *err = saved;
    if (held[0] != '\0')
        kf_err_prefix(err, "%s", held);
}

/* One modify on DN: add ADD and remove DEL (see the order below). */
static kf_status
ad_spn_modify_dn(struct kf_dir *dir, const char *dn, const char *const *add, size_t n_add,
                 const char *const *del, size_t n_del, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *what = NULL, *right = NULL;
    LDAPMod m_del = {LDAP_MOD_DELETE, UNCONST("servicePrincipalName"), {NULL}};
    LDAPMod m_add = {LDAP_MOD_ADD, UNCONST("servicePrincipalName"), {NULL}};
    LDAPMod *mods[3] = {NULL, NULL, NULL};
    _cleanup_free_ char **vdel = NULL, **vadd = NULL;
    size_t nm = 0;
    kf_status st;
    int rc;

    what = str_printf("change servicePrincipalName of %s (remove %zu, add %zu)", dn, n_del, n_add);
    right = str_printf("write servicePrincipalName on %s", dn);
    vdel = calloc(n_del + 1, sizeof(char *));
    vadd = calloc(n_add + 1, sizeof(char *));
    if (what == NULL || right == NULL || vdel == NULL || vadd == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_del; i++)
        vdel[i] = UNCONST(del[i]);
    for (size_t i = 0; i < n_add; i++)
        vadd[i] = UNCONST(add[i]);
    m_del.mod_values = vdel;
    m_add.mod_values = vadd;
    /* Add before delete. The two sets are disjoint (directory.c checks),
     * so the result is the same either way; but Samba (4.17) checks SPN
     * uniqueness only on the first servicePrincipalName element of a
     * modify: with the delete first, a duplicate SPN in the add slipped
     * through, and a duplicate can then not be deleted either. */
    if (n_add > 0)
        mods[nm++] = &m_add;
    if (n_del > 0)
        mods[nm++] = &m_del;

    struct req rq = {
        .phase = PH_OP, .what = what, .right = right, .object = dn, .grant = true};
    diag_clear(ad->main.ld);
    dir->writes++;
    rc = ldap_modify_ext_s(ad->main.ld, dn, mods, NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        st = ad_fail(dir, &ad->main, rc, &rq, err);
        if (st == KF_ERR_CONFLICT && n_add > 0)
            explain_conflict(dir, dn, add, n_add, err);
        return st;
    }
    return KF_OK;
}

static kf_status
ad_spn_modify(struct kf_dir *dir, const char *name, const char *const *add, size_t n_add,
              const char *const *del, size_t n_del, struct kf_err *err)
{
    _cleanup_free_ char *dn = NULL;
    kf_status st = account_dn(dir, name, &dn, err);

    if (st != KF_OK)
        return st;
    return ad_spn_modify_dn(dir, dn, add, n_add, del, n_del, err);
}

/* ------------------------------------------------------------------------ */
/* passwords */

static kf_status
set_password_ldap(struct kf_dir *dir, const char *name, const char *dn, const char *password,
                  struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *what = NULL, *right = NULL;
    unsigned char *upw = NULL;
    size_t upw_len = 0;
    kf_status st;
    int rc;

    what = str_printf("set the password of %s", dn);
    right = str_printf("reset the password on %s", dn);
    if (what == NULL || right == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    st = unicode_pwd(password, &upw, &upw_len);
    if (st == KF_ERR_INVALID)
        return kf_err_set(err, st, "the new password for %s is not valid UTF-8", name);
    if (st != KF_OK)
        return kf_err_set(err, st, "out of memory");
    {
        struct berval pwbv = {upw_len, (char *)upw};
        struct berval *pw_v[] = {&pwbv, NULL};
        LDAPMod m_pw = {
            LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, UNCONST("unicodePwd"), {.modv_bvals = pw_v}};
        LDAPMod *mods[] = {&m_pw, NULL};
        struct req rq = {
            .phase = PH_OP, .what = what, .right = right, .object = dn, .grant = true};

        diag_clear(ad->main.ld);
        dir->writes++;
        rc = ldap_modify_ext_s(ad->main.ld, dn, mods, NULL, NULL);
        kf_free_secret(upw, upw_len);
        if (rc != LDAP_SUCCESS)
            return ad_fail(dir, &ad->main, rc, &rq, err);
    }
    return KF_OK;
}

/* Kerberos set-password (RFC 3244) for NAME$@REALM with the caller's
 * ticket, against the same DC: the krb5 context is pinned to it, so the
 * kadmin/changepw ticket and the kpasswd exchange (port 464) never go to
 * another DC. Bounded by libkrb5's own retry schedule, not [directory]
 * timeout. */
static kf_status
set_password_kpasswd(struct kf_dir *dir, const char *sam, const char *dn, const char *password,
                     struct kf_err *err)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_principal target = NULL;
    krb5_data code_string = {0}, result = {0};
    int result_code = 0;
    krb5_error_code ret;
    kf_status st;

    st = kf_krb5_pinned_context(dir->realm, dir->server, &ctx, err);
    if (st != KF_OK)
        return st;
    ret = krb5_cc_default(ctx, &cc);
    if (ret == 0)
        ret = krb5_build_principal_ext(ctx, &target, (unsigned)strlen(dir->realm), dir->realm,
                                       (unsigned)strlen(sam), sam, 0);
    if (ret == 0) {
        dir->writes++;
        ret = krb5_set_password_using_ccache(ctx, cc, password, target, &result_code, &code_string,
                                             &result);
    }
    if (ret != 0) {
        const char *m = krb5_get_error_message(ctx, ret);
        st = kf_err_set(err,
                        ret == KRB5_CC_NOTFOUND || ret == KRB5_FCC_NOFILE ? KF_ERR_CREDENTIALS
                                                                          : KF_ERR_KDC,
                        "kpasswd set-password of %s at %s:464 failed: %s", dn, dir->server, m);
        krb5_free_error_message(ctx, m);
    } else if (result_code != KRB5_KPASSWD_SUCCESS) {
        char *m = NULL;
        kf_status code = result_code == KRB5_KPASSWD_ACCESSDENIED ? KF_ERR_PERMISSION
                         : result_code == KRB5_KPASSWD_SOFTERROR  ? KF_ERR_CONFLICT
                                                                  : KF_ERR_KDC;
        if (krb5_chpw_message(ctx, &result, &m) != 0)
            m = NULL;
        if (code == KF_ERR_PERMISSION) {
            char right[1024], said[512];
            snprintf(right, sizeof(right), "reset the password on %s", dn);
            snprintf(said, sizeof(said), "kpasswd at %s: %.*s%s%s", dir->server,
                     (int)code_string.length, code_string.data != NULL ? code_string.data : "",
                     m != NULL ? ": " : "", m != NULL ? m : "");
            st = kf_dir_refused(dir, who(AD(dir)), right, dn, said, err);
        } else
            st = kf_err_set(err, code, "kpasswd at %s refused the new password of %s: %.*s%s%s",
                            dir->server, dn, (int)code_string.length,
                            code_string.data != NULL ? code_string.data : "", m != NULL ? ": " : "",
                            m != NULL ? m : "");
        krb5_free_string(ctx, m);
    }
    krb5_free_data_contents(ctx, &code_string);
    krb5_free_data_contents(ctx, &result);
    krb5_free_principal(ctx, target);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return st;
}

static kf_status
ad_set_password(struct kf_dir *dir, const char *name, const char *password, struct kf_err *err)
{
    static const char *const attrs[] = {"sAMAccountName", NULL};
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *dn = NULL, *sam = NULL;
    LDAPMessage *e;
    bool oom = false;
    kf_status st;

    st = find_account(dir, name, attrs, &res, &e, err);
    if (st != KF_OK)
        return st;
    if (e == NULL)
        return not_found(dir, name, err);
    dn = entry_dn(AD(dir)->main.ld, e, &oom);
    sam = entry_str(AD(dir)->main.ld, e, "sAMAccountName", &oom);
    if (oom || sam == NULL)
        return kf_err_set(err, oom ? KF_ERR_NOMEM : KF_ERR_DIRECTORY,
                          oom ? "out of memory" : "the account %s$ has no sAMAccountName", name);
    if (dir->cfg->directory.password_method == KF_PW_KPASSWD)
        return set_password_kpasswd(dir, sam, dn, password, err);
    return set_password_ldap(dir, name, dn, password, err);
}

/* ------------------------------------------------------------------------ */
/* encryption types */

static kf_status
ad_enctypes_set(struct kf_dir *dir, const char *name, unsigned enctypes, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *dn = NULL, *what = NULL, *right = NULL;
    char value[16];
    char *vals[] = {value, NULL};
    LDAPMod m = {LDAP_MOD_REPLACE, UNCONST("msDS-SupportedEncryptionTypes"), {.modv_strvals = vals}};
    LDAPMod *mods[] = {&m, NULL};
    kf_status st;
    int rc;

    if ((st = account_dn(dir, name, &dn, err)) != KF_OK)
        return st;
    snprintf(value, sizeof(value), "%u", enctypes);
    what = str_printf("set msDS-SupportedEncryptionTypes of %s to %u", dn, enctypes);
    right = str_printf("write msDS-SupportedEncryptionTypes on %s", dn);
    if (what == NULL || right == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = right, .object = dn, .grant = true};
    diag_clear(ad->main.ld);
    dir->writes++;
    rc = ldap_modify_ext_s(ad->main.ld, dn, mods, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        return ad_fail(dir, &ad->main, rc, &rq, err);
    return KF_OK;
}

/* ------------------------------------------------------------------------ */
/* delegation: principals, security descriptors, effective rights */

/* The LDAP_SERVER_SD_FLAGS control (MS-ADTS 3.1.1.3.4.1.11): which parts
 * of nTSecurityDescriptor a read returns or a write replaces. Its value is
 * BER SEQUENCE { INTEGER flags }; the flags are at most 0xf here, so the
 * encoding is fixed: 30 03 02 01 NN. */
#define SD_FLAGS_OID "1.2.840.113556.1.4.801"

static void
sd_control(unsigned parts, char value[5], LDAPControl *ctl)
{
    value[0] = 0x30;
    value[1] = 0x03;
    value[2] = 0x02;
    value[3] = 0x01;
    value[4] = (char)(parts & 0x0f);
    ctl->ldctl_oid = UNCONST(SD_FLAGS_OID);
    ctl->ldctl_value.bv_val = value;
    ctl->ldctl_value.bv_len = 5;
    ctl->ldctl_iscritical = 1;
}

static const char *
parts_name(unsigned parts)
{
    switch (parts) {
    case 0x1: return "owner";
    case 0x4: return "DACL";
    case 0x5: return "owner and DACL";
    default: return "security descriptor";
    }
}

/* (objectSid=\01\05...) for SID: a new string. */
static char *
sid_filter(const struct kf_sid *sid)
{
    uint8_t bin[8 + 4 * KF_SID_SUBAUTH_MAX];
    size_t n = 0;
    char *f, *p;

    bin[n++] = sid->revision;
    bin[n++] = sid->n_sub;
    for (int i = 0; i < 6; i++)
        bin[n++] = (uint8_t)(sid->authority >> (8 * (5 - i)));
    for (size_t i = 0; i < sid->n_sub && i < KF_SID_SUBAUTH_MAX; i++)
        for (int b = 0; b < 4; b++)
            bin[n++] = (uint8_t)(sid->sub[i] >> (8 * b));
    f = malloc(sizeof("(objectSid=)") + 3 * n);
    if (f == NULL)
        return NULL;
    p = f + snprintf(f, sizeof("(objectSid=)"), "(objectSid=");
    for (size_t i = 0; i < n; i++)
        p += snprintf(p, 4, "\\%02x", bin[i]);
    memcpy(p, ")", 2);
    return f;
}

static kf_status
ad_principal_find(struct kf_dir *dir, const char *name, const struct kf_sid *sid, bool groups,
                  struct kf_dir_principal **out, struct kf_err *err)
{
    static const char *const attrs[] = {"sAMAccountName", "objectSid", NULL};
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *esc = NULL, *filter = NULL, *what = NULL;
    char sidtext[KF_SID_STR_MAX];
    struct kf_dir_principal *p;
    struct berval **v;
    LDAPMessage *e;
    bool oom = false;
    kf_status st;

    if (name != NULL) {
        esc = filter_escape(name);
        filter = esc != NULL ? str_printf("(sAMAccountName=%s)", esc) : NULL;
        what = str_printf("look up the principal %s in %s", name, dir->base_dn);
    } else {
        kf_sid_format(sid, sidtext, sizeof(sidtext));
        filter = sid_filter(sid);
        what = str_printf("look up the principal %s in %s", sidtext, dir->base_dn);
    }
    if (filter == NULL || what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dir->base_dn};
    st = search(dir, &ad->main, dir->base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, &res, &rq, err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    if (e == NULL)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "no user, group or computer %s in %s (directory "
                          "server %s)", name != NULL ? name : sidtext, dir->base_dn, dir->server);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    p->dn = entry_dn(ad->main.ld, e, &oom);
    p->name = entry_str(ad->main.ld, e, "sAMAccountName", &oom);
    v = ldap_get_values_len(ad->main.ld, e, "objectSid");
    if (!oom && (v == NULL || v[0] == NULL ||
                 kf_sid_parse(v[0]->bv_val, v[0]->bv_len, &p->sid) != 0)) {
        if (v != NULL)
            ldap_value_free_len(v);
        st = kf_err_set(err, KF_ERR_DIRECTORY, "%s sent no valid objectSid for %s", dir->server,
                        p->dn != NULL ? p->dn : "the principal");
        kf_dir_principal_free(p);
        return st;
    }
    if (v != NULL)
        ldap_value_free_len(v);
    if (oom || p->name == NULL) {
        kf_dir_principal_free(p);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if (groups && (st = token_groups(dir, p->dn, &p->groups, &p->n_groups, err)) != KF_OK) {
        kf_dir_principal_free(p);
        return st;
    }
    *out = p;
    return KF_OK;
}

/* The ticket's client ("alice@LAB.TEST", "ADMINHOST$@LAB.TEST") is the
 * sAMAccountName before the realm. */
static kf_status
ad_whoami(struct kf_dir *dir, struct kf_dir_principal **out, struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *sam = NULL;
    char *at;

    if (ad->principal == NULL)
        return kf_err_set(err, KF_ERR_CREDENTIALS, "the ticket's principal is not known");
    sam = strdup(ad->principal);
    if (sam == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    at = strrchr(sam, '@');
    if (at != NULL)
        *at = '\0';
    if (strchr(sam, '/') != NULL || *sam == '\0')
        return kf_err_set(err, KF_ERR_CREDENTIALS,
                          "the ticket's principal %s is not a user or computer account name",
                          ad->principal);
    return ad_principal_find(dir, sam, NULL, true, out, err);
}

static kf_status
ad_sd_read(struct kf_dir *dir, const char *dn, unsigned parts, uint8_t **sd, size_t *len,
           int64_t *usn, struct kf_err *err)
{
    static const char *const attrs[] = {"nTSecurityDescriptor", "uSNChanged", NULL};
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *what = str_printf("read the %s of %s", parts_name(parts), dn);
    _cleanup_free_ char *usn_s = NULL;
    struct timeval tv = ad->tv;
    char value[5];
    LDAPControl ctl, *ctls[] = {&ctl, NULL};
    struct berval **v;
    LDAPMessage *e;
    bool oom = false;
    int64_t u;
    int rc;

    if (what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    sd_control(parts, value, &ctl);
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dn};
    diag_clear(ad->main.ld);
    dir->reads++;
    rc = ldap_search_ext_s(ad->main.ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", (char **)(uintptr_t)attrs, 0,
                           ctls, NULL, &tv, LDAP_NO_LIMIT, &res);
    if (rc != LDAP_SUCCESS)
        return ad_fail(dir, &ad->main, rc, &rq, err);
    e = ldap_first_entry(ad->main.ld, res);
    if (e == NULL)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "cannot %s: it does not exist", what);
    usn_s = entry_str(ad->main.ld, e, "uSNChanged", &oom);
    if (usn != NULL && parse_i64(usn_s, &u))
        *usn = u;
    v = ldap_get_values_len(ad->main.ld, e, "nTSecurityDescriptor");
    if (v == NULL || v[0] == NULL) {
        if (v != NULL)
            ldap_value_free_len(v);
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "%s may not %s (directory server %s sent no nTSecurityDescriptor)",
                          who(ad), what, dir->server);
    }
    if (v[0]->bv_len > KF_SD_MAX) {
        ldap_value_free_len(v);
        return kf_err_set(err, KF_ERR_DIRECTORY, "%s sent a security descriptor of %zu bytes "
                          "for %s, over the limit of %d", dir->server, (size_t)v[0]->bv_len, dn,
                          KF_SD_MAX);
    }
    *sd = malloc(v[0]->bv_len ? v[0]->bv_len : 1);
    if (*sd == NULL) {
        ldap_value_free_len(v);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    memcpy(*sd, v[0]->bv_val, v[0]->bv_len);
    *len = v[0]->bv_len;
    ldap_value_free_len(v);
    return KF_OK;
}

static kf_status
ad_sd_write(struct kf_dir *dir, const char *dn, unsigned parts, const uint8_t *sd, size_t len,
            struct kf_err *err)
{
    struct ad *ad = AD(dir);
    _cleanup_free_ char *what = str_printf("write the %s of %s", parts_name(parts), dn);
    _cleanup_free_ char *right = str_printf(
        "%s of %s", parts == 0x1 ? "take ownership (WRITE_OWNER)" : "change permissions (WRITE_DAC)",
        dn);
    char value[5];
    LDAPControl ctl, *ctls[] = {&ctl, NULL};
    struct berval bv = {len, (char *)(uintptr_t)sd};
    struct berval *vals[] = {&bv, NULL};
    LDAPMod m = {LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, UNCONST("nTSecurityDescriptor"),
                 {.modv_bvals = vals}};
    LDAPMod *mods[] = {&m, NULL};
    int rc;

    if (what == NULL || right == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    sd_control(parts, value, &ctl);
    struct req rq = {.phase = PH_OP, .what = what, .right = right, .object = dn};
    diag_clear(ad->main.ld);
    dir->writes++;
    rc = ldap_modify_ext_s(ad->main.ld, dn, mods, ctls, NULL);
    if (rc != LDAP_SUCCESS)
        return ad_fail(dir, &ad->main, rc, &rq, err);
    return KF_OK;
}

static kf_status
ad_effective(struct kf_dir *dir, const char *dn, char ***classes, size_t *n_classes, char ***attrs,
             size_t *n_attrs, struct kf_err *err)
{
    static const char *const want[] = {"allowedChildClassesEffective",
                                       "allowedAttributesEffective", NULL};
    struct ad *ad = AD(dir);
    _cleanup_msg_ LDAPMessage *res = NULL;
    _cleanup_free_ char *what = str_printf("read what this ticket may create and write at %s", dn);
    LDAPMessage *e;
    kf_status st;

    if (what == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    struct req rq = {.phase = PH_OP, .what = what, .right = NULL, .object = dn};
    st = search(dir, &ad->main, dn, LDAP_SCOPE_BASE, "(objectClass=*)", want, &res, &rq, err);
    if (st != KF_OK)
        return st;
    e = ldap_first_entry(ad->main.ld, res);
    if (e == NULL)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "cannot %s: it does not exist", what);
    if (entry_strv(ad->main.ld, e, "allowedChildClassesEffective", classes, n_classes) != 0 ||
        entry_strv(ad->main.ld, e, "allowedAttributesEffective", attrs, n_attrs) != 0)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

const struct kf_dir_ops kf_dir_ad_ops = {
    .name = "ad",
    .open = ad_open,
    .free = ad_free,
    .account_get = ad_account_get,
    .account_traits = ad_account_traits,
    .account_create = ad_account_create,
    .account_delete = ad_account_delete,
    .spn_modify = ad_spn_modify,
    .spn_modify_dn = ad_spn_modify_dn,
    .spn_holders = ad_spn_holders,
    .set_password = ad_set_password,
    .enctypes_set = ad_enctypes_set,
    .principal_find = ad_principal_find,
    .whoami = ad_whoami,
    .sd_read = ad_sd_read,
    .sd_write = ad_sd_write,
    .effective = ad_effective,
};
