/* diagnose.c - `assignment test` and `doctor` (diagnose.h). */
#include "diagnose.h"

#include <arpa/inet.h>
#include <krb5.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "account.h"
#include "agent_client.h"
#include "keys.h"
#include "mem.h"
#include "names.h"
#include "parallel.h"
#include "probe.h"

const char *const kf_diag_server_checks[] = {
    "agent", "kvno", "spns", "enctypes", "mode", "clock", "key", "login", NULL,
};

#define NOMEM(err) kf_err_set((err), KF_ERR_NOMEM, "out of memory")

/* ---- the report --------------------------------------------------------- */

void
kf_diag_report_free(struct kf_diag_report *r)
{
    if (r == NULL)
        return;
    free(r->title);
    free(r->generated);
    for (size_t i = 0; i < r->n_facts; i++) {
        free(r->facts[i].name);
        free(r->facts[i].value);
    }
    free(r->facts);
    kf_strv_free(r->servers, r->n_servers);
    kf_findings_done(&r->findings);
    free(r);
}

const char *
kf_diag_verdict_name(enum kf_verdict v)
{
    return v == KF_PASS ? "PASS" : v == KF_WARN ? "WARN" : "FAIL";
}

int
kf_diag_worst(const struct kf_diag_report *r, const char *object, const char *check)
{
    int worst = -1;

    for (size_t i = 0; i < r->findings.n; i++) {
        const struct kf_finding *f = &r->findings.v[i];
        if (strcmp(f->object, object) != 0 || (check != NULL && strcmp(f->check, check) != 0))
            continue;
        if ((int)f->verdict > worst)
            worst = (int)f->verdict;
    }
    return worst;
}

static struct kf_diag_report *
report_new(const char *title)
{
    struct kf_diag_report *r = calloc(1, sizeof(*r));
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    if (r == NULL)
        return NULL;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    r->title = strdup(title);
    r->generated = strdup(when);
    if (r->title == NULL || r->generated == NULL) {
        kf_diag_report_free(r);
        return NULL;
    }
    return r;
}

static int fact(struct kf_diag_report *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fact(struct kf_diag_report *r, const char *name, const char *fmt, ...)
{
    struct kf_diag_fact *bigger = realloc(r->facts, (r->n_facts + 1) * sizeof(*bigger));
    char buf[1024];
    va_list ap;

    if (bigger == NULL)
        return -1;
    r->facts = bigger;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    bigger[r->n_facts].name = strdup(name);
    bigger[r->n_facts].value = strdup(buf);
    r->n_facts++;
    return bigger[r->n_facts - 1].name && bigger[r->n_facts - 1].value ? 0 : -1;
}

static int
strv_push(char ***v, size_t *n, const char *s)
{
    char **bigger = realloc(*v, (*n + 1) * sizeof(char *));

    if (bigger == NULL)
        return -1;
    *v = bigger;
    if ((bigger[*n] = strdup(s)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static void
enctype_name(int32_t enctype, char *out, size_t size)
{
    if (enctype < 0 || krb5_enctype_to_name((krb5_enctype)enctype, TRUE, out, size) != 0)
        snprintf(out, size, "enctype %d", (int)enctype);
}

static bool
has_ci(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], s) == 0)
            return true;
    return false;
}

/* PRINC ("HTTP/web@REALM") names NAME ("HTTP/web") in REALM. */
static bool
principal_is(const char *princ, const char *name, const char *realm)
{
    size_t n = strlen(name);

    return strncasecmp(princ, name, n) == 0 && princ[n] == '@' && strcmp(princ + n + 1, realm) == 0;
}

/* Host of an http(s) URL that passed kf_url_check, lower-cased; an IPv6
 * literal keeps no brackets. Returns 0 or -1. */
static int
url_host(const char *url, char *host, size_t size)
{
    const char *p = strstr(url, "://"), *end;
    size_t n;

    if (p == NULL)
        return -1;
    p += 3;
    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL)
            return -1;
        p++;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    n = (size_t)(end - p);
    if (n == 0 || n >= size)
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    for (char *c = host; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

/* The port URL names when it is not its scheme's default (80, 443), in
 * PORT (empty otherwise). */
static void
url_odd_port(const char *url, char *port, size_t size)
{
    const char *p = strstr(url, "://"), *end;
    bool https = strncasecmp(url, "https", 5) == 0;
    size_t n;

    port[0] = '\0';
    if (p == NULL)
        return;
    p += 3;
    if (*p == '[' && (p = strchr(p, ']')) == NULL)
        return;
    p += strcspn(p, ":/?#");
    if (*p != ':')
        return;
    end = ++p;
    while (*end >= '0' && *end <= '9')
        end++;
    n = (size_t)(end - p);
    if (n == 0 || n >= size)
        return;
    if (n == 2 && !https && strncmp(p, "80", 2) == 0)
        return;
    if (n == 3 && https && strncmp(p, "443", 3) == 0)
        return;
    memcpy(port, p, n);
    port[n] = '\0';
}

/* The login works from here, so a browser that still prompts sent no
 * ticket: its own settings decide whether it asks for one and for which
 * SPN. Names them (README, "Browsers"). */
static int
browser_settings(struct kf_findings *f, const char *url, const char *host, const char *canon)
{
    char port[8], cname[KF_FQDN_MAX + 96] = "", odd[KF_FQDN_MAX + 96] = "";

    url_odd_port(url, port, sizeof(port));
    if (strcasecmp(host, canon) != 0)
        snprintf(cname, sizeof(cname),
                 "; with DisableAuthNegotiateCnameLookup a browser asks for HTTP/%s instead",
                 host);
    if (port[0] != '\0')
        snprintf(odd, sizeof(odd),
                 "; with EnableAuthNegotiatePort it asks for HTTP/%s:%s, which krbfleet does "
                 "not publish",
                 canon, port);
    return kf_findings_add(f, KF_PASS, "browser", "settings", NULL,
                           "a browser that still prompts here asked for no ticket: it must trust "
                           "%s for Negotiate (Chrome, Edge: AuthServerAllowlist, or without it on "
                           "Windows the Local intranet zone; Firefox: "
                           "network.negotiate-auth.trusted-uris)%s%s",
                           host, cname, odd);
}

/* Resolve NAME as a client does (getaddrinfo with AI_CANONNAME, which is
 * what browsers ask before they build the SPN): its canonical name
 * (lower-cased, no trailing dot) and first address. Returns 0, or -1 with
 * the resolver's message in WHY. */
static int
resolve(const char *name, char *canon, size_t csize, char *addr, size_t asize, char *why,
        size_t wsize)
{
    struct addrinfo hints = {0}, *res = NULL;
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(why, wsize, "%s", gai_strerror(rc));
        return -1;
    }
    kf_strlcpy(canon, res->ai_canonname ? res->ai_canonname : name, csize);
    for (char *c = canon; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    if (canon[0] != '\0' && canon[strlen(canon) - 1] == '.')
        canon[strlen(canon) - 1] = '\0';
    addr[0] = '\0';
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, addr,
                  (socklen_t)asize);
    else if (res->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr, addr,
                  (socklen_t)asize);
    freeaddrinfo(res);
    return 0;
}

/* "4, 5" */
static void
kvno_list(const uint32_t *v, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%u", i ? ", " : "", (unsigned)v[i]);
    }
}

/* Sorted distinct kvnos of the entries of KS whose principal is one of
 * NAMES[N] in REALM. */
static size_t
kvnos_of(const struct kf_keyset *ks, char *const *names, size_t n, const char *realm, uint32_t *out,
         size_t max)
{
    size_t count = 0;

    for (size_t i = 0; ks && i < ks->n; i++) {
        bool ours = false, seen = false;
        size_t pos;
        for (size_t k = 0; k < n && !ours; k++)
            ours = principal_is(ks->v[i].principal, names[k], realm);
        for (size_t k = 0; k < count && !seen; k++)
            seen = out[k] == ks->v[i].kvno;
        if (!ours || seen || count == max)
            continue;
        for (pos = count; pos > 0 && out[pos - 1] > ks->v[i].kvno; pos--)
            out[pos] = out[pos - 1];
        out[pos] = ks->v[i].kvno;
        count++;
    }
    return count;
}

static bool
has_entry(const struct kf_keyset *ks, const char *name, const char *realm, uint32_t kvno,
          int32_t enctype)
{
    for (size_t i = 0; ks && i < ks->n; i++)
        if (ks->v[i].kvno == kvno && principal_is(ks->v[i].principal, name, realm) &&
            (enctype == 0 || ks->v[i].enctype == enctype))
            return true;
    return false;
}

/* ---- assignment test: per-server data, gathered in parallel ------------- */

struct srv {
    const struct kf_server *sv;
    const struct kf_pool *pool;
    char object[KF_FQDN_MAX + 16];
    char *probe_url;
    char probe_host[KF_FQDN_MAX + 1];
    int port;
    /* the agent */
    kf_status agent_rc;
    char agent_err[KF_ERR_MSG_MAX];
    struct kf_agent_status *status;
    /* a fresh ticket for the probe host, checked by the agent */
    bool key_ran;
    kf_status key_rc;
    char key_err[KF_ERR_MSG_MAX];
    uint32_t ticket_kvno;
    struct kf_keytab_check check;
    /* the real login */
    kf_status login_rc;
    char login_err[KF_ERR_MSG_MAX];
    struct kf_probe_result probe;
    /* worked out afterwards */
    bool has_current;
    bool keys_complete;
};

