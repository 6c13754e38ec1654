/* rotctx.c - the start and end every mode of the rotation engine shares
 * (rotctx.h), and the words of its results (rotate.h). */
#include "rotctx.h"

#include <krb5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "agentstate.h"
#include "eligibility.h"
#include "enable.h"
#include "mem.h"
#include "names.h"
#include "proc.h"
#include "strv.h"

const char *
kf_server_state_name(enum kf_server_state s)
{
    switch (s) {
    case KF_SERVER_OK:
        return "OK";
    case KF_SERVER_SKIPPED:
        return "SKIPPED";
    case KF_SERVER_FAILED:
        return "FAILED";
    case KF_SERVER_PLANNED:
        return "READY";
    case KF_SERVER_NOT_STARTED:
        return "NOT STARTED";
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

void
kf_rotctx_journal(struct kf_store *st, const char *run_id, const char *account, const char *step,
                  const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    kf_store_journal(st, run_id, account, step, detail, NULL);
}

/* Only an account that may carry web keys gets them (eligibility.h),
 * refused before anything is written; sync goes on to withdraw them. */
static kf_status
check_eligible(struct kf_rotctx *c, struct kf_err *err)
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

kf_status
kf_rotctx_begin(struct kf_rotctx *c, const char *const *only, size_t n_only, struct kf_err *err)
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
    if ((rc = kf_fleet_plan(c->topo, c->acct, c->o->agent_port, only, n_only, c->res, &c->run.srv,
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
        c->res->servers[i].published = kf_fleet_has_spn(c->dacct, c->run.srv[i].probe_host);
    raise_fd_limit(c->run.n);
    kf_fleet_phase(&c->run, "connect", kf_fleet_connect);
    return KF_OK;
}

unsigned
kf_rotctx_staged_types(const struct kf_rotctx *c)
{
    if (c->o->enctypes != 0)
        return c->o->enctypes;
    return c->dacct != NULL && c->dacct->enctypes != 0 ? c->dacct->enctypes : c->acct->enctypes;
}

void
kf_rotctx_prune_retired(struct kf_rotctx *c, unsigned current)
{
    char **implied = NULL, **want = NULL;
    size_t n_implied = 0, n_want = 0;
    unsigned bits = 0;
    struct kf_err e2 = {0};

    if (kf_store_enctypes_retired(c->st, c->acct->name, (int64_t)time(NULL) - c->o->grace_s, &bits,
                                  NULL) != KF_OK)
        return;
    /* announced again (the attribute set outside krbfleet): never pruned */
    if ((bits & current) != 0)
        kf_store_enctypes_forget(c->st, c->acct->name, bits & current, NULL);
    if ((bits &= ~current) == 0 ||
        kf_rotctx_managed(c, &implied, &n_implied, &want, &n_want, &e2) != KF_OK) {
        kf_strv_free(implied, n_implied);
        kf_strv_free(want, n_want);
        return;
    }
    c->run.n_retired = kf_enctypes_krb5(bits, c->run.retired);
    c->run.want = want;
    c->run.n_want = n_want;
    c->run.unpruned = 0;
    kf_fleet_phase(&c->run, "prune", kf_fleet_prune_retired);
    if (c->run.unpruned == 0)
        kf_store_enctypes_forget(c->st, c->acct->name, bits, NULL);
    c->run.want = NULL;
    c->run.n_want = 0;
    c->run.n_retired = 0;
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
}

void
kf_rotctx_end(struct kf_rotctx *c)
{
    if (c->locked)
        kf_store_lock_release(c->st, c->acct->name, (long)getpid(), NULL);
    if (c->run.srv != NULL)
        pthread_mutex_destroy(&c->run.lock);
    kf_fleet_srvs_free(c->run.srv, c->run.n);
    kf_dir_account_free(c->dacct);
    kf_topology_free(c->topo);
    kf_account_free(c->acct);
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
void
kf_rotctx_blame_ticket(const char *account, struct kf_err *err)
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

/* The account's managed principals: in *IMPLIED the SPNs the topology
 * implies ("HTTP/web.example.com"), in *WANT each of them with the realm
 * and NAME$@REALM, the principals a rotation stages. The caller frees both
 * (kf_strv_free). */
kf_status
kf_rotctx_managed(const struct kf_rotctx *c, char ***implied, size_t *n_implied, char ***want,
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

/* ---- the lock alone, for other changes that must not interleave -------- */

kf_status
kf_rotate_lock(struct kf_store *st, const char *account, const char *user, bool *elsewhere,
               struct kf_err *err)
{
    char host[256] = "";
    kf_status rc;

    *elsewhere = false;
    gethostname(host, sizeof(host) - 1);
    struct kf_lock_holder me = {
        .user = user ? user : "unknown", .host = host, .pid = (long)getpid()};
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

void
kf_rotctx_mark_committed(struct kf_rotctx *c, uint32_t kvno)
{
    char account[KF_ACCOUNT_NAME_MAX + KF_FQDN_MAX + 8];
    char **servers = NULL, **implied = NULL, **want = NULL;
    size_t n_servers = 0, n_implied = 0, n_want = 0;
    struct kf_err e2 = {0};
    int r = 0;

    if (kf_rotctx_managed(c, &implied, &n_implied, &want, &n_want, &e2) != KF_OK)
        r = -1;
    for (size_t i = 0; r == 0 && i < c->run.n; i++) {
        const struct kf_server_result *x = &c->res->servers[i];
        r = x->port == 0 || x->port == c->o->agent_port
                ? kf_strv_push(&servers, &n_servers, x->server)
                : kf_strv_pushf(&servers, &n_servers, "%s:%d", x->server, x->port);
    }
    snprintf(account, sizeof(account), "%s$@%s", c->acct->name, c->run.realm);
    if (r == 0 && n_want > 0) {
        c->run.account = account;
        c->run.servers = servers;
        c->run.n_servers = n_servers;
        c->run.grace_s = c->o->grace_s < 0 ? 0
                         : c->o->grace_s > (long long)KF_AGENTSTATE_GRACE_MAX
                             ? KF_AGENTSTATE_GRACE_MAX
                             : (uint32_t)c->o->grace_s;
        c->run.kvno = kvno;
        c->run.want = want;
        c->run.n_want = n_want;
        kf_fleet_phase(&c->run, "commit", kf_fleet_commit);
        c->run.account = NULL;
        c->run.servers = NULL;
        c->run.n_servers = 0;
        c->run.want = NULL;
        c->run.n_want = 0;
    }
    kf_strv_free(servers, n_servers);
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
}
