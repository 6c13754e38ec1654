/* rotate.c - the safe rotation: plan, stage, commit, verify, prune. */
#include "rotate.h"

#include <errno.h>
#include <krb5.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "eligibility.h"
#include "enable.h"
#include "keys.h"
#include "krb5pin.h"
#include "mem.h"
#include "names.h"
#include "parallel.h"
#include "password.h"
#include "probe.h"
#include "proc.h"
#include "strv.h"

#define PASSWORD_LEN 120

/* ---- fault injection (test builds only) -------------------------------- */

#ifdef KF_FAULT_INJECTION
/* KRBFLEET_FAULT=POINT[:N] kills this process at POINT (after N events). */
static void
fault(const char *point, size_t count)
{
    const char *f = getenv("KRBFLEET_FAULT");
    size_t len = strlen(point);
    long n = 1;

    if (f == NULL || strncmp(f, point, len) != 0 || (f[len] != '\0' && f[len] != ':'))
        return;
    if (f[len] == ':')
        n = strtol(f + len + 1, NULL, 10);
    if ((long)count >= n) {
        fprintf(stderr, "krbfleet: fault injection: killed at %s\n", f);
        fflush(stderr);
        raise(SIGKILL);
    }
}

/* KRBFLEET_PAUSE=POINT with KRBFLEET_PAUSE_FILE=PATH: at POINT, say so on
 * stderr and wait until PATH exists (at most 10 minutes), so a test can do
 * something to the world (stop the DC, let a ticket expire) right there. */
static void
pause_at(const char *point)
{
    const char *p = getenv("KRBFLEET_PAUSE"), *file = getenv("KRBFLEET_PAUSE_FILE");
    struct timespec ts = {0, 50 * 1000 * 1000};

    if (p == NULL || file == NULL || strcmp(p, point) != 0)
        return;
    fprintf(stderr, "krbfleet: fault injection: paused at %s until %s exists\n", point, file);
    fflush(stderr);
    for (int i = 0; i < 12000 && access(file, F_OK) != 0; i++)
        nanosleep(&ts, NULL);
    fprintf(stderr, "krbfleet: fault injection: resumed at %s\n", point);
}
#else
#define fault(point, count) ((void)0)
#define pause_at(point) ((void)0)
#endif

/* ---- per-server state -------------------------------------------------- */

struct srv {
    struct kf_server_result *res;
    char *probe_url;
    char *probe_host; /* the SPN a login asks for is HTTP/<probe_host> */
    struct kf_agent *agent;
    struct kf_agent_status *status;
    bool skip;   /* not to be reached in this run */
    bool usable; /* reached and allowed (or --force skipped it) */
    bool staged; /* has the new key set */
};

struct run {
    struct srv *srv;
    size_t n;
    const struct kf_rotate_opts *o;
    const char *realm;
    const char *kdc; /* the DC of the directory connection */
    const struct kf_keyset *keys;
    uint32_t kvno;        /* the kvno of the current operation */
    pthread_mutex_t lock; /* for counters */
    size_t events;
    const char *phase;
    void *extra; /* the mode's own per-server state (sync) */
    char *const *want; /* the account's managed principals (prune keeps others'); or NULL */
    size_t n_want;
    int32_t retired[3]; /* krb5 enctypes whose entries of WANT go (prune_retired) */
    size_t n_retired;
    size_t unpruned;    /* servers where that could not be done */
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
progress(size_t done, size_t total, size_t oldest, void *vctx)
{
    struct run *run = vctx;
    struct kf_progress p = {.phase = run->phase, .done = done, .total = total,
                            .unit = "servers",
                            .pending = oldest < run->n ? run->srv[oldest].res->server : NULL};

    kf_progress_report(&run->o->progress, &p);
}

static void
do_connect(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (s->skip)
        return;
    if (kf_agent_connect(s->res->address, s->res->port, s->res->server, run->o->timeout_s,
                         &s->agent, &err) != KF_OK ||
        kf_agent_status(s->agent, &s->status, &err) != KF_OK) {
        set_error(s->res, NULL, "%s", err.msg);
        return;
    }
    s->usable = true;
}

static void
do_stage(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (kf_agent_stage(s->agent, run->kvno, run->keys, NULL, &err) != KF_OK) {
        set_error(s->res, NULL, "staging kvno %u: %s", run->kvno, err.msg);
        s->usable = false;
        return;
    }
    s->staged = true;
    pthread_mutex_lock(&run->lock);
    run->events++;
    fault("stage", run->events);
    pthread_mutex_unlock(&run->lock);
}

static void
do_withdraw(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (!s->staged || s->agent == NULL)
        return;
    if (kf_agent_withdraw(s->agent, run->kvno, NULL, &err) != KF_OK)
        set_error(s->res, "krbfleet sync", "withdrawing kvno %u: %s", run->kvno, err.msg);
}

static void
do_verify(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    struct kf_probe_result pr;
    struct kf_err err = {0};

    if (!s->staged)
        return;
    if (!s->res->published) {
        free(s->res->login);
        s->res->login = strdup("not verified: the pool's SPN is not published yet (run "
                               "`krbfleet topology enable`)");
        s->res->state = KF_SERVER_OK;
        return;
    }
    if (kf_probe_login(s->probe_url, s->res->address, run->realm, run->kdc, run->o->probe_ca,
                       run->o->timeout_s, &pr, &err) != KF_OK) {
        set_error(s->res, NULL, "login to %s could not be tried: %s", s->probe_url, err.msg);
        return;
    }
    free(s->res->login);
    s->res->login = strdup(pr.detail);
    if (!kf_probe_ok(&pr) || pr.ticket_kvno != (int)run->kvno)
        set_error(s->res, NULL, "a real login to %s via %s failed: %s", s->probe_url,
                  s->res->address ? s->res->address : s->res->server, pr.detail);
    else
        s->res->state = KF_SERVER_OK;
    pthread_mutex_lock(&run->lock);
    run->events++;
    fault("verify", run->events);
    pthread_mutex_unlock(&run->lock);
}

static kf_status put_managed(struct srv *s, uint32_t kvno, const struct kf_keyset *managed,
                             char *const *want, size_t n_want, struct kf_err *err);

static bool
is_managed(const struct run *run, const struct kf_keyset *ks, size_t k)
{
    return kf_strv_contains_ci(run->want, run->n_want, ks->v[k].principal);
}

/* Remove the account's entries below RUN->kvno. PRUNE removes every entry
 * below it, so when other principals' entries are there too, the
 * account's go one kvno at a time (put_managed) and theirs stay. */
static void
do_prune(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    const struct kf_keyset *ks = s->status ? s->status->entries : NULL;
    struct kf_err err = {0};
    bool foreign = false;

    if (!s->staged || run->kvno == 0)
        return;
    for (size_t k = 0; run->want != NULL && ks != NULL && k < ks->n; k++)
        foreign = foreign || (ks->v[k].kvno < run->kvno && !is_managed(run, ks, k));
    if (!foreign) {
        if (kf_agent_prune(s->agent, run->kvno, &s->res->pruned, &err) != KF_OK)
            fprintf(stderr, "krbfleet: warning: pruning %s: %s\n", s->res->server, err.msg);
        return;
    }
    for (size_t k = 0; k < ks->n; k++) {
        uint32_t v = ks->v[k].kvno;
        bool seen = false;
        size_t n = 0;
        if (v >= run->kvno || !is_managed(run, ks, k))
            continue;
        for (size_t j = 0; j < ks->n; j++) {
            seen = seen || (j < k && ks->v[j].kvno == v && is_managed(run, ks, j));
            n += ks->v[j].kvno == v && is_managed(run, ks, j);
        }
        if (seen)
            continue;
        if (put_managed(s, v, NULL, run->want, run->n_want, &err) != KF_OK) {
            fprintf(stderr, "krbfleet: warning: pruning %s: %s\n", s->res->server, err.msg);
            return;
        }
        s->res->pruned += n;
    }
}

static bool
is_retired(const struct run *run, const struct kf_keyset *ks, size_t k)
{
    for (size_t e = 0; e < run->n_retired; e++)
        if (ks->v[k].enctype == run->retired[e])
            return is_managed(run, ks, k);
    return false;
}

/* Remove the account's entries of the retired enctypes at every kvno,
 * leaving every other entry as it is: each kvno that has some is staged
 * again without them (withdrawn when nothing is left). */
static void
do_prune_retired(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct srv *s = &run->srv[i];
    _cleanup_(kf_keyset_freep) struct kf_keyset *all = NULL;
    struct kf_err err = {0};
    bool failed = !s->staged || s->agent == NULL;

    if (!failed && kf_agent_export(s->agent, &all, &err) != KF_OK)
        failed = true;
    for (size_t k = 0; !failed && k < all->n; k++) {
        _cleanup_(kf_keyset_freep) struct kf_keyset *keep = kf_keyset_new();
        uint32_t v = all->v[k].kvno;
        bool seen = false;
        size_t gone = 0;
        if (keep == NULL || !is_retired(run, all, k)) {
            failed = keep == NULL;
            continue;
        }
        for (size_t j = 0; j < all->n; j++) {
            if (all->v[j].kvno != v)
                continue;
            seen = seen || (j < k && is_retired(run, all, j));
            if (is_retired(run, all, j))
                gone++;
            else if (kf_keyset_add(keep, &all->v[j]) != 0)
                failed = true;
        }
        if (seen || failed)
            continue;
        if ((keep->n > 0 ? kf_agent_stage(s->agent, v, keep, NULL, &err)
                         : kf_agent_withdraw(s->agent, v, NULL, &err)) != KF_OK)
            failed = true;
        else
            s->res->pruned += gone;
    }
    if (failed) {
        pthread_mutex_lock(&run->lock);
        run->unpruned++;
        pthread_mutex_unlock(&run->lock);
    }
}

static void
run_phase(struct run *run, const char *phase, void (*fn)(size_t, void *))
{
    run->phase = phase;
    run->events = 0;
    kf_parallel_for(run->n, run->o->concurrency, fn, run, progress);
}

/* ---- planning ---------------------------------------------------------- */

const char *
kf_server_state_name(enum kf_server_state s)
{
    switch (s) {
    case KF_SERVER_OK: return "OK";
    case KF_SERVER_SKIPPED: return "SKIPPED";
    case KF_SERVER_FAILED: return "FAILED";
    case KF_SERVER_PLANNED: return "READY";
    case KF_SERVER_NOT_STARTED: return "NOT STARTED";
    }
    return "?";
}

void
kf_rotate_result_free(struct kf_rotate_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_servers; i++) {
        struct kf_server_result *s = &r->servers[i];
        free(s->server);
        free(s->pool);
        free(s->site);
        free(s->address);
        free(s->login);
        free(s->error);
        free(s->fix);
        free(s->action);
    }
    free(r->servers);
    free(r->run_id);
    free(r->dc);
    free(r->summary);
    free(r);
}