struct at {
    struct srv *srv;
    size_t n;
    const struct kf_diag_opts *o;
    const char *realm;
    const char *dc;
    bool check_keys; /* the account exists: a ticket for its SPNs can be had */
};

static void
gather_progress(size_t done, size_t total, size_t oldest, void *vctx)
{
    struct at *at = vctx;
    struct kf_progress p = {.phase = "check", .done = done, .total = total, .unit = "servers",
                            .pending = oldest < at->n ? at->srv[oldest].sv->fqdn : NULL};

    kf_progress_report(&at->o->progress, &p);
}

static void
gather_server(size_t i, void *vctx)
{
    struct at *at = vctx;
    struct srv *s = &at->srv[i];
    struct kf_agent *agent = NULL;
    struct kf_err err = {0};
    char spn[KF_FQDN_MAX + 300];

    s->agent_rc =
        kf_agent_connect(s->sv->address, s->port, s->sv->fqdn, at->o->timeout_s, &agent, &err);
    if (s->agent_rc == KF_OK)
        s->agent_rc = kf_agent_status(agent, &s->status, &err);
    if (s->agent_rc != KF_OK)
        kf_strlcpy(s->agent_err, err.msg, sizeof(s->agent_err));
    if (s->agent_rc == KF_OK && at->check_keys && s->probe_host[0] != '\0') {
        uint8_t *tok = NULL;
        size_t len = 0;
        snprintf(spn, sizeof(spn), "HTTP/%s@%s", s->probe_host, at->realm);
        s->key_ran = true;
        kf_err_clear(&err);
        s->key_rc = kf_agent_ticket_token(spn, at->dc, &tok, &len, &s->ticket_kvno, &err);
        if (s->key_rc == KF_OK)
            s->key_rc = kf_agent_check(agent, spn, tok, len, &s->check, &err);
        if (s->key_rc != KF_OK)
            kf_strlcpy(s->key_err, err.msg, sizeof(s->key_err));
        free(tok);
    }
    kf_agent_free(agent);
    kf_err_clear(&err);
    s->login_rc = kf_probe_login(s->probe_url, s->sv->address, at->realm, at->dc, at->o->probe_ca,
                                 at->o->timeout_s, &s->probe, &err);
    if (s->login_rc != KF_OK)
        kf_strlcpy(s->login_err, err.msg, sizeof(s->login_err));
}

static void
srvs_free(struct srv *srv, size_t n)
{
    for (size_t i = 0; srv && i < n; i++) {
        kf_agent_status_free(srv[i].status);
        kf_keytab_check_done(&srv[i].check);
        free(srv[i].probe_url);
    }
    free(srv);
}

/* ---- assignment test: findings ------------------------------------------ */

struct acct_view {
    const struct kf_account *acct;      /* the store's record */
    const struct kf_dir_account *dacct; /* the directory's, NULL if missing */
    char object[64];                    /* "account:LAB\kerbauth" */
    char **names;                       /* implied SPNs + "name$" */
    size_t n_names, n_implied;
    unsigned enctypes; /* what tickets may be sealed with */
    char **spn_why;    /* per implied SPN: why the KDC may refuse it */
    char **spn_fix;    /* ... and the fix; NULL when it is fine */
};

/* Why the KDC issues no ticket for SPN, and the fix; false when the
 * directory looked fine for it (or it is not the account's). */
static bool
spn_trouble(const struct acct_view *av, const char *spn, const char **why, const char **fix)
{
    for (size_t i = 0; av->spn_why != NULL && i < av->n_implied; i++)
        if (strcasecmp(av->names[i], spn) == 0 && av->spn_why[i] != NULL) {
            *why = av->spn_why[i];
            *fix = av->spn_fix[i];
            return true;
        }
    return false;
}

static const char *
repair_fix(const struct srv *good, const struct srv *self, const struct acct_view *av, char *buf,
           size_t size)
{
    if (good != NULL && good != self)
        snprintf(buf, size, "krbfleet password set --from %s --to %s", good->sv->fqdn,
                 self->sv->fqdn);
    else
        snprintf(buf, size, "krbfleet password set --account %s", av->acct->name);
    return buf;
}

/* Entries of principals the account does not manage (a joined host's
 * host/, a hand-added name) in the server's keytab: krbfleet never copies
 * them, but the web server group can read them. WARN, with the fix. */
static int
foreign_finding(struct kf_findings *f, const struct srv *s, const struct acct_view *av,
                const char *realm)
{
    const struct kf_keyset *ks = s->status ? s->status->entries : NULL;
    char list[600] = "", fix[KF_FQDN_MAX + 700];
    size_t n = 0;

    for (size_t i = 0; ks != NULL && i < ks->n; i++) {
        bool ours = false, named = false;
        for (size_t k = 0; k < av->n_names && !ours; k++)
            ours = principal_is(ks->v[i].principal, av->names[k], realm);
        for (size_t k = 0; k < i && !ours && !named; k++)
            named = strcasecmp(ks->v[k].principal, ks->v[i].principal) == 0;
        if (ours || named)
            continue;
        n++;
        if (strlen(list) + strlen(ks->v[i].principal) + 8 < sizeof(list)) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
                     ks->v[i].principal);
        } else if (strstr(list, "...") == NULL) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, ", ...");
        }
    }
    if (n == 0)
        return 0;
    snprintf(fix, sizeof(fix),
             "on %s, move those entries out of %s into a keytab of their own (ktutil: rkt, "
             "delent, wkt), readable only by the service that needs them",
             s->sv->fqdn, s->status->keytab ? s->status->keytab : "the web keytab");
    return kf_findings_add(f, KF_WARN, s->object, "key", fix,
                           "the keytab also holds keys of %zu principal(s) that krbfleet does not "
                           "manage for %s: %s. The web server group can read them; krbfleet "
                           "leaves them alone and never copies them to another server",
                           n, av->acct->name, list);
}

/* The server's keytab against the directory: kvno, SPNs, enctypes. Sets
 * S->has_current and S->keys_complete. Returns -1 when out of memory. */
static int
keytab_findings(struct kf_findings *f, struct srv *s, const struct acct_view *av, const char *realm)
{
    const struct kf_keyset *ks = s->status->entries;
    uint32_t kv[32], cur;
    size_t nkv = kvnos_of(ks, av->names, av->n_names, realm, kv, 32);
    int32_t want[4];
    size_t nwant;
    char list[256], missing[1024] = "", extra[128] = "", have[128] = "";
    bool spns_ok;
    int nomem = 0;

    kvno_list(kv, nkv, list, sizeof(list));
    if (av->dacct == NULL || av->dacct->kvno < 0)
        return 0;
    cur = (uint32_t)av->dacct->kvno;
    if (!s->status->file.exists || ks == NULL || ks->n == 0) {
        return kf_findings_add(f, KF_FAIL, s->object, "kvno", NULL,
                               "there is no keytab at %s (or it is empty): this server cannot "
                               "accept any Kerberos ticket",
                               s->status->keytab ? s->status->keytab : "?");
    }
    for (size_t i = 0; i < nkv; i++)
        s->has_current = s->has_current || kv[i] == cur;
    if (!s->has_current)
        return kf_findings_add(f, KF_FAIL, s->object, "kvno", NULL,
                               "the keytab holds kvno %s of %s, but the directory is at kvno "
                               "%u: tickets issued now cannot be decrypted here, so browsers "
                               "prompt for a password",
                               nkv ? list : "none", av->acct->name, cur);
    nomem |= kf_findings_add(f, KF_PASS, s->object, "kvno", NULL,
                             "the keytab holds kvno %u, the directory's%s%s", cur,
                             nkv > 1 ? "; all kvnos held: " : "", nkv > 1 ? list : "");

    /* every implied SPN at the current kvno */
    for (size_t i = 0; i < av->n_implied; i++)
        if (!has_entry(ks, av->names[i], realm, cur, 0)) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
                     av->names[i]);
        }
    spns_ok = missing[0] == '\0';
    if (!spns_ok)
        nomem |= kf_findings_add(f, KF_FAIL, s->object, "spns", NULL,
                                 "the keytab has no kvno %u key for %s: logins to that name "
                                 "fail here",
                                 cur, missing);
    else
        nomem |= kf_findings_add(f, KF_PASS, s->object, "spns", NULL,
                                 "every one of the %zu SPN(s) of %s has a kvno %u key",
                                 av->n_implied, av->acct->name, cur);

    /* the enctypes the account announces, for every SPN */
    nwant = kf_enctypes_krb5(av->enctypes, want);
    missing[0] = '\0';
    for (size_t e = 0; e < nwant; e++) {
        bool all = true;
        for (size_t i = 0; i < av->n_implied && all; i++)
            all = has_entry(ks, av->names[i], realm, cur, want[e]);
        if (!all) {
            char name[64];
            size_t used = strlen(missing);
            enctype_name(want[e], name, sizeof(name));
            snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "", name);
        }
    }
    for (size_t i = 0; ks && i < ks->n; i++) {
        char name[64];
        bool announced = false;
        if (ks->v[i].kvno != cur)
            continue;
        for (size_t e = 0; e < nwant; e++)
            announced = announced || ks->v[i].enctype == want[e];
        enctype_name(ks->v[i].enctype, name, sizeof(name));
        if (strstr(have, name) == NULL) {
            size_t used = strlen(have);
            snprintf(have + used, sizeof(have) - used, "%s%s", used ? ", " : "", name);
        }
        if (!announced && strstr(extra, name) == NULL) {
            size_t used = strlen(extra);
            snprintf(extra + used, sizeof(extra) - used, "%s%s", used ? ", " : "", name);
        }
    }
    {
        char announced[64];
        kf_enctypes_format(av->enctypes, announced, sizeof(announced));
        if (missing[0] != '\0')
            nomem |= kf_findings_add(
                f, KF_FAIL, s->object, "enctypes", NULL,
                "%s announces %s (msDS-SupportedEncryptionTypes %u) but the keytab has no kvno "
                "%u %s key: a ticket sealed with it is refused here",
                av->acct->name, announced, av->enctypes, cur, missing);
        else if (extra[0] != '\0')
            nomem |= kf_findings_add(f, KF_WARN, s->object, "enctypes", NULL,
                                     "the keytab also holds %s keys, which %s does not "
                                     "announce (%s); harmless, they are never used",
                                     extra, av->acct->name, announced);
        else
            nomem |=
                kf_findings_add(f, KF_PASS, s->object, "enctypes", NULL,
                                "kvno %u keys for %s, as %s announces", cur, have, av->acct->name);
    }
    s->keys_complete = spns_ok && missing[0] == '\0';
    return nomem;
}

