/* permission.h - delegating krbfleet's directory work on one container to
 * a group (or one principal) that is not a domain administrator.
 *
 * `permission grant` writes a fixed set of object ACEs on the container's
 * DACL (the table in docs/design.md, "Delegation"): exactly what krbfleet's
 * commands need and no more. Grant and revoke read and write the DACL alone
 * (the LDAP_SERVER_SD_FLAGS control); grant records in the store exactly
 * the ACEs it added, and revoke removes exactly those.
 *
 * The store's transaction is the caller's: these functions write rows but
 * neither begin nor commit.
 */
#ifndef KF_PERMISSION_H
#define KF_PERMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "errors.h"
#include "secdesc.h"
#include "store.h"

#define KF_PERM_N_ACES 5

/* What ACE I (< KF_PERM_N_ACES) of the set allows, in a few words. */
const char *kf_perm_ace_label(size_t i);

/* The set for SID, in the order of the labels. */
void kf_perm_aces(const struct kf_sid *sid, struct kf_ace out[KF_PERM_N_ACES]);

/* Resolve a trustee written as 'DOMAIN\name', 'name@REALM' or 'name' (a
 * group, user or computer's sAMAccountName): the domain or realm must be
 * the directory's. */
kf_status kf_perm_trustee(struct kf_dir *dir, const char *spec, struct kf_dir_principal **out,
                          struct kf_err *err);

struct kf_perm_grant {
    char trustee_sid[KF_SID_STR_MAX];
    size_t added;   /* ACEs written now */
    size_t present; /* ACEs that were there already (not recorded as ours) */
    bool written;   /* the DACL was written (added > 0) */
};

/* Give TRUSTEE the set on CONTAINER: add the ACEs it lacks in one DACL
 * write (none when it has them all) and record the added ones in ST. */
kf_status kf_perm_grant(struct kf_dir *dir, struct kf_store *st, const char *container,
                        const char *trustee, struct kf_perm_grant *out, struct kf_err *err);

/* A managed account in the container whose owner is the trustee or one of
 * its members. */
struct kf_perm_owned {
    char *account; /* krbfleet's name */
    char *dn;
    char owner[KF_SID_STR_MAX];
    char *owner_name;    /* sAMAccountName, or NULL when not found */
    size_t creator_aces; /* explicit ACEs of the owner or trustee on it */
    bool reclaimed;
};

struct kf_perm_revoke {
    char trustee_sid[KF_SID_STR_MAX];
    size_t recorded; /* ACEs the store says grant wrote */
    size_t removed;  /* ... found and removed */
    bool written;
    struct kf_perm_owned *owned;
    size_t n_owned;
};
void kf_perm_revoke_done(struct kf_perm_revoke *r); /* frees the contents */

/* Remove from CONTAINER exactly the ACEs grant recorded for TRUSTEE (one
 * DACL write; none when none is there) and forget them. List the managed
 * accounts in CONTAINER whose owner is the trustee or a member of it; with
 * RECLAIM, make Domain Admins their owner and remove the explicit ACEs of
 * the owner and the trustee on them (one write each). */
kf_status kf_perm_revoke(struct kf_dir *dir, struct kf_store *st, const char *container,
                         const char *trustee, bool reclaim, struct kf_perm_revoke *out,
                         struct kf_err *err);

/* A trustee holding some of the set on the container. */
struct kf_perm_holder {
    char sid[KF_SID_STR_MAX];
    char *name;    /* sAMAccountName, or NULL when not found */
    unsigned have; /* bit I: ACE I is there */
    bool complete;
};
void kf_perm_holders_free(struct kf_perm_holder *v, size_t n);

kf_status kf_perm_list(struct kf_dir *dir, const char *container, struct kf_perm_holder **out,
                       size_t *n, struct kf_err *err);

/* One krbfleet operation and whether the current ticket may do it. */
struct kf_perm_check {
    const char *operation; /* "create computer accounts" */
    const char *command;   /* "account new --container DN" */
    bool may;
    char why[320];
};
#define KF_PERM_N_CHECKS 6

struct kf_perm_test {
    char *subject;   /* the ticket's account */
    char *sample_dn; /* the managed account judged, or NULL (container's ACEs) */
    struct kf_perm_check checks[KF_PERM_N_CHECKS];
};
void kf_perm_test_done(struct kf_perm_test *t);

/* What the caller's ticket may do in CONTAINER: from the DC-computed
 * allowedChildClassesEffective / allowedAttributesEffective, and the DACL
 * with the ticket's tokenGroups for the rights those do not show (reset
 * password, delete). A managed account in the container (ST may be NULL)
 * is judged where there is one; else the ACEs the container passes to a
 * new computer. */
kf_status kf_perm_test(struct kf_dir *dir, struct kf_store *st, const char *container,
                       struct kf_perm_test *out, struct kf_err *err);

/* What a command is about to write on a computer object. */
#define KF_PERM_NEED_RESET 0x1u /* Reset Password (password set) */
#define KF_PERM_NEED_SPN 0x2u   /* write servicePrincipalName (topology enable) */
#define KF_PERM_NEED_ENCTYPES 0x4u /* write msDS-SupportedEncryptionTypes (account set) */

/* Before any write: may the caller's ticket do NEED on the computer object
 * DN? Attribute writes from the DC-computed allowedAttributesEffective, Reset
 * Password from the DACL with the ticket's tokenGroups (as kf_perm_test).
 * KF_OK, or KF_ERR_PERMISSION worded as a refused write (kf_dir_refused:
 * the right, the object, the `permission grant` on its container). */
kf_status kf_perm_require(struct kf_dir *dir, const char *dn, unsigned need, struct kf_err *err);

#endif
