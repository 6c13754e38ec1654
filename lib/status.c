/* status.c - the fleet's status (status.h): directory, agents, journal. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent_client.h"
#include "enable.h"
#include "mem.h"
#include "parallel.h"
#include "strv.h"
#include "topology.h"

#define PROM_MAX (16u * 1024 * 1024) /* bytes of exposition text */

const char *
kf_server_freshness_name(enum kf_server_freshness f)
{
    switch (f) {
    case KF_FRESH_CURRENT:
        return "current";
    case KF_FRESH_STALE:
        return "stale";
    case KF_FRESH_UNREACHABLE:
        return "unreachable";
    }
    return "unknown";
}

/* One account's servers, asked at once. */
struct ask {
    const struct kf_fleet_status_opts *o;
    struct kf_fleet_account *a;
    const struct kf_server **sv; /* topology entries, parallel to a->servers */
    char **principals;           /* NAME$@REALM and HTTP/...@REALM: the account's */
    size_t n_principals;
};

static bool
is_ours(const struct ask *k, const char *principal)
{
    for (size_t i = 0; i < k->n_principals; i++)
        if (strcasecmp(k->principals[i], principal) == 0)
            return true;
    return false;
}

static void
ask_server(size_t i, void *vctx)
{
    struct ask *k = vctx;
    struct kf_fleet_server *s = &k->a->servers[i];
    const struct kf_server *sv = k->sv[i];
    struct kf_agent *agent = NULL;
    struct kf_agent_status *as = NULL;
    struct kf_err err = {0};
    kf_status rc;

    rc = kf_agent_connect(sv->address, sv->agent_port ? sv->agent_port : k->o->agent_port,
                          sv->fqdn, k->o->timeout_s > 0 ? k->o->timeout_s : 10, &agent, &err);
    if (rc == KF_OK)
        rc = kf_agent_status(agent, &as, &err);
    if (rc != KF_OK) {
        s->state = KF_FRESH_UNREACHABLE;
        s->error = strdup(err.msg[0] != '\0' ? err.msg : kf_strerror(rc));
    } else {
        for (size_t j = 0; as->entries != NULL && j < as->entries->n; j++) {
            const struct kf_key_entry *e = &as->entries->v[j];
            if (is_ours(k, e->principal) && (int)e->kvno > s->kvno)
                s->kvno = (int)e->kvno;
        }
        s->state = s->kvno >= 0 && s->kvno == k->a->kvno ? KF_FRESH_CURRENT : KF_FRESH_STALE;
        for (size_t j = 0; as->committed != NULL && j < as->committed->n; j++) {
            const struct kf_committed_account *c = &as->committed->v[j];
            size_t len = strlen(k->a->account);
            if (strncasecmp(c->account, k->a->account, len) == 0 &&
                strncmp(c->account + len, "$@", 2) == 0 && c->n_commits > 0)
                s->committed = (int)c->commits[c->n_commits - 1].kvno;
        }
    }
    kf_agent_status_free(as);
    kf_agent_free(agent);
    kf_err_clear(&err);
}

static void
ask_progress(size_t done, size_t total, size_t oldest, void *vctx)
{
    struct ask *k = vctx;
    struct kf_progress p = {.phase = "status", .done = done, .total = total, .unit = "servers",
                            .pending = oldest < total ? k->a->servers[oldest].server : NULL};

    kf_progress_report(&k->o->progress, &p);
}

/* Every web server of every site assigned to ACCT, into A->servers and
 * K->sv. Returns 0 or -1 (out of memory). */
static int
list_servers(const struct kf_topology *topo, const struct kf_account *acct,
             struct kf_fleet_account *a, struct ask *k)
{
    for (size_t s = 0; s < acct->n_sites; s++)
        for (size_t i = 0; i < topo->n_sites; i++) {
            const struct kf_site *site = &topo->sites[i];
            if (strcasecmp(site->name, acct->sites[s]) != 0)
                continue;
            for (size_t j = 0; j < site->n_pools; j++)
                for (size_t m = 0; m < site->pools[j].n_servers; m++) {
                    const struct kf_server *sv = &site->pools[j].servers[m];
                    struct kf_fleet_server *v =
                        realloc(a->servers, (a->n_servers + 1) * sizeof(*v));
                    const struct kf_server **w;
                    if (v == NULL)
                        return -1;
                    a->servers = v;
                    w = realloc(k->sv, (a->n_servers + 1) * sizeof(*w));
                    if (w == NULL)
                        return -1;
                    k->sv = w;
                    v = &a->servers[a->n_servers];
                    memset(v, 0, sizeof(*v));
                    v->kvno = -1;
                    v->committed = -1;
                    w[a->n_servers++] = sv;
                    v->server = strdup(sv->fqdn);
                    v->pool = strdup(site->pools[j].fqdn);
                    v->site = strdup(site->name);
                    if (v->server == NULL || v->pool == NULL || v->site == NULL)
                        return -1;
                }
        }
    return 0;
}

/* The account's principals with REALM: NAME$ and every SPN the topology
 * implies for it. */
