/* copy.c - password set --from --to (kf_rotate_copy in rotate.h): the
 * account's keys from one web server to another, checked on both sides
 * with one fresh ticket before and after. */
#include "rotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys.h"
#include "mem.h"
#include "names.h"
#include "rotctx.h"
#include "strv.h"

static kf_status copy_keys(struct kf_rotctx *c, struct kf_srv *src, struct kf_srv *dst,
                           struct kf_err *err);

static struct kf_srv *
find_srv(struct kf_rotctx *c, const char *fqdn)
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
    struct kf_rotctx c = {.st = st, .dir = dir, .o = &o};
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
    if ((rc = kf_rotctx_begin(&c, names, 2, err)) != KF_OK)
        goto out;
    {
        struct kf_srv *src = find_srv(&c, from), *dst = find_srv(&c, to);
        rc = src != NULL && dst != NULL
                 ? copy_keys(&c, src, dst, err)
                 : kf_err_set(err, KF_ERR_UNEXPECTED, "%s or %s was not planned", from, to);
    }
out:
    kf_rotctx_end(&c);
    *result = c.res;
    return rc;
early:
    kf_topology_free(topo);
    kf_account_list_free(accts, n_accts);
    return rc;
}

/* A server of C's account other than FROM and TO whose keys labelled
 * SY->kvno accept SY's ticket: its FQDN (the caller frees it), or NULL.
 * *ASKED: how many of the *N_OTHERS others answered the check. */
static char *
find_holder(const struct kf_rotctx *c, const struct kf_synccheck *sy0, const char *from,
            const char *to, size_t *asked, size_t *n_others)
{
    struct kf_rotate_result *tmp = calloc(1, sizeof(*tmp));
    struct kf_fleet run = {.o = c->o, .realm = c->run.realm, .kdc = c->run.kdc};
    struct kf_synccheck sy = *sy0;
    struct kf_err e = {0};
    char *found = NULL;

    *asked = *n_others = 0;
    sy.s = NULL;
    if (tmp == NULL ||
        kf_fleet_plan(c->topo, c->acct, c->o->agent_port, NULL, 0, tmp, &run.srv, &e) != KF_OK)
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
    kf_fleet_phase(&run, "connect", kf_fleet_connect);
    kf_fleet_phase(&run, "check", kf_sync_check_one);
    pthread_mutex_destroy(&run.lock);
    for (size_t i = 0; i < run.n; i++) {
        *asked += sy.s[i].checked;
        if (found == NULL && sy.s[i].accepted && sy.s[i].label == sy.kvno)
            found = strdup(tmp->servers[i].server);
    }
out:
    free(sy.s);
    kf_fleet_srvs_free(run.srv, run.n);
    kf_rotate_result_free(tmp);
    return found;
}

/* What one copy knows; its steps hand it on. */
struct copy {
    struct kf_rotctx *c;
    struct kf_srv *src, *dst;
    const char *from, *to;
    struct kf_synccheck sy; /* principal, token, kvno D, want (no per-server part) */
    char **implied, **want, *principal;
    size_t n_implied, n_want;
    uint8_t *token;
    size_t token_len;
    struct kf_keytab_check src_chk, dst_chk, after;
    bool dst_ok; /* DST's set at D accepted the fresh ticket before the copy */
    struct kf_keyset *src_keys, *dst_keys, *target;
    uint32_t older[16]; /* SRC's older kvnos DST lacks */
    size_t n_older;
    bool same;          /* DST holds the target at D already */
    bool finished;      /* a dry run: planned, nothing to change */
    char summary[1024]; /* what was (or would be) copied */
};

