/* fleetrun.c - the web servers of one run and their phases (fleetrun.h). */
#include "fleetrun.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fault.h"
#include "mem.h"
#include "names.h"
#include "parallel.h"
#include "probe.h"
#include "strv.h"
#include "syncplan.h"

/* ---- per-server outcome ------------------------------------------------ */

void
kf_srv_fail(struct kf_server_result *r, const char *fix, const char *fmt, ...)
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
    struct kf_fleet *run = vctx;
    struct kf_progress p = {.phase = run->phase,
                            .done = done,
                            .total = total,
                            .unit = "servers",
                            .pending = oldest < run->n ? run->srv[oldest].res->server : NULL};

    kf_progress_report(&run->o->progress, &p);
}

void
kf_fleet_connect(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (s->skip)
        return;
    if (kf_agent_connect(s->res->address, s->res->port, s->res->server, run->o->timeout_s,
                         &s->agent, &err) != KF_OK ||
        kf_agent_status(s->agent, &s->status, &err) != KF_OK) {
        kf_srv_fail(s->res, NULL, "%s", err.msg);
        return;
    }
    s->usable = true;
}

void
kf_fleet_stage(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (kf_agent_stage(s->agent, run->kvno, run->keys, NULL, &err) != KF_OK) {
        kf_srv_fail(s->res, NULL, "staging kvno %u: %s", run->kvno, err.msg);
        s->usable = false;
        return;
    }
    s->staged = true;
    pthread_mutex_lock(&run->lock);
    run->events++;
    kf_fault("stage", run->events);
    pthread_mutex_unlock(&run->lock);
}

void
kf_fleet_withdraw(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
    struct kf_err err = {0};

    if (!s->staged || s->agent == NULL)
        return;
    if (kf_agent_withdraw(s->agent, run->kvno, NULL, &err) != KF_OK)
        kf_srv_fail(s->res, "krbfleet sync", "withdrawing kvno %u: %s", run->kvno, err.msg);
}

void
kf_fleet_verify(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
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
    if ((run->probes != NULL
             ? kf_probe_login_cached(run->probes, s->probe_url, s->res->address, run->o->probe_ca,
                                     run->o->timeout_s, &pr, &err)
             : kf_probe_login(s->probe_url, s->res->address, run->realm, run->kdc, run->o->probe_ca,
                              run->o->timeout_s, &pr, &err)) != KF_OK) {
        kf_srv_fail(s->res, NULL, "login to %s could not be tried: %s", s->probe_url, err.msg);
        return;
    }
    free(s->res->login);
    s->res->login = strdup(pr.detail);
    if (!kf_probe_ok(&pr) || pr.ticket_kvno != (int)run->kvno)
        kf_srv_fail(s->res, NULL, "a real login to %s via %s failed: %s", s->probe_url,
                    s->res->address ? s->res->address : s->res->server, pr.detail);
    else
        s->res->state = KF_SERVER_OK;
    pthread_mutex_lock(&run->lock);
    run->events++;
    kf_fault("verify", run->events);
    pthread_mutex_unlock(&run->lock);
}

static bool
is_managed(const struct kf_fleet *run, const struct kf_keyset *ks, size_t k)
{
    return kf_strv_contains_ci(run->want, run->n_want, ks->v[k].principal);
}

/* Remove the account's entries below RUN->kvno. PRUNE removes every entry
 * below it, so when other principals' entries are there too, the
 * account's go one kvno at a time (kf_srv_put_managed) and theirs stay. */
void
kf_fleet_prune(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
    const struct kf_keyset *ks = s->status ? s->status->entries : NULL;
    struct kf_err err = {0};
    bool foreign = false;

    if (!s->staged || run->kvno == 0)
        return;
    for (size_t k = 0; run->want != NULL && ks != NULL && k < ks->n; k++)
        foreign = foreign || (ks->v[k].kvno < run->kvno && !is_managed(run, ks, k));
    if (!foreign) {
        if (kf_agent_prune(s->agent, run->kvno, &s->res->pruned, &err) != KF_OK)
            kf_progress_warn(&run->o->progress, "pruning %s: %s", s->res->server, err.msg);
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
        if (kf_srv_put_managed(s, v, NULL, run->want, run->n_want, &err) != KF_OK) {
            kf_progress_warn(&run->o->progress, "pruning %s: %s", s->res->server, err.msg);
            return;
        }
        s->res->pruned += n;
    }
}