static void
srvs_free(struct srv *srv, size_t n)
{
    for (size_t i = 0; srv && i < n; i++) {
        kf_agent_free(srv[i].agent);
        kf_agent_status_free(srv[i].status);
        free(srv[i].probe_url);
        free(srv[i].probe_host);
    }
    free(srv);
}

/* Host of a probe URL (already validated). */
static char *
url_host(const char *url)
{
    const char *p = strstr(url, "://");
    size_t n;
    char *h;

    p = p ? p + 3 : url;
    if (*p == '[')
        return NULL;
    n = strcspn(p, ":/?#");
    h = strndup(p, n);
    for (char *c = h; h && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return h;
}

/* Every web server of every site assigned to ACCT, or only NAMES. */
static kf_status
plan_servers(const struct kf_topology *topo, const struct kf_account *acct, int default_port,
             const char *const *only, size_t n_only, struct kf_rotate_result *res,
             struct srv **out, struct kf_err *err)
{
    struct srv *srv = NULL;
    size_t n = 0;

    for (size_t a = 0; a < acct->n_sites; a++)
        for (size_t i = 0; i < topo->n_sites; i++) {
            const struct kf_site *site = &topo->sites[i];
            if (strcasecmp(site->name, acct->sites[a]) != 0)
                continue;
            for (size_t j = 0; j < site->n_pools; j++) {
                const struct kf_pool *p = &site->pools[j];
                for (size_t k = 0; k < p->n_servers; k++) {
                    const struct kf_server *sv = &p->servers[k];
                    struct kf_server_result *r;
                    bool wanted = only == NULL;
                    char url[KF_FQDN_MAX + 16];
                    for (size_t o = 0; !wanted && o < n_only; o++)
                        wanted = strcasecmp(only[o], sv->fqdn) == 0;
                    if (!wanted)
                        continue;
                    r = realloc(res->servers, (n + 1) * sizeof(*r));
                    if (r == NULL)
                        goto nomem;
                    res->servers = r;
                    struct srv *bigger = realloc(srv, (n + 1) * sizeof(*bigger));
                    if (bigger == NULL)
                        goto nomem;
                    srv = bigger;
                    memset(&srv[n], 0, sizeof(srv[n]));
                    r = &res->servers[n];
                    memset(r, 0, sizeof(*r));
                    res->n_servers = ++n;
                    r->server = strdup(sv->fqdn);
                    r->pool = strdup(p->fqdn);
                    r->site = strdup(site->name);
                    r->address = kf_strdup0(sv->address);
                    r->port = sv->agent_port ? sv->agent_port : default_port;
                    r->kvno = -1;
                    r->state = KF_SERVER_NOT_STARTED;
                    snprintf(url, sizeof(url), "https://%s/", p->fqdn);
                    srv[n - 1].probe_url = strdup(p->probe_url ? p->probe_url : url);
                    srv[n - 1].probe_host = url_host(srv[n - 1].probe_url);
                    if (!r->server || !r->pool || !r->site || (sv->address && !r->address) ||
                        !srv[n - 1].probe_url || !srv[n - 1].probe_host)
                        goto nomem;
                }
            }
        }
    for (size_t i = 0; i < n; i++)
        srv[i].res = &res->servers[i];
    *out = srv;
    return KF_OK;
nomem:
    srvs_free(srv, n);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

/* Whether the lock's HOLDER still runs. On another host we cannot tell:
 * assume it does. Here a process that is gone, a zombie (a killed run its
 * parent has not reaped yet), or another process that got the same PID
 * since (its start time differs) holds nothing. */
static bool
holder_alive(const struct kf_lock_holder *holder)
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

static void
raise_fd_limit(size_t want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want + 64) {
        rl.rlim_cur = rl.rlim_max < want + 64 ? rl.rlim_max : want + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void
journal(struct kf_store *st, const char *run_id, const char *account, const char *step,
        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
journal(struct kf_store *st, const char *run_id, const char *account, const char *step,
        const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    kf_store_journal(st, run_id, account, step, detail, NULL);
}

static bool
has_spn(const struct kf_dir_account *d, const char *host)
{
    char spn[KF_FQDN_MAX + 8];

    snprintf(spn, sizeof(spn), "HTTP/%s", host);
    for (size_t i = 0; i < d->n_spns; i++)
        if (strcasecmp(d->spns[i], spn) == 0)
            return true;
    return false;
}

/* Common start of both modes: lock, plan, pin the KDC, reach the agents. */
struct ctx {
    struct kf_store *st;
    struct kf_dir *dir;
    const struct kf_rotate_opts *o;
    struct kf_account *acct;
    struct kf_topology *topo;
    struct kf_dir_account *dacct;
    struct run run;
    struct kf_rotate_result *res;
    bool locked;
    bool withdraw_if_refused; /* sync: an ineligible account's keys are withdrawn */
    struct kf_err refused;    /* why it may not carry web keys (code KF_OK: it may) */
};

/* Only an account that may carry web keys gets them (eligibility.h),
 * refused before anything is written; sync goes on to withdraw them. */
static kf_status
check_eligible(struct ctx *c, struct kf_err *err)
{
    kf_status rc = kf_eligibility_check(c->dir, c->acct->domain, c->acct->name,
                                        c->acct->allow_foreign_spns, true, err);

    if (rc != KF_ERR_CONFLICT)
        return rc;
    if (c->withdraw_if_refused) {
        c->refused = *err;
        kf_err_clear(err);
        return KF_OK;
    }
    if (c->o->dry_run)
        kf_err_prefix(err, "dry run: nothing was changed, and this would be refused");
    return rc;
}

static kf_status
begin(struct ctx *c, const char *const *only, size_t n_only, struct kf_err *err)
{
    char host[256] = "", runid[32];
    kf_status rc;
    unsigned char rnd[6];
    FILE *fp;

    c->res = calloc(1, sizeof(*c->res));
    if (c->res == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    fp = fopen("/dev/urandom", "re");
    if (fp == NULL || fread(rnd, 1, sizeof(rnd), fp) != sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    if (fp != NULL)
        fclose(fp);
    snprintf(runid, sizeof(runid), "%lx-%02x%02x%02x%02x%02x%02x", (unsigned long)time(NULL),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    c->res->run_id = strdup(runid);
    c->res->dc = strdup(kf_dir_server(c->dir));
    c->res->old_kvno = c->res->new_kvno = -1;
    if (c->res->run_id == NULL || c->res->dc == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = kf_store_account_get(c->st, c->o->account, &c->acct, err)) != KF_OK ||
        (rc = kf_store_topology_load(c->st, &c->topo, err)) != KF_OK)
        return rc;
    if (c->acct->n_sites == 0)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "account %s is assigned to no site, so there is no web server to give "
                          "its keys to; run `krbfleet assignment new --site SITE --account %s`",
                          c->acct->name, c->acct->name);
    if ((rc = plan_servers(c->topo, c->acct, c->o->agent_port, only, n_only, c->res, &c->run.srv,
                           err)) != KF_OK)
        return rc;
    c->run.n = c->res->n_servers;
    c->run.o = c->o;
    c->run.realm = kf_dir_realm(c->dir);
    pthread_mutex_init(&c->run.lock, NULL);
    if (c->run.n == 0)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "the sites of account %s have no web servers; add them with `krbfleet "
                          "server add`",
                          c->acct->name);
    /* One DC for everything: LDAP already; key salts and verification
     * tickets are asked of the same DC (run.kdc). */
    c->run.kdc = kf_dir_server(c->dir);
    if ((rc = check_eligible(c, err)) != KF_OK)
        return rc;
    gethostname(host, sizeof(host) - 1);
    if (!c->o->dry_run) {
        if ((rc = kf_store_begin(c->st, err)) != KF_OK)
            return rc;
        struct kf_lock_holder me = {
            .user = c->o->user ? c->o->user : "unknown", .host = host, .pid = (long)getpid()};
        kf_proc_start(me.pid, &me.start);
        rc = kf_store_lock_take(c->st, c->acct->name, &me, holder_alive, err);
        if (rc != KF_OK) {
            c->res->locked_elsewhere = rc == KF_ERR_CONFLICT;
            kf_store_rollback(c->st);
            return rc;
        }
        if ((rc = kf_store_commit(c->st, err)) != KF_OK)
            return rc;
        c->locked = true;
    }
    if ((rc = kf_dir_account_get(c->dir, c->acct->name, &c->dacct, err)) != KF_OK)
        return rc;
    c->res->old_kvno = c->dacct->kvno;
    for (size_t i = 0; i < c->run.n; i++)
        c->res->servers[i].published = has_spn(c->dacct, c->run.srv[i].probe_host);
    raise_fd_limit(c->run.n);
    run_phase(&c->run, "connect", do_connect);
    return KF_OK;
}

static void
end(struct ctx *c)
{
    if (c->locked)
        kf_store_lock_release(c->st, c->acct->name, (long)getpid(), NULL);
    if (c->run.srv != NULL)
        pthread_mutex_destroy(&c->run.lock);
    srvs_free(c->run.srv, c->run.n);
    kf_dir_account_free(c->dacct);
    kf_topology_free(c->topo);
    kf_account_free(c->acct);
}

/* The enctypes of the keys this run stages or converges to. */
static unsigned
staged_types(const struct ctx *c)
{
    if (c->o->enctypes != 0)
        return c->o->enctypes;
    return c->dacct != NULL && c->dacct->enctypes != 0 ? c->dacct->enctypes : c->acct->enctypes;
}

/* Count servers not usable; with --force mark them skipped. */
static size_t
unreachable(struct ctx *c, bool force)
{
    size_t bad = 0;

    for (size_t i = 0; i < c->run.n; i++)
        if (!c->run.srv[i].usable) {
            bad++;
            if (force)
                c->res->servers[i].state = KF_SERVER_SKIPPED;
        }
    return bad;
}

static void
first_failure(struct ctx *c, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < c->run.n; i++)
        if (c->res->servers[i].error != NULL) {
            snprintf(out, size, "%s", c->res->servers[i].error);
            return;
        }
}

/* One row per server is written in one transaction, not one each: in
 * autocommit every row cost its own fsyncs (1,000 servers: ~2.5 s, more
 * than staging them all). If the store is busy the rows go one by one. */
static bool
batch_begin(struct kf_store *st)
{
    return kf_store_begin(st, NULL) == KF_OK;
}

static void
batch_end(struct kf_store *st, bool open)
{
    if (open && kf_store_commit(st, NULL) != KF_OK)
        kf_store_rollback(st);
}

/* Record what each healthy server holds now. */
static void
record(struct ctx *c, uint32_t kvno)
{
    bool tx = batch_begin(c->st);

    for (size_t i = 0; i < c->run.n; i++)
        if (c->run.srv[i].staged && c->res->servers[i].state == KF_SERVER_OK) {
            c->res->servers[i].kvno = (int)kvno;
            kf_store_server_key_set(c->st, c->res->servers[i].server, c->acct->name, (int)kvno,
                                    "committed", NULL);
        }
    batch_end(c->st, tx);
}

static void blame_expired_ticket(const char *account, struct kf_err *err);

/* The commit's outcome is unknown: every server that has the new keys
 * staged says so, and names the repair. */
static void
pending(struct ctx *c, uint32_t kvno, bool written)
{
    char fix[128];

    snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
    for (size_t i = 0; i < c->run.n; i++)
        if (c->run.srv[i].staged)
            set_error(&c->res->servers[i], fix,
                      "has the new keys staged (kvno %u) beside its current ones; %s", kvno,
                      written ? "the password was changed, its kvno not read back"
                              : "not known to be committed");
}

/* Point every failed server at the command that repairs it. */
static void
suggest_fixes(struct ctx *c)
{
    const char *good = NULL;

    for (size_t i = 0; i < c->run.n; i++)
        if (c->res->servers[i].state == KF_SERVER_OK && c->run.srv[i].staged)
            good = c->res->servers[i].server;
    for (size_t i = 0; i < c->run.n; i++) {
        struct kf_server_result *r = &c->res->servers[i];
        char fix[600];
        if (r->state == KF_SERVER_OK || r->fix != NULL)
            continue;
        if (good != NULL)
            snprintf(fix, sizeof(fix), "krbfleet password set --from %s --to %s", good,
                     r->server);
        else
            snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
        r->fix = strdup(fix);
    }
}

static kf_status managed_principals(const struct ctx *c, char ***implied, size_t *n_implied,
                                    char ***want, size_t *n_want, struct kf_err *err);

/* Prune the entries of the enctypes `account set --enctypes` took away
 * from the account longer than grace ago (and that CURRENT, the types of
 * this run's keys, does not hold) from every server that holds the
 * account's keys now; forget them once every server of the account is
 * clean (docs/design.md, "Changing enctypes safely"). */
static void
prune_retired(struct ctx *c, unsigned current)
{
    char **implied = NULL, **want = NULL;
    size_t n_implied = 0, n_want = 0;
    unsigned bits = 0;
    struct kf_err e2 = {0};

    if (kf_store_enctypes_retired(c->st, c->acct->name, (int64_t)time(NULL) - c->o->grace_s,
                                  &bits, NULL) != KF_OK)
        return;
    /* announced again (the attribute set outside krbfleet): never pruned */
    if ((bits & current) != 0)
        kf_store_enctypes_forget(c->st, c->acct->name, bits & current, NULL);
    if ((bits &= ~current) == 0 ||
        managed_principals(c, &implied, &n_implied, &want, &n_want, &e2) != KF_OK) {
        kf_strv_free(implied, n_implied);
        kf_strv_free(want, n_want);
        return;
    }
    c->run.n_retired = kf_enctypes_krb5(bits, c->run.retired);
    c->run.want = want;
    c->run.n_want = n_want;
    c->run.unpruned = 0;
    run_phase(&c->run, "prune", do_prune_retired);
    if (c->run.unpruned == 0)
        kf_store_enctypes_forget(c->st, c->acct->name, bits, NULL);
    c->run.want = NULL;
    c->run.n_want = 0;
    c->run.n_retired = 0;
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
}

kf_status
kf_rotate(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *o,
          struct kf_rotate_result **result, struct kf_err *err)
{
    struct ctx c = {.st = st, .dir = dir, .o = o};
    struct kf_keyset *keys = NULL;
    char *password = NULL, **spns = NULL, first[1024], **implied = NULL, **want = NULL;
    size_t n_spns = 0, bad, n_implied = 0, n_want = 0;
    uint32_t predicted, actual;
    struct kf_dir_account *after = NULL;
    size_t staged;
    bool tx;
    kf_status rc;

    *result = NULL;
    rc = begin(&c, NULL, 0, err);
    if (rc != KF_OK)
        goto out;

    /* 1. Plan: refuse to start unless every agent answers and allows us. */
    bad = unreachable(&c, o->force);
    if (o->dry_run) {
        for (size_t i = 0; i < c.run.n; i++)
            if (c.run.srv[i].usable)
                c.res->servers[i].state = KF_SERVER_PLANNED;
        c.res->new_kvno = c.dacct->kvno + 1;
    }
    if (bad > 0 && !o->force) {
        first_failure(&c, first, sizeof(first));
        rc = kf_err_set(err, KF_ERR_AGENT,
                        "%s%zu of %zu web servers cannot be reached or refuse us%s; nothing was "
                        "changed. First: %s. Fix them, or add --force to rotate the others "
                        "(the skipped ones are listed for `krbfleet password set --from ... "
                        "--to ...` afterwards)",
                        o->dry_run ? "dry run: " : "", bad, c.run.n,
                        o->dry_run ? ", so `password set` would refuse to start" : "", first);
        goto out;
    }
    if (o->dry_run) {
        rc = bad > 0 ? kf_err_set(err, KF_ERR_AGENT,
                                  "dry run: %zu of %zu web servers cannot be reached or refuse "
                                  "us and would be skipped; nothing was changed",
                                  bad, c.run.n)
                     : KF_OK;
        goto out;
    }
    journal(st, c.res->run_id, c.acct->name, "plan", "%zu servers (%zu skipped), kvno %d, DC %s",
            c.run.n, bad, c.dacct->kvno, c.res->dc);

    /* 2. Stage a new key set at kvno + 1 alongside the current keys. */
    predicted = (uint32_t)(c.dacct->kvno + 1);
    if (kf_password_new(PASSWORD_LEN, &password) != KF_OK) {
        rc = kf_err_set(err, KF_ERR_UNEXPECTED, "cannot make a random password");
        goto out;
    }
    if ((rc = kf_implied_spns(c.topo, c.acct, &spns, &n_spns, err)) != KF_OK ||
        (rc = kf_keys_derive(c.run.realm, c.run.kdc, c.acct->name, password, staged_types(&c),
                             (const char *const *)spns, n_spns, predicted, &keys, err)) != KF_OK)
        goto out;
    c.run.keys = keys;
    c.run.kvno = predicted;
    run_phase(&c.run, "stage", do_stage);
    journal(st, c.res->run_id, c.acct->name, "staged", "kvno %u", predicted);
    tx = batch_begin(st);
    for (size_t i = 0; i < c.run.n; i++)
        if (c.run.srv[i].staged)
            kf_store_server_key_set(st, c.res->servers[i].server, c.acct->name, (int)predicted,
                                    "staged", NULL);
    batch_end(st, tx);
    bad = 0;
    for (size_t i = 0; i < c.run.n; i++)
        if (!c.run.srv[i].staged && c.res->servers[i].state != KF_SERVER_SKIPPED)
            bad++;
    if (bad > 0 && !o->force) {
        first_failure(&c, first, sizeof(first));
        run_phase(&c.run, "withdraw", do_withdraw);
        tx = batch_begin(st);
        for (size_t i = 0; i < c.run.n; i++)
            kf_store_server_key_set(st, c.res->servers[i].server, c.acct->name, (int)predicted,
                                    NULL, NULL);
        batch_end(st, tx);
        rc = kf_err_set(err, KF_ERR_AGENT,
                        "staging failed on %zu web server(s); the staged keys were withdrawn and "
                        "the directory was not touched. First: %s",
                        bad, first);
        goto out;
    }
    for (size_t i = 0; i < c.run.n; i++)
        if (!c.run.srv[i].staged && c.res->servers[i].state == KF_SERVER_FAILED)
            c.res->servers[i].state = KF_SERVER_SKIPPED;

    /* Nothing may be lost: the directory changes only while at least one
     * server holds the new keys (--force may have skipped the others). */
    staged = 0;
    for (size_t i = 0; i < c.run.n; i++)
        staged += c.run.srv[i].staged;
    if (staged == 0) {
        first_failure(&c, first, sizeof(first));
        rc = kf_err_set(err, KF_ERR_AGENT,
                        "no web server took the new keys, so the directory was not touched%s%s",
                        first[0] ? ". First: " : "", first);
        goto out;
    }

    /* 3. Commit in the directory, over the same connection; read back. */
    pause_at("before-commit");
    rc = kf_dir_set_password(dir, c.acct->name, password, err);
    kf_free_secret_str(password);
    password = NULL;
    if (rc != KF_OK) {
        struct kf_err e2 = {0};
        /* Only a refusal proves the write will never land; after a timeout
         * or a lost connection it may still, so the staged keys (harmless
         * beside the current ones) must stay. */
        bool refused = rc == KF_ERR_PERMISSION || rc == KF_ERR_CONFLICT ||
                       rc == KF_ERR_INVALID || rc == KF_ERR_NOT_FOUND;
        if (kf_dir_account_get(dir, c.acct->name, &after, &e2) == KF_OK &&
            after->kvno == c.dacct->kvno) {
            if (refused) {
                run_phase(&c.run, "withdraw", do_withdraw);
                kf_err_prefix(err, "setting the password in the directory failed, nothing "
                                   "changed there (staged keys withdrawn)");
                goto out;
            }
            pending(&c, predicted, false);
            kf_err_prefix(err,
                          "setting the password in the directory failed; %s still reports kvno "
                          "%d, but the write may yet be applied. The new keys (kvno %u) stay "
                          "staged beside the current ones, so logins keep working: run "
                          "`krbfleet sync --account %s` (or `password set` again) once %s "
                          "answers",
                          c.res->dc, after->kvno, predicted, c.acct->name, c.res->dc);
            goto out;
        }
        if (after == NULL) {
            pending(&c, predicted, false);
            kf_err_prefix(err,
                          "setting the password in the directory failed and whether it changed "
                          "is unknown. The new keys (kvno %u) stay staged beside the current "
                          "ones, so logins keep working: run `krbfleet sync --account %s` once "
                          "%s answers",
                          predicted, c.acct->name, c.res->dc);
            goto out;
        }
        kf_err_clear(err); /* it did change: carry on */
    }
    c.res->directory_changed = true;
    journal(st, c.res->run_id, c.acct->name, "written", "password set on %s", c.res->dc);
    fault("commit", 1);
    pause_at("after-commit");
    if (after == NULL && (rc = kf_dir_account_get(dir, c.acct->name, &after, err)) != KF_OK) {
        pending(&c, predicted, true);
        kf_err_prefix(err,
                      "the password was changed but its kvno could not be read back; the new "
                      "keys are staged, so logins keep working: run `krbfleet sync --account "
                      "%s` once %s answers",
                      c.acct->name, c.res->dc);
        goto out;
    }
    actual = (uint32_t)after->kvno;
    c.res->new_kvno = (int)actual;
    kf_store_kvno_committed(st, c.acct->name, (int)actual, (int64_t)time(NULL), NULL);
    journal(st, c.res->run_id, c.acct->name, "committed", "kvno %u (predicted %u)", actual,
            predicted);
    if (actual != predicted) {
        /* Restamp: the same keys under the real kvno, then drop the guess. */
        c.run.kvno = actual;
        run_phase(&c.run, "restamp", do_stage);
        c.run.kvno = predicted;
        run_phase(&c.run, "withdraw", do_withdraw);
        journal(st, c.res->run_id, c.acct->name, "restamped", "kvno %u -> %u", predicted, actual);
    }

    /* 4. Verify with a real login on every server. */
    for (size_t i = 0; i < c.run.n; i++)
        c.res->servers[i].published = has_spn(after, c.run.srv[i].probe_host);
    c.run.kvno = actual;
    run_phase(&c.run, "verify", do_verify);
    record(&c, actual);
    journal(st, c.res->run_id, c.acct->name, "verified", "kvno %u", actual);

    /* 5. Prune kvnos whose successor was committed longer than grace ago. */
    {
        int below = -1;
        struct kf_err e2 = {0};
        kf_store_kvno_prunable(st, c.acct->name, (int64_t)time(NULL) - o->grace_s, &below, NULL);
        if (below > (int)actual)
            below = -1; /* a stale record (account re-created?): never prune current keys */
        c.run.kvno = below > 0 ? (uint32_t)below : 0;
        if (below > 0 &&
            managed_principals(&c, &implied, &n_implied, &want, &n_want, &e2) == KF_OK) {
            c.run.want = want;
            c.run.n_want = n_want;
            run_phase(&c.run, "prune", do_prune);
        }
        c.run.want = NULL;
        c.run.n_want = 0;
        prune_retired(&c, staged_types(&c));
    }
    suggest_fixes(&c);
    bad = 0;
    for (size_t i = 0; i < c.run.n; i++)
        if (c.res->servers[i].state != KF_SERVER_OK)
            bad++;
    {
        char detail[160];
        snprintf(detail, sizeof(detail), "kvno %d -> %u; %zu of %zu servers healthy", c.res->old_kvno,
                 actual, c.run.n - bad, c.run.n);
        kf_store_audit(st, "password", detail, NULL);
        journal(st, c.res->run_id, c.acct->name, "done", "%s", detail);
    }
    rc = bad == 0 ? KF_OK
                  : kf_err_set(err, KF_ERR_AGENT,
                               "%zu of %zu web servers are not healthy after the rotation; the "
                               "table says which and how to repair each",
                               bad, c.run.n);
out:
    if (rc != KF_OK)
        blame_expired_ticket(o->account, err);
    kf_free_secret_str(password);
    kf_keyset_free(keys);
    kf_strv_free(spns, n_spns);
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
    kf_dir_account_free(after);
    if (c.res != NULL && c.run.srv != NULL && rc != KF_OK && c.res->directory_changed)
        suggest_fixes(&c);
    end(&c);
    *result = c.res;
    return rc;
}

static kf_status copy_keys(struct ctx *c, struct srv *src, struct srv *dst, struct kf_err *err);

static struct srv *
find_srv(struct ctx *c, const char *fqdn)
{
    for (size_t i = 0; i < c->run.n; i++)
        if (strcasecmp(c->res->servers[i].server, fqdn) == 0)
            return &c->run.srv[i];
    return NULL;
}

/* The account whose sites hold server FQDN; NULL if none. Sets *IS_POOL
 * when FQDN is a pool's name and no server's. */
static const char *
account_of_server(const struct kf_topology *topo, struct kf_account *accts, size_t n,
                  const char *fqdn, bool *is_pool, bool *found)
{
    *is_pool = *found = false;
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++) {
            const struct kf_pool *p = &topo->sites[i].pools[j];
            if (strcasecmp(p->fqdn, fqdn) == 0)
                *is_pool = true;
            for (size_t k = 0; k < p->n_servers; k++)
                if (strcasecmp(p->servers[k].fqdn, fqdn) == 0) {
                    *found = true;
                    *is_pool = false;
                    for (size_t a = 0; a < n; a++)
                        for (size_t s = 0; s < accts[a].n_sites; s++)
                            if (strcasecmp(accts[a].sites[s], topo->sites[i].name) == 0)
                                return accts[a].name;
                    return NULL;
                }
        }
    return NULL;
}

kf_status
kf_rotate_copy(struct kf_store *st, struct kf_dir *dir, const char *from, const char *to,
               const struct kf_rotate_opts *opts, struct kf_rotate_result **result,
               struct kf_err *err)
{
    struct kf_rotate_opts o = *opts;
    struct kf_topology *topo = NULL;
    struct kf_account *accts = NULL;
    size_t n_accts = 0;
    const char *names[2] = {from, to}, *acct[2];
    char account[64] = "";
    struct ctx c = {.st = st, .dir = dir, .o = &o};
    kf_status rc;

    *result = NULL;
    if ((rc = kf_store_topology_load(st, &topo, err)) != KF_OK ||
        (rc = kf_store_account_list(st, &accts, &n_accts, err)) != KF_OK)
        goto early;
    for (int i = 0; i < 2; i++) {
        bool is_pool, found;
        acct[i] = account_of_server(topo, accts, n_accts, names[i], &is_pool, &found);
        if (is_pool) {
            rc = kf_err_set(err, KF_ERR_INVALID,
                            "\"%s\" is a pool, not a computer: the password is copied between "
                            "web servers (-FromComputer/-ToComputer take a server FQDN; a pool "
                            "FQDN only where it is also that server's own name). See `krbfleet "
                            "server list`",
                            names[i]);
            goto early;
        }
        if (!found) {
            rc = kf_err_set(err, KF_ERR_NOT_FOUND,
                            "\"%s\" is not a web server of the topology (see `krbfleet server "
                            "list`)",
                            names[i]);
            goto early;
        }
        if (acct[i] == NULL) {
            rc = kf_err_set(err, KF_ERR_CONFLICT,
                            "the site of %s has no Kerberos account assignment", names[i]);
            goto early;
        }
    }
    if (strcasecmp(acct[0], acct[1]) != 0) {
        rc = kf_err_set(err, KF_ERR_CONFLICT,
                        "%s uses account %s and %s uses %s: keys can only be copied between "
                        "servers that share an account",
                        from, acct[0], to, acct[1]);
        goto early;
    }
    if (strcasecmp(from, to) == 0) {
        rc = kf_err_set(err, KF_ERR_INVALID, "--from and --to name the same server");
        goto early;
    }
    kf_strlcpy(account, acct[0], sizeof(account));
    o.account = account;
    kf_topology_free(topo);
    topo = NULL;
    kf_account_list_free(accts, n_accts);
    accts = NULL;

    kf_mem_no_dumps(); /* keys are received (EXPORT) and sent on */
    if ((rc = begin(&c, names, 2, err)) != KF_OK)
        goto out;
    {
        struct srv *src = find_srv(&c, from), *dst = find_srv(&c, to);
        rc = src != NULL && dst != NULL
                 ? copy_keys(&c, src, dst, err)
                 : kf_err_set(err, KF_ERR_UNEXPECTED, "%s or %s was not planned", from, to);
    }
out:
    end(&c);
    *result = c.res;
    return rc;
early:
    kf_topology_free(topo);
    kf_account_list_free(accts, n_accts);
    return rc;
}

/* ---- sync -------------------------------------------------------------- */

/* The TGT's end time in the caller's ticket cache (0 if there is none) and
 * its client's name in WHO. No KDC traffic. */
static time_t
tgt_end(char *who, size_t size)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_principal client = NULL, tgs = NULL;
    krb5_creds match, tgt;
    char *name = NULL;
    time_t end = 0;

    memset(&match, 0, sizeof(match));
    memset(&tgt, 0, sizeof(tgt));
    who[0] = '\0';
    if (krb5_init_context(&ctx) != 0)
        return 0;
    if (krb5_cc_default(ctx, &cc) == 0 && krb5_cc_get_principal(ctx, cc, &client) == 0 &&
        krb5_build_principal_ext(ctx, &tgs, (unsigned)client->realm.length, client->realm.data, 6,
                                 "krbtgt", (unsigned)client->realm.length, client->realm.data,
                                 0) == 0) {
        match.client = client;
        match.server = tgs;
        if (krb5_cc_retrieve_cred(ctx, cc, 0, &match, &tgt) == 0) {
            end = (time_t)(uint32_t)tgt.times.endtime;
            krb5_free_cred_contents(ctx, &tgt);
        }
        if (krb5_unparse_name(ctx, client, &name) == 0)
            kf_strlcpy(who, name, size);
    }
    krb5_free_unparsed_name(ctx, name);
    krb5_free_principal(ctx, tgs);
    krb5_free_principal(ctx, client);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return end;
}

/* Samba 4.17's KDC answers "Ticket expired" to a request for a service
 * ticket made with a TGT that has less than this left (seen in the lab:
 * with 121 s left it works, with 118 s it fails). */
#define TGT_MARGIN_S 120

/* When a run failed and the caller's ticket has expired meanwhile, or is
 * so close to its end that the KDC no longer honours it, say so first:
 * that is what the admin must fix. */
static void
blame_expired_ticket(const char *account, struct kf_err *err)
{
    char who[256], when[32];
    time_t end = tgt_end(who, sizeof(who)), now = time(NULL);
    struct tm tm;

    if (end == 0 || end > now + TGT_MARGIN_S)
        return;
    localtime_r(&end, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    if (end <= now)
        kf_err_prefix(err,
                      "the Kerberos ticket of %s expired at %s, during the run: run kinit, then "
                      "`krbfleet sync --account %s`. What failed",
                      who[0] ? who : "the caller", when, account);
    else
        kf_err_prefix(err,
                      "the Kerberos ticket of %s ends at %s, in %llds: too close to its end for "
                      "the KDC to issue service tickets from it (it refuses with less than %d "
                      "minutes left). Run kinit, then `krbfleet sync --account %s`. What failed",
                      who[0] ? who : "the caller", when, (long long)(end - now), TGT_MARGIN_S / 60,
                      account);
}

/* What sync knows about one server. */
struct syncsrv {
    bool checked, accepted; /* asked; its keytab accepts the fresh ticket */
    uint32_t label;         /* accepted: the kvno label of the key that did */
    bool stage;             /* the target set must be staged at D */
    uint32_t *drop;         /* kvno labels to withdraw */
    size_t n_drop;
};

struct sync {
    struct syncsrv *s;
    const char *principal;
    const uint8_t *token;
    size_t token_len;
    const struct kf_keyset *target;
    uint32_t kvno;     /* D */
    char *const *want; /* the account's managed principals (with realm) */
    size_t n_want;
};

/* Whether STATUS lists an entry at KVNO of a principal not in WANT (one
 * krbfleet does not manage for this account: a joined host's host/, a
 * hand-added name). */
static bool
has_foreign(const struct kf_agent_status *status, uint32_t kvno, char *const *want, size_t n_want)
{
    const struct kf_keyset *ks = status ? status->entries : NULL;

    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (ks->v[i].kvno == kvno && !kf_strv_contains_ci(want, n_want, ks->v[i].principal))
            return true;
    return false;
}

/* Make the managed entries of S's keytab at KVNO exactly MANAGED (NULL or
 * empty: none), leaving the entries of other principals there as they are.
 * STAGE replaces a kvno's whole set and WITHDRAW removes it, so when S
 * holds foreign entries at KVNO they are read back (EXPORT) and staged
 * again with MANAGED. Errors: those of the agent calls. */
static kf_status
put_managed(struct srv *s, uint32_t kvno, const struct kf_keyset *managed, char *const *want,
            size_t n_want, struct kf_err *err)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *mine = NULL, *set = NULL;
    kf_status rc;

    if (!has_foreign(s->status, kvno, want, n_want))
        return managed != NULL && managed->n > 0
                   ? kf_agent_stage(s->agent, kvno, managed, NULL, err)
                   : kf_agent_withdraw(s->agent, kvno, NULL, err);
    if ((rc = kf_agent_export(s->agent, &mine, err)) != KF_OK)
        return rc;
    if ((set = kf_keyset_new()) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; managed != NULL && i < managed->n; i++)
        if (kf_keyset_add(set, &managed->v[i]) != 0)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mine->n; i++)
        if (mine->v[i].kvno == kvno && !kf_strv_contains_ci(want, n_want, mine->v[i].principal) &&
            kf_keyset_add(set, &mine->v[i]) != 0)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return kf_agent_stage(s->agent, kvno, set, NULL, err);
}