static int
mode_findings(struct kf_findings *f, const struct srv *s)
{
    const struct kf_keytab_info *fi = &s->status->file;
    const char *path = s->status->keytab ? s->status->keytab : "?";
    const char *group = s->status->group && s->status->group[0] ? s->status->group : NULL;
    char gbuf[32], fix[1200];
    unsigned mode = fi->mode & 07777;

    if (!fi->exists)
        return 0; /* said under kvno */
    if (group == NULL) {
        snprintf(gbuf, sizeof(gbuf), "%u", (unsigned)fi->gid);
        group = gbuf;
    }
    if ((mode & 0137) != 0) {
        snprintf(fix, sizeof(fix), "ssh %s chmod 0640 %s", s->sv->fqdn, path);
        return kf_findings_add(f, KF_FAIL, s->object, "mode", fix,
                               "%s is mode %04o (group %s): %s; it must be 0640 to the web "
                               "server's group, or 0600",
                               path, mode, group,
                               (mode & 0002)   ? "every local user can replace the keys"
                               : (mode & 0004) ? "every local user can read the keys"
                               : (mode & 0020) ? "its group can replace the keys"
                                               : "it is executable");
    }
    if (mode == 0640 && fi->gid != 0)
        return kf_findings_add(f, KF_PASS, s->object, "mode", NULL,
                               "%s is mode 0640, group %s: the web server's group reads it, "
                               "nobody else",
                               path, group);
    if (mode == 0640)
        return kf_findings_add(f, KF_WARN, s->object, "mode", NULL,
                               "%s is mode 0640 but its group is %s: web server workers in "
                               "another group cannot read it (start krbfleetd with "
                               "--keytab-group GROUP)",
                               path, group);
    return kf_findings_add(f, KF_WARN, s->object, "mode", NULL,
                           "%s is mode %04o: only its owner reads it - right only if the web "
                           "server's workers run as root; otherwise start krbfleetd with "
                           "--keytab-group GROUP",
                           path, mode);
}

static int
clock_findings(struct kf_findings *f, const struct srv *s)
{
    long long ms = s->status->skew_ms, abs_ms = ms < 0 ? -ms : ms;
    char fix[400];

    if (abs_ms >= (long long)KF_DIAG_SKEW_MAX_S * 1000) {
        snprintf(fix, sizeof(fix), "ssh %s chronyc makestep", s->sv->fqdn);
        return kf_findings_add(f, KF_FAIL, s->object, "clock", fix,
                               "its clock is %.1f s %s ours: beyond Kerberos' 5 minutes every "
                               "ticket is refused as a clock skew",
                               (double)abs_ms / 1000.0, ms > 0 ? "ahead of" : "behind");
    }
    return kf_findings_add(f, abs_ms >= (long long)KF_DIAG_SKEW_WARN_S * 1000 ? KF_WARN : KF_PASS,
                           s->object, "clock", NULL,
                           "its clock is %.3f s %s ours (Kerberos allows 300 s)",
                           (double)abs_ms / 1000.0, ms >= 0 ? "ahead of" : "behind");
}

static int
agent_finding(struct kf_findings *f, const struct srv *s)
{
    char fix[600];

    if (s->agent_rc == KF_OK)
        return kf_findings_add(f, KF_PASS, s->object, "agent", NULL,
                               "krbfleetd %s at %s:%d answers and admits us",
                               s->status->version ? s->status->version : "",
                               s->sv->address ? s->sv->address : s->sv->fqdn, s->port);
    if (s->agent_rc == KF_ERR_PERMISSION)
        snprintf(fix, sizeof(fix),
                 "add your principal to krbfleetd's --allow on %s and restart "
                 "it",
                 s->sv->fqdn);
    else if (s->agent_rc == KF_ERR_CREDENTIALS)
        snprintf(fix, sizeof(fix), "kinit");
    else
        snprintf(fix, sizeof(fix), "ssh %s systemctl restart krbfleetd", s->sv->fqdn);
    return kf_findings_add(f, KF_FAIL, s->object, "agent", fix,
                           "%s (so its keytab, file mode and clock were not checked)",
                           s->agent_err);
}

static int
key_finding(struct kf_findings *f, const struct srv *s, const struct srv *good,
            const struct acct_view *av, bool implied)
{
    char fix[700], enc[64];

    if (!s->key_ran)
        return 0;
    if (s->key_rc == KF_ERR_KDC) {
        const char *why = NULL, *kfix = NULL;
        char spn[KF_FQDN_MAX + 8];
        snprintf(spn, sizeof(spn), "HTTP/%s", s->probe_host);
        if (spn_trouble(av, spn, &why, &kfix))
            return kf_findings_add(f, KF_FAIL, s->object, "key", kfix,
                                   "the KDC issues no ticket for %s (%s): browsers get none "
                                   "and prompt for a password",
                                   spn, why);
        return kf_findings_add(f, KF_FAIL, s->object, "key",
                               implied ? "krbfleet topology enable" : NULL,
                               "%s: browsers get no ticket and prompt for a password", s->key_err);
    }
    if (s->key_rc != KF_OK)
        return kf_findings_add(f, KF_FAIL, s->object, "key", NULL, "%s", s->key_err);
    if (!s->check.accepted) {
        enctype_name(s->probe.ticket_enctype, enc, sizeof(enc));
        return kf_findings_add(f, KF_FAIL, s->object, "key",
                               repair_fix(good, s, av, fix, sizeof(fix)),
                               "a fresh ticket for HTTP/%s (kvno %u, %s) is refused by this "
                               "keytab: %s",
                               s->probe_host, (unsigned)s->ticket_kvno,
                               s->probe.ticket_enctype >= 0 ? enc : "enctype unknown",
                               s->check.reason ? s->check.reason : "no key decrypts it");
    }
    enctype_name(s->check.enctype, enc, sizeof(enc));
    if (s->check.kvno != s->check.ticket_kvno)
        return kf_findings_add(f, KF_WARN, s->object, "key",
                               repair_fix(good, s, av, fix, sizeof(fix)),
                               "a fresh ticket (kvno %u, %s) is accepted, but by the key "
                               "labelled kvno %u: the labels are wrong and the next rotation "
                               "may remove the key in use",
                               (unsigned)s->check.ticket_kvno, enc, (unsigned)s->check.kvno);
    return kf_findings_add(f, KF_PASS, s->object, "key", NULL,
                           "a fresh ticket for HTTP/%s (kvno %u, %s) is accepted by the "
                           "keytab's kvno %u key",
                           s->probe_host, (unsigned)s->check.ticket_kvno, enc,
                           (unsigned)s->check.kvno);
}

static int
login_finding(struct kf_findings *f, const struct srv *s, const struct srv *good,
              const struct acct_view *av, bool implied)
{
    const struct kf_probe_result *p = &s->probe;
    const char *where = s->sv->address ? s->sv->address : s->sv->fqdn;
    char fix[700], enc[64];

    if (s->login_rc != KF_OK)
        return kf_findings_add(f, KF_FAIL, s->object, "login",
                               s->login_rc == KF_ERR_CREDENTIALS ? "kinit" : NULL,
                               "a login to %s could not be tried: %s", s->probe_url, s->login_err);
    enctype_name(p->ticket_enctype, enc, sizeof(enc));
    if (kf_probe_ok(p))
        return kf_findings_add(f, KF_PASS, s->object, "login", NULL, "%s via %s: %s, ticket %s",
                               s->probe_url, where, p->detail, enc);
    if (p->ticket_kvno < 0 && p->http_status == 0) {
        const char *why = NULL, *kfix = NULL;
        char spn[KF_FQDN_MAX + 8];
        snprintf(spn, sizeof(spn), "HTTP/%s", s->probe_host);
        if (spn_trouble(av, spn, &why, &kfix))
            return kf_findings_add(f, KF_FAIL, s->object, "login", kfix,
                                   "%s via %s: no ticket, because %s - a browser prompts for "
                                   "a password",
                                   s->probe_url, where, why);
    }
    if (p->ticket_kvno < 0 && p->http_status == 0)
        return kf_findings_add(f, KF_FAIL, s->object, "login",
                               implied ? "krbfleet topology enable" : NULL,
                               "%s via %s: %s - a browser gets no ticket and prompts for a "
                               "password",
                               s->probe_url, where, p->detail);
    if (p->fell_back)
        return kf_findings_add(f, KF_FAIL, s->object, "login", NULL,
                               "%s via %s: the server offers only NTLM or Basic, not "
                               "Negotiate: Kerberos is not enabled for this URL (Apache: "
                               "AuthType GSSAPI), so browsers prompt for a password",
                               s->probe_url, where);
    if (p->http_status == 401 &&
        (!s->has_current || (s->key_ran && s->key_rc == KF_OK && !s->check.accepted)))
        return kf_findings_add(f, KF_FAIL, s->object, "login",
                               repair_fix(good, s, av, fix, sizeof(fix)),
                               "%s via %s: %s - its keytab has no key for the ticket, so "
                               "browsers prompt for a password",
                               s->probe_url, where, p->detail);
    if (p->http_status == 401 && s->key_ran && s->key_rc == KF_OK && s->check.accepted)
        return kf_findings_add(f, KF_FAIL, s->object, "login", NULL,
                               "%s via %s: HTTP 401 although the keytab accepts the ticket "
                               "(kvno %u): the web server itself refuses it - it cannot read "
                               "%s (see mode) or is configured with another keytab",
                               s->probe_url, where, (unsigned)s->check.kvno,
                               s->status && s->status->keytab ? s->status->keytab : "the keytab");
    return kf_findings_add(f, KF_FAIL, s->object, "login", NULL, "%s via %s: %s", s->probe_url,
                           where, p->detail);
}