static bool
is_retired(const struct kf_fleet *run, const struct kf_keyset *ks, size_t k)
{
    for (size_t e = 0; e < run->n_retired; e++)
        if (ks->v[k].enctype == run->retired[e])
            return is_managed(run, ks, k);
    return false;
}

/* Remove the account's entries of the retired enctypes at every kvno,
 * leaving every other entry as it is: each kvno that has some is staged
 * again without them (withdrawn when nothing is left). */
void
kf_fleet_prune_retired(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
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

void
kf_fleet_phase(struct kf_fleet *run, const char *phase, void (*fn)(size_t, void *))
{
    run->phase = phase;
    run->events = 0;
    kf_parallel_for(run->n, run->o->concurrency, fn, run, progress);
}

void
kf_fleet_verify_all(struct kf_fleet *run)
{
    struct kf_err err = {0};

    /* Without the cache (no TGT?) every login asks for its own ticket and
     * reports why it cannot. */
    if (kf_probe_cache_new(run->realm, run->kdc, &run->probes, &err) != KF_OK)
        run->probes = NULL;
    kf_fleet_phase(run, "verify", kf_fleet_verify);
    run->verify_tickets = kf_probe_cache_requests(run->probes);
    kf_probe_cache_free(run->probes);
    run->probes = NULL;
}

/* ---- planning ---------------------------------------------------------- */

void
kf_fleet_srvs_free(struct kf_srv *srv, size_t n)
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
kf_status
kf_fleet_plan(const struct kf_topology *topo, const struct kf_account *acct, int default_port,
              const char *const *only, size_t n_only, struct kf_rotate_result *res,
              struct kf_srv **out, struct kf_err *err)
{
    struct kf_srv *srv = NULL;
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
                    struct kf_srv *bigger = realloc(srv, (n + 1) * sizeof(*bigger));
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
    kf_fleet_srvs_free(srv, n);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}
bool
kf_fleet_has_spn(const struct kf_dir_account *d, const char *host)
{
    char spn[KF_FQDN_MAX + 8];

    snprintf(spn, sizeof(spn), "HTTP/%s", host);
    for (size_t i = 0; i < d->n_spns; i++)
        if (strcasecmp(d->spns[i], spn) == 0)
            return true;
    return false;
}
/* ---- the run's outcome --------------------------------------------------- */

size_t
kf_fleet_unreachable(struct kf_fleet *run, bool force)
{
    size_t bad = 0;

    for (size_t i = 0; i < run->n; i++)
        if (!run->srv[i].usable) {
            bad++;
            if (force)
                run->srv[i].res->state = KF_SERVER_SKIPPED;
        }
    return bad;
}

void
kf_fleet_first_failure(const struct kf_fleet *run, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < run->n; i++)
        if (run->srv[i].res->error != NULL) {
            snprintf(out, size, "%s", run->srv[i].res->error);
            return;
        }
}

/* Make the managed entries of S's keytab at KVNO exactly MANAGED (NULL or
 * empty: none), leaving the entries of other principals there as they are.
 * STAGE replaces a kvno's whole set and WITHDRAW removes it, so when S
 * holds foreign entries at KVNO they are read back (EXPORT) and staged
 * again with MANAGED. Errors: those of the agent calls. */
kf_status
kf_srv_put_managed(struct kf_srv *s, uint32_t kvno, const struct kf_keyset *managed,
                   char *const *want, size_t n_want, struct kf_err *err)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *mine = NULL, *set = NULL;
    kf_status rc;

    if (!kf_syncplan_has_foreign(s->status ? s->status->entries : NULL, kvno, want, n_want))
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
void
kf_srv_action(struct kf_server_result *r, const char *fmt, ...)
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

void
kf_fleet_commit(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_srv *s = &run->srv[i];
    struct kf_err err = {0};
    char fix[160];

    if (!s->commit || s->agent == NULL || !kf_agent_has_commit(s->agent))
        return;
    if (kf_agent_commit(s->agent, run->account, run->kvno, run->grace_s, "", run->want,
                        run->n_want, run->servers, run->n_servers, NULL, &err) != KF_OK) {
        snprintf(fix, sizeof(fix), "krbfleet sync --account %.*s",
                 (int)strcspn(run->account, "$"), run->account);
        kf_srv_fail(s->res, fix, "marking kvno %u committed: %s", run->kvno, err.msg);
    }
}
