/* enable.c - publish the topology's SPNs (`topology enable`) and check
 * them (`topology test`). */
#include "enable.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eligibility.h"
#include "mem.h"
#include "permission.h"
#include "strv.h"

kf_status
kf_implied_spns(const struct kf_topology *topo, const struct kf_account *acct, char ***out,
                size_t *n, struct kf_err *err)
{
    char **v = NULL;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    for (size_t s = 0; s < acct->n_sites; s++)
        for (size_t i = 0; i < topo->n_sites; i++) {
            const struct kf_site *site = &topo->sites[i];
            if (strcasecmp(site->name, acct->sites[s]) != 0)
                continue;
            for (size_t j = 0; j < site->n_pools; j++) {
                const struct kf_pool *p = &site->pools[j];
                if (kf_strv_pushf(&v, &count, "HTTP/%s", p->fqdn) != 0)
                    goto nomem;
                for (size_t k = 0; k < p->n_web_fqdns; k++)
                    if (kf_strv_pushf(&v, &count, "HTTP/%s", p->web_fqdns[k]) != 0)
                        goto nomem;
            }
        }
    *out = v;
    *n = count;
    return KF_OK;
nomem:
    kf_strv_free(v, count);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

/* What enable needs per managed account. */
struct acct_state {
    struct kf_account *acct; /* borrowed from the list */
    struct kf_dir_account *dir;
    char **owned;
    size_t n_owned;
    char **implied;
    size_t n_implied;
    struct kf_eligibility elig; /* may it carry web keys? */
};

struct lookup_ctx {
    struct kf_dir *dir;
    struct acct_state *states;
    size_t n;
};

/* The owner callback of the plan: managed accounts are recognised by DN
 * (a user "kerbauth" and a computer "kerbauth$" may both exist). */
static kf_status
owner_lookup(void *vctx, const char *spn, char **name, char **dn, struct kf_err *err)
{
    struct lookup_ctx *ctx = vctx;
    struct kf_dir_owner *owner = NULL;
    kf_status rc;

    *name = *dn = NULL;
    if ((rc = kf_dir_spn_owner(ctx->dir, spn, &owner, err)) != KF_OK || owner == NULL)
        return rc;
    for (size_t i = 0; i < ctx->n; i++)
        if (strcasecmp(ctx->states[i].dir->dn, owner->dn) == 0) {
            *name = strdup(ctx->states[i].acct->name);
            break;
        }
    *dn = strdup(owner->dn);
    kf_dir_owner_free(owner);
    if (*dn == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

void
kf_enable_result_free(struct kf_enable_result *res)
{
    if (res == NULL)
        return;
    kf_spn_plan_free(res->plan);
    kf_strv_free(res->warnings, res->n_warnings);
    free(res);
}

static void
states_free(struct acct_state *states, size_t n)
{
    for (size_t i = 0; states && i < n; i++) {
        kf_dir_account_free(states[i].dir);
        kf_strv_free(states[i].owned, states[i].n_owned);
        kf_strv_free(states[i].implied, states[i].n_implied);
        kf_eligibility_done(&states[i].elig);
    }
    free(states);
}

/* Read everything enable and test need: topology, accounts, their directory
 * objects, owned and implied SPNs. */
static kf_status
gather(struct kf_store *st, struct kf_dir *dir, const char *only, struct kf_topology **topo,
       struct kf_account **accounts, size_t *n_accounts, struct acct_state **states,
       struct kf_findings *missing, struct kf_err *err)
{
    kf_status rc;

    *states = NULL;
    if ((rc = kf_store_topology_load(st, topo, err)) != KF_OK ||
        (rc = kf_store_account_list(st, accounts, n_accounts, err)) != KF_OK)
        return rc;
    *states = calloc(*n_accounts ? *n_accounts : 1, sizeof(**states));
    if (*states == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < *n_accounts; i++) {
        struct acct_state *s = &(*states)[i];
        s->acct = &(*accounts)[i];
        if (only != NULL && strcasecmp(only, s->acct->name) != 0) {
            /* planned as it is: only its DN is needed, to recognise it as
             * the holder of an SPN that moves to ONLY (the store's, so a
             * fleet of accounts costs no directory read each) */
            s->dir = calloc(1, sizeof(*s->dir));
            if (s->dir == NULL || (s->dir->dn = strdup(s->acct->dn ? s->acct->dn : "")) == NULL)
                return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            continue;
        }
        rc = kf_dir_account_get(dir, s->acct->name, &s->dir, err);
        if (rc == KF_ERR_NOT_FOUND && missing != NULL) {
            char object[64];
            snprintf(object, sizeof(object), "account:%s\\%s", s->acct->domain, s->acct->name);
            kf_findings_add(missing, KF_FAIL, object, "exists",
                            "krbfleet account new 'DOMAIN\\name' (after krbfleet account remove)",
                            "the directory has no account %s$ (it was deleted or renamed "
                            "outside krbfleet)",
                            s->acct->name);
            continue;
        }
        if (rc == KF_ERR_NOT_FOUND)
            return kf_err_set(err, KF_ERR_NOT_FOUND,
                              "account %s\\%s is managed by krbfleet but the directory (%s) has "
                              "no %s$; it was deleted or renamed outside krbfleet. Remove it "
                              "from krbfleet (`krbfleet account remove %s` after removing its "
                              "assignments) or recreate it",
                              s->acct->domain, s->acct->name, kf_dir_server(dir), s->acct->name,
                              s->acct->name);
        if (rc != KF_OK ||
            (rc = kf_store_owned_spns(st, s->acct->name, &s->owned, &s->n_owned, err)) != KF_OK ||
            (rc = kf_implied_spns(*topo, s->acct, &s->implied, &s->n_implied, err)) != KF_OK ||
            (rc = kf_eligibility_read(dir, s->acct->domain, s->acct->name,
                                      s->acct->allow_foreign_spns, true, &s->elig, err)) != KF_OK)
            return rc;
    }
    return KF_OK;
}

/* Pools whose site has no Kerberos account: their SPNs go nowhere. */
static kf_status
unassigned_sites(const struct kf_topology *topo, const struct kf_account *accounts, size_t n,
                 char ***warnings, size_t *n_warnings, struct kf_findings *findings)
{
    for (size_t i = 0; i < topo->n_sites; i++) {
        const struct kf_site *site = &topo->sites[i];
        bool assigned = false;
        if (site->n_pools == 0)
            continue;
        for (size_t a = 0; a < n && !assigned; a++)
            assigned = kf_strv_contains_ci(accounts[a].sites, accounts[a].n_sites, site->name);
        if (assigned)
            continue;
        if (warnings != NULL &&
            kf_strv_pushf(warnings, n_warnings,
                  "site %s has %zu pool(s) but no Kerberos account, so no SPN is published for "
                  "them: run `krbfleet assignment new --site %s --account NAME`",
                  site->name, site->n_pools, site->name) != 0)
            return KF_ERR_NOMEM;
        if (findings != NULL) {
            char object[128], fix[192];
            snprintf(object, sizeof(object), "site:%s", site->name);
            snprintf(fix, sizeof(fix), "krbfleet assignment new --site %s --account NAME",
                     site->name);
            if (kf_findings_add(findings, KF_FAIL, object, "assignment", fix,
                                "site %s has %zu pool(s) but no Kerberos account assignment",
                                site->name, site->n_pools) != 0)
                return KF_ERR_NOMEM;
        }
    }
    return KF_OK;
}

/* Whether ACCOUNT's SPN is recorded as krbfleet's already. */
static kf_status
owned_already(struct kf_store *st, const char *account, const char *spn, bool *owned,
              struct kf_err *err)
{
    char **v = NULL;
    size_t n = 0;
    kf_status rc = kf_store_owned_spns(st, account, &v, &n, err);

    *owned = false;
    for (size_t i = 0; rc == KF_OK && i < n && !*owned; i++)
        *owned = strcasecmp(v[i], spn) == 0;
    kf_strv_free(v, n);
    return rc;
}

/* A directory write failed at write FROM: forget the intents recorded for
 * it and the writes after it (none of them happened; one modify is all or
 * nothing), except SPNs that were recorded before this run (FRESH false). */
static void
forget_intents(struct kf_store *st, const struct kf_spn_plan *plan, size_t from, const bool *fresh)
{
    struct kf_err ignored = {0};
    size_t i = 0;
    bool ok = kf_store_begin(st, &ignored) == KF_OK;

    for (size_t w = 0; w < plan->n_writes; w++)
        for (size_t k = 0; plan->writes[w].account && k < plan->writes[w].n_add; k++, i++)
            if (ok && w >= from && fresh[i])
                ok = kf_store_owned_spn_remove(st, plan->writes[w].account, plan->writes[w].add[k],
                                               &ignored) == KF_OK;
    if (ok)
        ok = kf_store_commit(st, &ignored) == KF_OK;
    if (!ok)
        kf_store_rollback(st); /* the intents stay: an SPN never written is harmless */
}

/* Before the first write: the ticket may write servicePrincipalName on
 * every object of the plan, so a missing right leaves all of them (and the
 * store) as they were, not half a move. */
static kf_status
may_write_all(struct kf_dir *dir, const struct kf_spn_plan *plan, struct kf_err *err)
{
    for (size_t w = 0; w < plan->n_writes; w++) {
        const struct kf_spn_write *wr = &plan->writes[w];
        struct kf_dir_account *a = NULL;
        kf_status rc = KF_OK;

        if (wr->account != NULL)
            rc = kf_dir_account_get(dir, wr->account, &a, err);
        if (rc == KF_OK)
            rc = kf_perm_require(dir, a != NULL ? a->dn : wr->dn, KF_PERM_NEED_SPN, err);
        kf_dir_account_free(a);
        if (rc != KF_OK)
            return rc;
    }
    return KF_OK;
}

static kf_status
apply(struct kf_store *st, struct kf_dir *dir, struct kf_enable_result *res, bool whole,
      const struct kf_progress_sink *progress, struct kf_err *err)
{
    const struct kf_spn_plan *plan = res->plan;
    char detail[160];
    size_t added, removed, n_intents = 0, i = 0;
    _cleanup_free_ bool *fresh = NULL;
    kf_status rc;

    for (size_t w = 0; w < plan->n_writes; w++)
        if (plan->writes[w].account)
            n_intents += plan->writes[w].n_add;
    fresh = calloc(n_intents ? n_intents : 1, sizeof(*fresh));
    if (fresh == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = may_write_all(dir, plan, err)) != KF_OK)
        return rc;
    /* Record what we are about to add before writing it, so a crash in
     * between never leaves an SPN krbfleet does not know it owns. */
    if ((rc = kf_store_begin(st, err)) != KF_OK)
        return rc;
    for (size_t w = 0; w < plan->n_writes; w++)
        for (size_t k = 0; plan->writes[w].account && k < plan->writes[w].n_add; k++, i++) {
            bool owned = false;
            if ((rc = owned_already(st, plan->writes[w].account, plan->writes[w].add[k], &owned,
                                    err)) != KF_OK ||
                (rc = kf_store_owned_spn_add(st, plan->writes[w].account, plan->writes[w].add[k],
                                             err)) != KF_OK) {
                kf_store_rollback(st);
                return rc;
            }
            fresh[i] = !owned;
        }
    if ((rc = kf_store_commit(st, err)) != KF_OK)
        return rc;

    for (size_t w = 0; w < plan->n_writes; w++) {
        const struct kf_spn_write *wr = &plan->writes[w];
        struct kf_progress p = {.phase = "enable", .done = w, .total = plan->n_writes,
                                .unit = "writes", .pending = wr->account ? wr->account : wr->dn};
        kf_progress_report(progress, &p);
        if (wr->account != NULL)
            rc = kf_dir_spn_modify(dir, wr->account, (const char *const *)wr->add, wr->n_add,
                                   (const char *const *)wr->del, wr->n_del, err);
        else
            rc = kf_dir_spn_modify_dn(dir, wr->dn, (const char *const *)wr->add, wr->n_add,
                                      (const char *const *)wr->del, wr->n_del, err);
        if (rc != KF_OK) {
            /* A refused write (no right, a conflict) leaves the store as it
             * was for what it did not do. */
            forget_intents(st, plan, w, fresh);
            return kf_err_prefix(err, "after %zu of %zu directory writes (run `krbfleet topology "
                                      "enable` again once fixed)",
                                 res->writes_done, plan->n_writes);
        }
        res->writes_done++;
    }
    if (plan->n_writes > 0)
        kf_progress_report(progress, &(struct kf_progress){.phase = "enable",
                                                            .done = plan->n_writes,
                                                            .total = plan->n_writes,
                                                            .unit = "writes"});

    kf_spn_plan_count(plan, &added, &removed);
    snprintf(detail, sizeof(detail), "%zu SPNs added, %zu removed, %zu moved, %zu taken over",
             added, removed, plan->n_moves, plan->n_takeovers);
    if ((rc = kf_store_begin(st, err)) != KF_OK)
        return rc;
    for (size_t w = 0; w < plan->n_writes; w++)
        for (size_t k = 0; plan->writes[w].account && k < plan->writes[w].n_del; k++)
            if ((rc = kf_store_owned_spn_remove(st, plan->writes[w].account,
                                                plan->writes[w].del[k], err)) != KF_OK)
                goto fail;
    for (size_t t = 0; t < plan->n_takeovers; t++) {
        char what[600];
        snprintf(what, sizeof(what), "took over %s from %s for %s", plan->takeovers[t].spn,
                 plan->takeovers[t].from, plan->takeovers[t].to);
        if ((rc = kf_store_audit(st, "spn", what, err)) != KF_OK)
            goto fail;
    }
    if ((whole && (rc = kf_store_state_set(st, KF_STATE_ENABLE_NEEDED, NULL, err)) != KF_OK) ||
        (plan->n_writes > 0 && (rc = kf_store_audit(st, "topology", detail, err)) != KF_OK))
        goto fail;
    return kf_store_commit(st, err);
fail:
    kf_store_rollback(st);
    return rc;
}

/* How many web servers of the pool that SPN names have no committed keys
 * of ACCOUNT recorded (of TOTAL). */
static kf_status
servers_without_keys(struct kf_store *st, const struct kf_topology *topo, const char *account,
                     const char *spn, size_t *missing, size_t *total, struct kf_err *err)
{
    const char *name = strncasecmp(spn, "HTTP/", 5) == 0 ? spn + 5 : spn;

    *missing = *total = 0;
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++) {
            const struct kf_pool *p = &topo->sites[i].pools[j];
            bool match = strcasecmp(p->fqdn, name) == 0;
            for (size_t k = 0; !match && k < p->n_web_fqdns; k++)
                match = strcasecmp(p->web_fqdns[k], name) == 0;
            if (!match)
                continue;
            for (size_t k = 0; k < p->n_servers; k++) {
                int kvno;
                kf_status rc = kf_store_server_kvno(st, p->servers[k].fqdn, account, &kvno, err);
                if (rc != KF_OK)
                    return rc;
                (*total)++;
                if (kvno < 0)
                    (*missing)++;
            }
            if (p->n_servers == 0)
                *missing = *total = 0;
        }
    return KF_OK;
}

/* ONLY: publish that account's SPNs alone; the others are planned as
 * they are in the directory (nothing added to or removed from them but
 * what moves to ONLY). */
static kf_status
enable_run(struct kf_store *st, struct kf_dir *dir, const char *only, bool dry_run,
           bool take_over, const struct kf_progress_sink *progress,
           struct kf_enable_result **result, struct kf_err *err)
{
    struct kf_topology *topo = NULL;
    struct kf_account *accounts = NULL;
    struct acct_state *states = NULL;
    struct kf_spn_account *input = NULL;
    struct kf_enable_result *res = calloc(1, sizeof(*res));
    size_t n_accounts = 0;
    kf_status rc;

    *result = NULL;
    if (res == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = gather(st, dir, only, &topo, &accounts, &n_accounts, &states, NULL, err)) != KF_OK)
        goto out;
    if (only == NULL && unassigned_sites(topo, accounts, n_accounts, &res->warnings,
                                         &res->n_warnings, NULL) != KF_OK)
        goto nomem;
    /* SPNs lead clients to the keys: only for accounts that may carry them. */
    for (size_t i = 0; i < n_accounts; i++)
        if (states[i].acct->n_sites > 0 &&
            (only == NULL || strcasecmp(only, states[i].acct->name) == 0) &&
            (rc = kf_eligibility_refusal(&states[i].elig, err)) != KF_OK) {
            kf_err_prefix(err, dry_run ? "dry run: nothing was written, and this would be refused"
                                       : "nothing was written");
            goto out;
        }
    input = calloc(n_accounts ? n_accounts : 1, sizeof(*input));
    if (input == NULL)
        goto nomem;
    for (size_t i = 0; i < n_accounts; i++) {
        input[i].name = states[i].acct->name;
        input[i].current = (const char *const *)states[i].dir->spns;
        input[i].n_current = states[i].dir->n_spns;
        input[i].owned = (const char *const *)states[i].owned;
        input[i].n_owned = states[i].n_owned;
        input[i].implied = (const char *const *)states[i].implied;
        input[i].n_implied = states[i].n_implied;
        if (only != NULL && strcasecmp(only, states[i].acct->name) != 0) {
            input[i].current = input[i].implied = NULL; /* nothing added to it */
            input[i].n_current = input[i].n_implied = 0;
            input[i].owned = NULL; /* nothing removed from it but what moves */
            input[i].n_owned = 0;
        }
    }
    {
        struct lookup_ctx ctx = {dir, states, n_accounts};
        rc = kf_spn_plan_make(input, n_accounts, take_over, owner_lookup, &ctx, &res->plan, err);
    }
    if (rc != KF_OK)
        goto out;
    if (res->plan->n_conflicts > 0) {
        const struct kf_spn_note *c = &res->plan->conflicts[0];
        rc = kf_err_set(err, KF_ERR_CONFLICT,
                        "%s is already registered on %s, which krbfleet does not manage; nothing "
                        "was written. Remove it there, or run `krbfleet topology enable "
                        "--take-over` to move it to %s",
                        c->spn, c->from, c->to);
        goto out;
    }
    /* SPNs published for pools whose servers have no keys recorded yet
     * (`account new --site` staged them and verifies them right after). */
    for (size_t w = 0; only == NULL && w < res->plan->n_writes; w++) {
        const struct kf_spn_write *wr = &res->plan->writes[w];
        for (size_t k = 0; wr->account && k < wr->n_add; k++) {
            size_t missing = 0, total = 0;
            if ((rc = servers_without_keys(st, topo, wr->account, wr->add[k], &missing, &total,
                                           err)) != KF_OK)
                goto out;
            if (missing > 0 &&
                kf_strv_pushf(&res->warnings, &res->n_warnings,
                      "%s %s published on %s, but %zu of the %zu web server(s) of its pool have "
                      "not been given that account's keys yet: run `krbfleet password set "
                      "--account %s`",
                      wr->add[k], dry_run ? "would be" : "is", wr->account, missing, total,
                      wr->account) != 0)
                goto nomem;
        }
    }
    if (!dry_run)
        rc = apply(st, dir, res, only == NULL, progress, err);
    goto out;
nomem:
    rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
out:
    free(input);
    states_free(states, n_accounts);
    kf_account_list_free(accounts, n_accounts);
    kf_topology_free(topo);
    *result = res;
    return rc;
}

