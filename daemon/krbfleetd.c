/* krbfleetd - the krbfleet agent on each web server.
 *
 * Keeps the web server's keytab for the krbfleet CLI: accepts GSSAPI
 * connections for its own host principal only, authorises the admin by an
 * ACL (principals and local groups), and serves STATUS, STAGE, WITHDRAW,
 * PRUNE, EXPORT and CHECK over sealed messages (lib/proto.h). One thread,
 * one poll loop: connections are served concurrently, each with a deadline,
 * and requests touching the keytab run one at a time. See krbfleetd(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agentstate.h"
#include "buf.h"
#include "config.h"
#include "errors.h"
#include "escape.h"
#include "keys.h"
#include "keytab.h"
#include "mem.h"
#include "names.h"
#include "proto.h"

#define MAX_CONNS 64
#define HANDSHAKE_TIMEOUT_MS 10000 /* connect to sealed session */
#define IDLE_TIMEOUT_MS 60000      /* between requests, and to send a reply */
#define MAX_GROUPS 4096

struct options {
    char *listen, *principal, *host_keytab, *keytab, *keytab_group, *config;
    char **allow;
    size_t n_allow;
    bool foreground;
};

enum conn_state { C_HANDSHAKE, C_SESSION };

struct conn {
    int fd;
    enum conn_state state;
    char peer[64];
    gss_ctx_id_t ctx;
    int rounds;
    unsigned version;      /* the connection's protocol version (proto.h) */
    bool want_status;      /* KF_HS_OPEN asked for STATUS with the HELLO */
    char *client;          /* authenticated principal */
    uint8_t hdr[4];
    size_t hdr_got;
    uint8_t *body;
    uint32_t body_len, body_got;
    struct kf_buf *out;    /* frames waiting to be sent (ciphertext) */
    bool close_after_write;
    int64_t deadline;      /* monotonic ms */
    uint64_t seq;          /* accept order: the oldest has the smallest */
};

/* Everything the daemon knows after start-up. */
struct agent {
    struct options o;
    gss_cred_id_t cred;
    char *principal;       /* canonical, with realm */
    gid_t gid;             /* of --keytab-group, or KF_KEYTAB_NO_GROUP */
    int lfd;
    struct conn *conns[MAX_CONNS];
    size_t n_conns;
    uint64_t accepted;     /* connections accepted so far */
    krb5_context kctx;
    char *state_path;      /* the committed state beside the keytab (agentstate.h) */
};

static bool log_stderr = true;
static volatile sig_atomic_t stop_signal;

static void logmsg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One log line. Principal names, paths and peers' messages are echoed in
 * it: it is escaped (escape.h) so that nothing in them shapes the log or
 * the terminal that shows it; one cut to fit ends in "...". */
