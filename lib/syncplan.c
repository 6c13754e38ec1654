/* syncplan.c - the pure decisions of sync and copy (syncplan.h). */
#include "syncplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "strv.h"

bool
kf_syncplan_has(const struct kf_keyset *ks, uint32_t kvno, bool any_kvno, const char *principal,
                int32_t enctype)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if ((any_kvno || ks->v[i].kvno == kvno) && ks->v[i].enctype == enctype &&
            strcasecmp(ks->v[i].principal, principal) == 0)
            return true;
    return false;
}

bool
kf_syncplan_has_foreign(const struct kf_keyset *ks, uint32_t kvno, char *const *want, size_t n_want)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (ks->v[i].kvno == kvno && !kf_strv_contains_ci(want, n_want, ks->v[i].principal))
            return true;
    return false;
}

size_t
kf_syncplan_source(const struct kf_syncsrv *s, size_t n, uint32_t d)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if (s[i].accepted && (pass == 1 || s[i].label == d))
                return i;
    return SIZE_MAX;
}

/* Add to T, for every enctype of its first N entries whose keys agree, an
 * entry for each principal of WANT that lacks one. 0 or -1 (ENOMEM). */
static int
complete(struct kf_keyset *t, char *const *want, size_t n_want)
{
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
            int failed;
            if (kf_syncplan_has(t, 0, true, want[w], t->v[i].enctype))
                continue;
            e = t->v[i];
            e.principal = want[w];
            failed = kf_keyset_add(t, &e);
            explicit_bzero(&e, sizeof(e));
            if (failed != 0)
                return -1;
        }
    }
    return 0;
}

kf_status
kf_syncplan_target(const struct kf_keyset *src, uint32_t label, char *const *want, size_t n_want,
                   struct kf_keyset **out, struct kf_err *err)
{
    struct kf_keyset *t = kf_keyset_new();

    *out = NULL;
    if (t == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < src->n; i++)
        if (src->v[i].kvno == label && kf_strv_contains_ci(want, n_want, src->v[i].principal) &&
            !kf_syncplan_has(t, 0, true, src->v[i].principal, src->v[i].enctype) &&
            kf_keyset_add(t, &src->v[i]) != 0)
            goto nomem;
    if (complete(t, want, n_want) != 0)
        goto nomem;
    *out = t;
    return KF_OK;
nomem:
    kf_keyset_free(t);
    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
}

bool
kf_syncplan_same_set(const struct kf_keyset *held, uint32_t kvno, const struct kf_keyset *target,
                     char *const *want, size_t n_want)
{
    size_t n = 0;

    for (size_t i = 0; held != NULL && i < held->n; i++)
        if (held->v[i].kvno == kvno && kf_strv_contains_ci(want, n_want, held->v[i].principal)) {
            n++;
            if (!kf_syncplan_has(target, 0, true, held->v[i].principal, held->v[i].enctype))
                return false;
        }
    return n == target->n;
}

kf_status
kf_syncplan_decide(const struct kf_keyset *held, uint32_t d, const struct kf_keyset *target,
                   char *const *want, size_t n_want, struct kf_syncsrv *x, struct kf_err *err)
{
    x->stage =
        !x->accepted || x->label != d || !kf_syncplan_same_set(held, d, target, want, n_want);
    free(x->drop);
    x->n_drop = 0;
    x->drop = calloc(held ? held->n + 1 : 1, sizeof(*x->drop));
    if (x->drop == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; held != NULL && k < held->n; k++) {
        uint32_t v = held->v[k].kvno;
        bool seen = false;
        if (!kf_strv_contains_ci(want, n_want, held->v[k].principal))
            continue; /* not ours: left alone */
        if (v == d || (v < d && !(x->accepted && v == x->label)))
            continue;
        for (size_t j = 0; j < x->n_drop; j++)
            seen = seen || x->drop[j] == v;
        if (!seen)
            x->drop[x->n_drop++] = v;
    }
    return KF_OK;
}

char *
kf_syncplan_principal(char *const *spns, size_t n_spns, char *const *implied, size_t n_implied,
                      const char *name, const char *realm)
{
    char buf[KF_FQDN_MAX + 128];

    for (size_t i = 0; i < n_spns; i++)
        if (kf_strv_contains_ci(implied, n_implied, spns[i])) {
            snprintf(buf, sizeof(buf), "%s@%s", spns[i], realm);
            return strdup(buf);
        }
    snprintf(buf, sizeof(buf), "%s$@%s", name, realm);
    return strdup(buf);
}
