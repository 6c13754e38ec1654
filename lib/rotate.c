/* rotate.c - Set-CsKerberosAccountPassword, safely (rotate.h): a
 * rotation is its phases in the order they run, plan, stage, commit,
 * verify, prune, each over the run's servers (fleetrun.h). */
#include "rotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enable.h"
#include "fault.h"
#include "keys.h"
#include "mem.h"
#include "password.h"
#include "permission.h"
#include "rotctx.h"
#include "strv.h"

#define PASSWORD_LEN 120

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
record(struct kf_rotctx *c, uint32_t kvno)
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

/* The commit's outcome is unknown: every server that has the new keys
 * staged says so, and names the repair. */
static void
pending(struct kf_rotctx *c, uint32_t kvno, bool written)
{
    char fix[128];

    snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
    for (size_t i = 0; i < c->run.n; i++)
        if (c->run.srv[i].staged)
            kf_srv_fail(&c->res->servers[i], fix,
                        "has the new keys staged (kvno %u) beside its current ones; %s", kvno,
                        written ? "the password was changed, its kvno not read back"
                                : "not known to be committed");
}

/* Point every failed server at the command that repairs it. */
static void
suggest_fixes(struct kf_rotctx *c)
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
            snprintf(fix, sizeof(fix), "krbfleet password set --from %s --to %s", good, r->server);
        else
            snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
        r->fix = strdup(fix);
    }
}

/* One rotation: what its phases hand on to the next. */
struct rotation {
    struct kf_rotctx c;
    char *password;         /* the new one, until the commit (wiped) */
    struct kf_keyset *keys; /* derived from it for every managed principal */
    char **spns;            /* the SPNs the topology implies */
    size_t n_spns;
    uint32_t predicted, actual;   /* kvno + 1; the kvno the directory reports after */
    struct kf_dir_account *after; /* the account read back after the commit */
    bool finished;                /* a dry run, or a refusal the phases end at */
    char first[1024];             /* the first server's error, for messages */
};

/* 1. Plan: refuse to start unless every agent answers and allows us. */
static kf_status
rotate_plan(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;
    const struct kf_rotate_opts *o = c->o;
    size_t bad;

    if (rc != KF_OK)
        return rc;
    bad = kf_fleet_unreachable(&c->run, o->force);
    if (o->dry_run) {
        for (size_t i = 0; i < c->run.n; i++)
            if (c->run.srv[i].usable)
                c->res->servers[i].state = KF_SERVER_PLANNED;
        c->res->new_kvno = c->dacct->kvno + 1;
    }
    if (bad > 0 && !o->force) {
        kf_fleet_first_failure(&c->run, rt->first, sizeof(rt->first));
        return kf_err_set(err, KF_ERR_AGENT,
                          "%s%zu of %zu web servers cannot be reached or refuse us%s; nothing "
                          "was changed. First: %s. Fix them, or add --force to rotate the others "
                          "(the skipped ones are listed for `krbfleet password set --from ... "
                          "--to ...` afterwards)",
                          o->dry_run ? "dry run: " : "", bad, c->run.n,
                          o->dry_run ? ", so `password set` would refuse to start" : "", rt->first);
    }
    if (o->dry_run) {
        rt->finished = true;
        return bad > 0 ? kf_err_set(err, KF_ERR_AGENT,
                                    "dry run: %zu of %zu web servers cannot be reached or refuse "
                                    "us and would be skipped; nothing was changed",
                                    bad, c->run.n)
                       : KF_OK;
    }
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "plan",
                      "%zu servers (%zu skipped), kvno %d, DC %s", c->run.n, bad, c->dacct->kvno,
                      c->res->dc);
    return KF_OK;
}