static void
do_check(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct sync *sy = run->extra;
    struct srv *s = &run->srv[i];
    struct syncsrv *x = &sy->s[i];
    struct kf_keytab_check chk;
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (kf_agent_check(s->agent, sy->principal, sy->token, sy->token_len, &chk, &err) != KF_OK) {
        set_error(s->res, NULL, "checking its keys: %s", err.msg);
        s->usable = false;
        return;
    }
    x->checked = true;
    x->accepted = chk.accepted;
    x->label = chk.kvno;
    kf_keytab_check_done(&chk);
}

static void add_action(struct kf_server_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_action(struct kf_server_result *r, const char *fmt, ...)
{
    char buf[512], all[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    snprintf(all, sizeof(all), "%s%s%s", r->action ? r->action : "", r->action ? "; " : "", buf);
    free(r->action);
    r->action = strdup(all);
}

/* Stage the target where needed, withdraw what must go, check again. */
static void
do_converge(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct sync *sy = run->extra;
    struct srv *s = &run->srv[i];
    struct syncsrv *x = &sy->s[i];
    struct kf_keytab_check chk;
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (x->stage) {
        if (put_managed(s, sy->kvno, sy->target, sy->want, sy->n_want, &err) != KF_OK) {
            set_error(s->res, NULL, "staging kvno %u: %s", sy->kvno, err.msg);
            return;
        }
        if (!x->accepted)
            add_action(s->res, "given kvno %u (it held no key the directory uses)", sy->kvno);
        else if (x->label != sy->kvno)
            add_action(s->res, "restamped: the keys of kvno %u were labelled %u", sy->kvno,
                       x->label);
        else
            add_action(s->res, "kvno %u completed (entries were missing)", sy->kvno);
    }
    for (size_t k = 0; k < x->n_drop; k++) {
        if (put_managed(s, x->drop[k], NULL, sy->want, sy->n_want, &err) != KF_OK) {
            set_error(s->res, NULL, "withdrawing kvno %u: %s", x->drop[k], err.msg);
            return;
        }
        add_action(s->res, "withdrew kvno %u (%s)", x->drop[k],
                   x->drop[k] > sy->kvno ? "staged, never committed" : "a wrong label");
    }
    if (!x->stage && x->n_drop == 0)
        add_action(s->res, "had kvno %u", sy->kvno);
    if (kf_agent_check(s->agent, sy->principal, sy->token, sy->token_len, &chk, &err) != KF_OK) {
        set_error(s->res, NULL, "checking its keys again: %s", err.msg);
        return;
    }
    if (!chk.accepted || chk.kvno != sy->kvno)
        set_error(s->res, NULL,
                  "its keytab still does not accept the directory's ticket at kvno "
                  "%u (%s)",
                  sy->kvno,
                  chk.accepted ? "another label"
                  : chk.reason ? chk.reason
                               : "rejected");
    else {
        s->staged = true; /* holds the directory's keys: verify and prune it */
        s->res->kvno = (int)sy->kvno;
        s->res->state = KF_SERVER_OK;
    }
    kf_keytab_check_done(&chk);
}

static bool
set_has(const struct kf_keyset *ks, uint32_t kvno, bool any_kvno, const char *principal,
        int32_t enctype)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if ((any_kvno || ks->v[i].kvno == kvno) && ks->v[i].enctype == enctype &&
            strcasecmp(ks->v[i].principal, principal) == 0)
            return true;
    return false;
}

/* The set to give every server: SRC's entries labelled LABEL of the
 * account's managed principals (WANT; entries of any other principal are
 * never spread), plus, for each of their enctypes, an entry for every one
 * of WANT that lacks one (all principals of an account share its key). */
static kf_status
build_target(const struct kf_keyset *src, uint32_t label, char *const *want, size_t n_want,
             struct kf_keyset **out, struct kf_err *err)
{
    struct kf_keyset *t = kf_keyset_new();

    *out = NULL;
    if (t == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < src->n; i++)
        if (src->v[i].kvno == label && kf_strv_contains_ci(want, n_want, src->v[i].principal) &&
            !set_has(t, 0, true, src->v[i].principal, src->v[i].enctype) &&
            kf_keyset_add(t, &src->v[i]) != 0)
            goto nomem;
    for (size_t i = 0, n = t->n; i < n; i++) {
        bool first = true, same = true;
        for (size_t j = 0; j < i; j++)
            first = first && t->v[j].enctype != t->v[i].enctype;
        if (!first)
            continue;
        for (size_t j = i + 1; j < n; j++)
            if (t->v[j].enctype == t->v[i].enctype &&
                (t->v[j].key_len != t->v[i].key_len ||
                 memcmp(t->v[j].key, t->v[i].key, t->v[i].key_len) != 0))
                same = false;
        for (size_t w = 0; same && w < n_want; w++) {
            struct kf_key_entry e;
            if (set_has(t, 0, true, want[w], t->v[i].enctype))
                continue;
            e = t->v[i];
            e.principal = want[w];
            if (kf_keyset_add(t, &e) != 0) {
                explicit_bzero(&e, sizeof(e));
                goto nomem;
            }
            explicit_bzero(&e, sizeof(e));
        }
    }
    *out = t;
    return KF_OK;
nomem:
    kf_keyset_free(t);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

/* Does STATUS hold exactly TARGET's (principal, enctype) pairs at KVNO,
 * among its entries of the managed principals WANT? */
static bool
same_set(const struct kf_agent_status *status, uint32_t kvno, const struct kf_keyset *target,
         char *const *want, size_t n_want)
{
    size_t n = 0;
    const struct kf_keyset *ks = status ? status->entries : NULL;

    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (ks->v[i].kvno == kvno && kf_strv_contains_ci(want, n_want, ks->v[i].principal)) {
            n++;
            if (!set_has(target, 0, true, ks->v[i].principal, ks->v[i].enctype))
                return false;
        }
    return n == target->n;
}

/* The account's managed principals: in *IMPLIED the SPNs the topology
 * implies ("HTTP/web.example.com"), in *WANT each of them with the realm
 * and NAME$@REALM, the principals a rotation stages. The caller frees both
 * (kf_strv_free). */
static kf_status
managed_principals(const struct ctx *c, char ***implied, size_t *n_implied, char ***want,
                   size_t *n_want, struct kf_err *err)
{
    kf_status rc;

    if ((rc = kf_implied_spns(c->topo, c->acct, implied, n_implied, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i <= *n_implied; i++)
        if (i < *n_implied ? kf_strv_pushf(want, n_want, "%s@%s", (*implied)[i], c->run.realm)
                           : kf_strv_pushf(want, n_want, "%s$@%s", c->acct->name, c->run.realm))
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

/* The service to get a ticket for: an SPN the account has in the directory
 * and whose keys we stage (the topology implies it), else NAME$. */
static char *
check_principal(const struct kf_dir_account *d, char *const *implied, size_t n_implied,
                const char *name, const char *realm)
{
    char buf[KF_FQDN_MAX + 128];

    for (size_t i = 0; i < d->n_spns; i++)
        if (kf_strv_contains_ci(implied, n_implied, d->spns[i])) {
            snprintf(buf, sizeof(buf), "%s@%s", d->spns[i], realm);
            return strdup(buf);
        }
    snprintf(buf, sizeof(buf), "%s$@%s", name, realm);
    return strdup(buf);
}

/* The account's principals (NAME$, its SPNs, the implied ones; with the
 * realm): what an ineligible account's keys are found by. */
struct gone {
    char **names;
    size_t n_names;
    bool *done; /* per server: every such kvno withdrawn */
};

static bool
gone_entry(const struct gone *g, const struct kf_keyset *ks, size_t k)
{
    return kf_strv_contains_ci(g->names, g->n_names, ks->v[k].principal);
}

static void
do_withdraw_account(size_t i, void *vctx)
{
    struct run *run = vctx;
    struct gone *g = run->extra;
    struct srv *s = &run->srv[i];
    const struct kf_keyset *ks = s->status ? s->status->entries : NULL;
    struct kf_err err = {0};
    size_t n = 0;

    if (!s->usable)
        return;
    for (size_t k = 0; ks != NULL && k < ks->n; k++) {
        bool seen = false;
        if (!gone_entry(g, ks, k))
            continue;
        for (size_t j = 0; j < k && !seen; j++)
            seen = ks->v[j].kvno == ks->v[k].kvno && gone_entry(g, ks, j);
        if (seen)
            continue;
        /* only the account's entries: others at that kvno stay */
        if (put_managed(s, ks->v[k].kvno, NULL, g->names, g->n_names, &err) != KF_OK) {
            set_error(s->res, NULL, "withdrawing kvno %u: %s", ks->v[k].kvno, err.msg);
            return;
        }
        add_action(s->res, "withdrew kvno %u", ks->v[k].kvno);
        n++;
    }
    g->done[i] = true;
    set_error(s->res, NULL, "%s", n ? "the account may not carry web keys: its keys were withdrawn"
                                    : "the account may not carry web keys: it held none of them");
}

/* Sync of an account that may not carry web keys (C->refused says why):
 * withdraw every kvno of its principals from every keytab reached. */
static kf_status
withdraw_account(struct ctx *c, struct kf_err *err)
{
    struct gone g = {0};
    size_t done = 0;
    kf_status rc = KF_OK;
    char detail[200];

    g.done = calloc(c->run.n ? c->run.n : 1, sizeof(*g.done));
    if (g.done == NULL || kf_strv_pushf(&g.names, &g.n_names, "%s$@%s", c->acct->name,
                                        c->run.realm) != 0) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    {
        char **implied = NULL;
        size_t n_implied = 0;
        if ((rc = kf_implied_spns(c->topo, c->acct, &implied, &n_implied, err)) != KF_OK)
            goto out;
        for (size_t i = 0; i < n_implied + c->dacct->n_spns && rc == KF_OK; i++)
            if (kf_strv_pushf(&g.names, &g.n_names, "%s@%s",
                              i < n_implied ? implied[i] : c->dacct->spns[i - n_implied],
                              c->run.realm) != 0)
                rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        kf_strv_free(implied, n_implied);
        if (rc != KF_OK)
            goto out;
    }
    c->run.extra = &g;
    run_phase(&c->run, "withdraw", do_withdraw_account);
    for (size_t i = 0; i < c->run.n; i++) {
        const struct kf_keyset *ks = c->run.srv[i].status ? c->run.srv[i].status->entries : NULL;
        if (!g.done[i])
            continue;
        done++;
        for (size_t k = 0; ks != NULL && k < ks->n; k++)
            if (gone_entry(&g, ks, k))
                kf_store_server_key_set(c->st, c->res->servers[i].server, c->acct->name,
                                        (int)ks->v[k].kvno, NULL, NULL);
    }
    snprintf(detail, sizeof(detail),
             "withdrew the keys of %s (it may not carry web keys) from %zu of %zu servers",
             c->acct->name, done, c->run.n);
    kf_store_audit(c->st, "password", detail, NULL);
    journal(c->st, c->res->run_id, c->acct->name, "sync-withdrawn", "%s", detail);
    *err = c->refused;
    kf_err_prefix(err, "its keys were withdrawn from %zu of %zu web servers%s", done, c->run.n,
                  done < c->run.n ? " (run sync again once the others answer)" : "");
    rc = KF_ERR_CONFLICT;
out:
    kf_strv_free(g.names, g.n_names);
    free(g.done);
    return rc;
}

static kf_status
sync_account(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *o,
             struct kf_sync_account *out, struct kf_err *err)
{
    struct ctx c = {.st = st, .dir = dir, .o = o};
    struct sync sy = {0};
    struct kf_keyset *exported = NULL, *target = NULL;
    char **implied = NULL, **want = NULL, fix[160];
    size_t n_implied = 0, n_want = 0, bad = 0, src = SIZE_MAX;
    uint8_t *token = NULL;
    size_t token_len = 0;
    uint32_t ticket_kvno = 0, D;
    int recorded = -1;
    int64_t when = -1;
    kf_status rc;

    snprintf(fix, sizeof(fix), "krbfleet sync --account %s", o->account);
    c.withdraw_if_refused = true;
    kf_mem_no_dumps(); /* keys are received (EXPORT) and sent on */
    if ((rc = begin(&c, NULL, 0, err)) != KF_OK)
        goto out;
    if (c.refused.code != KF_OK) {
        rc = withdraw_account(&c, err);
        fix[0] = '\0'; /* the refusal says what to do */
        goto out;
    }
    if (c.dacct->kvno < 1) {
        rc = kf_err_set(err, KF_ERR_DIRECTORY, "%s does not say which kvno account %s has",
                        c.res->dc, c.acct->name);
        goto out;
    }
    D = (uint32_t)c.dacct->kvno;
    c.res->new_kvno = c.dacct->kvno;
    /* A kvno above D that the store saw committed: this DC is behind. */
    kf_store_kvno_prunable(st, c.acct->name, INT64_MAX, &recorded, NULL);
    if (recorded > (int)D) {
        rc = kf_err_set(err, KF_ERR_CONFLICT,
                        "the store recorded kvno %d of account %s as committed, but %s reports "
                        "kvno %u: that DC may not have replicated the change yet, so nothing "
                        "was changed; run sync against the DC the rotation used ([directory] "
                        "server) or wait for replication. If the account was re-created in the "
                        "directory, run `krbfleet password set --account %s`",
                        recorded, c.acct->name, c.res->dc, D, c.acct->name);
        goto out;
    }
    if ((rc = managed_principals(&c, &implied, &n_implied, &want, &n_want, err)) != KF_OK)
        goto out;
    out->principal = check_principal(c.dacct, implied, n_implied, c.acct->name, c.run.realm);
    if (out->principal == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* a fresh ticket from the directory's DC, never one cached earlier */
    if ((rc = kf_agent_ticket_token(out->principal, c.run.kdc, &token, &token_len, &ticket_kvno,
                                    err)) != KF_OK)
        goto out;
    if (ticket_kvno != D)
        fprintf(stderr,
                "krbfleet: warning: %s issued a ticket of kvno %u for %s, but its "
                "directory says %u; following the directory\n",
                c.res->dc, ticket_kvno, out->principal, D);
    journal(st, c.res->run_id, c.acct->name, "sync", "kvno %u on %s; checking with %s", D,
            c.res->dc, out->principal);

    /* Which server holds a key that really accepts the directory's ticket? */
    sy.s = calloc(c.run.n, sizeof(*sy.s));
    if (sy.s == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    sy.principal = out->principal;
    sy.token = token;
    sy.token_len = token_len;
    sy.kvno = D;
    sy.want = want;
    sy.n_want = n_want;
    c.run.extra = &sy;
    run_phase(&c.run, "check", do_check);
    for (int pass = 0; pass < 2 && src == SIZE_MAX; pass++)
        for (size_t i = 0; i < c.run.n && src == SIZE_MAX; i++)
            if (sy.s[i].accepted && (pass == 1 || sy.s[i].label == D))
                src = i;
    if (src == SIZE_MAX) {
        size_t asked = 0;
        for (size_t i = 0; i < c.run.n; i++) {
            asked += sy.s[i].checked;
            if (sy.s[i].checked)
                set_error(&c.res->servers[i], NULL,
                          "holds no key that accepts a fresh ticket for %s (kvno %u)",
                          out->principal, D);
        }
        for (size_t i = 0; i < c.run.n; i++) {
            free(c.res->servers[i].fix);
            c.res->servers[i].fix = NULL;
        }
        journal(st, c.res->run_id, c.acct->name, "sync-lost",
                "kvno %u: no key on %zu of %zu servers", D, asked, c.run.n);
        rc = kf_err_set(err, KF_ERR_NOT_FOUND,
                        "no web server holds the keys of account %s that the directory uses "
                        "(kvno %u on %s): %zu of %zu servers were asked and none accepts a fresh "
                        "ticket for %s%s. The keys are lost; run `krbfleet password set "
                        "--account %s` to make new ones (logins with tickets of kvno %u fail "
                        "until then)",
                        c.acct->name, D, c.res->dc, asked, c.run.n, out->principal,
                        asked < c.run.n ? " (the others could not be reached: they may hold "
                                          "them; start their agents and run sync again)"
                                        : "",
                        c.acct->name, D);
        snprintf(fix, sizeof(fix), "krbfleet password set --account %s", c.acct->name);
        goto out;
    }
    out->source = strdup(c.res->servers[src].server);
    if ((rc = kf_agent_export(c.run.srv[src].agent, &exported, err)) != KF_OK ||
        (rc = build_target(exported, sy.s[src].label, want, n_want, &target, err)) != KF_OK) {
        kf_err_prefix(err, "taking the keys from %s", c.res->servers[src].server);
        goto out;
    }
    sy.target = target;

    /* Decide, then converge every reachable server. */
    for (size_t i = 0; i < c.run.n; i++) {
        struct syncsrv *x = &sy.s[i];
        const struct kf_keyset *ks = c.run.srv[i].status ? c.run.srv[i].status->entries : NULL;
        if (!c.run.srv[i].usable)
            continue;
        x->stage = !x->accepted || x->label != D ||
                   !same_set(c.run.srv[i].status, D, target, want, n_want);
        x->drop = calloc(ks ? ks->n + 1 : 1, sizeof(*x->drop));
        if (x->drop == NULL) {
            rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t k = 0; ks != NULL && k < ks->n; k++) {
            uint32_t v = ks->v[k].kvno;
            bool seen = false;
            if (!kf_strv_contains_ci(want, n_want, ks->v[k].principal))
                continue; /* not ours: left alone */
            if (v < D && !(x->accepted && v == x->label))
                continue;
            if (v == D)
                continue;
            for (size_t j = 0; j < x->n_drop; j++)
                seen = seen || x->drop[j] == v;
            if (!seen)
                x->drop[x->n_drop++] = v;
        }
    }
    run_phase(&c.run, "converge", do_converge);
    for (size_t i = 0; i < c.run.n; i++)
        c.res->servers[i].published = has_spn(c.dacct, c.run.srv[i].probe_host);
    c.run.kvno = D;
    run_phase(&c.run, "verify", do_verify);

    /* Record what each server holds now, and when D was committed. */
    for (size_t i = 0; i < c.run.n; i++) {
        struct syncsrv *x = &sy.s[i];
        if (c.res->servers[i].state != KF_SERVER_OK)
            continue;
        kf_store_server_key_set(st, c.res->servers[i].server, c.acct->name, (int)D, "committed",
                                NULL);
        for (size_t k = 0; k < x->n_drop; k++)
            kf_store_server_key_set(st, c.res->servers[i].server, c.acct->name, (int)x->drop[k],
                                    NULL, NULL);
    }
    if (kf_store_kvno_committed_at(st, c.acct->name, (int)D, &when, NULL) == KF_OK && when < 0)
        kf_store_kvno_committed(st, c.acct->name, (int)D, (int64_t)time(NULL), NULL);

    /* Prune kvnos whose successor was committed longer than grace ago. */
    {
        int below = -1;
        kf_store_kvno_prunable(st, c.acct->name, (int64_t)time(NULL) - o->grace_s, &below, NULL);
        if (below > 0 && below <= (int)D) {
            c.run.kvno = (uint32_t)below;
            c.run.want = want;
            c.run.n_want = n_want;
            run_phase(&c.run, "prune", do_prune);
        }
        c.run.want = NULL;
        c.run.n_want = 0;
        prune_retired(&c, staged_types(&c));
    }
    for (size_t i = 0; i < c.run.n; i++)
        if (c.res->servers[i].state != KF_SERVER_OK) {
            char again[200];
            bad++;
            snprintf(again, sizeof(again), "%s%s",
                     c.run.srv[i].status == NULL ? "start its agent (krbfleetd), then " : "", fix);
            if (c.res->servers[i].fix == NULL)
                c.res->servers[i].fix = strdup(again);
        }
    {
        char detail[200];
        snprintf(detail, sizeof(detail), "sync to kvno %u from %s: %zu of %zu servers in sync", D,
                 out->source, c.run.n - bad, c.run.n);
        kf_store_audit(st, "password", detail, NULL);
        journal(st, c.res->run_id, c.acct->name, "sync-done", "%s", detail);
    }
    rc = bad == 0 ? KF_OK
                  : kf_err_set(err, KF_ERR_AGENT,
                               "%zu of %zu web servers of account %s are not in sync with the "
                               "directory; the table says which and why",
                               bad, c.run.n, c.acct->name);
out:
    if (rc != KF_OK && rc != KF_ERR_CONFLICT)
        blame_expired_ticket(o->account, err);
    if (rc != KF_OK) {
        out->error = strdup(err->msg);
        out->fix = fix[0] ? strdup(fix) : NULL;
    }
    out->status = rc;
    for (size_t i = 0; sy.s != NULL && i < c.run.n; i++)
        free(sy.s[i].drop);
    free(sy.s);
    free(token);
    kf_keyset_free(exported);
    kf_keyset_free(target);
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
    end(&c);
    out->r = c.res;
    return rc;
}

void
kf_sync_result_free(struct kf_sync_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].account);
        free(r->v[i].principal);
        free(r->v[i].source);
        free(r->v[i].note);
        free(r->v[i].error);
        free(r->v[i].fix);
        kf_rotate_result_free(r->v[i].r);
    }
    free(r->v);
    free(r);
}

kf_status
kf_sync(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *opts,
        struct kf_sync_result **result, struct kf_err *err)
{
    struct kf_account *accts = NULL, *one = NULL;
    size_t n = 0, failed = 0;
    struct kf_sync_result *res;
    struct kf_err first = {0};
    kf_status rc;

    *result = NULL;
    if (opts->account != NULL) {
        if ((rc = kf_store_account_get(st, opts->account, &one, err)) != KF_OK)
            return rc;
        accts = one;
        n = 1;
    } else if ((rc = kf_store_account_list(st, &accts, &n, err)) != KF_OK) {
        return rc;
    }
    if (n == 0) {
        kf_account_list_free(accts, n);
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "krbfleet manages no account yet (`krbfleet account new`)");
    }
    res = calloc(1, sizeof(*res));
    if (res == NULL || (res->v = calloc(n, sizeof(*res->v))) == NULL) {
        free(res);
        one ? kf_account_free(one) : kf_account_list_free(accts, n);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    res->n = n;
    for (size_t i = 0; i < n; i++) {
        struct kf_sync_account *a = &res->v[i];
        struct kf_rotate_opts o = *opts;
        struct kf_err e = {0};
        a->account = strdup(accts[i].name);
        if (a->account == NULL) {
            a->status = kf_err_set(&e, KF_ERR_NOMEM, "out of memory");
        } else if (accts[i].n_sites == 0) {
            a->note = strdup("assigned to no site: no web server to sync");
            a->status = KF_OK;
        } else {
            o.account = a->account;
            a->status = sync_account(st, dir, &o, a, &e);
        }
        if (a->status != KF_OK && failed++ == 0)
            first = e;
    }
    one ? kf_account_free(one) : kf_account_list_free(accts, n);
    *result = res;
    if (failed == 0)
        return KF_OK;
    if (n == 1) {
        *err = first;
        return first.code;
    }
    return kf_err_set(err, first.code, "%zu of %zu accounts are not in sync; first: %s", failed, n,
                      first.msg);
}

/* ---- password set --from --to ------------------------------------------ */

/* A server of C's account other than FROM and TO whose keys labelled
 * SY->kvno accept SY's ticket: its FQDN (the caller frees it), or NULL.
 * *ASKED: how many of the *N_OTHERS others answered the check. */
static char *
find_holder(const struct ctx *c, const struct sync *sy0, const char *from, const char *to,
            size_t *asked, size_t *n_others)
{
    struct kf_rotate_result *tmp = calloc(1, sizeof(*tmp));
    struct run run = {.o = c->o, .realm = c->run.realm, .kdc = c->run.kdc};
    struct sync sy = *sy0;
    struct kf_err e = {0};
    char *found = NULL;

    *asked = *n_others = 0;
    sy.s = NULL;
    if (tmp == NULL ||
        plan_servers(c->topo, c->acct, c->o->agent_port, NULL, 0, tmp, &run.srv, &e) != KF_OK)
        goto out;
    run.n = tmp->n_servers;
    for (size_t i = 0; i < run.n; i++) {
        run.srv[i].skip = strcasecmp(tmp->servers[i].server, from) == 0 ||
                          strcasecmp(tmp->servers[i].server, to) == 0;
        *n_others += !run.srv[i].skip;
    }
    if (*n_others == 0 || (sy.s = calloc(run.n, sizeof(*sy.s))) == NULL)
        goto out;
    run.extra = &sy;
    pthread_mutex_init(&run.lock, NULL);
    run_phase(&run, "connect", do_connect);
    run_phase(&run, "check", do_check);
    pthread_mutex_destroy(&run.lock);
    for (size_t i = 0; i < run.n; i++) {
        *asked += sy.s[i].checked;
        if (found == NULL && sy.s[i].accepted && sy.s[i].label == sy.kvno)
            found = strdup(tmp->servers[i].server);
    }
out:
    free(sy.s);
    srvs_free(run.srv, run.n);
    kf_rotate_result_free(tmp);
    return found;
}

/* What one copy knows. */
struct copy {
    struct ctx *c;
    struct srv *src, *dst;
    struct sync sy; /* principal, token, kvno D, want (no per-server part) */
    char **implied, **want, *principal;
    size_t n_implied, n_want;
    struct kf_keytab_check src_chk, dst_chk;
    bool dst_ok; /* DST's set at D accepted the fresh ticket before the copy */
};

/* SRC's keys at D do not accept the ticket: refuse, and name who has them. */
static kf_status
refuse_source(struct copy *cp, struct kf_err *err)
{
    struct ctx *c = cp->c;
    const char *from = cp->src->res->server, *to = cp->dst->res->server;
    char why[300], tail[600], fix[600];
    char *holder = NULL;
    size_t asked = 0, others = 0;

    if (cp->src_chk.accepted)
        snprintf(why, sizeof(why), "the key that accepts it is labelled kvno %u", cp->src_chk.kvno);
    else
        snprintf(why, sizeof(why), "%s",
                 cp->src_chk.reason ? cp->src_chk.reason : "no key decrypts it");
    if (cp->dst_ok) {
        snprintf(tail, sizeof(tail),
                 "%s, the destination, holds the right keys already: to repair %s, run "
                 "`krbfleet password set --from %s --to %s`",
                 to, from, to, from);
        snprintf(fix, sizeof(fix), "krbfleet password set --from %s --to %s", to, from);
    } else if ((holder = find_holder(c, &cp->sy, from, to, &asked, &others)) != NULL) {
        snprintf(tail, sizeof(tail),
                 "%s holds the right keys: run `krbfleet password set --from %s --to %s`", holder,
                 holder, to);
        snprintf(fix, sizeof(fix), "krbfleet password set --from %s --to %s", holder, to);
    } else {
        snprintf(tail, sizeof(tail),
                 "neither does %s, nor any of the %zu other server(s) of account %s that "
                 "answered (of %zu): run `krbfleet sync --account %s`, which finds them or says "
                 "they are lost",
                 to, asked, c->acct->name, others, c->acct->name);
        snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
    }
    free(holder);
    set_error(cp->src->res, fix,
              "not a source: its kvno %u keys do not accept a fresh ticket for %s (%s)",
              cp->sy.kvno, cp->sy.principal, why);
    return kf_err_set(err, KF_ERR_CONFLICT,
                      "%s cannot be the source: its keys labelled kvno %u (the directory's) do "
                      "not accept a fresh ticket for %s (%s), so copying them could only make %s "
                      "worse; nothing was changed. %s",
                      from, cp->sy.kvno, cp->sy.principal, why, to, tail);
}

/* Append NAME to the comma-separated LIST of SIZE bytes; once NAME no
 * longer fits, ", ..." ends the list and later names are left out. */
static void
list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list), sep = used ? 2 : 0;

    if (used >= 3 && strcmp(list + used - 3, "...") == 0)
        return;
    if (used + sep + strlen(name) + 5 < size)
        snprintf(list + used, size - used, "%s%s", sep ? ", " : "", name);
    else if (used + 5 < size)
        snprintf(list + used, size - used, "%s...", sep ? ", " : "");
}

/* The whole copy: check both, copy the managed entries, check DST again. */
static kf_status
copy_keys(struct ctx *c, struct srv *src, struct srv *dst, struct kf_err *err)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *src_keys = NULL, *dst_keys = NULL, *target = NULL;
    struct copy cp = {.c = c, .src = src, .dst = dst};
    struct kf_keytab_check after = {0};
    uint8_t *token = NULL;
    size_t token_len = 0, n_foreign = 0;
    uint32_t older[16], D;
    size_t n_older = 0;
    char foreign[400] = "", olderlist[128] = "", summary[1024], extra[600] = "";
    const char *from = src->res->server, *to = dst->res->server;
    bool same;
    kf_status rc;

    for (size_t i = 0; i < c->run.n; i++)
        if (!c->run.srv[i].usable)
            return kf_err_set(err, KF_ERR_AGENT, "%s; nothing was changed",
                              c->res->servers[i].error);
    if (c->dacct->kvno < 1)
        return kf_err_set(err, KF_ERR_DIRECTORY, "%s does not say which kvno account %s has",
                          c->res->dc, c->acct->name);
    D = (uint32_t)c->dacct->kvno;
    c->res->new_kvno = c->dacct->kvno;
    if ((rc = managed_principals(c, &cp.implied, &cp.n_implied, &cp.want, &cp.n_want, err)) !=
        KF_OK)
        goto out;
    cp.principal = check_principal(c->dacct, cp.implied, cp.n_implied, c->acct->name, c->run.realm);
    cp.sy.principal = cp.principal;
    if (cp.principal == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    cp.sy.kvno = D;
    cp.sy.want = cp.want;
    cp.sy.n_want = cp.n_want;
    /* 1. A fresh ticket from the directory's DC; which side accepts it? */
    if ((rc = kf_agent_ticket_token(cp.sy.principal, c->run.kdc, &token, &token_len, NULL, err)) !=
        KF_OK)
        goto out;
    cp.sy.token = token;
    cp.sy.token_len = token_len;
    if ((rc = kf_agent_check(src->agent, cp.sy.principal, token, token_len, &cp.src_chk, err)) !=
        KF_OK) {
        set_error(src->res, NULL, "checking its keys: %s", err->msg);
        goto out;
    }
    if ((rc = kf_agent_check(dst->agent, cp.sy.principal, token, token_len, &cp.dst_chk, err)) !=
        KF_OK) {
        set_error(dst->res, NULL, "checking its keys: %s", err->msg);
        goto out;
    }
    cp.dst_ok = cp.dst_chk.accepted && cp.dst_chk.kvno == D;
    if (!cp.src_chk.accepted || cp.src_chk.kvno != D) {
        rc = refuse_source(&cp, err);
        goto out;
    }
    src->res->state = KF_SERVER_OK;
    src->res->kvno = (int)D;
    add_action(src->res, "source: its kvno %u keys accept a fresh ticket for %s", D,
               cp.sy.principal);

    /* 2. What to copy: the managed entries at D (completed), and older
     * kvnos DST has none of; never another principal's entries. */
    if ((rc = kf_agent_export(src->agent, &src_keys, err)) != KF_OK ||
        (rc = kf_agent_export(dst->agent, &dst_keys, err)) != KF_OK ||
        (rc = build_target(src_keys, D, cp.want, cp.n_want, &target, err)) != KF_OK)
        goto out;
    for (size_t i = 0; i < src_keys->n; i++) {
        const struct kf_key_entry *e = &src_keys->v[i];
        bool seen = false, dst_has = false;
        if (!kf_strv_contains_ci(cp.want, cp.n_want, e->principal)) {
            bool named = false;
            for (size_t k = 0; k < i && !named; k++)
                named = strcasecmp(src_keys->v[k].principal, e->principal) == 0;
            if (!named)
                list_add(foreign, sizeof(foreign), e->principal);
            n_foreign++;
            continue;
        }
        if (e->kvno >= D)
            continue;
        for (size_t k = 0; k < n_older; k++)
            seen = seen || older[k] == e->kvno;
        for (size_t k = 0; k < dst_keys->n && !dst_has; k++)
            dst_has = dst_keys->v[k].kvno == e->kvno &&
                      kf_strv_contains_ci(cp.want, cp.n_want, dst_keys->v[k].principal);
        if (!seen && !dst_has && n_older < sizeof(older) / sizeof(older[0])) {
            char num[16];
            older[n_older++] = e->kvno;
            snprintf(num, sizeof(num), "%u", e->kvno);
            list_add(olderlist, sizeof(olderlist), num);
        }
    }
    same = cp.dst_ok && same_set(dst->status, D, target, cp.want, cp.n_want);
    if (n_older > 0)
        snprintf(extra, sizeof(extra), "; and kvno %s, which %s lacks", olderlist, to);
    if (n_foreign > 0) {
        size_t used = strlen(extra);
        snprintf(extra + used, sizeof(extra) - used,
                 "; %zu entr%s of other principals on %s (%s) %s not copied", n_foreign,
                 n_foreign == 1 ? "y" : "ies", from, foreign, c->o->dry_run ? "would be" : "were");
    }
    if (same)
        snprintf(summary, sizeof(summary), "%s%s already holds kvno %u of account %s%s%s",
                 c->o->dry_run ? "dry run: " : "", to, D, c->acct->name, extra,
                 c->o->dry_run ? "; nothing was changed" : "");
    else
        snprintf(summary, sizeof(summary),
                 "%s kvno %u of account %s (%zu entries) from %s to %s%s%s",
                 c->o->dry_run ? "dry run: would copy" : "copied", D, c->acct->name, target->n,
                 from, to, extra, c->o->dry_run ? "; nothing was changed" : "");
    if (c->o->dry_run) {
        dst->res->state = KF_SERVER_PLANNED;
        add_action(dst->res, same ? "already holds kvno %u" : "would be given kvno %u from %s", D,
                   from);
        c->res->summary = strdup(summary);
        rc = KF_OK;
        goto out;
    }

    /* 3. Copy; DST's entries of other principals stay as they are. */
    if (!same && (rc = put_managed(dst, D, target, cp.want, cp.n_want, err)) != KF_OK) {
        set_error(dst->res, NULL, "staging kvno %u: %s", D, err->msg);
        kf_err_prefix(err, "copying to %s", to);
        goto out;
    }
    for (size_t k = 0; k < n_older; k++) {
        _cleanup_(kf_keyset_freep) struct kf_keyset *one = kf_keyset_new();
        for (size_t i = 0; one != NULL && i < src_keys->n; i++)
            if (src_keys->v[i].kvno == older[k] &&
                kf_strv_contains_ci(cp.want, cp.n_want, src_keys->v[i].principal) &&
                kf_keyset_add(one, &src_keys->v[i]) != 0) {
                kf_keyset_free(one);
                one = NULL;
            }
        rc = one ? put_managed(dst, older[k], one, cp.want, cp.n_want, err)
                 : kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        if (rc != KF_OK) {
            set_error(dst->res, NULL, "staging kvno %u: %s", older[k], err->msg);
            kf_err_prefix(err, "copying to %s", to);
            goto out;
        }
    }
    journal(c->st, c->res->run_id, c->acct->name, "copied", "kvno %u from %s to %s", D, from, to);

    /* 4. DST must accept the same fresh ticket now; else put its set back. */
    rc = kf_agent_check(dst->agent, cp.sy.principal, token, token_len, &after, err);
    if (rc != KF_OK || !after.accepted || after.kvno != D) {
        struct kf_err e2 = {0};
        char what[300], fix[128];
        bool restored = false;
        if (rc != KF_OK)
            snprintf(what, sizeof(what), "it could not be checked: %s", err->msg);
        else
            snprintf(what, sizeof(what), "%s",
                     after.accepted ? "another kvno label accepts it"
                     : after.reason ? after.reason
                                    : "no key decrypts it");
        if (cp.dst_ok && !same) {
            _cleanup_(kf_keyset_freep) struct kf_keyset *old = kf_keyset_new();
            for (size_t i = 0; old != NULL && i < dst_keys->n; i++)
                if (dst_keys->v[i].kvno == D && kf_keyset_add(old, &dst_keys->v[i]) != 0) {
                    kf_keyset_free(old);
                    old = NULL;
                }
            restored =
                old != NULL && old->n > 0 && kf_agent_stage(dst->agent, D, old, NULL, &e2) == KF_OK;
        }
        snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
        set_error(dst->res, fix,
                  "after the copy it does not accept a fresh ticket for %s at kvno %u (%s)%s",
                  cp.sy.principal, D, what, restored ? "; its previous keys were put back" : "");
        rc = kf_err_set(err, KF_ERR_AGENT, "%s: %s", to, dst->res->error);
        goto out;
    }

    /* 5. A real login where the pool is published. */
    dst->staged = true;
    c->run.kvno = D;
    run_phase(&c->run, "verify", do_verify);
    if (dst->res->state == KF_SERVER_OK) {
        char detail[600];
        dst->res->kvno = (int)D;
        add_action(dst->res, same ? "already held kvno %u" : "given kvno %u from %s", D, from);
        kf_store_server_key_set(c->st, to, c->acct->name, (int)D, "committed", NULL);
        snprintf(detail, sizeof(detail), "copied keys from %s to %s (kvno %u)", from, to, D);
        kf_store_audit(c->st, "password", detail, NULL);
        c->res->summary = strdup(summary);
        rc = KF_OK;
    } else {
        rc = kf_err_set(err, KF_ERR_AGENT, "%s has the keys now, but %s", to,
                        dst->res->error ? dst->res->error : "the login did not verify");
    }
out:
    free(token);
    free(cp.principal);
    kf_strv_free(cp.implied, cp.n_implied);
    kf_strv_free(cp.want, cp.n_want);
    kf_keytab_check_done(&cp.src_chk);
    kf_keytab_check_done(&cp.dst_chk);
    kf_keytab_check_done(&after);
    return rc;
}

/* ---- the lock alone, for other changes that must not interleave -------- */

kf_status
kf_rotate_lock(struct kf_store *st, const char *account, const char *user, bool *elsewhere,
               struct kf_err *err)
{
    char host[256] = "";
    kf_status rc;

    *elsewhere = false;
    gethostname(host, sizeof(host) - 1);
    struct kf_lock_holder me = {.user = user ? user : "unknown", .host = host, .pid = (long)getpid()};
    kf_proc_start(me.pid, &me.start);
    if ((rc = kf_store_begin(st, err)) != KF_OK)
        return rc;
    if ((rc = kf_store_lock_take(st, account, &me, holder_alive, err)) != KF_OK) {
        *elsewhere = rc == KF_ERR_CONFLICT;
        kf_store_rollback(st);
        return rc;
    }
    return kf_store_commit(st, err);
}

void
kf_rotate_unlock(struct kf_store *st, const char *account)
{
    kf_store_lock_release(st, account, (long)getpid(), NULL);
}
