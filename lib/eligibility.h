/* eligibility.h - which directory accounts may carry web keys (issue 14).
 *
 * Every web server can read the keys krbfleet gives it, so whoever controls
 * one web server holds the account: its keys must open nothing but the web
 * pools. An allowlist, not a blocklist - an account is eligible only when
 * every property below is what a plain computer account has:
 *
 *   objectClass          most specific class `computer` (not a managed
 *                        service account, not a user or trust account)
 *   userAccountControl   WORKSTATION_TRUST_ACCOUNT, and none of
 *                        SERVER_TRUST_ACCOUNT, INTERDOMAIN_TRUST_ACCOUNT,
 *                        PARTIAL_SECRETS_ACCOUNT, TRUSTED_FOR_DELEGATION,
 *                        TRUSTED_TO_AUTH_FOR_DELEGATION
 *   primaryGroupID       515 (Domain Computers)
 *   delegation           no msDS-AllowedToDelegateTo, no
 *                        msDS-AllowedToActOnBehalfOfOtherIdentity
 *   tokenGroups          no group, nested, of the domain admins and
 *                        controllers, schema/enterprise admins, RODCs, Cert
 *                        Publishers, allowed RODC replication, nor the
 *                        builtin Administrators and Account/Server/Print/
 *                        Backup Operators
 *   SPNs                 only HTTP/ ones, unless the admin accepted the
 *                        others with --allow-foreign-spns (recorded on the
 *                        account in the store)
 *
 * What cannot be read counts as failed. There is no override but the last.
 * kf_eligibility_judge() is the pure decision; kf_eligibility_check() reads
 * the account through directory.h and judges it - the one function every
 * command that adopts an account or writes or delivers its keys calls.
 */
#ifndef KF_ELIGIBILITY_H
#define KF_ELIGIBILITY_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "errors.h"

/* The property that failed, in the order they are judged. */
enum kf_elig_property {
    KF_ELIG_OK = 0,
    KF_ELIG_OBJECT_CLASS,
    KF_ELIG_UAC,
    KF_ELIG_PRIMARY_GROUP,
    KF_ELIG_DELEGATE_TO,
    KF_ELIG_RBCD,
    KF_ELIG_GROUPS,
    KF_ELIG_FOREIGN_SPNS,
};

/* The verdict. Strings owned (kf_eligibility_done). */
struct kf_eligibility {
    enum kf_elig_property failed; /* KF_ELIG_OK: may carry web keys */
    char *reason; /* "account LAB\dc1 is refused: userAccountControl has ..."; NULL when OK */
    char *fix;    /* what to do, one sentence with the commands; NULL when OK */
    char **foreign_spns; /* SPNs of services other than HTTP, also when allowed */
    size_t n_foreign_spns;
};

/* The attribute name of a property ("userAccountControl"); "" for OK. */
const char *kf_elig_property_name(enum kf_elig_property p);

/* Judge T for the account DOMAIN\NAME. ALLOW_FOREIGN_SPNS: the admin
 * accepted SPNs of other services. MANAGED: the account is already in the
 * store (the fix then says how to repair it instead of what to adopt).
 * Pure. 0, or -1 when out of memory. */
int kf_eligibility_judge(const struct kf_dir_traits *t, const char *domain, const char *name,
                         bool allow_foreign_spns, bool managed, struct kf_eligibility *out);
void kf_eligibility_done(struct kf_eligibility *e); /* accepts a zeroed one */

/* Read account NAME through DIR and judge it into *OUT. Errors only when
 * it cannot be read (KF_ERR_NOT_FOUND, directory and credential errors); a
 * refusal is KF_OK with out->failed set. */
kf_status kf_eligibility_read(struct kf_dir *dir, const char *domain, const char *name,
                              bool allow_foreign_spns, bool managed, struct kf_eligibility *out,
                              struct kf_err *err);

/* KF_OK when E is eligible; else KF_ERR_CONFLICT with its reason and fix
 * in ERR (the form every refusal takes). */
kf_status kf_eligibility_refusal(const struct kf_eligibility *e, struct kf_err *err);

/* The check every command makes: KF_OK when the account may carry web
 * keys; KF_ERR_CONFLICT with the reason and the fix when it may not. */
kf_status kf_eligibility_check(struct kf_dir *dir, const char *domain, const char *name,
                               bool allow_foreign_spns, bool managed, struct kf_err *err);

#endif