/* Every implied SPN held by exactly our account, by no other object. */
static int
unique_findings(struct kf_findings *f, struct kf_dir *dir, struct acct_view *av,
                struct kf_account *managed, size_t n_managed, struct kf_err *err, kf_status *rc)
{
    size_t problems = 0;
    int nomem = 0;

    for (size_t i = 0; i < av->n_implied; i++) {
        struct kf_dir_owner *h = NULL;
        size_t n = 0, others = 0;
        bool ours = false;
        char holders[1024] = "", fix[1024] = "";

        if ((*rc = kf_dir_spn_holders(dir, av->names[i], &h, &n, err)) != KF_OK)
            return 0;
        if (n == 0) {
            char why[600];
            snprintf(why, sizeof(why), "%s is registered on no object", av->names[i]);
            av->spn_why[i] = strdup(why);
            av->spn_fix[i] = strdup("krbfleet topology enable");
            nomem |= av->spn_why[i] == NULL || av->spn_fix[i] == NULL;
        }
        for (size_t k = 0; k < n; k++) {
            size_t used = strlen(holders);
            bool is_ours = strcasecmp(h[k].dn, av->dacct->dn) == 0;
            ours = ours || is_ours;
            snprintf(holders + used, sizeof(holders) - used, "%s%s", used ? " and " : "", h[k].dn);
            if (is_ours)
                continue;
            others++;
            used = strlen(fix);
            snprintf(fix + used, sizeof(fix) - used, "%ssetspn -D %s %s", used ? "; " : "",
                     av->names[i], h[k].name ? h[k].name : h[k].dn);
        }
        if (n >= 2) {
            char why[1400];
            snprintf(why, sizeof(why), "%s is registered on %zu objects", av->names[i], n);
            av->spn_why[i] = strdup(why);
            av->spn_fix[i] = strdup(fix);
            nomem |= av->spn_why[i] == NULL || av->spn_fix[i] == NULL;
            problems++;
            nomem |= kf_findings_add(f, KF_FAIL, av->object, "spn-unique", fix,
                                     "%s is registered on %zu objects (%s): the KDC refuses or "
                                     "picks one at random, and browsers prompt for a password. "
                                     "Remove it from every object but %s (on a Samba DC: "
                                     "samba-tool spn delete %s NAME$)",
                                     av->names[i], n, holders, av->dacct->dn, av->names[i]);
        } else if (n == 1 && !ours) {
            bool managed_holder = false;
            char why[1400];
            for (size_t a = 0; a < n_managed; a++)
                managed_holder =
                    managed_holder || (h[0].name && strcasecmp(managed[a].name, h[0].name) == 0);
            snprintf(why, sizeof(why), "%s is registered on %s, not on %s", av->names[i], h[0].dn,
                     av->acct->name);
            av->spn_why[i] = strdup(why);
            av->spn_fix[i] = strdup(managed_holder ? "krbfleet topology enable"
                                                   : "krbfleet topology enable --take-over");
            nomem |= av->spn_why[i] == NULL || av->spn_fix[i] == NULL;
            problems++;
            nomem |= kf_findings_add(
                f, KF_FAIL, av->object, "spn-unique",
                managed_holder ? "krbfleet topology enable"
                               : "krbfleet topology enable --take-over",
                "%s is registered on %s, not on %s: tickets for it are sealed with that "
                "object's key, which the web servers do not have",
                av->names[i], h[0].dn, av->dacct->dn);
        }
        kf_dir_owners_free(h, n);
        (void)others;
    }
    if (problems == 0 && av->n_implied > 0)
        nomem |= kf_findings_add(f, KF_PASS, av->object, "spn-unique", NULL,
                                 "none of its %zu SPN(s) is registered on another object",
                                 av->n_implied);
    return nomem;
}

/* DNS as clients see it: each name of each pool resolves; an alias makes
 * browsers ask for the canonical name's SPN. */
static int
pool_findings(struct kf_findings *f, struct kf_dir *dir, const struct kf_site *site,
              const struct acct_view *av)
{
    int nomem = 0;

    for (size_t j = 0; j < site->n_pools; j++) {
        const struct kf_pool *p = &site->pools[j];
        char object[KF_FQDN_MAX + 8];
        snprintf(object, sizeof(object), "pool:%s", p->fqdn);
        for (size_t k = 0; k <= p->n_web_fqdns; k++) {
            const char *name = k == 0 ? p->fqdn : p->web_fqdns[k - 1];
            char canon[1025], addr[64], why[256], spn[1100], holder[1024] = "";
            struct kf_dir_owner *h = NULL;
            size_t n = 0;
            bool ours = false;
            struct kf_err e = {0};

            if (resolve(name, canon, sizeof(canon), addr, sizeof(addr), why, sizeof(why)) != 0) {
                nomem |= kf_findings_add(f, KF_FAIL, object, "dns", NULL,
                                         "%s does not resolve (%s): clients cannot reach it; "
                                         "add an A/AAAA record for it",
                                         name, why);
                continue;
            }
            if (strcasecmp(canon, name) == 0) {
                nomem |= kf_findings_add(f, KF_PASS, object, "dns", NULL,
                                         "%s resolves to %s and is no alias: clients ask for "
                                         "HTTP/%s",
                                         name, addr, name);
                continue;
            }
            snprintf(spn, sizeof(spn), "HTTP/%s", canon);
            if (dir != NULL && kf_dir_spn_holders(dir, spn, &h, &n, &e) == KF_OK) {
                for (size_t i = 0; i < n; i++) {
                    ours = ours || (av->dacct && strcasecmp(h[i].dn, av->dacct->dn) == 0);
                    if (i == 0)
                        kf_strlcpy(holder, h[i].dn, sizeof(holder));
                }
                kf_dir_owners_free(h, n);
            }
            if (ours)
                nomem |= kf_findings_add(f, KF_WARN, object, "dns", NULL,
                                         "%s is an alias (CNAME) of %s: browsers canonicalise "
                                         "the name and ask for HTTP/%s, not HTTP/%s - that SPN "
                                         "is on %s too, so logins work",
                                         name, canon, canon, name, av->acct->name);
            else
                nomem |= kf_findings_add(
                    f, KF_FAIL, object, "dns", "krbfleet topology enable",
                    "%s is an alias (CNAME) of %s: browsers canonicalise the name and ask for "
                    "HTTP/%s, which is %s%s - they get no usable ticket and prompt for a "
                    "password. Add %s to the web FQDNs of pool %s (`krbfleet pool set %s "
                    "--web-fqdn ...` listing it with the others), then run the fix, or make %s "
                    "an A record",
                    name, canon, canon, holder[0] ? "registered on " : "registered nowhere", holder,
                    canon, p->fqdn, p->fqdn, name);
        }
    }
    return nomem;
}

/* One assignment test: what its steps hand on to the next. */
struct atest {
    struct kf_store *st;
    struct kf_dir *dir;
    const struct kf_diag_opts *o;
    struct kf_diag_report *r;
    struct kf_findings *f;
    struct kf_topology *topo;
    struct kf_account *accounts;
    size_t n_accounts;
    const struct kf_site *site;
    struct kf_dir_account *dacct;
    struct acct_view av;
    struct at at;
    bool finished; /* the site has no account: that is the finding */
};