kf_status
kf_enable_run(struct kf_store *st, struct kf_dir *dir, bool dry_run, bool take_over,
              const struct kf_progress_sink *progress, struct kf_enable_result **result,
              struct kf_err *err)
{
    return enable_run(st, dir, NULL, dry_run, take_over, progress, result, err);
}

kf_status
kf_enable_account(struct kf_store *st, struct kf_dir *dir, const char *account, bool dry_run,
                  const struct kf_progress_sink *progress, struct kf_enable_result **result,
                  struct kf_err *err)
{
    return enable_run(st, dir, account, dry_run, false, progress, result, err);
}

/* ---- topology test ---------------------------------------------------- */

int
kf_findings_add(struct kf_findings *f, enum kf_verdict verdict, const char *object,
                const char *check, const char *fix, const char *fmt, ...)
{
    struct kf_finding *bigger = realloc(f->v, (f->n + 1) * sizeof(*bigger));
    struct kf_finding *x;
    char buf[1024];
    va_list ap;

    if (bigger == NULL)
        return -1;
    f->v = bigger;
    x = &bigger[f->n++];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    x->verdict = verdict;
    x->object = strdup(object);
    x->check = strdup(check);
    x->detail = strdup(buf);
    x->fix = kf_strdup0(fix);
    return x->object && x->check && x->detail && (fix == NULL || x->fix) ? 0 : -1;
}