/* SRC's keys at D do not accept the ticket: refuse, and name who has them. */
static kf_status
refuse_source(struct copy *cp, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;
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
    kf_srv_fail(cp->src->res, fix,
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

/* 1. A fresh ticket from the directory's DC for the account's principal;
 * which side's keys at D accept it? SRC must, or nothing is changed. */
static kf_status
copy_check_both(struct copy *cp, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;
    kf_status rc;

    for (size_t i = 0; i < c->run.n; i++)
        if (!c->run.srv[i].usable)
            return kf_err_set(err, KF_ERR_AGENT, "%s; nothing was changed",
                              c->res->servers[i].error);
    if (c->dacct->kvno < 1)
        return kf_err_set(err, KF_ERR_DIRECTORY, "%s does not say which kvno account %s has",
                          c->res->dc, c->acct->name);
    cp->sy.kvno = (uint32_t)c->dacct->kvno;
    c->res->new_kvno = c->dacct->kvno;
    if ((rc = kf_rotctx_managed(c, &cp->implied, &cp->n_implied, &cp->want, &cp->n_want, err)) !=
        KF_OK)
        return rc;
    cp->principal = kf_syncplan_principal(c->dacct->spns, c->dacct->n_spns, cp->implied,
                                          cp->n_implied, c->acct->name, c->run.realm);
    if (cp->principal == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    cp->sy.principal = cp->principal;
    cp->sy.want = cp->want;
    cp->sy.n_want = cp->n_want;
    if ((rc = kf_agent_ticket_token(cp->principal, c->run.kdc, &cp->token, &cp->token_len, NULL,
                                    err)) != KF_OK)
        return rc;
    cp->sy.token = cp->token;
    cp->sy.token_len = cp->token_len;
    if ((rc = kf_agent_check(cp->src->agent, cp->principal, cp->token, cp->token_len, &cp->src_chk,
                             err)) != KF_OK) {
        kf_srv_fail(cp->src->res, NULL, "checking its keys: %s", err->msg);
        return rc;
    }
    if ((rc = kf_agent_check(cp->dst->agent, cp->principal, cp->token, cp->token_len, &cp->dst_chk,
                             err)) != KF_OK) {
        kf_srv_fail(cp->dst->res, NULL, "checking its keys: %s", err->msg);
        return rc;
    }
    cp->dst_ok = cp->dst_chk.accepted && cp->dst_chk.kvno == cp->sy.kvno;
    if (!cp->src_chk.accepted || cp->src_chk.kvno != cp->sy.kvno)
        return refuse_source(cp, err);
    cp->src->res->state = KF_SERVER_OK;
    cp->src->res->kvno = (int)cp->sy.kvno;
    kf_srv_action(cp->src->res, "source: its kvno %u keys accept a fresh ticket for %s",
                  cp->sy.kvno, cp->principal);
    return KF_OK;
}

/* SRC's managed kvnos below D that DST holds none of, in CP->older, and
 * their list for the summary in OLDERLIST. */
static void
find_older(struct copy *cp, char *olderlist, size_t size)
{
    const struct kf_keyset *sk = cp->src_keys;

    for (size_t i = 0; i < sk->n; i++) {
        const struct kf_key_entry *e = &sk->v[i];
        bool seen = false, dst_has = false;
        char num[16];
        if (!kf_strv_contains_ci(cp->want, cp->n_want, e->principal) || e->kvno >= cp->sy.kvno)
            continue;
        for (size_t k = 0; k < cp->n_older; k++)
            seen = seen || cp->older[k] == e->kvno;
        for (size_t k = 0; k < cp->dst_keys->n && !dst_has; k++)
            dst_has = cp->dst_keys->v[k].kvno == e->kvno &&
                      kf_strv_contains_ci(cp->want, cp->n_want, cp->dst_keys->v[k].principal);
        if (seen || dst_has || cp->n_older == sizeof(cp->older) / sizeof(cp->older[0]))
            continue;
        cp->older[cp->n_older++] = e->kvno;
        snprintf(num, sizeof(num), "%u", e->kvno);
        list_add(olderlist, size, num);
    }
}

/* 2. What to copy: the managed entries at D (completed), and older kvnos
 * DST has none of; never another principal's entries. The summary says
 * so; a dry run ends here. */
static kf_status
copy_plan(struct copy *cp, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;
    const struct kf_keyset *sk;
    const char *would = c->o->dry_run ? "would be" : "were";
    char foreign[400] = "", olderlist[128] = "", extra[600] = "";
    size_t n_foreign = 0;
    uint32_t d = cp->sy.kvno;

    if (rc != KF_OK)
        return rc;
    if ((rc = kf_agent_export(cp->src->agent, &cp->src_keys, err)) != KF_OK ||
        (rc = kf_agent_export(cp->dst->agent, &cp->dst_keys, err)) != KF_OK ||
        (rc = kf_syncplan_target(cp->src_keys, d, cp->want, cp->n_want, &cp->target, err)) != KF_OK)
        return rc;
    sk = cp->src_keys;
    for (size_t i = 0; i < sk->n; i++) {
        bool named = false;
        if (kf_strv_contains_ci(cp->want, cp->n_want, sk->v[i].principal))
            continue;
        for (size_t k = 0; k < i && !named; k++)
            named = strcasecmp(sk->v[k].principal, sk->v[i].principal) == 0;
        if (!named)
            list_add(foreign, sizeof(foreign), sk->v[i].principal);
        n_foreign++;
    }
    find_older(cp, olderlist, sizeof(olderlist));
    cp->same = cp->dst_ok && kf_syncplan_same_set(cp->dst->status ? cp->dst->status->entries : NULL,
                                                  d, cp->target, cp->want, cp->n_want);
    if (cp->n_older > 0)
        snprintf(extra, sizeof(extra), "; and kvno %s, which %s lacks", olderlist, cp->to);
    if (n_foreign > 0) {
        size_t used = strlen(extra);
        snprintf(extra + used, sizeof(extra) - used,
                 "; %zu entr%s of other principals on %s (%s) %s not copied", n_foreign,
                 n_foreign == 1 ? "y" : "ies", cp->from, foreign, would);
    }
    if (cp->same)
        snprintf(cp->summary, sizeof(cp->summary), "%s%s already holds kvno %u of account %s%s%s",
                 c->o->dry_run ? "dry run: " : "", cp->to, d, c->acct->name, extra,
                 c->o->dry_run ? "; nothing was changed" : "");
    else
        snprintf(cp->summary, sizeof(cp->summary),
                 "%s kvno %u of account %s (%zu entries) from %s to %s%s%s",
                 c->o->dry_run ? "dry run: would copy" : "copied", d, c->acct->name, cp->target->n,
                 cp->from, cp->to, extra, c->o->dry_run ? "; nothing was changed" : "");
    if (c->o->dry_run) {
        cp->dst->res->state = KF_SERVER_PLANNED;
        kf_srv_action(cp->dst->res,
                      cp->same ? "already holds kvno %u" : "would be given kvno %u from %s", d,
                      cp->from);
        c->res->summary = strdup(cp->summary);
        cp->finished = true;
    }
    return KF_OK;
}

/* 3. Copy; DST's entries of other principals stay as they are. */
static kf_status
copy_apply(struct copy *cp, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;

    if (rc != KF_OK || cp->finished)
        return rc;
    if (!cp->same && (rc = kf_srv_put_managed(cp->dst, cp->sy.kvno, cp->target, cp->want,
                                              cp->n_want, err)) != KF_OK) {
        kf_srv_fail(cp->dst->res, NULL, "staging kvno %u: %s", cp->sy.kvno, err->msg);
        kf_err_prefix(err, "copying to %s", cp->to);
        return rc;
    }
    for (size_t k = 0; k < cp->n_older; k++) {
        _cleanup_(kf_keyset_freep) struct kf_keyset *one = kf_keyset_new();
        const struct kf_keyset *sk = cp->src_keys;
        for (size_t i = 0; one != NULL && i < sk->n; i++)
            if (sk->v[i].kvno == cp->older[k] &&
                kf_strv_contains_ci(cp->want, cp->n_want, sk->v[i].principal) &&
                kf_keyset_add(one, &sk->v[i]) != 0) {
                kf_keyset_free(one);
                one = NULL;
            }
        rc = one ? kf_srv_put_managed(cp->dst, cp->older[k], one, cp->want, cp->n_want, err)
                 : kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        if (rc != KF_OK) {
            kf_srv_fail(cp->dst->res, NULL, "staging kvno %u: %s", cp->older[k], err->msg);
            kf_err_prefix(err, "copying to %s", cp->to);
            return rc;
        }
    }
    kf_rotctx_journal(c->st, c->res->run_id, c->acct->name, "copied", "kvno %u from %s to %s",
                      cp->sy.kvno, cp->from, cp->to);
    return KF_OK;
}

/* 4. DST must accept the same fresh ticket now; else put its set back. */
static kf_status
copy_recheck(struct copy *cp, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;
    struct kf_err e2 = {0};
    char what[300], fix[128];
    bool restored = false;
    uint32_t d = cp->sy.kvno;

    if (rc != KF_OK || cp->finished)
        return rc;
    rc = kf_agent_check(cp->dst->agent, cp->principal, cp->token, cp->token_len, &cp->after, err);
    if (rc == KF_OK && cp->after.accepted && cp->after.kvno == d)
        return KF_OK;
    if (rc != KF_OK)
        snprintf(what, sizeof(what), "it could not be checked: %s", err->msg);
    else
        snprintf(what, sizeof(what), "%s",
                 cp->after.accepted ? "another kvno label accepts it"
                 : cp->after.reason ? cp->after.reason
                                    : "no key decrypts it");
    if (cp->dst_ok && !cp->same) {
        _cleanup_(kf_keyset_freep) struct kf_keyset *old = kf_keyset_new();
        for (size_t i = 0; old != NULL && i < cp->dst_keys->n; i++)
            if (cp->dst_keys->v[i].kvno == d && kf_keyset_add(old, &cp->dst_keys->v[i]) != 0) {
                kf_keyset_free(old);
                old = NULL;
            }
        restored =
            old != NULL && old->n > 0 && kf_agent_stage(cp->dst->agent, d, old, NULL, &e2) == KF_OK;
    }
    snprintf(fix, sizeof(fix), "krbfleet sync --account %s", c->acct->name);
    kf_srv_fail(cp->dst->res, fix,
                "after the copy it does not accept a fresh ticket for %s at kvno %u (%s)%s",
                cp->principal, d, what, restored ? "; its previous keys were put back" : "");
    return kf_err_set(err, KF_ERR_AGENT, "%s: %s", cp->to, cp->dst->res->error);
}

/* 5. A real login where the pool is published; record and audit it. */
static kf_status
copy_verify(struct copy *cp, kf_status rc, struct kf_err *err)
{
    struct kf_rotctx *c = cp->c;
    char detail[600];

    if (rc != KF_OK || cp->finished)
        return rc;
    cp->dst->staged = true;
    c->run.kvno = cp->sy.kvno;
    kf_fleet_verify_all(&c->run);
    if (cp->dst->res->state != KF_SERVER_OK)
        return kf_err_set(err, KF_ERR_AGENT, "%s has the keys now, but %s", cp->to,
                          cp->dst->res->error ? cp->dst->res->error : "the login did not verify");
    cp->dst->res->kvno = (int)cp->sy.kvno;
    kf_srv_action(cp->dst->res, cp->same ? "already held kvno %u" : "given kvno %u from %s",
                  cp->sy.kvno, cp->from);
    kf_store_server_key_set(c->st, cp->to, c->acct->name, (int)cp->sy.kvno, "committed", NULL);
    snprintf(detail, sizeof(detail), "copied keys from %s to %s (kvno %u)", cp->from, cp->to,
             cp->sy.kvno);
    kf_store_audit(c->st, "password", detail, NULL);
    c->res->summary = strdup(cp->summary);
    return KF_OK;
}

/* The whole copy: check both, copy the managed entries, check DST again. */
static kf_status
copy_keys(struct kf_rotctx *c, struct kf_srv *src, struct kf_srv *dst, struct kf_err *err)
{
    struct copy cp = {
        .c = c, .src = src, .dst = dst, .from = src->res->server, .to = dst->res->server};
    kf_status rc;

    rc = copy_check_both(&cp, err);
    rc = copy_plan(&cp, rc, err);
    rc = copy_apply(&cp, rc, err);
    rc = copy_recheck(&cp, rc, err);
    rc = copy_verify(&cp, rc, err);

    free(cp.token);
    free(cp.principal);
    kf_strv_free(cp.implied, cp.n_implied);
    kf_strv_free(cp.want, cp.n_want);
    kf_keytab_check_done(&cp.src_chk);
    kf_keytab_check_done(&cp.dst_chk);
    kf_keytab_check_done(&cp.after);
    kf_keyset_free(cp.src_keys);
    kf_keyset_free(cp.dst_keys);
    kf_keyset_free(cp.target);
    return rc;
}