/* Record in the store which servers hold kvno KVNO as STATE (NULL: none). */
static void
record_staged(struct kf_rotctx *c, uint32_t kvno, const char *state, bool all)
{
    bool tx = batch_begin(c->st);

    for (size_t i = 0; i < c->run.n; i++)
        if (all || c->run.srv[i].staged)
            kf_store_server_key_set(c->st, c->res->servers[i].server, c->acct->name, (int)kvno,
                                    state, NULL);
    batch_end(c->st, tx);
}

/* 2. Stage a new key set at kvno + 1 alongside the current keys; when a
 * server that was not skipped failed, withdraw it everywhere and stop. */
static kf_status
rotate_stage(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;
    size_t bad = 0, staged = 0;

    if (rc != KF_OK || rt->finished)
        return rc;
    rt->predicted = (uint32_t)(c->dacct->kvno + 1);
    if (kf_password_new(PASSWORD_LEN, &rt->password) != KF_OK)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot make a random password");
    if ((rc = kf_implied_spns(c->topo, c->acct, &rt->spns, &rt->n_spns, err)) != KF_OK ||
        (rc = kf_keys_derive(c->run.realm, c->run.kdc, c->acct->name, rt->password,
                             kf_rotctx_staged_types(c), (const char *const *)rt->spns, rt->n_spns,
                             rt->predicted, &rt->keys, err)) != KF_OK)
        return rc;
    c->run.keys = rt->keys;
    c->run.kvno = rt->predicted;
    kf_fleet_phase(&c->run, "stage", kf_fleet_stage);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "staged", "kvno %u", rt->predicted);
    record_staged(c, rt->predicted, "staged", false);
    for (size_t i = 0; i < c->run.n; i++)
        if (!c->run.srv[i].staged && c->res->servers[i].state != KF_SERVER_SKIPPED)
            bad++;
    if (bad > 0 && !c->o->force) {
        kf_fleet_first_failure(&c->run, rt->first, sizeof(rt->first));
        kf_fleet_phase(&c->run, "withdraw", kf_fleet_withdraw);
        record_staged(c, rt->predicted, NULL, true);
        return kf_err_set(err, KF_ERR_AGENT,
                          "staging failed on %zu web server(s); the staged keys were withdrawn "
                          "and the directory was not touched. First: %s",
                          bad, rt->first);
    }
    for (size_t i = 0; i < c->run.n; i++)
        if (!c->run.srv[i].staged && c->res->servers[i].state == KF_SERVER_FAILED)
            c->res->servers[i].state = KF_SERVER_SKIPPED;
    /* Nothing may be lost: the directory changes only while at least one
     * server holds the new keys (--force may have skipped the others). */
    for (size_t i = 0; i < c->run.n; i++)
        staged += c->run.srv[i].staged;
    if (staged == 0) {
        kf_fleet_first_failure(&c->run, rt->first, sizeof(rt->first));
        return kf_err_set(err, KF_ERR_AGENT,
                          "no web server took the new keys, so the directory was not touched%s%s",
                          rt->first[0] ? ". First: " : "", rt->first);
    }
    return KF_OK;
}

/* The password write failed with RC: find out whether it landed. KF_OK
 * when it did (carry on), else the error to end the run with. */
