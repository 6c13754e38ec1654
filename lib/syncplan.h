/* syncplan.h - the decisions of `krbfleet sync` and of a copy, apart from
 * the agents they are about (pure; tests/unit/test_syncplan.c).
 *
 * Sync gets a fresh service ticket for the account, asks every agent which
 * of its keys accepts it (CHECK), and then decides, from what each agent
 * answered and what its keytab lists (STATUS):
 *  - the source: a server whose key labelled D (the directory's kvno)
 *    accepts the ticket, else one whose key accepts it under another label;
 *  - the target set: the source's entries of the account's managed
 *    principals at that label, completed with an entry for every managed
 *    principal that lacks one (all principals of an account share its key);
 *  - per server: whether the target must be staged at D (no key accepted,
 *    a wrong label, or its set at D differs) and which of the account's
 *    kvno labels must be withdrawn (above D: staged by a run that never
 *    committed; the label that accepted when it is not D).
 * Entries of principals the account does not manage are never touched.
 */
#ifndef KF_SYNCPLAN_H
#define KF_SYNCPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "keys.h"

/* What sync knows about one server. The caller fills the first part from
 * CHECK; kf_syncplan_decide fills the second. */
struct kf_syncsrv {
    bool checked, accepted; /* asked; its keytab accepts the fresh ticket */
    uint32_t label;         /* accepted: the kvno label of the key that did */
    bool stage;             /* the target set must be staged at D */
    uint32_t *drop;         /* kvno labels to withdraw (free()) */
    size_t n_drop;
};

/* Whether KS has an entry of PRINCIPAL (case-insensitive) and ENCTYPE at
 * KVNO (at any kvno when ANY_KVNO). */
bool kf_syncplan_has(const struct kf_keyset *ks, uint32_t kvno, bool any_kvno,
                     const char *principal, int32_t enctype);

/* Whether KS (NULL: none) has an entry at KVNO of a principal not in WANT. */
bool kf_syncplan_has_foreign(const struct kf_keyset *ks, uint32_t kvno, char *const *want,
                             size_t n_want);

/* The index of the server to copy from among S[0..N): the first whose key
 * labelled D accepted the ticket, else the first whose key accepted it at
 * all; SIZE_MAX when none did. */
size_t kf_syncplan_source(const struct kf_syncsrv *s, size_t n, uint32_t d);

/* The set to give every server (see above) from SRC's entries at LABEL.
 * *OUT is the caller's (kf_keyset_free). Errors: KF_ERR_NOMEM. */
kf_status kf_syncplan_target(const struct kf_keyset *src, uint32_t label, char *const *want,
                             size_t n_want, struct kf_keyset **out, struct kf_err *err);

/* Whether HELD (NULL: none) has exactly TARGET's (principal, enctype)
 * pairs at KVNO among its entries of the managed principals WANT. */
bool kf_syncplan_same_set(const struct kf_keyset *held, uint32_t kvno,
                          const struct kf_keyset *target, char *const *want, size_t n_want);

/* Fill X->stage and X->drop for a server holding HELD (its STATUS
 * entries; NULL: none), whose CHECK answer is in X, so that it ends with
 * TARGET at D and no other label of the account's above D or wrongly
 * labelled. Errors: KF_ERR_NOMEM. */
kf_status kf_syncplan_decide(const struct kf_keyset *held, uint32_t d,
                             const struct kf_keyset *target, char *const *want, size_t n_want,
                             struct kf_syncsrv *x, struct kf_err *err);

/* The service to get the fresh ticket for: the first of the account's
 * SPNS (from the directory) whose keys are staged (in IMPLIED, the SPNs
 * the topology implies), else NAME$; with "@REALM". NULL: out of memory. */
char *kf_syncplan_principal(char *const *spns, size_t n_spns, char *const *implied,
                            size_t n_implied, const char *name, const char *realm);

#endif