void
kf_findings_done(struct kf_findings *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].object);
        free(f->v[i].check);
        free(f->v[i].detail);
        free(f->v[i].fix);
    }
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

bool
kf_findings_failed(const struct kf_findings *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].verdict == KF_FAIL)
            return true;
    return false;
}

/* Findings for one assigned account; returns -1 when out of memory. */
static int
check_account(struct kf_findings *f, const struct acct_state *s)
{
    char object[64];
    const char *fix = "krbfleet topology enable";
    const struct kf_dir_account *d = s->dir;
    size_t before = f->n;
    int nomem = 0;

    snprintf(object, sizeof(object), "account:%s\\%s", s->acct->domain, s->acct->name);
    if (d->disabled)
        nomem |= kf_findings_add(f, KF_FAIL, object, "enabled", NULL,
                                 "%s is disabled in the directory; enable it (e.g. `samba-tool "
                                 "user enable %s$` or Active Directory Users and Computers)",
                                 d->dn, s->acct->name);
    if (d->expired)
        nomem |= kf_findings_add(f, KF_FAIL, object, "expiry", NULL,
                                 "%s has expired (accountExpires is in the past); clear its "
                                 "expiry in the directory",
                                 d->dn);
    if (!(d->enctypes & (KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256))) {
        char fix_enc[128];
        snprintf(fix_enc, sizeof(fix_enc), "krbfleet account set '%s\\%s' --enctypes %s",
                 s->acct->domain, s->acct->name,
                 d->enctypes & KF_ENCTYPE_RC4_HMAC ? "aes256,aes128,rc4" : "aes256,aes128");
        nomem |= kf_findings_add(f, KF_FAIL, object, "enctypes", fix_enc,
                                 "%s has no AES encryption type in msDS-SupportedEncryptionTypes "
                                 "(%u): tickets for it are sealed with RC4 or not issued",
                                 d->dn, d->enctypes);
    }
    for (size_t i = 0; i < s->n_implied; i++)
        if (!kf_strv_contains_ci(d->spns, d->n_spns, s->implied[i]))
            nomem |= kf_findings_add(f, KF_FAIL, object, "spn", fix,
                                     "%s is missing from %s: clients asking for it get no "
                                     "ticket and fall back to a password prompt",
                                     s->implied[i], d->dn);
    for (size_t i = 0; i < d->n_spns; i++) {
        if (kf_strv_contains_ci(s->implied, s->n_implied, d->spns[i]))
            continue;
        if (kf_strv_contains_ci(s->owned, s->n_owned, d->spns[i]))
            nomem |= kf_findings_add(f, KF_FAIL, object, "spn", fix,
                                     "%s is still on %s but the topology no longer implies it",
                                     d->spns[i], d->dn);
        else if (strncasecmp(d->spns[i], "HTTP/", 5) == 0)
            nomem |= kf_findings_add(f, KF_WARN, object, "spn", NULL,
                                     "%s on %s was not added by krbfleet and is left alone",
                                     d->spns[i], d->dn);
    }
    if (s->elig.failed != KF_ELIG_OK)
        nomem |= kf_findings_add(f, KF_FAIL, object, "eligible", s->elig.fix, "%s",
                                 s->elig.reason);
    else if (s->elig.n_foreign_spns > 0)
        nomem |= kf_findings_add(f, KF_WARN, object, "eligible", NULL,
                                 "%s holds %zu SPN(s) of other services (first %s), accepted with "
                                 "--allow-foreign-spns: every web server shares their keys",
                                 d->dn, s->elig.n_foreign_spns, s->elig.foreign_spns[0]);
    if (f->n == before)
        nomem |= kf_findings_add(f, KF_PASS, object, "account", NULL,
                                 "%s exists, is enabled, has AES and holds the %zu implied "
                                 "SPN(s)",
                                 d->dn, s->n_implied);
    return nomem;
}