/* The site, and the account assigned to it. */
static kf_status
at_site(struct atest *t, const char *site_name, struct kf_err *err)
{
    char title[200], object[128], fix[200];
    kf_status rc;

    if ((rc = kf_store_topology_load(t->st, &t->topo, err)) != KF_OK ||
        (rc = kf_store_account_list(t->st, &t->accounts, &t->n_accounts, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < t->topo->n_sites && t->site == NULL; i++)
        if (strcasecmp(t->topo->sites[i].name, site_name) == 0)
            t->site = &t->topo->sites[i];
    if (t->site == NULL)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "site \"%s\" does not exist (see `krbfleet site list`)", site_name);
    snprintf(title, sizeof(title), "assignment test --site %s", t->site->name);
    if ((t->r = report_new(title)) == NULL || fact(t->r, "site", "%s", t->site->name) != 0)
        return NOMEM(err);
    t->f = &t->r->findings;
    for (size_t a = 0; a < t->n_accounts && t->av.acct == NULL; a++)
        if (has_ci(t->accounts[a].sites, t->accounts[a].n_sites, t->site->name))
            t->av.acct = &t->accounts[a];
    if (t->av.acct != NULL)
        return KF_OK;
    snprintf(object, sizeof(object), "site:%s", t->site->name);
    snprintf(fix, sizeof(fix), "krbfleet assignment new --site %s --account NAME", t->site->name);
    if (kf_findings_add(t->f, KF_FAIL, object, "assignment", fix,
                        "site %s has no Kerberos account: its web servers cannot do Kerberos",
                        t->site->name) != 0)
        return NOMEM(err);
    t->finished = true;
    return KF_OK;
}

/* The account: the checks of `topology test` for it, its directory entry,
 * the names whose keys its servers must hold, its SPNs' uniqueness, the
 * pools' names. */
static kf_status
at_account(struct atest *t, kf_status rc, struct kf_err *err)
{
    struct acct_view *av = &t->av;
    struct kf_findings all = {0};
    char self[64], encs[64];

    if (rc != KF_OK || t->finished)
        return rc;
    snprintf(av->object, sizeof(av->object), "account:%s\\%s", av->acct->domain, av->acct->name);
    if (fact(t->r, "account", "%s\\%s", av->acct->domain, av->acct->name) != 0 ||
        fact(t->r, "directory", "%s (%s)", kf_dir_server(t->dir), kf_dir_realm(t->dir)) != 0)
        return NOMEM(err);
    if ((rc = kf_topology_test(t->st, t->dir, &all, err)) != KF_OK) {
        kf_findings_done(&all);
        return rc;
    }
    for (size_t i = 0; i < all.n; i++)
        if ((strcmp(all.v[i].object, av->object) == 0 ||
             strcmp(all.v[i].object, "topology") == 0) &&
            kf_findings_add(t->f, all.v[i].verdict, all.v[i].object, all.v[i].check, all.v[i].fix,
                            "%s", all.v[i].detail) != 0) {
            kf_findings_done(&all);
            return NOMEM(err);
        }
    kf_findings_done(&all);
    rc = kf_dir_account_get(t->dir, av->acct->name, &t->dacct, err);
    if (rc != KF_OK && rc != KF_ERR_NOT_FOUND)
        return rc;
    kf_err_clear(err);
    av->dacct = t->dacct;
    av->enctypes = t->dacct && t->dacct->enctypes ? t->dacct->enctypes : av->acct->enctypes;
    if ((rc = kf_implied_spns(t->topo, av->acct, &av->names, &av->n_names, err)) != KF_OK)
        return rc;
    av->n_implied = av->n_names;
    av->spn_why = calloc(av->n_implied + 1, sizeof(char *));
    av->spn_fix = calloc(av->n_implied + 1, sizeof(char *));
    snprintf(self, sizeof(self), "%s$", av->acct->name);
    if (av->spn_why == NULL || av->spn_fix == NULL ||
        strv_push(&av->names, &av->n_names, self) != 0)
        return NOMEM(err);
    kf_enctypes_format(av->enctypes, encs, sizeof(encs));
    if (t->dacct != NULL &&
        (fact(t->r, "kvno", "%d (msDS-KeyVersionNumber on %s)", t->dacct->kvno,
              kf_dir_server(t->dir)) != 0 ||
         fact(t->r, "enctypes", "%s (msDS-SupportedEncryptionTypes %u)", encs, av->enctypes) != 0))
        return NOMEM(err);
    if (t->dacct != NULL) {
        rc = KF_OK;
        if (unique_findings(t->f, t->dir, av, t->accounts, t->n_accounts, err, &rc) != 0)
            return NOMEM(err);
        if (rc != KF_OK)
            return rc;
    }
    return pool_findings(t->f, t->dir, t->site, av) != 0 ? NOMEM(err) : KF_OK;
}

/* The web servers, all at once: agent, keytab check, real login. */
static kf_status
at_gather(struct atest *t, kf_status rc, struct kf_err *err)
{
    struct at *at = &t->at;

    if (rc != KF_OK || t->finished)
        return rc;
    for (size_t j = 0; j < t->site->n_pools; j++)
        for (size_t k = 0; k < t->site->pools[j].n_servers; k++) {
            struct srv *bigger = realloc(at->srv, (at->n + 1) * sizeof(*bigger));
            const struct kf_pool *p = &t->site->pools[j];
            struct srv *s;
            char url[KF_FQDN_MAX + 16];
            if (bigger == NULL)
                return NOMEM(err);
            at->srv = bigger;
            s = &at->srv[at->n++];
            memset(s, 0, sizeof(*s));
            s->sv = &p->servers[k];
            s->pool = p;
            s->port = s->sv->agent_port ? s->sv->agent_port : t->o->agent_port;
            snprintf(s->object, sizeof(s->object), "server:%s", s->sv->fqdn);
            snprintf(url, sizeof(url), "https://%s/", p->fqdn);
            s->probe_url = strdup(p->probe_url ? p->probe_url : url);
            if (s->probe_url == NULL ||
                strv_push(&t->r->servers, &t->r->n_servers, s->sv->fqdn) != 0)
                return NOMEM(err);
            if (url_host(s->probe_url, s->probe_host, sizeof(s->probe_host)) != 0)
                s->probe_host[0] = '\0';
        }
    at->o = t->o;
    at->realm = kf_dir_realm(t->dir);
    at->dc = kf_dir_server(t->dir);
    at->check_keys = t->dacct != NULL;
    kf_parallel_for(at->n, t->o->concurrency > 0 ? t->o->concurrency : 16, gather_server, at,
                    gather_progress);
    return KF_OK;
}

/* A server whose keytab is complete and current and accepts the ticket:
 * the source key repairs name; NULL if none. */
static const struct srv *
at_good_server(struct atest *t, struct kf_err *err, bool *nomem)
{
    const struct srv *good = NULL;

    *nomem = false;
    for (size_t i = 0; i < t->at.n; i++) {
        struct srv *s = &t->at.srv[i];
        struct kf_findings mine = {0};
        int failed = s->status != NULL && keytab_findings(&mine, s, &t->av, t->at.realm) != 0;
        kf_findings_done(&mine);
        if (failed) {
            *nomem = true;
            NOMEM(err);
            return NULL;
        }
        if (s->has_current && s->keys_complete && (!s->key_ran || s->check.accepted) &&
            good == NULL)
            good = s;
    }
    return good;
}

/* The keytab findings of S (from FIRST on) that lack a repair get one:
 * new keys for a wrong enctype, else a copy from GOOD. */
static int
at_key_fixes(struct atest *t, const struct srv *s, const struct srv *good, size_t first)
{
    struct kf_findings *f = t->f;

    for (size_t x = first; x < f->n; x++) {
        char fix[700];
        if (f->v[x].verdict != KF_FAIL || f->v[x].fix != NULL ||
            (strcmp(f->v[x].check, "kvno") != 0 && strcmp(f->v[x].check, "spns") != 0 &&
             strcmp(f->v[x].check, "enctypes") != 0))
            continue;
        if (strcmp(f->v[x].check, "enctypes") == 0)
            snprintf(fix, sizeof(fix), "krbfleet password set --account %s", t->av.acct->name);
        else
            repair_fix(good, s, &t->av, fix, sizeof(fix));
        if ((f->v[x].fix = strdup(fix)) == NULL)
            return -1;
    }
    return 0;
}

/* Every server's findings: agent, keytab, mode, clock, key, foreign
 * entries, login. */
static kf_status
at_findings(struct atest *t, kf_status rc, struct kf_err *err)
{
    struct kf_findings *f = t->f;
    const struct srv *good;
    bool nomem;

    if (rc != KF_OK || t->finished)
        return rc;
    good = at_good_server(t, err, &nomem);
    if (nomem)
        return KF_ERR_NOMEM;
    for (size_t i = 0; i < t->at.n; i++) {
        struct srv *s = &t->at.srv[i];
        char spn[KF_FQDN_MAX + 8];
        bool implied;
        size_t first;
        snprintf(spn, sizeof(spn), "HTTP/%s", s->probe_host);
        implied = has_ci(t->av.names, t->av.n_implied, spn);
        if (agent_finding(f, s) != 0)
            return NOMEM(err);
        if (s->status != NULL) {
            s->has_current = s->keys_complete = false;
            first = f->n;
            if (keytab_findings(f, s, &t->av, t->at.realm) != 0 || mode_findings(f, s) != 0 ||
                clock_findings(f, s) != 0 || at_key_fixes(t, s, good, first) != 0)
                return NOMEM(err);
        }
        if (key_finding(f, s, good, &t->av, implied) != 0 ||
            foreign_finding(f, s, &t->av, t->at.realm) != 0 ||
            login_finding(f, s, good, &t->av, implied) != 0)
            return NOMEM(err);
    }
    return fact(t->r, "servers", "%zu", t->at.n) != 0 ? NOMEM(err) : KF_OK;
}

kf_status
kf_assignment_test(struct kf_store *st, struct kf_dir *dir, const char *site_name,
                   const struct kf_diag_opts *o, struct kf_diag_report **out, struct kf_err *err)
{
    struct atest t = {.st = st, .dir = dir, .o = o};
    kf_status rc;

    *out = NULL;
    rc = at_site(&t, site_name, err);
    rc = at_account(&t, rc, err);
    rc = at_gather(&t, rc, err);
    rc = at_findings(&t, rc, err);

    srvs_free(t.at.srv, t.at.n);
    kf_strv_free(t.av.spn_why, t.av.n_implied);
    kf_strv_free(t.av.spn_fix, t.av.n_implied);
    kf_strv_free(t.av.names, t.av.n_names);
    kf_dir_account_free(t.dacct);
    kf_account_list_free(t.accounts, t.n_accounts);
    kf_topology_free(t.topo);
    if (rc == KF_OK)
        *out = t.r;
    else
        kf_diag_report_free(t.r);
    return rc;
}

/* ---- doctor ------------------------------------------------------------- */

/* The realm of HOST as this client's krb5.conf maps it. */
static void
host_realm(const char *host, char *out, size_t size)
{
    krb5_context ctx = NULL;
    char **realms = NULL, *def = NULL;

    out[0] = '\0';
    if (krb5_init_context(&ctx) != 0)
        return;
    if (krb5_get_host_realm(ctx, host, &realms) == 0 && realms != NULL && realms[0] != NULL &&
        realms[0][0] != '\0')
        kf_strlcpy(out, realms[0], size);
    else if (krb5_get_default_realm(ctx, &def) == 0)
        kf_strlcpy(out, def, size);
    if (realms != NULL)
        krb5_free_host_realm(ctx, realms);
    krb5_free_default_realm(ctx, def);
    krb5_free_context(ctx);
}

/* What the topology says about a name and an address. */
struct where {
    const struct kf_site *site;       /* of the pool naming HOST (or of the servers) */
    const struct kf_pool *pool;       /* NULL: no pool has that name */
    const struct kf_account *acct;    /* the site's account, or NULL */
    const struct kf_server **servers; /* the servers that answer at the address */
    const struct kf_pool **server_pools;
    size_t n_servers;
};

static bool
pool_named(const struct kf_pool *p, const char *name)
{
    if (strcasecmp(p->fqdn, name) == 0)
        return true;
    for (size_t k = 0; k < p->n_web_fqdns; k++)
        if (strcasecmp(p->web_fqdns[k], name) == 0)
            return true;
    return false;
}

static const struct kf_account *
account_of(const struct kf_account *accounts, size_t n, const char *site)
{
    for (size_t a = 0; a < n; a++)
        if (has_ci(accounts[a].sites, accounts[a].n_sites, site))
            return &accounts[a];
    return NULL;
}

static int
locate(const struct kf_topology *topo, const struct kf_account *accounts, size_t n_accounts,
       const char *name, const char *canon, const char *addr, struct where *w)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++) {
            const struct kf_pool *p = &topo->sites[i].pools[j];
            if (w->pool == NULL && (pool_named(p, canon) || pool_named(p, name))) {
                w->pool = p;
                w->site = &topo->sites[i];
            }
            for (size_t k = 0; k < p->n_servers; k++) {
                const struct kf_server *sv = &p->servers[k];
                const struct kf_server **b1;
                const struct kf_pool **b2;
                if (sv->address == NULL || addr == NULL || strcmp(sv->address, addr) != 0)
                    continue;
                b1 = realloc(w->servers, (w->n_servers + 1) * sizeof(*b1));
                if (b1 == NULL)
                    return -1;
                w->servers = b1;
                b2 = realloc(w->server_pools, (w->n_servers + 1) * sizeof(*b2));
                if (b2 == NULL)
                    return -1;
                w->server_pools = b2;
                w->servers[w->n_servers] = sv;
                w->server_pools[w->n_servers++] = p;
                if (w->site == NULL)
                    w->site = &topo->sites[i];
            }
        }
    /* A load balancer's address: every server of the pool may answer. */
    if (w->n_servers == 0 && w->pool != NULL)
        for (size_t k = 0; k < w->pool->n_servers; k++) {
            const struct kf_server **b1 = realloc(w->servers, (k + 1) * sizeof(*b1));
            const struct kf_pool **b2;
            if (b1 == NULL)
                return -1;
            w->servers = b1;
            b2 = realloc(w->server_pools, (k + 1) * sizeof(*b2));
            if (b2 == NULL)
                return -1;
            w->server_pools = b2;
            w->servers[k] = &w->pool->servers[k];
            w->server_pools[k] = w->pool;
            w->n_servers = k + 1;
        }
    if (w->site != NULL)
        w->acct = account_of(accounts, n_accounts, w->site->name);
    return 0;
}

