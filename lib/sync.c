/* sync.c - `krbfleet sync` (kf_sync in rotate.h): per account, its
 * phases in the order they run: find the source, decide, converge,
 * record. The decisions are syncplan.h's. */
#include "rotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enable.h"
#include "keys.h"
#include "mem.h"
#include "rotctx.h"
#include "strv.h"

void
kf_sync_check_one(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_synccheck *sy = run->extra;
    struct kf_srv *s = &run->srv[i];
    struct kf_syncsrv *x = &sy->s[i];
    struct kf_keytab_check chk;
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (kf_agent_check(s->agent, sy->principal, sy->token, sy->token_len, &chk, &err) != KF_OK) {
        kf_srv_fail(s->res, NULL, "checking its keys: %s", err.msg);
        s->usable = false;
        return;
    }
    x->checked = true;
    x->accepted = chk.accepted;
    x->label = chk.kvno;
    kf_keytab_check_done(&chk);
}

/* Stage the target where needed, withdraw what must go, check again. */
static void
do_converge(size_t i, void *vctx)
{
    struct kf_fleet *run = vctx;
    struct kf_synccheck *sy = run->extra;
    struct kf_srv *s = &run->srv[i];
    struct kf_syncsrv *x = &sy->s[i];
    struct kf_keytab_check chk;
    struct kf_err err = {0};

    if (!s->usable)
        return;
    if (x->stage) {
        if (kf_srv_put_managed(s, sy->kvno, sy->target, sy->want, sy->n_want, &err) != KF_OK) {
            kf_srv_fail(s->res, NULL, "staging kvno %u: %s", sy->kvno, err.msg);
            return;
        }
        if (!x->accepted)
            kf_srv_action(s->res, "given kvno %u (it held no key the directory uses)", sy->kvno);
        else if (x->label != sy->kvno)
            kf_srv_action(s->res, "restamped: the keys of kvno %u were labelled %u", sy->kvno,
                          x->label);
        else
            kf_srv_action(s->res, "kvno %u completed (entries were missing)", sy->kvno);
    }
    for (size_t k = 0; k < x->n_drop; k++) {
        if (kf_srv_put_managed(s, x->drop[k], NULL, sy->want, sy->n_want, &err) != KF_OK) {
            kf_srv_fail(s->res, NULL, "withdrawing kvno %u: %s", x->drop[k], err.msg);
            return;
        }
        kf_srv_action(s->res, "withdrew kvno %u (%s)", x->drop[k],
                      x->drop[k] > sy->kvno ? "staged, never committed" : "a wrong label");
    }
    if (!x->stage && x->n_drop == 0)
        kf_srv_action(s->res, "had kvno %u", sy->kvno);
    if (kf_agent_check(s->agent, sy->principal, sy->token, sy->token_len, &chk, &err) != KF_OK) {
        kf_srv_fail(s->res, NULL, "checking its keys again: %s", err.msg);
        return;
    }
    if (!chk.accepted || chk.kvno != sy->kvno)
        kf_srv_fail(s->res, NULL,
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
    struct kf_fleet *run = vctx;
    struct gone *g = run->extra;
    struct kf_srv *s = &run->srv[i];
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
        if (kf_srv_put_managed(s, ks->v[k].kvno, NULL, g->names, g->n_names, &err) != KF_OK) {
            kf_srv_fail(s->res, NULL, "withdrawing kvno %u: %s", ks->v[k].kvno, err.msg);
            return;
        }
        kf_srv_action(s->res, "withdrew kvno %u", ks->v[k].kvno);
        n++;
    }
    g->done[i] = true;
    kf_srv_fail(s->res, NULL, "%s",
                n ? "the account may not carry web keys: its keys were withdrawn"
                  : "the account may not carry web keys: it held none of them");
}

/* Sync of an account that may not carry web keys (C->refused says why):
 * withdraw every kvno of its principals from every keytab reached. */
