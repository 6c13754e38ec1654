/* spnplan.h - what `topology enable` must write: the difference between
 * the SPNs the topology implies for each managed account and what the
 * directory holds. Pure: the directory is consulted only through the
 * owner-lookup callback, so the module is unit-tested without one.
 *
 * Rules (docs/design.md, "Publishing SPNs (topology enable)"):
 *  - add every implied SPN the account lacks;
 *  - remove only SPNs krbfleet added earlier (OWNED) that the topology no
 *    longer implies — never an SPN it did not add;
 *  - an SPN to add that another managed account holds is moved: removed
 *    there, added here, in the same run;
 *  - an SPN to add that any other object holds is a conflict: nothing at
 *    all is written, unless TAKE_OVER, which moves it from that object.
 * Writes are ordered so every removal happens before the addition of the
 * same SPN elsewhere; each object gets at most two writes, usually one.
 * SPNs compare case-insensitively.
 */
#ifndef KF_SPNPLAN_H
#define KF_SPNPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

/* One managed account as the caller sees it. Arrays are borrowed. */
struct kf_spn_account {
    const char *name;
    const char *const *current; /* servicePrincipalName in the directory */
    size_t n_current;
    const char *const *owned; /* SPNs krbfleet recorded as added by it */
    size_t n_owned;
    const char *const *implied; /* what the topology implies */
    size_t n_implied;
};

/* Owner lookup: who holds SPN? Set *NAME (managed account short name, or
 * sAMAccountName without '$' of anything else, may be NULL) and *DN to new
 * strings, or leave both NULL when nobody holds it. */
typedef kf_status (*kf_spn_owner_fn)(void *ctx, const char *spn, char **name, char **dn,
                                     struct kf_err *err);

/* One LDAP write: on a managed account (ACCOUNT set) or another object
 * (DN set, for --take-over). */
struct kf_spn_write {
    char *account; /* managed account name, or NULL */
    char *dn;      /* other object's DN, or NULL */
    char **add;
    size_t n_add;
    char **del;
    size_t n_del;
};

struct kf_spn_note {
    char *spn;
    char *from; /* account name or DN that held it */
    char *to;   /* managed account that wants it */
};

struct kf_spn_plan {
    struct kf_spn_write *writes; /* in the order they must happen */
    size_t n_writes;
    struct kf_spn_note *moves;     /* from another managed account */
    size_t n_moves;
    struct kf_spn_note *takeovers; /* from an unmanaged object (--take-over) */
    size_t n_takeovers;
    struct kf_spn_note *conflicts; /* held by an unmanaged object, no --take-over */
    size_t n_conflicts;
};

/* Compute the plan. Conflicts are returned in the plan (with no writes at
 * all); errors are only lookup failures or out of memory. */
kf_status kf_spn_plan_make(const struct kf_spn_account *accounts, size_t n_accounts,
                           bool take_over, kf_spn_owner_fn owner, void *owner_ctx,
                           struct kf_spn_plan **out, struct kf_err *err);
void kf_spn_plan_free(struct kf_spn_plan *plan); /* accepts NULL */

/* Total SPNs added and removed by the plan's writes. */
void kf_spn_plan_count(const struct kf_spn_plan *plan, size_t *added, size_t *removed);

#endif