kf_status
kf_topology_test(struct kf_store *st, struct kf_dir *dir, struct kf_findings *out,
                 struct kf_err *err)
{
    struct kf_topology *topo = NULL;
    struct kf_account *accounts = NULL;
    struct acct_state *states = NULL;
    size_t n_accounts = 0;
    char *pending = NULL;
    kf_status rc;

    memset(out, 0, sizeof(*out));
    rc = gather(st, dir, NULL, &topo, &accounts, &n_accounts, &states, out, err);
    if (rc == KF_OK && unassigned_sites(topo, accounts, n_accounts, NULL, NULL, out) != KF_OK)
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == KF_OK && i < n_accounts; i++)
        if (states[i].dir != NULL && states[i].acct->n_sites > 0 &&
            check_account(out, &states[i]) != 0)
            rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (rc == KF_OK)
        rc = kf_store_state_get(st, KF_STATE_ENABLE_NEEDED, &pending, err);
    if (rc == KF_OK && pending != NULL &&
        kf_findings_add(out, KF_FAIL, "topology", "published", "krbfleet topology enable",
                        "the topology or its assignments changed since the last `krbfleet "
                        "topology enable`") != 0)
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    free(pending);
    states_free(states, n_accounts);
    kf_account_list_free(accounts, n_accounts);
    kf_topology_free(topo);
    return rc;
}