static kf_status
principals(const struct kf_topology *topo, const struct kf_account *acct, const char *realm,
           struct ask *k, struct kf_err *err)
{
    char **spns = NULL;
    size_t n = 0;
    kf_status rc = kf_implied_spns(topo, acct, &spns, &n, err);

    if (rc != KF_OK)
        return rc;
    k->principals = calloc(n + 1, sizeof(char *));
    if (k->principals == NULL) {
        kf_strv_free(spns, n);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i <= n; i++) {
        size_t len = (i < n ? strlen(spns[i]) : strlen(acct->name) + 1) + strlen(realm) + 2;
        char *p = malloc(len);
        if (p == NULL)
            break;
        if (i < n)
            snprintf(p, len, "%s@%s", spns[i], realm);
        else
            snprintf(p, len, "%s$@%s", acct->name, realm);
        k->principals[k->n_principals++] = p;
    }
    kf_strv_free(spns, n);
    return k->n_principals == n + 1 ? KF_OK : kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

/* "kvno 4 -> 5; 4 of 4 servers healthy": the detail of a run's "done" step
 * (rotate.c). True when it says every server ended healthy. */
static bool
all_healthy(const char *detail)
{
    const char *p = detail ? strrchr(detail, ';') : NULL;
    char *end;
    unsigned long long good, total;

    if (p == NULL)
        return false;
    p++;
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    good = strtoull(p, &end, 10);
    if (strncmp(end, " of ", 4) != 0 || end[4] < '0' || end[4] > '9')
        return false;
    total = strtoull(end + 4, &end, 10);
    return strncmp(end, " servers healthy", 16) == 0 && good == total;
}

static kf_status
account_status(struct kf_store *st, struct kf_dir *dir, const struct kf_topology *topo,
               const struct kf_account *acct, const struct kf_fleet_status_opts *o, int64_t now,
               struct kf_fleet_account *a, struct kf_err *err)
{
    struct kf_dir_account *d = NULL;
    struct ask k = {.o = o, .a = a};
    kf_status rc;

    a->kvno = -1;
    a->pwd_last_set = a->password_age_s = a->next_due = -1;
    a->last.when = -1;
    a->account = strdup(acct->name);
    if (a->account == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = kf_dir_account_get(dir, acct->name, &d, err)) != KF_OK)
        return rc;
    a->kvno = d->kvno;
    if (d->pwd_last_set >= 0) {
        a->pwd_last_set = d->pwd_last_set;
        a->password_age_s = now > d->pwd_last_set ? now - d->pwd_last_set : 0;
        a->next_due = d->pwd_last_set + o->max_age_s;
        a->due = now >= a->next_due;
    }
    kf_dir_account_free(d);
    if ((rc = kf_store_last_rotation(st, acct->name, &a->last, err)) != KF_OK)
        return rc;
    a->last_ok = a->last.run != NULL && a->last.step != NULL &&
                 strcmp(a->last.step, "done") == 0 && all_healthy(a->last.detail);
    if (list_servers(topo, acct, a, &k) != 0) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = principals(topo, acct, kf_dir_realm(dir), &k, err)) != KF_OK)
        goto out;
    kf_parallel_for(a->n_servers, o->concurrency > 0 ? o->concurrency : 16, ask_server, &k,
                    ask_progress);
    for (size_t i = 0; i < a->n_servers; i++) {
        if (a->servers[i].state == KF_FRESH_UNREACHABLE && a->servers[i].error == NULL) {
            rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            goto out;
        }
        a->count[a->servers[i].state]++;
    }
out:
    free(k.sv);
    kf_strv_free(k.principals, k.n_principals);
    return rc;
}

kf_status
kf_fleet_status_collect(struct kf_store *st, struct kf_dir *dir, const struct kf_fleet_status_opts *o,
                  struct kf_fleet_status **result, struct kf_err *err)
{
    struct kf_topology *topo = NULL;
    struct kf_account *accts = NULL, *one = NULL;
    size_t n = 0;
    struct kf_fleet_status *r;
    kf_status rc;

    *result = NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    r->now = (int64_t)time(NULL);
    r->max_age_s = o->max_age_s;
    if (o->account != NULL) {
        rc = kf_store_account_get(st, o->account, &one, err);
        accts = one;
        n = one != NULL ? 1 : 0;
    } else {
        rc = kf_store_account_list(st, &accts, &n, err);
    }
    if (rc == KF_OK)
        rc = kf_store_topology_load(st, &topo, err);
    if (rc == KF_OK && n > 0 && (r->v = calloc(n, sizeof(*r->v))) == NULL)
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == KF_OK && i < n; i++) {
        r->n++;
        rc = account_status(st, dir, topo, &accts[i], o, r->now, &r->v[i], err);
    }
    if (one != NULL)
        kf_account_free(one);
    else
        kf_account_list_free(accts, n);
    kf_topology_free(topo);
    if (rc != KF_OK) {
        kf_fleet_status_free(r);
        return rc;
    }
    *result = r;
    return KF_OK;
}

