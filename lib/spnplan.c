/* spnplan.c - the SPN difference behind `topology enable`. */
#include "spnplan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "strv.h"

struct strv {
    char **v;
    size_t n;
};

static int
strv_push(struct strv *s, const char *str)
{
    return kf_strv_push(&s->v, &s->n, str);
}

static void
strv_done(struct strv *s)
{
    kf_strv_free(s->v, s->n);
    s->v = NULL;
    s->n = 0;
}

static bool
strv_has(const struct strv *s, const char *str)
{
    return kf_strv_contains_ci(s->v, s->n, str);
}

/* A sorted, case-insensitive view of a borrowed array for fast lookups. */
struct set {
    const char **v;
    size_t n;
};

static int
cmp_ci(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static int
set_init(struct set *s, const char *const *v, size_t n)
{
    s->n = n;
    s->v = malloc((n ? n : 1) * sizeof(char *));
    if (s->v == NULL)
        return -1;
    if (n > 0) {
        memcpy(s->v, v, n * sizeof(char *));
        qsort(s->v, n, sizeof(char *), cmp_ci);
    }
    return 0;
}

static bool
set_has(const struct set *s, const char *str)
{
    return s->n > 0 && bsearch(&str, s->v, s->n, sizeof(char *), cmp_ci) != NULL;
}

/* Per-account working state. */
struct acct_work {
    struct set current, owned, implied;
    struct strv add_now;   /* phase 1 */
    struct strv add_later; /* phase 2: SPNs moved from elsewhere */
    struct strv del;
};

/* Per-unmanaged-object removals (--take-over). */
struct other_work {
    char *dn;
    struct strv del;
};

static int
note_push(struct kf_spn_note **arr, size_t *n, const char *spn, const char *from, const char *to)
{
    struct kf_spn_note *bigger = realloc(*arr, (*n + 1) * sizeof(**arr));
    struct kf_spn_note *note;

    if (bigger == NULL)
        return -1;
    *arr = bigger;
    note = &bigger[*n];
    note->spn = strdup(spn);
    note->from = strdup(from ? from : "");
    note->to = strdup(to);
    (*n)++;
    return note->spn && note->from && note->to ? 0 : -1;
}

static int
write_push(struct kf_spn_plan *plan, const char *account, const char *dn, struct strv *add,
           struct strv *del)
{
    struct kf_spn_write *bigger, *w;

    if (add->n == 0 && del->n == 0)
        return 0;
    bigger = realloc(plan->writes, (plan->n_writes + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return -1;
    plan->writes = bigger;
    w = &bigger[plan->n_writes++];
    memset(w, 0, sizeof(*w));
    w->account = kf_strdup0(account);
    w->dn = kf_strdup0(dn);
    w->add = TAKE_PTR(add->v);
    w->n_add = add->n;
    add->n = 0;
    w->del = TAKE_PTR(del->v);
    w->n_del = del->n;
    del->n = 0;
    return (account && !w->account) || (dn && !w->dn) ? -1 : 0;
}

static void
notes_free(struct kf_spn_note *notes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(notes[i].spn);
        free(notes[i].from);
        free(notes[i].to);
    }
    free(notes);
}

void
kf_spn_plan_free(struct kf_spn_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->n_writes; i++) {
        struct strv a = {plan->writes[i].add, plan->writes[i].n_add};
        struct strv d = {plan->writes[i].del, plan->writes[i].n_del};
        strv_done(&a);
        strv_done(&d);
        free(plan->writes[i].account);
        free(plan->writes[i].dn);
    }
    free(plan->writes);
    notes_free(plan->moves, plan->n_moves);
    notes_free(plan->takeovers, plan->n_takeovers);
    notes_free(plan->conflicts, plan->n_conflicts);
    free(plan);
}

void
kf_spn_plan_count(const struct kf_spn_plan *plan, size_t *added, size_t *removed)
{
    *added = *removed = 0;
    for (size_t i = 0; i < plan->n_writes; i++) {
        *added += plan->writes[i].n_add;
        *removed += plan->writes[i].n_del;
    }
}

static ssize_t
find_account(const struct kf_spn_account *accounts, size_t n, const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(accounts[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

kf_status
kf_spn_plan_make(const struct kf_spn_account *accounts, size_t n_accounts, bool take_over,
                 kf_spn_owner_fn owner, void *owner_ctx, struct kf_spn_plan **out,
                 struct kf_err *err)
{
    struct kf_spn_plan *plan = calloc(1, sizeof(*plan));
    struct acct_work *work = calloc(n_accounts ? n_accounts : 1, sizeof(*work));
    struct other_work *others = NULL;
    size_t n_others = 0;
    kf_status rc = KF_OK;

    *out = NULL;
    if (plan == NULL || work == NULL)
        goto nomem;
    for (size_t i = 0; i < n_accounts; i++)
        if (set_init(&work[i].current, accounts[i].current, accounts[i].n_current) != 0 ||
            set_init(&work[i].owned, accounts[i].owned, accounts[i].n_owned) != 0 ||
            set_init(&work[i].implied, accounts[i].implied, accounts[i].n_implied) != 0)
            goto nomem;

    /* Removals: what krbfleet added and the topology no longer implies. */
    for (size_t i = 0; i < n_accounts; i++)
        for (size_t k = 0; k < accounts[i].n_current; k++) {
            const char *spn = accounts[i].current[k];
            if (set_has(&work[i].owned, spn) && !set_has(&work[i].implied, spn) &&
                !strv_has(&work[i].del, spn) && strv_push(&work[i].del, spn) != 0)
                goto nomem;
        }

    /* Additions, with a look at who holds each SPN now. */
    for (size_t i = 0; i < n_accounts; i++)
        for (size_t k = 0; k < accounts[i].n_implied; k++) {
            const char *spn = accounts[i].implied[k];
            _cleanup_free_ char *holder = NULL, *dn = NULL;
            ssize_t j;

            if (set_has(&work[i].current, spn) || strv_has(&work[i].add_now, spn) ||
                strv_has(&work[i].add_later, spn))
                continue;
            if ((rc = owner(owner_ctx, spn, &holder, &dn, err)) != KF_OK)
                goto fail;
            if (holder == NULL && dn == NULL) {
                if (strv_push(&work[i].add_now, spn) != 0)
                    goto nomem;
                continue;
            }
            j = find_account(accounts, n_accounts, holder);
            if (j == (ssize_t)i) /* ours already, spelled differently */
                continue;
            if (j >= 0) {
                if ((!strv_has(&work[j].del, spn) && strv_push(&work[j].del, spn) != 0) ||
                    strv_push(&work[i].add_later, spn) != 0 ||
                    note_push(&plan->moves, &plan->n_moves, spn, accounts[j].name,
                              accounts[i].name) != 0)
                    goto nomem;
                continue;
            }
            if (!take_over) {
                if (note_push(&plan->conflicts, &plan->n_conflicts, spn, dn ? dn : holder,
                              accounts[i].name) != 0)
                    goto nomem;
                continue;
            }
            {
                size_t o;
                for (o = 0; o < n_others; o++)
                    if (strcasecmp(others[o].dn, dn ? dn : holder) == 0)
                        break;
                if (o == n_others) {
                    struct other_work *bigger = realloc(others, (n_others + 1) * sizeof(*others));
                    if (bigger == NULL)
                        goto nomem;
                    others = bigger;
                    memset(&others[o], 0, sizeof(others[o]));
                    others[o].dn = strdup(dn ? dn : holder);
                    n_others++;
                    if (others[o].dn == NULL)
                        goto nomem;
                }
                if (strv_push(&others[o].del, spn) != 0 ||
                    strv_push(&work[i].add_later, spn) != 0 ||
                    note_push(&plan->takeovers, &plan->n_takeovers, spn, others[o].dn,
                              accounts[i].name) != 0)
                    goto nomem;
            }
        }

    if (plan->n_conflicts == 0) {
        struct strv none = {0};
        /* Phase 1: every removal (and additions that wait for nothing). */
        for (size_t o = 0; o < n_others; o++)
            if (write_push(plan, NULL, others[o].dn, &none, &others[o].del) != 0)
                goto nomem;
        for (size_t i = 0; i < n_accounts; i++)
            if (write_push(plan, accounts[i].name, NULL, &work[i].add_now, &work[i].del) != 0)
                goto nomem;
        /* Phase 2: SPNs that had to leave another object first. */
        for (size_t i = 0; i < n_accounts; i++)
            if (write_push(plan, accounts[i].name, NULL, &work[i].add_later, &none) != 0)
                goto nomem;
    }
    *out = TAKE_PTR(plan);
    rc = KF_OK;
    goto fail;
nomem:
    rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
fail:
    for (size_t i = 0; work && i < n_accounts; i++) {
        free(work[i].current.v);
        free(work[i].owned.v);
        free(work[i].implied.v);
        strv_done(&work[i].add_now);
        strv_done(&work[i].add_later);
        strv_done(&work[i].del);
    }
    for (size_t o = 0; o < n_others; o++) {
        free(others[o].dn);
        strv_done(&others[o].del);
    }
    free(others);
    free(work);
    kf_spn_plan_free(plan);
    return rc;
}