struct doc_server {
    const struct kf_server *sv;
    char object[KF_FQDN_MAX + 16];
    kf_status rc;
    char err[KF_ERR_MSG_MAX];
    struct kf_agent_status *status;
    bool checked;
    struct kf_keytab_check check;
};

/* Another server of POOL whose keytab accepts TOKEN: a source for
 * `password set --from`. Writes its FQDN to OUT ("" when none). */
static void
find_source(const struct kf_pool *pool, const char *except, const char *principal,
            const uint8_t *tok, size_t len, const struct kf_diag_opts *o, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t k = 0; k < pool->n_servers && out[0] == '\0'; k++) {
        const struct kf_server *sv = &pool->servers[k];
        struct kf_agent *agent = NULL;
        struct kf_keytab_check chk = {0};
        struct kf_err e = {0};
        if (strcasecmp(sv->fqdn, except) == 0)
            continue;
        if (kf_agent_connect(sv->address, sv->agent_port ? sv->agent_port : o->agent_port, sv->fqdn,
                             o->timeout_s, &agent, &e) == KF_OK &&
            kf_agent_check(agent, principal, tok, len, &chk, &e) == KF_OK && chk.accepted)
            kf_strlcpy(out, sv->fqdn, size);
        kf_keytab_check_done(&chk);
        kf_agent_free(agent);
    }
}

/* doctor's progress: step N (0-based) of 5, named WHAT, is under way */
static void
doctor_step(const struct kf_diag_opts *o, size_t n, const char *what)
{
    struct kf_progress p = {.phase = "doctor", .done = n, .total = 5, .unit = "steps",
                            .pending = what};

    kf_progress_report(&o->progress, &p);
}

/* One doctor run: what its steps hand on to the next. */
struct doctor {
    const char *url;
    struct kf_store *st;
    struct kf_dir *dir;
    const struct kf_diag_opts *o;
    struct kf_diag_report *r;
    struct kf_findings *f;
    struct kf_topology *topo;
    struct kf_account *accounts;
    size_t n_accounts;
    struct where w; /* the URL's pool, site, account and servers in the topology */
    bool implied;   /* the topology implies the SPN for the site's account */
    const char *dc; /* the directory's DC (NULL without a directory) */
    char host[KF_FQDN_MAX + 1], canon[1025], resolved[64], conn[64];
    char realm[256], spn[1100], fullspn[1400], enc[64];
    uint8_t *tok; /* a fresh ticket for FULLSPN (NULL: the KDC gave none) */
    size_t toklen;
    uint32_t tkvno;
    kf_status kdc_rc; /* why the KDC gave none */
    struct kf_err kdc_err;
    struct kf_probe_result probe; /* the real login */
    struct kf_dir_owner *holders; /* who holds SPN in the directory */
    size_t n_holders;
    struct kf_dir_account *owner_acct;
    char dirfix[1400];   /* the repair of the SPN's registration ("" none) */
    const char *kdc_fix; /* the repair when the KDC gives no ticket, or NULL */
    struct doc_server *ds;
    const char *key_fix; /* the first keytab repair, for the login's finding */
};

/* 1. The name the client resolves, and the SPN it then asks for; what the
 * topology knows about the name and the address. */
static kf_status
doctor_name(struct doctor *d, struct kf_err *err)
{
    struct kf_findings *f = d->f;
    bool is_ip = kf_address_normalize(d->host, NULL, 0, NULL) == KF_OK;
    char why[256];
    kf_status rc;

    kf_strlcpy(d->canon, d->host, sizeof(d->canon));
    if (is_ip) {
        if (kf_findings_add(f, KF_FAIL, "dns", "name", NULL,
                            "the URL names an address, %s: browsers never use Kerberos for an "
                            "address (there is no SPN for it) and prompt or use NTLM; use the "
                            "pool's name",
                            d->host) != 0)
            return NOMEM(err);
        if (d->conn[0] == '\0')
            kf_strlcpy(d->conn, d->host, sizeof(d->conn));
    } else if (resolve(d->host, d->canon, sizeof(d->canon), d->resolved, sizeof(d->resolved), why,
                       sizeof(why)) != 0) {
        kf_strlcpy(d->canon, d->host, sizeof(d->canon));
        if (kf_findings_add(f, d->conn[0] ? KF_WARN : KF_FAIL, "dns", "resolve", NULL,
                            "%s does not resolve here (%s)%s", d->host, why,
                            d->conn[0] ? "; --address is used" : ": clients cannot reach it") != 0)
            return NOMEM(err);
    } else {
        if (d->conn[0] == '\0')
            kf_strlcpy(d->conn, d->resolved, sizeof(d->conn));
        if (strcasecmp(d->canon, d->host) != 0) {
            if (kf_findings_add(f, KF_WARN, "dns", "cname", NULL,
                                "%s is an alias (CNAME) of %s: browsers canonicalise it and "
                                "ask for HTTP/%s; clients that do not (curl) ask for HTTP/%s",
                                d->host, d->canon, d->canon, d->host) != 0)
                return NOMEM(err);
        } else if (kf_findings_add(f, KF_PASS, "dns", "resolve", NULL,
                                   "%s resolves to %s and is no alias: the client asks for "
                                   "HTTP/%s",
                                   d->host, d->resolved, d->host) != 0) {
            return NOMEM(err);
        }
    }
    snprintf(d->spn, sizeof(d->spn), "HTTP/%s", d->canon);
    if (d->dir != NULL)
        kf_strlcpy(d->realm, kf_dir_realm(d->dir), sizeof(d->realm));
    else
        host_realm(d->canon, d->realm, sizeof(d->realm));
    if (d->realm[0] == '\0')
        return kf_err_set(err, KF_ERR_CONFIG,
                          "no Kerberos realm for %s: krb5.conf has no [domain_realm] entry or "
                          "default_realm",
                          d->canon);
    snprintf(d->fullspn, sizeof(d->fullspn), "%s@%s", d->spn, d->realm);
    if (fact(d->r, "spn", "%s", d->fullspn) != 0 ||
        fact(d->r, "address", "%s", d->conn[0] ? d->conn : "-") != 0)
        return NOMEM(err);
    if (d->st == NULL)
        return KF_OK;
    if ((rc = kf_store_topology_load(d->st, &d->topo, err)) != KF_OK ||
        (rc = kf_store_account_list(d->st, &d->accounts, &d->n_accounts, err)) != KF_OK)
        return rc;
    if (locate(d->topo, d->accounts, d->n_accounts, d->host, d->canon, d->conn[0] ? d->conn : NULL,
               &d->w) != 0)
        return NOMEM(err);
    d->implied = d->w.pool != NULL && pool_named(d->w.pool, d->canon) && d->w.acct != NULL;
    if ((d->w.pool != NULL &&
         fact(d->r, "pool", "%s (site %s)", d->w.pool->fqdn, d->w.site->name) != 0) ||
        (d->w.acct != NULL &&
         fact(d->r, "account", "%s\\%s", d->w.acct->domain, d->w.acct->name) != 0))
        return NOMEM(err);
    return KF_OK;
}