static kf_status
withdraw_account(struct kf_rotctx *c, struct kf_err *err)
{
    struct gone g = {0};
    size_t done = 0;
    kf_status rc = KF_OK;
    char detail[200];

    g.done = calloc(c->run.n ? c->run.n : 1, sizeof(*g.done));
    if (g.done == NULL ||
        kf_strv_pushf(&g.names, &g.n_names, "%s$@%s", c->acct->name, c->run.realm) != 0) {
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
    kf_fleet_phase(&c->run, "withdraw", do_withdraw_account);
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
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "sync-withdrawn", "%s", detail);
    *err = c->refused;
    kf_err_prefix(err, "its keys were withdrawn from %zu of %zu web servers%s", done, c->run.n,
                  done < c->run.n ? " (run sync again once the others answer)" : "");
    rc = KF_ERR_CONFLICT;
out:
    kf_strv_free(g.names, g.n_names);
    free(g.done);
    return rc;
}

/* One account's sync: what its phases hand on to the next. */
struct syncing {
    struct kf_rotctx c;
    struct kf_sync_account *out;
    struct kf_synccheck sy;
    struct kf_keyset *exported, *target;
    char **implied, **want; /* the account's SPNs the topology implies; managed principals */
    size_t n_implied, n_want;
    uint8_t *token;
    size_t token_len;
    uint32_t d; /* the directory's kvno */
    size_t src; /* the server whose keys are copied */
    char fix[160];
};

/* Read D, the directory's kvno; refuse when the store saw a later one
 * committed (this DC is behind). */
static kf_status
sync_directory_kvno(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;
    int recorded = -1;

    if (rc != KF_OK)
        return rc;
    if (c->dacct->kvno < 1)
        return kf_err_set(err, KF_ERR_DIRECTORY, "%s does not say which kvno account %s has",
                          c->res->dc, c->acct->name);
    sg->d = (uint32_t)c->dacct->kvno;
    c->res->new_kvno = c->dacct->kvno;
    kf_store_kvno_prunable(c->st, c->acct->name, INT64_MAX, &recorded, NULL);
    if (recorded > (int)sg->d)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "the store recorded kvno %d of account %s as committed, but %s reports "
                          "kvno %u: that DC may not have replicated the change yet, so nothing "
                          "was changed; run sync against the DC the rotation used ([directory] "
                          "server) or wait for replication. If the account was re-created in "
                          "the directory, run `krbfleet password set --account %s`",
                          recorded, c->acct->name, c->res->dc, sg->d, c->acct->name);
    return KF_OK;
}

/* A fresh ticket from the directory's DC (never one cached earlier) for
 * the account's principal to check keys with. */
static kf_status
sync_ticket(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;
    uint32_t ticket_kvno = 0;

    if (rc != KF_OK)
        return rc;
    if ((rc = kf_rotctx_managed(c, &sg->implied, &sg->n_implied, &sg->want, &sg->n_want, err)) !=
        KF_OK)
        return rc;
    sg->out->principal = kf_syncplan_principal(c->dacct->spns, c->dacct->n_spns, sg->implied,
                                               sg->n_implied, c->acct->name, c->run.realm);
    if (sg->out->principal == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = kf_agent_ticket_token(sg->out->principal, c->run.kdc, &sg->token, &sg->token_len,
                                    &ticket_kvno, err)) != KF_OK)
        return rc;
    if (ticket_kvno != sg->d)
        kf_progress_warn(&c->o->progress,
                         "%s issued a ticket of kvno %u for %s, but its directory says %u; "
                         "following the directory",
                         c->res->dc, ticket_kvno, sg->out->principal, sg->d);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "sync",
                      "kvno %u on %s; checking with %s", sg->d, c->res->dc, sg->out->principal);
    return KF_OK;
}

/* No reachable server holds a key that accepts the ticket: the keys are
 * lost, and new ones are the repair. */
