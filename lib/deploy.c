/* deploy.c - `account new --site`: a first deployment in one command
 * (deploy.h). kf_deploy reads as its steps: check, reach, stage, record,
 * create, confirm, publish, verify, finish. */
#include "deploy.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "eligibility.h"
#include "enable.h"
#include "fault.h"
#include "keys.h"
#include "mem.h"
#include "names.h"
#include "parallel.h"
#include "password.h"
#include "probe.h"
#include "proc.h"
#include "strv.h"

#define FIRST_KVNO 1 /* what AD gives an object created with its password */

KF_DEFINE_CLEANUP(struct kf_dir_account, kf_dir_account_free)

/* Host of a probe URL (validated when stored), lower case; NULL for an
 * address in brackets or out of memory. */
static char *
url_host(const char *url)
{
    const char *p = strstr(url, "://");
    char *h;

    p = p ? p + 3 : url;
    if (*p == '[')
        return NULL;
    h = strndup(p, strcspn(p, ":/?#"));
    for (char *c = h; h && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return h;
}

struct dsrv {
    struct kf_server_result *res;
    char *probe_url;
    char *probe_host; /* a login asks for HTTP/<probe_host> */
    struct kf_agent *agent;
    bool usable; /* reached and allowed */
    bool staged; /* holds the new keys */
};

struct deploy {
    struct kf_store *st;
    struct kf_dir *dir;
    const struct kf_deploy_opts *o;
    struct kf_deploy_result *out;
    struct kf_topology *topo;
    char **assigned; /* the sites the account has (before this run, then all) */
    size_t n_assigned;
    char **spns; /* the SPNs the sites imply */
    size_t n_spns;
    struct dsrv *srv;
    size_t n;
    bool managed; /* the store has the account */
    bool exists;  /* the directory has it */
    char salt[512];
    char *password;
    struct kf_keyset *keys;
    uint32_t kvno; /* of the current operation */
    bool recorded, account_added, locked;
    bool enable_pending; /* a `topology enable` was pending before this run */
    const char *phase;
    pthread_mutex_t lock;
    size_t events;
};

static void
set_error(struct kf_server_result *r, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct kf_server_result *r, const char *fix, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(r->error);
    free(r->fix);
    r->error = strdup(buf);
    r->fix = kf_strdup0(fix);
    r->state = KF_SERVER_FAILED;
}

static void
journal(struct deploy *d, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
journal(struct deploy *d, const char *step, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    kf_store_journal(d->st, d->out->r->run_id, d->o->account, step, detail, NULL);
}

/* ---- per-server work, in parallel ------------------------------------- */

static void
progress(size_t done, size_t total, size_t oldest, void *vctx)
{
    struct deploy *d = vctx;
    struct kf_progress p = {.phase = d->phase, .done = done, .total = total, .unit = "servers",
                            .pending = oldest < d->n ? d->srv[oldest].res->server : NULL};

    kf_progress_report(&d->o->progress, &p);
}

static void
each(struct deploy *d, const char *phase, void (*fn)(size_t, void *))
{
    d->phase = phase;
    d->events = 0;
    kf_parallel_for(d->n, d->o->concurrency, fn, d, progress);
}

static void
do_connect(size_t i, void *vctx)
{
    struct deploy *d = vctx;
    struct dsrv *s = &d->srv[i];
    struct kf_agent_status *status = NULL;
    struct kf_err err = {0};

    if (kf_agent_connect(s->res->address, s->res->port, s->res->server, d->o->timeout_s,
                         &s->agent, &err) != KF_OK ||
        kf_agent_status(s->agent, &status, &err) != KF_OK) {
        set_error(s->res, NULL, "%s", err.msg);
        return;
    }
    kf_agent_status_free(status);
    s->usable = true;
    if (d->o->dry_run)
        s->res->state = KF_SERVER_PLANNED;
}

static void
do_stage(size_t i, void *vctx)
{
    struct deploy *d = vctx;
    struct dsrv *s = &d->srv[i];
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (kf_agent_stage(s->agent, d->kvno, d->keys, NULL, &err) != KF_OK) {
        set_error(s->res, NULL, "staging kvno %u: %s", d->kvno, err.msg);
        s->usable = false;
        return;
    }
    s->staged = true;
    pthread_mutex_lock(&d->lock);
    d->events++;
    kf_fault("deploy-stage", d->events);
    pthread_mutex_unlock(&d->lock);
}

static void
do_withdraw(size_t i, void *vctx)
{
    struct deploy *d = vctx;
    struct dsrv *s = &d->srv[i];
    struct kf_err err = {0};

    if (s->staged && s->agent != NULL &&
        kf_agent_withdraw(s->agent, d->kvno, NULL, &err) != KF_OK)
        set_error(s->res, NULL, "withdrawing kvno %u: %s", d->kvno, err.msg);
}

static bool
has_spn(char *const *spns, size_t n, const char *host)
{
    char spn[KF_FQDN_MAX + 8];

    snprintf(spn, sizeof(spn), "HTTP/%s", host);
    return kf_strv_contains_ci(spns, n, spn);
}

static void
do_verify(size_t i, void *vctx)
{
    struct deploy *d = vctx;
    struct dsrv *s = &d->srv[i];
    struct kf_probe_result pr;
    struct kf_err err = {0};

    if (!s->staged)
        return;
    if (!s->res->published) {
        set_error(s->res, NULL, "not verified: %s is not published on the account",
                  s->probe_host);
        return;
    }
    if (kf_probe_login(s->probe_url, s->res->address, kf_dir_realm(d->dir),
                       kf_dir_server(d->dir), d->o->probe_ca, d->o->timeout_s, &pr,
                       &err) != KF_OK) {
        set_error(s->res, NULL, "login to %s could not be tried: %s", s->probe_url, err.msg);
        return;
    }
    free(s->res->login);
    s->res->login = strdup(pr.detail);
    if (!kf_probe_ok(&pr) || pr.ticket_kvno != (int)d->kvno)
        set_error(s->res, NULL, "a real login to %s via %s failed: %s", s->probe_url,
                  s->res->address ? s->res->address : s->res->server, pr.detail);
    else {
        s->res->state = KF_SERVER_OK;
        s->res->kvno = (int)d->kvno;
    }
}

/* ---- the result --------------------------------------------------------- */

void
kf_deploy_result_free(struct kf_deploy_result *r)
{
    if (r == NULL)
        return;
    kf_rotate_result_free(r->r);
    free(r->dn);
    kf_strv_free(r->sites_assigned, r->n_sites_assigned);
    kf_strv_free(r->spns, r->n_spns);
    kf_strv_free(r->warnings, r->n_warnings);
    free(r);
}

static kf_status
result_new(struct kf_dir *dir, struct kf_deploy_result **out, struct kf_err *err)
{
    struct kf_deploy_result *r = calloc(1, sizeof(*r));
    unsigned char rnd[6] = {0};
    char runid[32];

    *out = r;
    if (r == NULL || (r->r = calloc(1, sizeof(*r->r))) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(runid, sizeof(runid), "%lx-%02x%02x%02x%02x%02x%02x", (unsigned long)time(NULL),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    r->r->run_id = strdup(runid);
    r->r->dc = strdup(kf_dir_server(dir));
    r->r->old_kvno = r->r->new_kvno = -1;
    if (r->r->run_id == NULL || r->r->dc == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

/* ---- check: nothing is written before all of this holds ----------------- */

/* Every site exists and uses no other account. */
static kf_status
check_sites(struct deploy *d, struct kf_err *err)
{
    struct kf_account *list = NULL;
    size_t n = 0;
    kf_status rc;

    _cleanup_free_ char *pending = NULL;

    if ((rc = kf_store_state_get(d->st, KF_STATE_ENABLE_NEEDED, &pending, err)) != KF_OK)
        return rc;
    d->enable_pending = pending != NULL;
    if ((rc = kf_store_topology_load(d->st, &d->topo, err)) != KF_OK ||
        (rc = kf_store_account_list(d->st, &list, &n, err)) != KF_OK)
        return rc;
    for (size_t i = 0; rc == KF_OK && i < d->o->n_sites; i++) {
        const char *want = d->o->sites[i];
        bool known = false;
        for (size_t s = 0; s < d->topo->n_sites && !known; s++)
            known = strcasecmp(d->topo->sites[s].name, want) == 0;
        if (!known) {
            rc = kf_err_set(err, KF_ERR_NOT_FOUND,
                            "site \"%s\" does not exist (see `krbfleet site list`); nothing was "
                            "changed",
                            want);
            break;
        }
        for (size_t a = 0; a < n; a++)
            if (strcasecmp(list[a].name, d->o->account) != 0 &&
                kf_strv_contains_ci(list[a].sites, list[a].n_sites, want)) {
                rc = kf_err_set(err, KF_ERR_CONFLICT,
                                "site %s already uses account %s\\%s; nothing was changed. "
                                "Give it this account with `krbfleet assignment set --site %s "
                                "--account %s` (then `krbfleet topology enable`), or leave it "
                                "out",
                                want, list[a].domain, list[a].name, want, d->o->account);
                break;
            }
    }
    kf_account_list_free(list, n);
    return rc;
}

/* Ours (a re-run completes it) or free in the directory. */
static kf_status
check_account(struct deploy *d, struct kf_err *err)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *da = NULL;
    struct kf_account *acct = NULL;
    struct kf_err ignored = {0};
    kf_status rc;

    d->managed = kf_store_account_get(d->st, d->o->account, &acct, &ignored) == KF_OK;
    for (size_t i = 0; acct != NULL && i < acct->n_sites; i++)
        if (kf_strv_push(&d->assigned, &d->n_assigned, acct->sites[i]) != 0) {
            kf_account_free(acct);
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
    if (acct != NULL && strcasecmp(acct->domain, d->o->domain) != 0)
        rc = kf_err_set(err, KF_ERR_CONFLICT, "account %s is managed in domain %s, not %s",
                        d->o->account, acct->domain, d->o->domain);
    else
        rc = kf_dir_account_get(d->dir, d->o->account, &da, err);
    kf_account_free(acct);
    if (rc == KF_ERR_NOT_FOUND) {
        kf_err_clear(err);
        return KF_OK;
    }
    if (rc != KF_OK)
        return rc;
    d->exists = true;
    if (!d->managed)
        return kf_err_set(err, KF_ERR_EXISTS,
                          "the directory (%s) has an account %s$ already (%s), which krbfleet "
                          "does not manage; nothing was changed. Take it over with `krbfleet "
                          "account adopt '%s\\%s'`, then `krbfleet assignment new` and "
                          "`krbfleet password set`, or choose another name",
                          kf_dir_server(d->dir), d->o->account, da->dn, d->o->domain,
                          d->o->account);
    /* ours: completed below, and only if it may carry web keys */
    return kf_eligibility_check(d->dir, d->o->domain, d->o->account, false, true, err);
}

/* The servers of the sites (the ones named and those it has already). */
static kf_status
plan(struct deploy *d, struct kf_err *err)
{
    struct kf_account a = {0};
    struct kf_rotate_result *r = d->out->r;
    kf_status rc;

    for (size_t i = 0; i < d->o->n_sites; i++)
        if (!kf_strv_contains_ci(d->assigned, d->n_assigned, d->o->sites[i]) &&
            (kf_strv_push(&d->assigned, &d->n_assigned, d->o->sites[i]) != 0 ||
             kf_strv_push(&d->out->sites_assigned, &d->out->n_sites_assigned,
                          d->o->sites[i]) != 0))
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    a.name = (char *)(uintptr_t)d->o->account; /* read only by kf_implied_spns */
    a.domain = (char *)(uintptr_t)d->o->domain;
    a.sites = d->assigned;
    a.n_sites = d->n_assigned;
    if ((rc = kf_implied_spns(d->topo, &a, &d->spns, &d->n_spns, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < d->n_spns; i++)
        if (kf_strv_push(&d->out->spns, &d->out->n_spns, d->spns[i]) != 0)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < d->topo->n_sites; i++) {
        const struct kf_site *site = &d->topo->sites[i];
        if (!kf_strv_contains_ci(d->assigned, d->n_assigned, site->name))
            continue;
        for (size_t j = 0; j < site->n_pools; j++)
            for (size_t k = 0; k < site->pools[j].n_servers; k++) {
                const struct kf_pool *p = &site->pools[j];
                const struct kf_server *sv = &p->servers[k];
                struct kf_server_result *rs = realloc(r->servers, (d->n + 1) * sizeof(*rs));
                struct dsrv *ds = realloc(d->srv, (d->n + 1) * sizeof(*ds));
                char url[KF_FQDN_MAX + 16];
                if (rs != NULL)
                    r->servers = rs;
                if (ds != NULL)
                    d->srv = ds;
                if (rs == NULL || ds == NULL)
                    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
                rs = &r->servers[d->n];
                ds = &d->srv[d->n];
                memset(rs, 0, sizeof(*rs));
                memset(ds, 0, sizeof(*ds));
                r->n_servers = ++d->n;
                rs->server = strdup(sv->fqdn);
                rs->pool = strdup(p->fqdn);
                rs->site = strdup(site->name);
                rs->address = kf_strdup0(sv->address);
                rs->port = sv->agent_port ? sv->agent_port : d->o->agent_port;
                rs->kvno = -1;
                rs->state = KF_SERVER_NOT_STARTED;
                snprintf(url, sizeof(url), "https://%s/", p->fqdn);
                ds->probe_url = strdup(p->probe_url ? p->probe_url : url);
                ds->probe_host = ds->probe_url ? url_host(ds->probe_url) : NULL;
                if (!rs->server || !rs->pool || !rs->site || (sv->address && !rs->address) ||
                    !ds->probe_url || !ds->probe_host)
                    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            }
    }
    for (size_t i = 0; i < d->n; i++)
        d->srv[i].res = &r->servers[i];
    if (d->n == 0)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "the sites given have no web servers, so there is nothing to deploy "
                          "to; nothing was changed. Add them with `krbfleet server add`");
    return KF_OK;
}

/* Every agent answers and allows us, or nothing is written. */
static kf_status
reach(struct deploy *d, struct kf_err *err)
{
    size_t bad = 0;
    const char *first = NULL;

    each(d, "connect", do_connect);
    for (size_t i = 0; i < d->n; i++)
        if (!d->srv[i].usable) {
            bad++;
            first = first ? first : d->srv[i].res->error;
        }
    if (bad == 0)
        return KF_OK;
    return kf_err_set(err, KF_ERR_AGENT,
                      "%s%zu of %zu web servers cannot be reached or refuse us; nothing was "
                      "changed. First: %s. Start their agents (krbfleetd), then run this "
                      "command again",
                      d->o->dry_run ? "dry run: " : "", bad, d->n, first ? first : "?");
}

/* ---- the new account ------------------------------------------------------ */

/* Keys from a fresh password with the salt the account will have, staged
 * at the kvno it will have on every server. */
static kf_status
stage(struct deploy *d, struct kf_err *err)
{
    size_t bad = 0;
    const char *first = NULL;
    kf_status rc;

    if ((rc = kf_keys_computer_salt(kf_dir_realm(d->dir), kf_dir_domain(d->dir), d->o->account,
                                    d->salt, sizeof(d->salt), err)) != KF_OK)
        return rc;
    if (kf_password_new(KF_PASSWORD_LEN, &d->password) != KF_OK)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot make a random password");
    if ((rc = kf_keys_derive_salted(kf_dir_realm(d->dir), d->o->account, d->salt, d->password,
                                    d->o->enctypes, (const char *const *)d->spns, d->n_spns,
                                    FIRST_KVNO, &d->keys, err)) != KF_OK)
        return rc;
    d->kvno = FIRST_KVNO;
    each(d, "stage", do_stage);
    for (size_t i = 0; i < d->n; i++)
        if (!d->srv[i].staged) {
            bad++;
            first = first ? first : d->srv[i].res->error;
        }
    if (bad == 0)
        return KF_OK;
    each(d, "withdraw", do_withdraw);
    return kf_err_set(err, KF_ERR_AGENT,
                      "staging failed on %zu of %zu web servers; the staged keys were withdrawn "
                      "and nothing else was changed. First: %s",
                      bad, d->n, first ? first : "?");
}

static bool
lock_holder_alive(const struct kf_lock_holder *holder)
{
    char me[256] = "";
    unsigned long long start;

    gethostname(me, sizeof(me) - 1);
    if (strcmp(holder->host, me) != 0)
        return true;
    if (!kf_proc_start(holder->pid, &start))
        return false;
    return holder->start == 0 || holder->start == start;
}

static kf_status
take_lock(struct deploy *d, struct kf_err *err)
{
    char host[256] = "";
    struct kf_lock_holder me = {.user = d->o->user ? d->o->user : "unknown", .host = host,
                                .pid = (long)getpid()};

    gethostname(host, sizeof(host) - 1);
    kf_proc_start(me.pid, &me.start);
    return kf_store_lock_take(d->st, d->o->account, &me, lock_holder_alive, err);
}

/* The account (unless the store has it), its new assignments and its lock
 * in one transaction; with KEYS, the servers that hold them. */
static kf_status
record(struct deploy *d, bool keys, struct kf_err *err)
{
    char object[160];
    kf_status rc;

    if ((rc = kf_store_begin(d->st, err)) != KF_OK)
        return rc;
    snprintf(object, sizeof(object), "account:%s\\%s", d->o->domain, d->o->account);
    if (!d->managed &&
        ((rc = kf_store_account_add(d->st, d->o->domain, d->o->account, NULL, d->o->enctypes,
                                    false, err)) != KF_OK ||
         (rc = kf_store_audit(d->st, object, "created (first deployment)", err)) != KF_OK))
        goto fail;
    for (size_t i = 0; i < d->out->n_sites_assigned; i++) {
        snprintf(object, sizeof(object), "assignment:%s", d->out->sites_assigned[i]);
        if ((rc = kf_store_assignment_set(d->st, d->out->sites_assigned[i], d->o->account, true,
                                          NULL, err)) != KF_OK ||
            (rc = kf_store_audit(d->st, object, d->o->account, err)) != KF_OK)
            goto fail;
    }
    if (keys) {
        if ((rc = take_lock(d, err)) != KF_OK)
            goto fail;
        for (size_t i = 0; i < d->n; i++)
            kf_store_server_key_set(d->st, d->srv[i].res->server, d->o->account, (int)d->kvno,
                                    "staged", NULL);
    }
    if ((rc = kf_store_commit(d->st, err)) != KF_OK)
        goto fail;
    d->account_added = !d->managed;
    d->managed = d->recorded = d->out->recorded = true;
    d->locked = keys;
    return KF_OK;
fail:
    kf_store_rollback(d->st);
    return rc;
}

/* Before the directory has the object: take back what this run recorded
 * and staged, so the store and the keytabs are as they were. */
static void
undo(struct deploy *d)
{
    struct kf_err ignored = {0};

    each(d, "withdraw", do_withdraw);
    if (!d->recorded || kf_store_begin(d->st, &ignored) != KF_OK)
        return;
    for (size_t i = 0; i < d->n; i++)
        kf_store_server_key_set(d->st, d->srv[i].res->server, d->o->account, (int)d->kvno, NULL,
                                NULL);
    for (size_t i = 0; i < d->out->n_sites_assigned; i++)
        kf_store_assignment_remove(d->st, d->out->sites_assigned[i], NULL);
    kf_store_lock_release(d->st, d->o->account, (long)getpid(), NULL);
    if (d->account_added)
        kf_store_account_remove(d->st, d->o->account, NULL);
    if (kf_store_commit(d->st, &ignored) != KF_OK)
        kf_store_rollback(d->st);
    else
        d->locked = d->out->recorded = false;
}

/* The computer object, created with the staged keys' password. */
static kf_status
create(struct deploy *d, struct kf_err *err)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *da = NULL;
    struct kf_err e2 = {0};
    kf_status rc;

    kf_pause_at("deploy-before-create");
    rc = kf_dir_account_create_with_password(d->dir, d->o->account, d->o->container,
                                             d->o->enctypes, d->password, err);
    if (rc == KF_OK) {
        d->out->created = true;
        journal(d, "written", "%s$ created with its password on %s", d->o->account,
                kf_dir_server(d->dir));
        kf_fault("deploy-create", 1);
        return KF_OK;
    }
    if (kf_dir_account_get(d->dir, d->o->account, &da, &e2) == KF_ERR_NOT_FOUND) {
        /* nothing was created: take everything back */
        undo(d);
        return kf_err_prefix(err, "creating the account failed; nothing was changed");
    }
    return kf_err_prefix(err,
                         "creating the account failed and whether %s has it is unknown; the "
                         "keys are staged beside the current ones, so nothing breaks: run this "
                         "command again once %s answers",
                         kf_dir_server(d->dir), kf_dir_server(d->dir));
}

/* Whether A and B hold the same keys, entry by entry. */
static bool
same_keys(const struct kf_keyset *a, const struct kf_keyset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].enctype != b->v[i].enctype || a->v[i].key_len != b->v[i].key_len ||
            memcmp(a->v[i].key, b->v[i].key, a->v[i].key_len) != 0)
            return false;
    return true;
}

/* The real kvno and the KDC's salt (etype-info, now that the account
 * exists): the keys derived with it must be the staged ones; if they are
 * not, or the kvno is not the predicted one, the KDC's keys are staged at
 * the real kvno and the guess withdrawn, so every server holds what the
 * KDC issues tickets with. */
static kf_status
confirm(struct deploy *d, struct kf_err *err)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *da = NULL;
    _cleanup_(kf_keyset_freep) struct kf_keyset *kdc_keys = NULL;
    uint32_t predicted = d->kvno, actual;
    bool same;
    kf_status rc;

    if ((rc = kf_dir_account_get(d->dir, d->o->account, &da, err)) != KF_OK)
        return kf_err_prefix(err, "%s$ was created but could not be read back; run this command "
                                  "again",
                             d->o->account);
    d->out->dn = strdup(da->dn);
    actual = (uint32_t)da->kvno;
    d->out->r->new_kvno = (int)actual;
    kf_store_account_set_dn(d->st, d->o->account, da->dn, NULL);
    kf_store_kvno_committed(d->st, d->o->account, (int)actual, (int64_t)time(NULL), NULL);
    journal(d, "committed", "kvno %u (predicted %u)", actual, predicted);
    if ((rc = kf_keys_derive(kf_dir_realm(d->dir), kf_dir_server(d->dir), d->o->account,
                             d->password, d->o->enctypes, (const char *const *)d->spns,
                             d->n_spns, actual, &kdc_keys, err)) != KF_OK)
        return kf_err_prefix(err, "%s$ was created but its salt could not be confirmed; run "
                                  "this command again",
                             d->o->account);
    same = same_keys(d->keys, kdc_keys);
    if (same && actual == predicted)
        return KF_OK;
    d->out->restaged = true;
    if (!same && kf_strv_pushf(&d->out->warnings, &d->out->n_warnings,
                               "the KDC salts %s$ otherwise than AD's rule for computers (\"%s\"): "
                               "its keys were derived again with the KDC's salt and staged",
                               d->o->account, d->salt) != 0)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_keyset_free(d->keys);
    d->keys = TAKE_PTR(kdc_keys);
    d->kvno = actual;
    each(d, "restamp", do_stage);
    if (actual != predicted) {
        d->kvno = predicted;
        each(d, "withdraw", do_withdraw);
        d->kvno = actual;
    }
    journal(d, "restamped", "kvno %u -> %u%s", predicted, actual, same ? "" : ", KDC's salt");
    return KF_OK;
}

/* ---- both ----------------------------------------------------------------- */

/* The account's SPNs, and which pools are now published. */
static kf_status
publish(struct deploy *d, struct kf_err *err)
{
    struct kf_enable_result *res = NULL;
    kf_status rc;

    kf_pause_at("deploy-before-publish");
    rc = kf_enable_account(d->st, d->dir, d->o->account, false, &d->o->progress, &res, err);
    for (size_t i = 0; res != NULL && i < res->n_warnings; i++)
        kf_strv_push(&d->out->warnings, &d->out->n_warnings, res->warnings[i]);
    kf_enable_result_free(res);
    if (rc != KF_OK)
        return kf_err_prefix(err, "the keys are on every server, but publishing the SPNs "
                                  "failed; run this command again once fixed");
    /* this run's assignments are published; what was pending before stays so */
    if (!d->enable_pending)
        kf_store_state_set(d->st, KF_STATE_ENABLE_NEEDED, NULL, NULL);
    journal(d, "published", "%zu SPNs", d->n_spns);
    kf_fault("deploy-publish", 1);
    /* the account holds every implied SPN now (enable wrote or found them) */
    for (size_t i = 0; i < d->n; i++)
        d->srv[i].res->published = has_spn(d->spns, d->n_spns, d->srv[i].probe_host);
    return KF_OK;
}

static kf_status
verify(struct deploy *d, struct kf_err *err)
{
    size_t bad = 0;
    bool tx;

    each(d, "verify", do_verify);
    tx = kf_store_begin(d->st, NULL) == KF_OK;
    for (size_t i = 0; i < d->n; i++) {
        struct kf_server_result *r = d->srv[i].res;
        if (r->state == KF_SERVER_OK)
            kf_store_server_key_set(d->st, r->server, d->o->account, (int)d->kvno, "committed",
                                    NULL);
        else {
            bad++;
            free(r->fix);
            r->fix = NULL;
            char fix[160];
            snprintf(fix, sizeof(fix), "krbfleet sync --account %s", d->o->account);
            r->fix = strdup(fix);
        }
    }
    if (tx && kf_store_commit(d->st, NULL) != KF_OK)
        kf_store_rollback(d->st);
    journal(d, "verified", "kvno %u", d->kvno);
    if (bad == 0)
        return KF_OK;
    return kf_err_set(err, KF_ERR_AGENT,
                      "%zu of %zu web servers failed their login after the deployment; the "
                      "table says which and how to repair each",
                      bad, d->n);
}

static void
finish(struct deploy *d, kf_status rc)
{
    char detail[160];
    size_t ok = 0;

    for (size_t i = 0; i < d->n; i++)
        ok += d->srv[i].res->state == KF_SERVER_OK;
    snprintf(detail, sizeof(detail), "kvno 0 -> %d; %zu of %zu servers healthy",
             d->out->r->new_kvno, ok, d->n);
    if (rc == KF_OK) {
        kf_store_audit(d->st, "password", detail, NULL);
        journal(d, "done", "%s", detail);
    }
    if (d->locked)
        kf_store_lock_release(d->st, d->o->account, (long)getpid(), NULL);
    d->locked = false;
}

/* ---- an account of ours: complete it ----------------------------------- */

static struct kf_rotate_opts
rotate_opts(const struct deploy *d)
{
    return (struct kf_rotate_opts){.account = d->o->account, .concurrency = d->o->concurrency,
                                   .timeout_s = d->o->timeout_s, .grace_s = d->o->grace_s,
                                   .agent_port = d->o->agent_port, .probe_ca = d->o->probe_ca,
                                   .user = d->o->user, .progress = d->o->progress};
}

/* sync; a rotation when no server holds keys the directory uses. *R gets
 * the last run's per-server result. */
static kf_status
converge(struct deploy *d, struct kf_rotate_result **r, struct kf_err *err)
{
    struct kf_rotate_opts o = rotate_opts(d);
    struct kf_sync_result *sr = NULL;
    kf_status rc;

    rc = kf_sync(d->st, d->dir, &o, &sr, err);
    kf_rotate_result_free(*r);
    *r = NULL;
    if (sr != NULL && sr->n == 1) {
        bool lost = rc != KF_OK && sr->v[0].source == NULL && sr->v[0].r != NULL &&
                    sr->v[0].r->new_kvno >= 0;
        *r = TAKE_PTR(sr->v[0].r);
        if (rc != KF_OK && sr->v[0].error != NULL)
            kf_err_set(err, rc, "%s", sr->v[0].error);
        if (lost) {
            kf_sync_result_free(sr);
            kf_rotate_result_free(*r);
            *r = NULL;
            kf_err_clear(err);
            return kf_rotate(d->st, d->dir, &o, r, err);
        }
    }
    kf_sync_result_free(sr);
    return rc;
}

static kf_status
complete(struct deploy *d, struct kf_err *err)
{
    struct kf_rotate_result *r = NULL;
    kf_status rc;

    d->out->completed = true;
    if ((rc = record(d, false, err)) != KF_OK || (rc = converge(d, &r, err)) != KF_OK)
        goto out;
    if ((rc = publish(d, err)) != KF_OK)
        goto out;
    rc = converge(d, &r, err); /* again: every server verified by a login now */
out:
    if (r != NULL) {
        struct kf_rotate_result *mine = d->out->r;
        free(r->run_id);
        r->run_id = TAKE_PTR(mine->run_id);
        d->out->r = r;
        kf_rotate_result_free(mine);
        for (size_t i = 0; i < d->n; i++)
            d->srv[i].res = NULL; /* the rows are sync's now */
    }
    return rc;
}

/* ---- the whole ------------------------------------------------------------ */

static void
done(struct deploy *d)
{
    for (size_t i = 0; d->srv != NULL && i < d->n; i++) {
        kf_agent_free(d->srv[i].agent);
        free(d->srv[i].probe_url);
        free(d->srv[i].probe_host);
    }
    free(d->srv);
    kf_free_secret_str(d->password);
    kf_keyset_free(d->keys);
    kf_strv_free(d->spns, d->n_spns);
    kf_strv_free(d->assigned, d->n_assigned);
    kf_topology_free(d->topo);
    pthread_mutex_destroy(&d->lock);
}

kf_status
kf_deploy(struct kf_store *st, struct kf_dir *dir, const struct kf_deploy_opts *o,
          struct kf_deploy_result **result, struct kf_err *err)
{
    struct deploy d = {.st = st, .dir = dir, .o = o};
    kf_status rc;

    pthread_mutex_init(&d.lock, NULL);
    if ((rc = result_new(dir, result, err)) != KF_OK)
        goto out;
    d.out = *result;
    if ((rc = check_sites(&d, err)) != KF_OK || (rc = check_account(&d, err)) != KF_OK ||
        (rc = plan(&d, err)) != KF_OK)
        goto out;
    if (d.exists) { /* an earlier run created it: complete that run */
        if (o->dry_run)
            rc = reach(&d, err);
        else
            rc = complete(&d, err);
        goto out;
    }
    kf_mem_no_dumps();
    if ((rc = reach(&d, err)) != KF_OK || o->dry_run)
        goto out;
    if ((rc = stage(&d, err)) != KF_OK)
        goto out;
    if ((rc = record(&d, true, err)) != KF_OK) {
        if (rc != KF_ERR_EXISTS) /* another run of the same name owns the staged keys */
            undo(&d);
        goto out;
    }
    journal(&d, "plan", "first deployment: %zu servers, DC %s", d.n, kf_dir_server(dir));
    journal(&d, "staged", "kvno %u, salt computed", d.kvno);
    if ((rc = create(&d, err)) != KF_OK || (rc = confirm(&d, err)) != KF_OK)
        goto out;
    kf_free_secret_str(d.password);
    d.password = NULL;
    if ((rc = publish(&d, err)) != KF_OK)
        goto out;
    rc = verify(&d, err);
out:
    if (d.recorded && !d.out->completed)
        finish(&d, rc);
    done(&d);
    return rc;
}