void
kf_fleet_status_free(struct kf_fleet_status *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct kf_fleet_account *a = &r->v[i];
        for (size_t j = 0; j < a->n_servers; j++) {
            free(a->servers[j].server);
            free(a->servers[j].pool);
            free(a->servers[j].site);
            free(a->servers[j].error);
        }
        free(a->servers);
        free(a->account);
        kf_store_rotation_run_done(&a->last);
    }
    free(r->v);
    free(r);
}

bool
kf_fleet_status_healthy(const struct kf_fleet_status *r)
{
    for (size_t i = 0; r != NULL && i < r->n; i++)
        if (r->v[i].count[KF_FRESH_STALE] > 0 || r->v[i].count[KF_FRESH_UNREACHABLE] > 0)
            return false;
    return true;
}

/* ---- Prometheus text exposition format ---------------------------------- */

size_t
kf_prom_label_escape(const char *s, char *out, size_t size)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        size_t l = rep ? 2 : 1;
        if (n + l < size)
            memcpy(out + n, rep ? rep : s, l);
        n += l;
    }
    if (size > 0)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

struct prom {
    char *s;
    size_t len, cap;
    bool failed;
};

static void prom_add(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
prom_add(struct prom *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(p->s + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        p->failed = true;
        return;
    }
    if ((size_t)n >= p->cap - p->len) {
        size_t cap = p->cap;
        char *bigger;
        while (cap - p->len <= (size_t)n)
            cap *= 2;
        if (cap > PROM_MAX || (bigger = realloc(p->s, cap)) == NULL) {
            p->failed = true;
            return;
        }
        p->s = bigger;
        p->cap = cap;
        va_start(ap, fmt);
        vsnprintf(p->s + p->len, p->cap - p->len, fmt, ap);
        va_end(ap);
    }
    p->len += (size_t)n;
}

static void
prom_head(struct prom *p, const char *name, const char *type, const char *help)
{
    prom_add(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

kf_status
kf_fleet_status_prometheus(const struct kf_fleet_status *r, const char *netbios, char **out,
                     size_t *len, struct kf_err *err)
{
    struct prom p = {.cap = 4096};
    char (*label)[2 * 512 + 1] = NULL;
    char raw[512];

    *out = NULL;
    *len = 0;
    p.s = malloc(p.cap);
    if (r->n > 0)
        label = calloc(r->n, sizeof(*label));
    if (p.s == NULL || (r->n > 0 && label == NULL))
        goto nomem;
    p.s[0] = '\0';
    /* account="DOMAIN\name", escaped once for all series */
    for (size_t i = 0; i < r->n; i++) {
        snprintf(raw, sizeof(raw), "%s\\%s", netbios ? netbios : "", r->v[i].account);
        if (kf_prom_label_escape(raw, label[i], sizeof(label[i])) >= sizeof(label[i]))
            goto nomem; /* cannot be: names are short and checked */
    }
    prom_head(&p, "krbfleet_account_kvno", "gauge",
              "The account's key version number (msDS-KeyVersionNumber) in the directory.");
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kvno >= 0)
            prom_add(&p, "krbfleet_account_kvno{account=\"%s\"} %d\n", label[i], r->v[i].kvno);
    prom_head(&p, "krbfleet_account_password_age_seconds", "gauge",
              "Seconds since the account's password was set (pwdLastSet on the DC).");
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].password_age_s >= 0)
            prom_add(&p, "krbfleet_account_password_age_seconds{account=\"%s\"} %lld\n", label[i],
                     (long long)r->v[i].password_age_s);
    prom_head(&p, "krbfleet_account_rotation_due_timestamp_seconds", "gauge",
              "When the password reaches [rotation] max_age (Unix time).");
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].next_due >= 0)
            prom_add(&p, "krbfleet_account_rotation_due_timestamp_seconds{account=\"%s\"} %lld\n",
                     label[i], (long long)r->v[i].next_due);
    prom_head(&p, "krbfleet_servers", "gauge",
              "Web servers of the account by state: current (keys at the directory's kvno), "
              "stale, unreachable.");
    for (size_t i = 0; i < r->n; i++)
        for (int s = 0; s < KF_FRESH_N; s++)
            prom_add(&p, "krbfleet_servers{account=\"%s\",state=\"%s\"} %zu\n", label[i],
                     kf_server_freshness_name((enum kf_server_freshness)s), r->v[i].count[s]);
    prom_head(&p, "krbfleet_last_rotation_success", "gauge",
              "1 if the account's last password set ran to the end with every server healthy.");
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].last.run != NULL)
            prom_add(&p, "krbfleet_last_rotation_success{account=\"%s\"} %d\n", label[i],
                     r->v[i].last_ok ? 1 : 0);
    prom_head(&p, "krbfleet_last_rotation_timestamp_seconds", "gauge",
              "When the account's last password set ended or stopped (Unix time).");
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].last.run != NULL && r->v[i].last.when >= 0)
            prom_add(&p, "krbfleet_last_rotation_timestamp_seconds{account=\"%s\"} %lld\n",
                     label[i], (long long)r->v[i].last.when);
    if (p.failed)
        goto nomem;
    free(label);
    *out = p.s;
    *len = p.len;
    return KF_OK;
nomem:
    free(label);
    free(p.s);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory (the metrics exceed %u bytes?)", PROM_MAX);
}