static kf_status
commit_failed(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;
    struct kf_err e2 = {0};
    /* Only a refusal proves the write will never land; after a timeout or
     * a lost connection it may still, so the staged keys (harmless beside
     * the current ones) must stay. */
    bool refused = rc == KF_ERR_PERMISSION || rc == KF_ERR_CONFLICT || rc == KF_ERR_INVALID ||
                   rc == KF_ERR_NOT_FOUND;

    if (kf_dir_account_get(c->dir, c->acct->name, &rt->after, &e2) == KF_OK &&
        rt->after->kvno == c->dacct->kvno) {
        if (refused) {
            kf_fleet_phase(&c->run, "withdraw", kf_fleet_withdraw);
            kf_err_prefix(err, "setting the password in the directory failed, nothing "
                               "changed there (staged keys withdrawn)");
            return rc;
        }
        pending(c, rt->predicted, false);
        kf_err_prefix(err,
                      "setting the password in the directory failed; %s still reports kvno "
                      "%d, but the write may yet be applied. The new keys (kvno %u) stay "
                      "staged beside the current ones, so logins keep working: run "
                      "`krbfleet sync --account %s` (or `password set` again) once %s "
                      "answers",
                      c->res->dc, rt->after->kvno, rt->predicted, c->acct->name, c->res->dc);
        return rc;
    }
    if (rt->after == NULL) {
        pending(c, rt->predicted, false);
        kf_err_prefix(err,
                      "setting the password in the directory failed and whether it changed "
                      "is unknown. The new keys (kvno %u) stay staged beside the current "
                      "ones, so logins keep working: run `krbfleet sync --account %s` once "
                      "%s answers",
                      rt->predicted, c->acct->name, c->res->dc);
        return rc;
    }
    kf_err_clear(err); /* it did change: carry on */
    return KF_OK;
}

/* 3. Commit in the directory, over the same connection; read the kvno
 * back; restamp the staged keys if the directory chose another. */
static kf_status
rotate_commit(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;

    if (rc != KF_OK || rt->finished)
        return rc;
    kf_pause_at("before-commit");
    rc = kf_dir_set_password(c->dir, c->acct->name, rt->password, err);
    kf_free_secret_str(rt->password);
    rt->password = NULL;
    if (rc != KF_OK && (rc = commit_failed(rt, rc, err)) != KF_OK)
        return rc;
    c->res->directory_changed = true;
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "written", "password set on %s",
                      c->res->dc);
    kf_fault("commit", 1);
    kf_pause_at("after-commit");
    if (rt->after == NULL &&
        (rc = kf_dir_account_get(c->dir, c->acct->name, &rt->after, err)) != KF_OK) {
        pending(c, rt->predicted, true);
        kf_err_prefix(err,
                      "the password was changed but its kvno could not be read back; the new "
                      "keys are staged, so logins keep working: run `krbfleet sync --account "
                      "%s` once %s answers",
                      c->acct->name, c->res->dc);
        return rc;
    }
    rt->actual = (uint32_t)rt->after->kvno;
    c->res->new_kvno = (int)rt->actual;
    kf_store_kvno_committed(c->st, c->acct->name, (int)rt->actual, (int64_t)time(NULL), NULL);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "committed", "kvno %u (predicted %u)",
                      rt->actual, rt->predicted);
    if (rt->actual != rt->predicted) {
        /* Restamp: the same keys under the real kvno, then drop the guess. */
        c->run.kvno = rt->actual;
        kf_fleet_phase(&c->run, "restamp", kf_fleet_stage);
        c->run.kvno = rt->predicted;
        kf_fleet_phase(&c->run, "withdraw", kf_fleet_withdraw);
        kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "restamped", "kvno %u -> %u",
                          rt->predicted, rt->actual);
    }
    return KF_OK;
}

/* 4. Verify with a real login on every server; record who holds what. */
static kf_status
rotate_verify(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;

    (void)err;
    if (rc != KF_OK || rt->finished)
        return rc;
    for (size_t i = 0; i < c->run.n; i++)
        c->res->servers[i].published = kf_fleet_has_spn(rt->after, c->run.srv[i].probe_host);
    c->run.kvno = rt->actual;
    kf_fleet_verify_all(&c->run);
    record(c, rt->actual);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "verified", "kvno %u", rt->actual);
    /* 4'. The directory uses K': tell every staged server that passed its
     * login (issue 11); one that failed keeps its login's error, and sync
     * commits it once it is repaired, as sync does for every server. */
    for (size_t i = 0; i < c->run.n; i++)
        c->run.srv[i].commit =
            c->run.srv[i].staged && c->res->servers[i].state == KF_SERVER_OK;
    kf_rotctx_mark_committed(c, rt->actual);
    return KF_OK;
}