static kf_status
sync_lost(struct syncing *sg, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;
    size_t asked = 0;

    for (size_t i = 0; i < c->run.n; i++) {
        asked += sg->sy.s[i].checked;
        if (sg->sy.s[i].checked)
            kf_srv_fail(&c->res->servers[i], NULL,
                        "holds no key that accepts a fresh ticket for %s (kvno %u)",
                        sg->out->principal, sg->d);
    }
    for (size_t i = 0; i < c->run.n; i++) {
        free(c->res->servers[i].fix);
        c->res->servers[i].fix = NULL;
    }
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "sync-lost",
                      "kvno %u: no key on %zu of %zu servers", sg->d, asked, c->run.n);
    snprintf(sg->fix, sizeof(sg->fix), "krbfleet password set --account %s", c->acct->name);
    return kf_err_set(err, KF_ERR_NOT_FOUND,
                      "no web server holds the keys of account %s that the directory uses "
                      "(kvno %u on %s): %zu of %zu servers were asked and none accepts a fresh "
                      "ticket for %s%s. The keys are lost; run `krbfleet password set "
                      "--account %s` to make new ones (logins with tickets of kvno %u fail "
                      "until then)",
                      c->acct->name, sg->d, c->res->dc, asked, c->run.n, sg->out->principal,
                      asked < c->run.n ? " (the others could not be reached: they may hold "
                                         "them; start their agents and run sync again)"
                                       : "",
                      c->acct->name, sg->d);
}

/* 1. Find the source: which server holds a key that really accepts the
 * directory's ticket? Take its set (EXPORT), completed: the target. */
static kf_status
sync_find_source(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;

    if (rc != KF_OK)
        return rc;
    sg->sy.s = calloc(c->run.n, sizeof(*sg->sy.s));
    if (sg->sy.s == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    sg->sy.principal = sg->out->principal;
    sg->sy.token = sg->token;
    sg->sy.token_len = sg->token_len;
    sg->sy.kvno = sg->d;
    sg->sy.want = sg->want;
    sg->sy.n_want = sg->n_want;
    c->run.extra = &sg->sy;
    kf_fleet_phase(&c->run, "check", kf_sync_check_one);
    sg->src = kf_syncplan_source(sg->sy.s, c->run.n, sg->d);
    if (sg->src == SIZE_MAX)
        return sync_lost(sg, err);
    sg->out->source = strdup(c->res->servers[sg->src].server);
    if ((rc = kf_agent_export(c->run.srv[sg->src].agent, &sg->exported, err)) != KF_OK ||
        (rc = kf_syncplan_target(sg->exported, sg->sy.s[sg->src].label, sg->want, sg->n_want,
                                 &sg->target, err)) != KF_OK) {
        kf_err_prefix(err, "taking the keys from %s", c->res->servers[sg->src].server);
        return rc;
    }
    sg->sy.target = sg->target;
    return KF_OK;
}

/* 2. Decide, for every reachable server, what to stage and withdraw. */
static kf_status
sync_decide(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;

    if (rc != KF_OK)
        return rc;
    for (size_t i = 0; i < c->run.n; i++) {
        const struct kf_agent_status *st = c->run.srv[i].status;
        if (c->run.srv[i].usable &&
            (rc = kf_syncplan_decide(st ? st->entries : NULL, sg->d, sg->target, sg->want,
                                     sg->n_want, &sg->sy.s[i], err)) != KF_OK)
            return rc;
    }
    return KF_OK;
}

/* 3. Converge every reachable server, then log in where published. */
static kf_status
sync_converge(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;

    (void)err;
    if (rc != KF_OK)
        return rc;
    kf_fleet_phase(&c->run, "converge", do_converge);
    for (size_t i = 0; i < c->run.n; i++)
        c->res->servers[i].published = kf_fleet_has_spn(c->dacct, c->run.srv[i].probe_host);
    c->run.kvno = sg->d;
    kf_fleet_verify_all(&c->run);
    /* D is the directory's: say so where it is whole (this also repairs a
     * rotation that died between its directory write and its COMMIT) */
    for (size_t i = 0; i < c->run.n; i++)
        c->run.srv[i].commit = c->res->servers[i].state == KF_SERVER_OK;
    kf_rotctx_mark_committed(c, sg->d);
    return KF_OK;
}

/* 4. Record what each server holds now and when D was committed; prune
 * kvnos whose successor was committed longer than grace ago; the audit
 * and journal lines, and the error when a server is not in sync. */
static kf_status
sync_record(struct syncing *sg, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = &sg->c;
    int64_t when = -1;
    int below = -1;
    size_t bad = 0;
    char detail[200];

    if (rc != KF_OK)
        return rc;
    for (size_t i = 0; i < c->run.n; i++) {
        struct kf_syncsrv *x = &sg->sy.s[i];
        if (c->res->servers[i].state != KF_SERVER_OK)
            continue;
        kf_store_server_key_set(c->st, c->res->servers[i].server, c->acct->name, (int)sg->d,
                                "committed", NULL);
        for (size_t k = 0; k < x->n_drop; k++)
            kf_store_server_key_set(c->st, c->res->servers[i].server, c->acct->name,
                                    (int)x->drop[k], NULL, NULL);
    }
    if (kf_store_kvno_committed_at(c->st, c->acct->name, (int)sg->d, &when, NULL) == KF_OK &&
        when < 0)
        kf_store_kvno_committed(c->st, c->acct->name, (int)sg->d, (int64_t)time(NULL), NULL);
    kf_store_kvno_prunable(c->st, c->acct->name, (int64_t)time(NULL) - c->o->grace_s, &below, NULL);
    if (below > 0 && below <= (int)sg->d) {
        c->run.kvno = (uint32_t)below;
        c->run.want = sg->want;
        c->run.n_want = sg->n_want;
        kf_fleet_phase(&c->run, "prune", kf_fleet_prune);
    }
    c->run.want = NULL;
    c->run.n_want = 0;
    kf_rotctx_prune_retired(c, kf_rotctx_staged_types(c));
    for (size_t i = 0; i < c->run.n; i++)
        if (c->res->servers[i].state != KF_SERVER_OK) {
            char again[200];
            bad++;
            snprintf(again, sizeof(again), "%s%s",
                     c->run.srv[i].status == NULL ? "start its agent (krbfleetd), then " : "",
                     sg->fix);
            if (c->res->servers[i].fix == NULL)
                c->res->servers[i].fix = strdup(again);
        }
    snprintf(detail, sizeof(detail), "sync to kvno %u from %s: %zu of %zu servers in sync", sg->d,
             sg->out->source, c->run.n - bad, c->run.n);
    kf_store_audit(c->st, "password", detail, NULL);
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "sync-done", "%s", detail);
    return bad == 0 ? KF_OK
                    : kf_err_set(err, KF_ERR_AGENT,
                                 "%zu of %zu web servers of account %s are not in sync with the "
                                 "directory; the table says which and why",
                                 bad, c->run.n, c->acct->name);
}