/* 2. The KDC: a fresh ticket for the SPN; and the real login now, so that
 * its ticket's enctype can be told. */
static kf_status
doctor_kdc(struct doctor *d, struct kf_err *err)
{
    kf_status rc;

    d->kdc_rc =
        kf_agent_ticket_token(d->fullspn, d->dc, &d->tok, &d->toklen, &d->tkvno, &d->kdc_err);
    if (d->kdc_rc == KF_ERR_CREDENTIALS)
        return kf_err_set(err, KF_ERR_CREDENTIALS, "%s", d->kdc_err.msg);
    rc = kf_probe_login_spn(d->url, d->conn[0] ? d->conn : NULL, d->canon, d->realm, d->dc,
                            d->o->probe_ca, d->o->timeout_s, &d->probe, err);
    if (rc != KF_OK)
        return rc;
    enctype_name(d->probe.ticket_enctype, d->enc, sizeof(d->enc));
    return KF_OK;
}

/* The repair of the SPN's registration, which is also the repair when the
 * KDC gives no ticket: it depends on who holds the SPN. */
static void
doctor_dirfix(struct doctor *d)
{
    const struct where *w = &d->w;
    char *out = d->dirfix;
    size_t size = sizeof(d->dirfix);

    if (d->n_holders >= 2) {
        for (size_t i = 0; i < d->n_holders; i++) {
            size_t used = strlen(out);
            if (w->acct != NULL && d->holders[i].name != NULL &&
                strcasecmp(d->holders[i].name, w->acct->name) == 0)
                continue;
            snprintf(out + used, size - used, "%ssetspn -D %s %s", used ? "; " : "", d->spn,
                     d->holders[i].name ? d->holders[i].name : d->holders[i].dn);
        }
    } else if (d->n_holders == 1 && w->acct != NULL && d->holders[0].name != NULL &&
               strcasecmp(d->holders[0].name, w->acct->name) != 0) {
        snprintf(out, size, "krbfleet topology enable --take-over");
    } else if (d->n_holders == 0 && d->implied) {
        snprintf(out, size, "krbfleet topology enable");
    } else if (d->dir != NULL && d->n_holders == 0 && w->acct != NULL && w->n_servers > 0) {
        const struct kf_pool *pool = w->server_pools[0];
        size_t used = (size_t)snprintf(out, size, "krbfleet pool set %s", pool->fqdn);
        for (size_t i = 0; i < pool->n_web_fqdns && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, " --web-fqdn %s", pool->web_fqdns[i]);
        if (used < size)
            snprintf(out + used, size - used, " --web-fqdn %s; krbfleet topology enable", d->canon);
    }
    if (d->kdc_rc != KF_OK && out[0] != '\0')
        d->kdc_fix = out;
}

/* The KDC's findings: the ticket for the SPN, and for the alias. */
static int
kdc_findings(struct doctor *d)
{
    const char *why = d->kdc_err.msg;
    size_t len = strlen(d->fullspn);

    if (d->kdc_rc == KF_OK) {
        if (kf_findings_add(d->f, KF_PASS, "kdc", "ticket", NULL,
                            "the KDC issues a ticket for %s (kvno %u, %s)", d->fullspn,
                            (unsigned)d->tkvno, d->enc) != 0)
            return -1;
    } else {
        if (strncmp(why, d->fullspn, len) == 0 && why[len] == ':')
            why += len + 2;
        if (kf_findings_add(d->f, KF_FAIL, "kdc", "ticket", d->kdc_fix,
                            "the KDC issues no ticket for %s (%s): the browser cannot use "
                            "Kerberos and prompts for a password",
                            d->fullspn, why) != 0)
            return -1;
    }
    if (strcasecmp(d->canon, d->host) != 0) {
        uint8_t *t2 = NULL;
        size_t l2 = 0;
        char other[1400];
        struct kf_err e2 = {0};
        int rc = 0;
        snprintf(other, sizeof(other), "HTTP/%s@%s", d->host, d->realm);
        if (kf_agent_ticket_token(other, d->dc, &t2, &l2, NULL, &e2) != KF_OK &&
            kf_findings_add(d->f, KF_WARN, "kdc", "alias", NULL,
                            "the KDC knows no %s, which clients that do not canonicalise ask "
                            "for (%s)",
                            other, e2.msg) != 0)
            rc = -1;
        free(t2);
        return rc;
    }
    return 0;
}

/* The directory's finding: who holds the SPN. */
static int
owner_finding(struct doctor *d)
{
    const struct where *w = &d->w;
    const char *fix = d->dirfix[0] ? d->dirfix : NULL;

    if (d->dir == NULL)
        return kf_findings_add(d->f, KF_WARN, "directory", "owner", NULL,
                               "no directory connection (configure [directory] and kinit as an "
                               "admin): who holds %s was not looked up",
                               d->spn);
    if (d->n_holders == 0)
        return kf_findings_add(
            d->f, KF_FAIL, "directory", "owner", fix, "no object in %s holds the SPN %s%s%s%s%s",
            kf_dir_server(d->dir), d->spn,
            d->implied ? ": the topology implies it for account " : "",
            d->implied ? w->acct->name : "",
            !d->implied && w->acct ? ": its web server is in a site of account " : "",
            !d->implied && w->acct ? w->acct->name
                                   : (!d->implied ? ": register it on the account whose keys "
                                                    "the web server holds (setspn -S SPN "
                                                    "ACCOUNT)"
                                                  : ""));
    if (d->n_holders == 1) {
        const struct kf_dir_owner *h = &d->holders[0];
        char encs[64] = "";
        if (d->owner_acct != NULL)
            kf_enctypes_format(d->owner_acct->enctypes, encs, sizeof(encs));
        if (w->acct != NULL && h->name != NULL && strcasecmp(h->name, w->acct->name) != 0)
            return kf_findings_add(d->f, KF_FAIL, "directory", "owner",
                                   "krbfleet topology enable --take-over",
                                   "%s is held by %s, but the site's web servers have the keys "
                                   "of %s: tickets for it cannot be decrypted there",
                                   d->spn, h->dn, w->acct->name);
        return kf_findings_add(d->f, KF_PASS, "directory", "owner", NULL,
                               "%s is registered on %s (account %s%s; kvno %d, enctypes %s)",
                               d->spn, h->dn, h->name ? h->name : "?", h->name ? "$" : "",
                               d->owner_acct ? d->owner_acct->kvno : -1, encs[0] ? encs : "?");
    }
    {
        char list[1024] = "";
        for (size_t i = 0; i < d->n_holders; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s", i ? " and " : "", d->holders[i].dn);
        }
        return kf_findings_add(d->f, KF_FAIL, "directory", "owner", fix,
                               "%s is registered on %zu objects (%s), so the KDC issues no "
                               "ticket for it: remove it from all but the account whose keys "
                               "the web servers hold (on a Samba DC: samba-tool spn delete SPN "
                               "NAME$)",
                               d->spn, d->n_holders, list);
    }
}

/* 3. The directory: who holds the SPN, and what that means for the KDC. */
static kf_status
doctor_directory(struct doctor *d, struct kf_err *err)
{
    struct kf_err e = {0};
    kf_status rc;

    if (d->dir != NULL) {
        if ((rc = kf_dir_spn_holders(d->dir, d->spn, &d->holders, &d->n_holders, err)) != KF_OK)
            return rc;
        if (d->n_holders == 1 && d->holders[0].name != NULL &&
            kf_dir_account_get(d->dir, d->holders[0].name, &d->owner_acct, &e) != KF_OK)
            d->owner_acct = NULL;
    }
    doctor_dirfix(d);
    if (kdc_findings(d) != 0 || owner_finding(d) != 0)
        return NOMEM(err);
    return KF_OK;
}