/* 5. Prune the account's kvnos whose successor was committed longer than
 * grace ago (never the current one), then the enctypes `account set`
 * retired; a failure is a warning. */
static kf_status
rotate_prune(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;
    char **implied = NULL, **want = NULL;
    size_t n_implied = 0, n_want = 0;
    int below = -1;
    struct kf_err e2 = {0};

    (void)err;
    if (rc != KF_OK || rt->finished)
        return rc;
    kf_store_kvno_prunable(c->st, c->acct->name, (int64_t)time(NULL) - c->o->grace_s, &below, NULL);
    if (below > (int)rt->actual)
        below = -1; /* a stale record (account re-created?): never prune current keys */
    c->run.kvno = below > 0 ? (uint32_t)below : 0;
    if (below > 0 && kf_rotctx_managed(c, &implied, &n_implied, &want, &n_want, &e2) == KF_OK) {
        c->run.want = want;
        c->run.n_want = n_want;
        kf_fleet_phase(&c->run, "prune", kf_fleet_prune);
        c->run.want = NULL;
        c->run.n_want = 0;
    }
    kf_strv_free(implied, n_implied);
    kf_strv_free(want, n_want);
    kf_rotctx_prune_retired(c, kf_rotctx_staged_types(c));
    return KF_OK;
}

/* The outcome: repairs for the failed servers, the audit and journal
 * lines, and the error when a server is not healthy. */
static kf_status
rotate_report(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;
    char detail[160];
    size_t bad = 0;

    if (rc != KF_OK || rt->finished)
        return rc;
    suggest_fixes(c);
    for (size_t i = 0; i < c->run.n; i++)
        if (c->res->servers[i].state != KF_SERVER_OK)
            bad++;
    snprintf(detail, sizeof(detail), "kvno %d -> %u; %zu of %zu servers healthy", c->res->old_kvno,
             rt->actual, c->run.n - bad, c->run.n);
    kf_store_audit(c->st, "password", detail, NULL);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "done", "%s", detail);
    return bad == 0 ? KF_OK
                    : kf_err_set(err, KF_ERR_AGENT,
                                 "%zu of %zu web servers are not healthy after the rotation; "
                                 "the table says which and how to repair each",
                                 bad, c->run.n);
}

/* Before any key is staged: the ticket may reset the password, so a
 * refusal leaves the servers, the store and the directory as they were. */
static kf_status
rotate_may(struct rotation *rt, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &rt->c;

    if (rc != KF_OK)
        return rc;
    rc = kf_perm_require(c->dir, c->dacct->dn, KF_PERM_NEED_RESET, err);
    if (rc != KF_OK && c->o->dry_run)
        kf_err_prefix(err, "dry run: nothing was changed, and this would be refused");
    return rc;
}

kf_status
kf_rotate(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *o,
          struct kf_rotate_result **result, struct kf_err *err)
{
    struct rotation rt = {.c = {.st = st, .dir = dir, .o = o}};
    struct kf_rotctx *c = &rt.c;
    kf_status rc;

    *result = NULL;
    rc = kf_rotctx_begin(c, NULL, 0, err);
    rc = rotate_may(&rt, rc, err);
    rc = rotate_plan(&rt, rc, err);
    rc = rotate_stage(&rt, rc, err);
    rc = rotate_commit(&rt, rc, err);
    rc = rotate_verify(&rt, rc, err);
    rc = rotate_prune(&rt, rc, err);
    rc = rotate_report(&rt, rc, err);

    if (rc != KF_OK)
        kf_rotctx_blame_ticket(o->account, err);
    if (rc != KF_OK && c->res != NULL && c->run.srv != NULL && c->res->directory_changed)
        suggest_fixes(c);
    kf_free_secret_str(rt.password);
    kf_keyset_free(rt.keys);
    kf_strv_free(rt.spns, rt.n_spns);
    kf_dir_account_free(rt.after);
    kf_rotctx_end(c);
    *result = c->res;
    return rc;
}