static void
logmsg(int prio, const char *fmt, ...)
{
    char text[2048], safe[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (kf_escape(n < 0 ? "" : text, safe, sizeof(safe)) >= sizeof(safe) ||
        n >= (int)sizeof(text)) {
        size_t len = strlen(safe);
        if (len > sizeof(safe) - 4)
            len = sizeof(safe) - 4;
        memcpy(safe + len, "...", 4);
    }
    if (log_stderr) {
        static const char *const names[] = {"emerg", "alert", "crit", "error",
                                            "warning", "notice", "info", "debug"};
        fprintf(stderr, "krbfleetd: %s: %s\n", names[prio & 7], safe);
    } else {
        syslog(prio, "%s", safe);
    }
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- command line ----------------------------------------------------- */

static const char usage_text[] =
    "usage: krbfleetd --config FILE [--foreground]\n"
    "       krbfleetd --listen IP:PORT [--principal host/FQDN] --host-keytab PATH\n"
    "                 --keytab PATH [--keytab-group GROUP] --allow PRINCIPAL|@GROUP ...\n"
    "                 [--config FILE] [--foreground]\n";

static void
help(void)
{
    printf("%s", usage_text);
    printf(
        "\n"
        "krbfleetd is the krbfleet agent of one web server. The krbfleet CLI connects to it\n"
        "with the admin's Kerberos ticket (mutual GSSAPI authentication to host/FQDN, every\n"
        "message sealed) to read, stage, withdraw, prune, export and check the keys of the\n"
        "web server's keytab during a rotation (krbfleet password set).\n"
        "\n"
        "  --listen IP:PORT        address to listen on, e.g. 192.0.2.11:7390 or [::]:7390\n"
        "  --principal host/FQDN   this server's host principal; only tickets for it are\n"
        "                          accepted (realm optional: the default realm). Without it:\n"
        "                          the one host/FQDN principal of the host keytab; several\n"
        "                          (or none) there is an error naming them\n"
        "  --host-keytab PATH      keytab holding that principal's keys (e.g. /etc/krb5.keytab;\n"
        "                          keep it to this principal only); a regular file, readable\n"
        "                          at start\n"
        "  --keytab PATH           the web keytab this agent writes (e.g.\n"
        "                          /etc/krbfleet/http.keytab); replaced atomically. Its\n"
        "                          directory and every ancestor must be root's and not\n"
        "                          writable by group or others (a sticky root directory such\n"
        "                          as /tmp is allowed above it); it must not be the host\n"
        "                          keytab (path or hard link) nor a directory. A link, FIFO\n"
        "                          or device found there later fails that request only\n"
        "  --keytab-group GROUP    the web server's group (e.g. www-data): the keytab is\n"
        "                          root:GROUP 0640. Without it the keytab is 0600, readable\n"
        "                          only by root (web servers whose workers run as root)\n"
        "  --allow PRINCIPAL       allow this admin principal (kfadmin@EXAMPLE.COM; without\n"
        "                          realm: the default realm); repeat for more\n"
        "  --allow @GROUP          allow every principal that maps to a local user (krb5\n"
        "                          aname_to_localname) who is a member of GROUP\n"
        "  --config FILE           read these settings from FILE's [agent] section (keys named\n"
        "                          like the options: listen, principal, host-keytab, keytab,\n"
        "                          keytab-group, allow); the command line wins\n"
        "  --foreground            stay in the foreground and log to stderr (systemd\n"
        "                          Type=simple); otherwise detach and log to syslog\n"
        "  --help, --version\n"
        "\n"
        "Examples:\n"
        "  krbfleetd --config /etc/krbfleet/krbfleetd.conf --foreground   (as systemd runs it)\n"
        "  krbfleetd --listen 192.0.2.11:7390 --principal host/fe01.example.com \\\n"
        "            --host-keytab /etc/krb5.keytab --keytab /etc/krbfleet/http.keytab \\\n"
        "            --keytab-group www-data --allow @krbfleet-admins --foreground\n"
        "\n"
        "Exit status: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 bad command line.\n"
        "See krbfleetd(8).\n");
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "krbfleetd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%sTry 'krbfleetd --help'.\n", usage_text);
    return 2;
}

static int
set_opt(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst == NULL ? -1 : 0;
}

static void
options_done(struct options *o)
{
    free(o->listen);
    free(o->principal);
    free(o->host_keytab);
    free(o->keytab);
    free(o->keytab_group);
    free(o->config);
    for (size_t i = 0; i < o->n_allow; i++)
        free(o->allow[i]);
    free(o->allow);
}

static int
add_allow(char ***list, size_t *n, const char *v)
{
    char **bigger;

    if (*n >= KF_CONFIG_ALLOW_MAX)
        return -1;
    bigger = realloc(*list, (*n + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return -1;
    *list = bigger;
    if ((bigger[*n] = strdup(v)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

/* Parse argv and the --config file into O. Returns 0, or the exit code. */
static int
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"principal", required_argument, NULL, 'p'},
        {"host-keytab", required_argument, NULL, 'H'},
        {"keytab", required_argument, NULL, 'k'},
        {"keytab-group", required_argument, NULL, 'g'},
        {"allow", required_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c, r = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': r = set_opt(&o->listen, optarg); break;
        case 'p': r = set_opt(&o->principal, optarg); break;
        case 'H': r = set_opt(&o->host_keytab, optarg); break;
        case 'k': r = set_opt(&o->keytab, optarg); break;
        case 'g': r = set_opt(&o->keytab_group, optarg); break;
        case 'c': r = set_opt(&o->config, optarg); break;
        case 'a': r = add_allow(&o->allow, &o->n_allow, optarg); break;
        case 'f': o->foreground = true; break;
        case 'h': help(); exit(0);
        case 'V': printf("krbfleetd %s\n", KF_VERSION); exit(0);
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (r != 0)
            return usage_error("out of memory or too many --allow");
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    if (o->config != NULL) {
        struct kf_config *cfg = NULL;
        struct kf_err err = {0};

        if (kf_config_load(o->config, &cfg, &err) != KF_OK) {
            fprintf(stderr, "krbfleetd: %s\n", err.msg);
            return 2;
        }
        /* the command line wins; a file value fills only what is unset */
        if ((o->listen == NULL && cfg->agent.listen && set_opt(&o->listen, cfg->agent.listen)) ||
            (o->principal == NULL && cfg->agent.principal &&
             set_opt(&o->principal, cfg->agent.principal)) ||
            (o->host_keytab == NULL && cfg->agent.host_keytab &&
             set_opt(&o->host_keytab, cfg->agent.host_keytab)) ||
            (o->keytab == NULL && cfg->agent.keytab && set_opt(&o->keytab, cfg->agent.keytab)) ||
            (o->keytab_group == NULL && cfg->agent.keytab_group &&
             set_opt(&o->keytab_group, cfg->agent.keytab_group)))
            r = -1;
        if (o->n_allow == 0) {
            for (size_t i = 0; r == 0 && i < cfg->agent.n_allow; i++)
                r = add_allow(&o->allow, &o->n_allow, cfg->agent.allow[i]);
        }
        kf_config_free(cfg);
        if (r != 0)
            return usage_error("out of memory");
    }

    if (o->listen == NULL)
        return usage_error("--listen IP:PORT is required");
    if (o->principal != NULL && (strncmp(o->principal, "host/", 5) != 0 || o->principal[5] == '\0'))
        return usage_error("--principal must be this server's host principal, host/FQDN (not "
                           "'%s')",
                           o->principal);
    if (o->host_keytab == NULL)
        return usage_error("--host-keytab PATH is required");
    if (o->keytab == NULL)
        return usage_error("--keytab PATH is required");
    if (o->host_keytab[0] != '/' || o->keytab[0] != '/')
        return usage_error("--host-keytab and --keytab must be absolute paths");
    if (o->n_allow == 0)
        return usage_error("at least one --allow PRINCIPAL or --allow @GROUP is required");
    for (size_t i = 0; i < o->n_allow; i++) {
        const char *a = o->allow[i];
        if (a[0] == '\0' || strpbrk(a, " \t\n") != NULL || (a[0] == '@' && a[1] == '\0'))
            return usage_error("--allow '%s' is neither a principal nor @GROUP", a);
    }
    return 0;
}

/* Split "IP:PORT" or "[IPv6]:PORT". */
static int
split_listen(const char *s, char *host, size_t hsize, int *port)
{
    const char *colon = strrchr(s, ':');
    size_t n;

    if (colon == NULL || kf_port_parse(colon + 1, port, NULL) != KF_OK)
        return -1;
    n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= hsize)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    return 0;
}

/* --- start-up --------------------------------------------------------- */

/* Read the host keytab (a regular file, no link followed) and settle the
 * principal: --principal, or the one host/FQDN entry there. Canonical, with
 * realm, into ag->principal. Returns 0, or -1 after logging why. */
static int
choose_principal(struct agent *ag)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *ks = NULL;
    struct kf_keytab_info info;
    krb5_principal p = NULL, q = NULL;
    char *canon = NULL;
    struct kf_err err = {0};
    krb5_error_code ret;
    bool found = false;

    if (kf_keytab_stat(ag->o.host_keytab, &info, &err) != KF_OK ||
        kf_keytab_load(ag->o.host_keytab, &ks, &err) != KF_OK) {
        logmsg(LOG_ERR, "cannot read the host keytab %s: %s", ag->o.host_keytab, err.msg);
        return -1;
    }
    if (!info.exists) {
        logmsg(LOG_ERR, "cannot read the host keytab %s: no such file", ag->o.host_keytab);
        return -1;
    }
    if (ag->o.principal == NULL) {
        if (kf_keytab_host_principal(ks, &ag->o.principal, &err) != KF_OK) {
            logmsg(LOG_ERR,
                   "no principal set, and the host keytab %s %s: set principal = "
                   "host/FQDN in the [agent] section of the configuration (or --principal)",
                   ag->o.host_keytab, err.msg);
            return -1;
        }
        logmsg(LOG_INFO, "principal %s: the only host principal of %s", ag->o.principal,
               ag->o.host_keytab);
    }
    ret = krb5_parse_name(ag->kctx, ag->o.principal, &p);
    if (ret == 0)
        ret = krb5_unparse_name(ag->kctx, p, &canon);
    if (ret != 0) {
        krb5_free_principal(ag->kctx, p);
        kf_krb5_err(ag->kctx, ret, KF_ERR_USAGE, &err, "--principal");
        logmsg(LOG_ERR, "%s", err.msg);
        return -1;
    }
    /* MIT's acquire does not look inside the keytab: check it holds us. */
    for (size_t i = 0; i < ks->n && !found; i++) {
        if (krb5_parse_name(ag->kctx, ks->v[i].principal, &q) == 0)
            found = krb5_principal_compare(ag->kctx, p, q);
        krb5_free_principal(ag->kctx, q);
        q = NULL;
    }
    krb5_free_principal(ag->kctx, p);
    ag->principal = strdup(canon);
    krb5_free_unparsed_name(ag->kctx, canon);
    if (ag->principal == NULL)
        return -1;
    if (!found) {
        logmsg(LOG_ERR, "the host keytab %s has no key for %s", ag->o.host_keytab,
               ag->principal);
        return -1;
    }
    return 0;
}

static int
start_acceptor(struct agent *ag)
{
    gss_key_value_element_desc kv = {"keytab", ag->o.host_keytab};
    gss_key_value_set_desc store = {1, &kv};
    gss_buffer_desc nb;
    gss_name_t name = GSS_C_NO_NAME;
    gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
    OM_uint32 maj, min, rmin;
    struct kf_err err = {0};

    if (choose_principal(ag) != 0)
        return -1;
    nb.value = ag->principal;
    nb.length = strlen(ag->principal);
    maj = gss_import_name(&min, &nb, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (!GSS_ERROR(maj))
        maj = gss_acquire_cred_from(&min, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT, &store,
                                    &ag->cred, NULL, NULL);
    gss_release_name(&rmin, &name);
    if (GSS_ERROR(maj)) {
        kf_gss_err(&err, KF_ERR_CONFIG, maj, min, "cannot use the host keytab");
        logmsg(LOG_ERR, "%s %s for %s: %s", err.msg, ag->o.host_keytab, ag->principal,
               "it must hold this principal's keys");
        return -1;
    }
    return 0;
}

/* The committed state beside the keytab: its path, and a look at it now so
 * that a damaged file is reported at start (it is then written afresh by
 * the next COMMIT; until then peers are served nothing from it). */
static int
prepare_state(struct agent *ag)
{
    _cleanup_(kf_agent_state_freep) struct kf_agent_state *s = NULL;
    struct kf_err err = {0};

    if (kf_agent_state_path(ag->o.keytab, &ag->state_path, &err) != KF_OK) {
        logmsg(LOG_ERR, "%s", err.msg);
        return -1;
    }
    if (kf_agent_state_load(ag->state_path, &s, &err) != KF_OK)
        logmsg(LOG_WARNING, "%s; the next rotation or sync writes it again", err.msg);
    return 0;
}

/* Canonicalise principal entries of the allow list (default realm). */
static int
prepare_allow(struct agent *ag)
{
    for (size_t i = 0; i < ag->o.n_allow; i++) {
        char *a = ag->o.allow[i], *u = NULL;
        krb5_principal p = NULL;
        krb5_error_code ret;

        if (a[0] == '@') {
            if (getgrnam(a + 1) == NULL)
                logmsg(LOG_WARNING, "--allow %s: no local group '%s' (yet)", a, a + 1);
            continue;
        }
        ret = krb5_parse_name(ag->kctx, a, &p);
        if (ret == 0)
            ret = krb5_unparse_name(ag->kctx, p, &u);
        krb5_free_principal(ag->kctx, p);
        if (ret != 0) {
            struct kf_err err = {0};
            kf_krb5_err(ag->kctx, ret, KF_ERR_USAGE, &err, "bad --allow principal");
            fprintf(stderr, "krbfleetd: %s '%s'\n", err.msg, a);
            return -1;
        }
        free(ag->o.allow[i]);
        ag->o.allow[i] = strdup(u);
        krb5_free_unparsed_name(ag->kctx, u);
        if (ag->o.allow[i] == NULL)
            return -1;
    }
    return 0;
}

static int
open_listener(struct agent *ag)
{
    struct addrinfo hints = {0}, *res = NULL;
    char host[300], port[16];
    int p, one = 1, gai;

    if (split_listen(ag->o.listen, host, sizeof(host), &p) != 0) {
        fprintf(stderr, "krbfleetd: --listen '%s' is not IP:PORT\n", ag->o.listen);
        return -2;
    }
    snprintf(port, sizeof(port), "%d", p);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        logmsg(LOG_ERR, "--listen %s: %s", ag->o.listen, gai_strerror(gai));
        return -1;
    }
    ag->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ag->lfd < 0 || setsockopt(ag->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(ag->lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(ag->lfd, SOMAXCONN) != 0) {
        logmsg(LOG_ERR, "cannot listen on %s: %s", ag->o.listen, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    /* The kernel hands over a connection only once its first bytes came
     * (or after the handshake deadline): clients that connect and say
     * nothing never take one of the 64 slots, and an admin's first token
     * is already there when we accept, so it is read before the next
     * accept could close it to make room. A hint: without it we still work. */
    {
        int secs = HANDSHAKE_TIMEOUT_MS / 1000;
        setsockopt(ag->lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
    }
    return 0;
}

/* --- authorisation ---------------------------------------------------- */

static bool
in_group(struct agent *ag, const char *principal, const char *group)
{
    krb5_principal p = NULL;
    char lname[256];
    struct passwd pw, *pwp = NULL;
    struct group *gr;
    char pwbuf[4096];
    gid_t groups[MAX_GROUPS];
    int ng = MAX_GROUPS;
    gid_t want;
    bool ok = false;

    gr = getgrnam(group);
    if (gr == NULL)
        return false;
    want = gr->gr_gid;
    if (krb5_parse_name(ag->kctx, principal, &p) != 0)
        return false;
    if (krb5_aname_to_localname(ag->kctx, p, sizeof(lname), lname) == 0 &&
        getpwnam_r(lname, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp != NULL &&
        getgrouplist(lname, pw.pw_gid, groups, &ng) >= 0) {
        for (int i = 0; i < ng; i++)
            ok = ok || groups[i] == want;
    }
    krb5_free_principal(ag->kctx, p);
    return ok;
}

static bool
authorized(struct agent *ag, const char *principal)
{
    for (size_t i = 0; i < ag->o.n_allow; i++) {
        const char *a = ag->o.allow[i];
        if (a[0] == '@' ? in_group(ag, principal, a + 1) : strcmp(a, principal) == 0)
            return true;
    }
    return false;
}

/* --- connections ------------------------------------------------------ */

static void
conn_free(struct conn *c)
{
    OM_uint32 min;

    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&min, &c->ctx, GSS_C_NO_BUFFER);
    free(c->client);
    if (c->body != NULL)
        explicit_bzero(c->body, c->body_len);
    free(c->body);
    kf_buf_free(c->out);
    free(c);
}

static void
drop(struct agent *ag, size_t i, const char *why)
{
    struct conn *c = ag->conns[i];

    if (why != NULL)
        logmsg(LOG_NOTICE, "connection from %s%s%s closed: %s", c->peer,
               c->client != NULL ? " (" : "", c->client != NULL ? c->client : "",
               why);
    conn_free(c);
    ag->conns[i] = ag->conns[--ag->n_conns];
    ag->conns[ag->n_conns] = NULL;
}

static void
queue_hs_error(struct conn *c, const char *msg)
{
    kf_proto_hs_encode(c->out, KF_HS_ERROR, msg, strlen(msg) > KF_PROTO_STRING_MAX ?
                                                     KF_PROTO_STRING_MAX : strlen(msg));
    c->close_after_write = true;
}

/* Seal R into C's output. Returns false if that failed (then close). */
static bool
queue_response(struct conn *c, const struct kf_proto_response *r)
{
    _cleanup_(kf_buf_freep) struct kf_buf *plain = kf_buf_new(KF_PROTO_PLAIN_MAX);
    struct kf_err err = {0};

    if (plain == NULL)
        return false;
    kf_buf_set_secret(plain);
    if (kf_proto_response_encode(r, plain, &err) != KF_OK ||
        kf_proto_seal(c->ctx, plain, c->out, &err) != KF_OK) {
        logmsg(LOG_ERR, "cannot answer %s: %s", c->peer, err.msg);
        return false;
    }
    return true;
}

static void do_request(struct agent *ag, struct conn *c, const struct kf_proto_request *req,
                       struct kf_proto_response *r);

/* The sealed HELLO (in the connection's version), and the STATUS after it
 * when the client asked (KF_HS_WANT_STATUS): both go out with the last
 * context token, in one write. */
static void
queue_hello(struct agent *ag, struct conn *c)
{
    struct kf_proto_response hello = {0};
    _cleanup_(kf_proto_response_freep) struct kf_proto_response *st = calloc(1, sizeof(*st));
    struct kf_proto_request status = {.version = c->version, .op = KF_OP_STATUS};

    hello.version = c->version;
    hello.op = KF_OP_HELLO;
    hello.client = c->client;
    hello.agent_principal = ag->principal;
    hello.agent_version = (char *)(uintptr_t)KF_VERSION;
    hello.agent_proto = KF_PROTO_VERSION;
    if (authorized(ag, c->client)) {
        hello.result = KF_RES_OK;
        c->state = C_SESSION;
        logmsg(LOG_INFO, "%s authenticated as %s (protocol version %u)", c->peer, c->client,
               c->version);
    } else {
        hello.result = KF_RES_DENIED;
        hello.message = (char *)(uintptr_t)"not in this agent's --allow list";
        c->close_after_write = true;
        logmsg(LOG_WARNING, "refused %s: principal %s is not allowed", c->peer, c->client);
    }
    if (!queue_response(c, &hello)) {
        c->close_after_write = true;
        return;
    }
    if (hello.result != KF_RES_OK || !c->want_status)
        return;
    if (st == NULL) {
        c->close_after_write = true;
        return;
    }
    st->version = c->version;
    do_request(ag, c, &status, st);
    if (!queue_response(c, st))
        c->close_after_write = true;
}

static void
handshake_frame(struct agent *ag, struct conn *c)
{
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, nb = GSS_C_EMPTY_BUFFER;
    gss_name_t src = GSS_C_NO_NAME;
    OM_uint32 maj, min, rmin, flags = 0;
    const OM_uint32 want = GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
    struct kf_hs_frame f;
    struct kf_err err = {0};

    if (kf_proto_hs_parse(c->body, c->body_len, &f, &err) != KF_OK || f.kind == KF_HS_ERROR ||
        (f.kind == KF_HS_OPEN && c->rounds > 0)) {
        logmsg(LOG_NOTICE, "refused %s: malformed handshake (%s)", c->peer,
               err.msg[0] ? err.msg : "not a token, or opened twice");
        c->close_after_write = true;
        return;
    }
    if (c->rounds == 0) { /* the client's version decides the connection's */
        c->version = f.kind == KF_HS_OPEN && f.version > KF_PROTO_VERSION ? KF_PROTO_VERSION
                                                                          : f.version;
        c->want_status = f.kind == KF_HS_OPEN && (f.flags & KF_HS_WANT_STATUS) != 0;
    }
    if (++c->rounds > KF_PROTO_HANDSHAKE_ROUNDS) {
        queue_hs_error(c, "too many handshake rounds");
        return;
    }
    in.value = (void *)(uintptr_t)f.data;
    in.length = f.len;
    maj = gss_accept_sec_context(&min, &c->ctx, ag->cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &src,
                                 NULL, &out, &flags, NULL, NULL);
    if (out.length > 0) {
        if (kf_proto_hs_encode(c->out, KF_HS_TOKEN, out.value, out.length) != KF_OK)
            maj = GSS_S_FAILURE;
    }
    gss_release_buffer(&rmin, &out);
    if (GSS_ERROR(maj)) {
        kf_gss_err(&err, KF_ERR_AGENT, maj, min, "authentication failed");
        logmsg(LOG_NOTICE, "refused %s (unauthenticated): %s", c->peer, err.msg);
        kf_buf_reset(c->out);
        queue_hs_error(c, err.msg);
        gss_release_name(&rmin, &src);
        return;
    }
    if (maj & GSS_S_CONTINUE_NEEDED) {
        gss_release_name(&rmin, &src);
        return;
    }
    if ((flags & want) != want) {
        logmsg(LOG_NOTICE, "refused %s: the client did not ask for mutual authentication and "
                           "sealing",
               c->peer);
        c->close_after_write = true;
        gss_release_name(&rmin, &src);
        return;
    }
    maj = gss_display_name(&min, src, &nb, NULL);
    gss_release_name(&rmin, &src);
    if (GSS_ERROR(maj) || (c->client = strndup(nb.value, nb.length)) == NULL) {
        gss_release_buffer(&rmin, &nb);
        c->close_after_write = true;
        return;
    }
    gss_release_buffer(&rmin, &nb);
    queue_hello(ag, c);
}

static void
status_op(struct agent *ag, struct kf_proto_response *r, struct kf_err *err)
{
    struct kf_agent_status *s = calloc(1, sizeof(*s));
    struct timespec ts;
    struct group *gr;

    r->status = s;
    if (s == NULL) {
        kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    s->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    s->version = strdup(KF_VERSION);
    s->principal = strdup(ag->principal);
    s->keytab = strdup(ag->o.keytab);
    if (kf_keytab_stat(ag->o.keytab, &s->file, err) != KF_OK ||
        kf_keytab_load(ag->o.keytab, &s->entries, err) != KF_OK)
        return;
    for (size_t i = 0; i < s->entries->n; i++) {
        explicit_bzero(s->entries->v[i].key, sizeof(s->entries->v[i].key));
        s->entries->v[i].key_len = 0;
    }
    if (kf_agent_state_load(ag->state_path, &s->committed, err) != KF_OK) {
        /* the keytab's answer still stands; nothing counts as committed */
        logmsg(LOG_WARNING, "%s; STATUS reports no committed kvno", err->msg);
        kf_err_clear(err);
    }
    gr = s->file.exists ? getgrgid(s->file.gid) : NULL;
    s->group = strdup(gr != NULL ? gr->gr_name : "");
    if (s->version == NULL || s->principal == NULL || s->keytab == NULL || s->group == NULL)
        kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

/* COMMIT: the account's set at REQ->kvno is the directory's. Every managed
 * principal must have an entry at that kvno here: a set is committed only
 * where it is whole. */
static void
commit_op(struct agent *ag, const struct kf_proto_request *req, struct kf_proto_response *r,
          struct kf_err *err)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *ks = NULL;
    _cleanup_(kf_agent_state_freep) struct kf_agent_state *state = NULL;
    const struct kf_committed_account *a;

    if (kf_keytab_load(ag->o.keytab, &ks, err) != KF_OK)
        return;
    for (size_t i = 0; i < req->n_principals; i++) {
        bool found = false;
        for (size_t k = 0; k < ks->n && !found; k++)
            found = ks->v[k].kvno == req->kvno &&
                    strcasecmp(ks->v[k].principal, req->principals[i]) == 0;
        if (!found) {
            kf_err_set(err, KF_ERR_INVALID,
                       "the keytab holds no key of %s at kvno %u; only a set staged here "
                       "can be committed",
                       req->principals[i], (unsigned)req->kvno);
            return;
        }
    }
    if (kf_agent_state_load(ag->state_path, &state, err) != KF_OK) {
        logmsg(LOG_WARNING, "%s; starting it again", err->msg);
        kf_err_clear(err);
        if ((state = kf_agent_state_new()) == NULL) {
            kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            return;
        }
    }
    if (kf_agent_state_commit(state, req->account, req->kvno, (int64_t)time(NULL), req->grace_s,
                              req->members_group, req->principals, req->n_principals, req->servers, req->n_servers,
                              err) != KF_OK ||
        kf_agent_state_save(ag->state_path, state, err) != KF_OK)
        return;
    a = kf_agent_state_find(state, req->account);
    r->count = a != NULL ? (uint32_t)a->n_commits : 0;
}

/* Carry out REQ for C into R; logs what was done (never keys). */
static void
do_request(struct agent *ag, struct conn *c, const struct kf_proto_request *req,
           struct kf_proto_response *r)
{
    struct kf_keyset *ks = NULL;
    struct kf_err err = {0};
    size_t n = 0;
    const uint8_t *apreq;
    size_t apreq_len;

    r->version = c->version;
    r->op = req->op;
    switch (req->op) {
    case KF_OP_STATUS:
        status_op(ag, r, &err);
        break;
    case KF_OP_STAGE:
        if (kf_keytab_check_set(req->keys, &err) != KF_OK)
            break;
        if (kf_keytab_load(ag->o.keytab, &ks, &err) == KF_OK &&
            kf_keytab_stage(ks, req->kvno, req->keys, (uint32_t)time(NULL), &err) == KF_OK &&
            kf_keytab_save(ag->o.keytab, ks, ag->gid, &err) == KF_OK)
            r->count = (uint32_t)ks->n;
        break;
    case KF_OP_WITHDRAW:
    case KF_OP_PRUNE:
        if (kf_keytab_load(ag->o.keytab, &ks, &err) != KF_OK)
            break;
        n = req->op == KF_OP_WITHDRAW ? kf_keytab_withdraw(ks, req->kvno)
                                      : kf_keytab_prune(ks, req->kvno);
        if (n > 0 && kf_keytab_save(ag->o.keytab, ks, ag->gid, &err) != KF_OK)
            break;
        r->count = (uint32_t)n;
        break;
    case KF_OP_EXPORT:
        if (kf_keytab_load(ag->o.keytab, &r->keys, &err) == KF_OK)
            n = r->keys->n;
        break;
    case KF_OP_CHECK:
        if (kf_proto_token_apreq(req->token, req->token_len, &apreq, &apreq_len, &err) !=
            KF_OK)
            break;
        if (kf_keytab_load(ag->o.keytab, &ks, &err) == KF_OK)
            kf_keytab_check_apreq(ks, req->principal, apreq, apreq_len, &r->check, &err);
        break;
    case KF_OP_COMMIT:
        commit_op(ag, req, r, &err);
        break;
    default: /* version 2 on: an operation of a newer protocol */
        r->result = KF_RES_UNSUPPORTED;
        r->message = strdup("operation not supported by krbfleetd " KF_VERSION);
        logmsg(LOG_NOTICE, "%s (%s): operation %u not supported (protocol version %u)",
               c->client, c->peer, (unsigned)req->op, c->version);
        return;
    }
    kf_keyset_free(ks);
    if (err.code != KF_OK) {
        r->result = err.code == KF_ERR_INVALID ? KF_RES_INVALID : KF_RES_FAILED;
        r->message = strdup(err.msg);
        logmsg(LOG_ERR, "%s (%s): %s kvno %u failed: %s", c->client, c->peer,
               kf_proto_op_name(req->op), (unsigned)req->kvno, err.msg);
        return;
    }
    switch (req->op) {
    case KF_OP_STAGE:
        logmsg(LOG_NOTICE, "%s (%s): staged kvno %u (%zu entries); keytab now %u entries",
               c->client, c->peer, (unsigned)req->kvno, req->keys->n, (unsigned)r->count);
        break;
    case KF_OP_WITHDRAW:
        logmsg(LOG_NOTICE, "%s (%s): withdrew kvno %u (%zu entries)", c->client, c->peer,
               (unsigned)req->kvno, n);
        break;
    case KF_OP_PRUNE:
        logmsg(LOG_NOTICE, "%s (%s): pruned kvnos below %u (%zu entries)", c->client, c->peer,
               (unsigned)req->kvno, n);
        break;
    case KF_OP_EXPORT:
        logmsg(LOG_NOTICE, "%s (%s): exported %zu entries", c->client, c->peer, n);
        break;
    case KF_OP_COMMIT:
        logmsg(LOG_NOTICE,
               "%s (%s): committed kvno %u of %s (%zu principals, %zu servers; %u committed "
               "kvnos kept)",
               c->client, c->peer, (unsigned)req->kvno, req->account, req->n_principals,
               req->n_servers, (unsigned)r->count);
        break;
    case KF_OP_CHECK:
        if (r->check.accepted)
            logmsg(LOG_INFO, "%s (%s): check: kvno %u accepts a ticket for %s (label %u)",
                   c->client, c->peer, (unsigned)r->check.kvno, r->check.server,
                   (unsigned)r->check.ticket_kvno);
        else
            logmsg(LOG_INFO, "%s (%s): check: not accepted: %s", c->client, c->peer,
                   r->check.reason);
        break;
    default:
        logmsg(LOG_INFO, "%s (%s): %s", c->client, c->peer, kf_proto_op_name(req->op));
        break;
    }
}

static void
session_frame(struct agent *ag, struct conn *c)
{
    _cleanup_(kf_buf_freep) struct kf_buf *plain = kf_buf_new(KF_PROTO_FRAME_MAX);
    _cleanup_(kf_proto_request_freep) struct kf_proto_request *req = NULL;
    _cleanup_(kf_proto_response_freep) struct kf_proto_response *r = calloc(1, sizeof(*r));
    struct kf_err err = {0};

    if (plain == NULL || r == NULL) {
        c->close_after_write = true;
        return;
    }
    kf_buf_set_secret(plain);
    if (kf_proto_unseal(c->ctx, c->body, c->body_len, plain, &err) != KF_OK) {
        logmsg(LOG_WARNING, "%s (%s): %s; closing", c->client, c->peer, err.msg);
        c->close_after_write = true;
        return;
    }
    if (kf_proto_request_decode(kf_buf_ptr(plain), kf_buf_len(plain), &req, &err) != KF_OK) {
        /* answer why, then close: the stream may be out of step */
        uint8_t op = kf_buf_len(plain) >= 2 ? kf_buf_ptr(plain)[1] : 0;
        logmsg(LOG_WARNING, "%s (%s): %s; closing", c->client, c->peer, err.msg);
        r->version = c->version;
        r->op = kf_proto_op_since(op) != 0 ? (enum kf_proto_op)op : KF_OP_HELLO;
        r->result = KF_RES_INVALID;
        r->message = strdup(err.msg);
        queue_response(c, r);
        c->close_after_write = true;
        return;
    }
    if (req->version != c->version) {
        logmsg(LOG_WARNING, "%s (%s): a request of protocol version %u on a connection of "
                            "version %u; closing",
               c->client, c->peer, req->version, c->version);
        r->version = c->version;
        r->op = kf_proto_op_since(req->op) != 0 ? req->op : KF_OP_HELLO;
        r->result = KF_RES_INVALID;
        r->message = strdup("the request's protocol version is not the connection's");
        queue_response(c, r);
        c->close_after_write = true;
        return;
    }
    do_request(ag, c, req, r);
    if (!queue_response(c, r))
        c->close_after_write = true;
}

/* Read what is there; process a complete frame. Returns false to close. */
static bool
conn_read(struct agent *ag, struct conn *c, const char **why)
{
    for (;;) {
        ssize_t n;

        if (c->hdr_got < 4) {
            n = recv(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got, 0);
        } else {
            n = recv(c->fd, c->body + c->body_got, c->body_len - c->body_got, 0);
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (n <= 0) {
            *why = n == 0 ? "closed by the client" : strerror(errno);
            if (n == 0 && c->hdr_got == 0)
                *why = NULL; /* a normal end between requests */
            return false;
        }
        if (c->hdr_got < 4) {
            c->hdr_got += (size_t)n;
            if (c->hdr_got < 4)
                continue;
            struct kf_err err = {0};
            size_t max = c->state == C_HANDSHAKE ? KF_PROTO_HANDSHAKE_FRAME_MAX
                                                 : KF_PROTO_FRAME_MAX;
            if (kf_proto_frame_len(c->hdr, max, &c->body_len, &err) != KF_OK) {
                static char msg[160];
                snprintf(msg, sizeof(msg), "bad frame: %s", err.msg);
                *why = msg;
                return false;
            }
            c->body = malloc(c->body_len);
            if (c->body == NULL) {
                *why = "out of memory";
                return false;
            }
            c->body_got = 0;
            continue;
        }
        c->body_got += (uint32_t)n;
        if (c->body_got < c->body_len)
            continue;
        if (c->state == C_HANDSHAKE)
            handshake_frame(ag, c);
        else
            session_frame(ag, c);
        explicit_bzero(c->body, c->body_len);
        free(c->body);
        c->body = NULL;
        c->hdr_got = 0;
        if (c->state == C_SESSION) /* the handshake keeps its own deadline */
            c->deadline = now_ms() + IDLE_TIMEOUT_MS;
        if (kf_buf_len(c->out) == 0 && c->close_after_write) {
            *why = "refused";
            return false;
        }
        return true; /* answer before reading more */
    }
}

/* Send what is queued. Returns false to close. */
static bool
conn_write(struct conn *c, const char **why)
{
    while (kf_buf_len(c->out) > 0) {
        ssize_t n = send(c->fd, kf_buf_ptr(c->out), kf_buf_len(c->out), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (n < 0) {
            *why = strerror(errno);
            return false;
        }
        kf_buf_skip(c->out, (size_t)n);
    }
    kf_buf_reset(c->out);
    if (c->close_after_write) {
        *why = NULL;
        return false;
    }
    return true;
}

/* Log what the connection cap did at most once a second (a flood must not
 * turn into a flood of log lines): how many unauthenticated connections
 * were closed to make room, and how many new ones refused. */
static void
cap_note(bool evicted, const char *host, const char *port)
{
    static int64_t last;
    static unsigned long n_evicted, n_refused;
    int64_t now = now_ms();

    if (evicted)
        n_evicted++;
    else
        n_refused++;
    if (last != 0 && now - last < 1000)
        return;
    logmsg(LOG_WARNING,
           "%d connections: closed %lu unauthenticated connection(s) (oldest first) and "
           "refused %lu (all slots authenticated) since the last report; latest from %s:%s",
           MAX_CONNS, n_evicted, n_refused, host, port);
    last = now;
    n_evicted = n_refused = 0;
}

static void
accept_one(struct agent *ag)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN + 1], port[8];
    struct conn *c;
    int fd = accept4(ag->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(host, sizeof(host), "?");
        snprintf(port, sizeof(port), "?");
    }
    if (ag->n_conns >= MAX_CONNS) {
        /* Full. Make room by closing the oldest connection that has not
         * authenticated yet: a flood of idle, slow or half-open clients
         * then cannot lock an admin out until their deadlines pass (an
         * admin's client authenticates within a round trip of connecting).
         * Only when every slot holds an authenticated session is the new
         * connection refused. */
        size_t oldest = MAX_CONNS;
        for (size_t i = 0; i < ag->n_conns; i++)
            if (ag->conns[i]->state == C_HANDSHAKE &&
                (oldest == MAX_CONNS || ag->conns[i]->seq < ag->conns[oldest]->seq))
                oldest = i;
        cap_note(oldest != MAX_CONNS, host, port);
        if (oldest == MAX_CONNS) {
            close(fd);
            return;
        }
        drop(ag, oldest, NULL);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->out = kf_buf_new(KF_PROTO_FRAME_MAX + 8)) == NULL) {
        free(c);
        close(fd);
        return;
    }
    c->fd = fd;
    c->ctx = GSS_C_NO_CONTEXT;
    c->state = C_HANDSHAKE;
    c->deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    c->seq = ++ag->accepted;
    snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
    ag->conns[ag->n_conns++] = c;
}

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static int
serve(struct agent *ag)
{
    struct pollfd pfd[MAX_CONNS + 1];
    sigset_t block, empty;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&empty);

    while (!stop_signal) {
        int64_t now = now_ms(), next = now + 60000;
        struct timespec ts;
        int r;

        pfd[0].fd = ag->lfd;
        pfd[0].events = POLLIN;
        for (size_t i = 0; i < ag->n_conns; i++) {
            struct conn *c = ag->conns[i];
            pfd[i + 1].fd = c->fd;
            pfd[i + 1].events = kf_buf_len(c->out) > 0 ? POLLOUT : POLLIN;
            pfd[i + 1].revents = 0;
            if (c->deadline < next)
                next = c->deadline;
        }
        ts.tv_sec = next > now ? (next - now) / 1000 : 0;
        ts.tv_nsec = next > now ? ((next - now) % 1000) * 1000000 : 0;
        r = ppoll(pfd, ag->n_conns + 1, &ts, &empty);
        if (r < 0 && errno != EINTR) {
            logmsg(LOG_ERR, "poll: %s", strerror(errno));
            return 1;
        }
        if (r < 0)
            continue;
        now = now_ms();
        /* connections first (indexes shift when one is dropped) */
        for (size_t i = ag->n_conns; i-- > 0;) {
            struct conn *c = ag->conns[i];
            short rev = pfd[i + 1].revents;
            const char *why = NULL;
            bool keep = true;

            if (pfd[i + 1].fd != c->fd)
                continue;
            /* first: a client trickling bytes must not outlive its deadline */
            if (now >= c->deadline) {
                keep = false;
                why = c->state == C_HANDSHAKE ? "handshake timed out" : "idle timeout";
            } else if (rev & (POLLERR | POLLNVAL)) {
                keep = false;
                why = "socket error";
            } else if (rev & POLLOUT) {
                keep = conn_write(c, &why);
            } else if (rev & (POLLIN | POLLHUP)) {
                keep = conn_read(ag, c, &why);
                if (keep && kf_buf_len(c->out) > 0)
                    keep = conn_write(c, &why);
            }
            if (!keep)
                drop(ag, i, why);
        }
        if (pfd[0].revents & POLLIN) {
            for (int k = 0; k < 16; k++)
                accept_one(ag);
        }
    }
    logmsg(LOG_NOTICE, "stopping on signal %d", (int)stop_signal);
    return 0;
}

int
main(int argc, char **argv)
{
    struct agent ag;
    struct group *gr;
    struct kf_err err = {0};
    char *dir;
    int rc;

    memset(&ag, 0, sizeof(ag));
    ag.lfd = -1;
    ag.gid = KF_KEYTAB_NO_GROUP;
    ag.cred = GSS_C_NO_CREDENTIAL;
    rc = parse_options(argc, argv, &ag.o);
    if (rc != 0) {
        options_done(&ag.o);
        return rc;
    }
    /* No core dumps, no ptrace by other users: keys pass through memory. */
    kf_mem_no_dumps();
#if !defined(__SANITIZE_ADDRESS__)
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
        logmsg(LOG_WARNING, "cannot lock memory (%s): key material could reach swap",
               strerror(errno));
#endif
    if (krb5_init_context(&ag.kctx) != 0) {
        logmsg(LOG_ERR, "cannot start libkrb5");
        return 1;
    }
    rc = 1;
    if (prepare_allow(&ag) != 0) {
        rc = 2;
        goto out;
    }
    if (ag.o.keytab_group != NULL) {
        gr = getgrnam(ag.o.keytab_group);
        if (gr == NULL) {
            logmsg(LOG_ERR, "--keytab-group %s: no such group", ag.o.keytab_group);
            goto out;
        }
        ag.gid = gr->gr_gid;
    } else {
        logmsg(LOG_WARNING, "no --keytab-group: %s will be mode 0600, readable by root only "
                            "(right only for web servers whose workers run as root)",
               ag.o.keytab);
    }
    /* the keytab's place: root's, not the host keytab, not a directory */
    if (kf_keytab_check_place(ag.o.keytab, ag.o.host_keytab, geteuid(), &err) != KF_OK) {
        logmsg(LOG_ERR, "refusing to start: --keytab %s: %s", ag.o.keytab, err.msg);
        goto out;
    }
    dir = strdup(ag.o.keytab);
    if (dir != NULL) {
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (access(dir, W_OK) != 0) {
            logmsg(LOG_ERR, "cannot write in the keytab's directory %s: %s", dir,
                   strerror(errno));
            free(dir);
            goto out;
        }
        free(dir);
    }
    if (prepare_state(&ag) != 0)
        goto out;
    if (start_acceptor(&ag) != 0)
        goto out;
    rc = open_listener(&ag);
    if (rc != 0) {
        rc = rc == -2 ? 2 : 1;
        goto out;
    }
    if (!ag.o.foreground) {
        if (daemon(0, 0) != 0) {
            logmsg(LOG_ERR, "cannot detach: %s", strerror(errno));
            rc = 1;
            goto out;
        }
        log_stderr = false;
        openlog("krbfleetd", LOG_PID, LOG_DAEMON);
    }
    logmsg(LOG_NOTICE, "krbfleetd %s listening on %s as %s; keytab %s%s%s", KF_VERSION,
           ag.o.listen, ag.principal, ag.o.keytab, ag.o.keytab_group ? ", group " : "",
           ag.o.keytab_group ? ag.o.keytab_group : "");
    rc = serve(&ag);
out:
    while (ag.n_conns > 0)
        drop(&ag, ag.n_conns - 1, NULL);
    if (ag.lfd >= 0)
        close(ag.lfd);
    if (ag.cred != GSS_C_NO_CREDENTIAL) {
        OM_uint32 min;
        gss_release_cred(&min, &ag.cred);
    }
    free(ag.principal);
    free(ag.state_path);
    krb5_free_context(ag.kctx);
    options_done(&ag.o);
    return rc;
}