/* Reach server I's agent, read its keytab and check the ticket with it. */
static void
doctor_gather(struct doctor *d, size_t i)
{
    struct doc_server *s = &d->ds[i];
    struct kf_agent *agent = NULL;
    struct kf_err e = {0};

    s->sv = d->w.servers[i];
    snprintf(s->object, sizeof(s->object), "server:%s", s->sv->fqdn);
    s->rc =
        kf_agent_connect(s->sv->address, s->sv->agent_port ? s->sv->agent_port : d->o->agent_port,
                         s->sv->fqdn, d->o->timeout_s, &agent, &e);
    if (s->rc == KF_OK)
        s->rc = kf_agent_status(agent, &s->status, &e);
    if (s->rc == KF_OK && d->tok != NULL) {
        s->rc = kf_agent_check(agent, d->fullspn, d->tok, d->toklen, &s->check, &e);
        s->checked = s->rc == KF_OK;
    }
    if (s->rc != KF_OK)
        kf_strlcpy(s->err, e.msg, sizeof(s->err));
    kf_agent_free(agent);
}

/* The finding of server I's keytab; a refusal names the repair, from a
 * server of its pool that accepts the ticket when there is one. */
static int
doctor_key_finding(struct doctor *d, size_t i)
{
    const struct doc_server *s = &d->ds[i], *good = NULL;
    const struct kf_keyset *ks = s->status ? s->status->entries : NULL;
    struct kf_findings *f = d->f;
    const char *acct = d->w.acct ? d->w.acct->name : NULL;
    uint32_t kv[32];
    char *name = d->spn;
    char list[256], held[160] = "", source[KF_FQDN_MAX + 1] = "", fix[1400] = "", en[64];
    size_t nkv;

    if (s->rc != KF_OK)
        return kf_findings_add(f, KF_WARN, s->object, "key", NULL,
                               "its keytab could not be inspected: %s", s->err);
    nkv = kvnos_of(ks, &name, 1, d->realm, kv, 32);
    kvno_list(kv, nkv, list, sizeof(list));
    for (size_t k = 0; ks != NULL && k < ks->n; k++) {
        if (nkv == 0 || ks->v[k].kvno != kv[nkv - 1] ||
            !principal_is(ks->v[k].principal, d->spn, d->realm))
            continue;
        enctype_name(ks->v[k].enctype, en, sizeof(en));
        snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%s", held[0] ? "," : "", en);
    }
    if (!s->checked && nkv == 0) {
        if (acct != NULL)
            snprintf(fix, sizeof(fix), "krbfleet password set --account %s", acct);
        return kf_findings_add(f, KF_WARN, s->object, "key", acct ? fix : NULL,
                               "its keytab has no key for %s: once the SPN is registered, "
                               "give every server one with the fix",
                               d->spn);
    }
    if (!s->checked)
        return kf_findings_add(f, KF_PASS, s->object, "key", NULL,
                               "its keytab holds %s at kvno %s%s%s%s (no ticket to check it "
                               "with)",
                               d->spn, list, held[0] ? " (" : "", held, held[0] ? ")" : "");
    if (s->check.accepted) {
        enctype_name(s->check.enctype, en, sizeof(en));
        return kf_findings_add(f, KF_PASS, s->object, "key", NULL,
                               "its keytab holds %s at kvno %s; the ticket (kvno %u, %s) is "
                               "accepted by its kvno %u key",
                               d->spn, list, (unsigned)s->check.ticket_kvno, en,
                               (unsigned)s->check.kvno);
    }
    for (size_t k = 0; k < d->w.n_servers && good == NULL; k++)
        if (k != i && d->ds[k].checked && d->ds[k].check.accepted)
            good = &d->ds[k];
    if (good != NULL)
        kf_strlcpy(source, good->sv->fqdn, sizeof(source));
    else
        find_source(d->w.server_pools[i], s->sv->fqdn, d->fullspn, d->tok, d->toklen, d->o, source,
                    sizeof(source));
    if (source[0] != '\0')
        snprintf(fix, sizeof(fix), "krbfleet password set --from %s --to %s", source, s->sv->fqdn);
    else if (acct != NULL)
        snprintf(fix, sizeof(fix), "krbfleet password set --account %s", acct);
    if (kf_findings_add(f, KF_FAIL, s->object, "key", fix[0] ? fix : NULL,
                        "its keytab holds %s at kvno %s%s%s%s, but the ticket (kvno %u, %s) "
                        "is refused: %s",
                        d->spn, nkv ? list : "none", held[0] ? " (" : "", held, held[0] ? ")" : "",
                        (unsigned)d->tkvno, d->enc,
                        s->check.reason ? s->check.reason : "no key decrypts it") != 0)
        return -1;
    if (d->key_fix == NULL && fix[0] != '\0')
        d->key_fix = f->v[f->n - 1].fix;
    return 0;
}

/* 4. The keytab of each server that may answer, through its agent. */
static kf_status
doctor_keytabs(struct doctor *d, struct kf_err *err)
{
    d->ds = calloc(d->w.n_servers ? d->w.n_servers : 1, sizeof(*d->ds));
    if (d->ds == NULL)
        return NOMEM(err);
    for (size_t i = 0; i < d->w.n_servers; i++)
        doctor_gather(d, i);
    for (size_t i = 0; i < d->w.n_servers; i++)
        if (doctor_key_finding(d, i) != 0)
            return NOMEM(err);
    return KF_OK;
}

/* 5. The login itself, as a browser makes it. */
static kf_status
doctor_login(struct doctor *d, bool *login_ok, struct kf_err *err)
{
    const struct kf_probe_result *p = &d->probe;
    const char *at = d->conn[0] ? d->conn : d->host;
    int failed;

    *login_ok = kf_probe_ok(p);
    if (*login_ok)
        failed = kf_findings_add(d->f, KF_PASS, "login", "negotiate", NULL,
                                 "HTTP %ld from %s with a verified mutual-authentication token "
                                 "(ticket kvno %d, %s): Kerberos works for this URL",
                                 p->http_status, at, p->ticket_kvno, d->enc) != 0 ||
                 browser_settings(d->f, d->url, d->host, d->canon) != 0;
    else if (p->ticket_kvno < 0 && p->http_status == 0 && d->kdc_rc != KF_OK)
        failed = kf_findings_add(d->f, KF_FAIL, "login", "negotiate", d->kdc_fix,
                                 "no login was tried: %s - a browser in this situation prompts "
                                 "for a password (or uses NTLM)",
                                 p->detail);
    else if (p->fell_back)
        failed = kf_findings_add(d->f, KF_FAIL, "login", "fallback", NULL,
                                 "HTTP %ld: the server offers only NTLM or Basic, not Negotiate, "
                                 "so the browser falls back to them and prompts for a password: "
                                 "enable Kerberos for this URL (Apache: AuthType GSSAPI with "
                                 "mod_auth_gssapi)",
                                 p->http_status);
    else if (p->http_status >= 200 && p->http_status < 400 && !p->mutual)
        failed = kf_findings_add(d->f, KF_FAIL, "login", "mutual", NULL,
                                 "HTTP %ld but %s: the answer did not come from a server holding "
                                 "the key of %s (the page is not protected, or a proxy answered)",
                                 p->http_status, p->detail, d->spn);
    else
        failed = kf_findings_add(d->f, KF_FAIL, "login", "negotiate", d->key_fix,
                                 "the server at %s refused the ticket (kvno %d, %s): %s", at,
                                 p->ticket_kvno, d->enc, p->detail);
    return failed ? NOMEM(err) : KF_OK;
}

static void
doctor_free(struct doctor *d)
{
    for (size_t i = 0; d->ds != NULL && i < d->w.n_servers; i++) {
        kf_agent_status_free(d->ds[i].status);
        kf_keytab_check_done(&d->ds[i].check);
    }
    free(d->ds);
    free(d->w.servers);
    free(d->w.server_pools);
    free(d->tok);
    kf_dir_owners_free(d->holders, d->n_holders);
    kf_dir_account_free(d->owner_acct);
    kf_account_list_free(d->accounts, d->n_accounts);
    kf_topology_free(d->topo);
}

kf_status
kf_doctor(struct kf_store *st, struct kf_dir *dir, const char *url, const char *address,
          const struct kf_diag_opts *o, struct kf_diag_report **out, bool *login_ok,
          struct kf_err *err)
{
    struct doctor d = {
        .url = url, .st = st, .dir = dir, .o = o, .dc = dir ? kf_dir_server(dir) : NULL};
    char title[2200];
    kf_status rc;

    *out = NULL;
    *login_ok = false;
    if (kf_url_check(url, err) != KF_OK)
        return err->code;
    if (url_host(url, d.host, sizeof(d.host)) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "\"%s\" has no host name", url);
    if (address != NULL && kf_address_normalize(address, d.conn, sizeof(d.conn), err) != KF_OK)
        return err->code;
    snprintf(title, sizeof(title), "doctor %s", url);
    if ((d.r = report_new(title)) == NULL || fact(d.r, "url", "%s", url) != 0) {
        kf_diag_report_free(d.r);
        return NOMEM(err);
    }
    d.f = &d.r->findings;

    doctor_step(o, 0, "name");
    rc = doctor_name(&d, err);
    if (rc == KF_OK) {
        doctor_step(o, 1, "KDC ticket");
        rc = doctor_kdc(&d, err);
    }
    if (rc == KF_OK) {
        doctor_step(o, 2, "directory");
        rc = doctor_directory(&d, err);
    }
    if (rc == KF_OK) {
        doctor_step(o, 3, "keytabs");
        rc = doctor_keytabs(&d, err);
    }
    if (rc == KF_OK) {
        doctor_step(o, 4, "login");
        rc = doctor_login(&d, login_ok, err);
    }
    if (rc == KF_OK)
        doctor_step(o, 5, NULL);

    doctor_free(&d);
    if (rc == KF_OK)
        *out = d.r;
    else
        kf_diag_report_free(d.r);
    return rc;
}