static kf_status
sync_account(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *o,
             struct kf_sync_account *out, struct kf_err *err)
{
    struct syncing sg = {.c = {.st = st, .dir = dir, .o = o, .withdraw_if_refused = true},
                         .out = out};
    struct kf_rotctx *c = &sg.c;
    kf_status rc;

    snprintf(sg.fix, sizeof(sg.fix), "krbfleet sync --account %s", o->account);
    kf_mem_no_dumps(); /* keys are received (EXPORT) and sent on */
    rc = kf_rotctx_begin(c, NULL, 0, err);
    if (rc == KF_OK && c->refused.code != KF_OK) {
        rc = withdraw_account(c, err);
        sg.fix[0] = '\0'; /* the refusal says what to do */
    }
    rc = sync_directory_kvno(&sg, rc, err);
    rc = sync_ticket(&sg, rc, err);
    rc = sync_find_source(&sg, rc, err);
    rc = sync_decide(&sg, rc, err);
    rc = sync_converge(&sg, rc, err);
    rc = sync_record(&sg, rc, err);

    if (rc != KF_OK && rc != KF_ERR_CONFLICT)
        kf_rotctx_blame_ticket(o->account, err);
    if (rc != KF_OK) {
        out->error = strdup(err->msg);
        out->fix = sg.fix[0] ? strdup(sg.fix) : NULL;
    }
    out->status = rc;
    for (size_t i = 0; sg.sy.s != NULL && i < c->run.n; i++)
        free(sg.sy.s[i].drop);
    free(sg.sy.s);
    free(sg.token);
    kf_keyset_free(sg.exported);
    kf_keyset_free(sg.target);
    kf_strv_free(sg.implied, sg.n_implied);
    kf_strv_free(sg.want, sg.n_want);
    kf_rotctx_end(c);
    out->r = c->res;
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
