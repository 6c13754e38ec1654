/* enable.h - `topology enable`: make the directory's SPNs match what the
 * topology implies, for every account krbfleet manages, and check them
 * (`topology test`). Talks to the directory only through directory.h.
 */
#ifndef KF_ENABLE_H
#define KF_ENABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "spnplan.h"
#include "store.h"
#include "topology.h"

/* The SPNs the topology implies for ACCT: HTTP/<pool> and HTTP/<web fqdn>
 * for every pool of every site assigned to it. New array of new strings
 * (kf_strv_free). */
kf_status kf_implied_spns(const struct kf_topology *topo, const struct kf_account *acct,
                          char ***out, size_t *n, struct kf_err *err);

struct kf_enable_result {
    struct kf_spn_plan *plan; /* what was (or, dry run, would be) written */
    size_t writes_done;       /* LDAP writes performed */
    char **warnings;          /* one sentence each, with the command to run */
    size_t n_warnings;
};

/* Plan and (unless DRY_RUN) apply. On conflicts nothing is written and
 * KF_ERR_CONFLICT is returned with the plan (and its conflicts) in
 * *RESULT. SPNs to add are recorded in the store before they are written;
 * the run ends with an audit record. */
kf_status kf_enable_run(struct kf_store *st, struct kf_dir *dir, bool dry_run, bool take_over,
                        const struct kf_progress_sink *progress,
                        struct kf_enable_result **result, struct kf_err *err);
void kf_enable_result_free(struct kf_enable_result *res);

/* The same for ACCOUNT alone (`account new --site`): its implied SPNs are
 * added (or moved to it from another managed account) and its stale owned
 * ones removed; every other account is left as it is (and not read: its
 * DN as the store has it tells it apart as a holder), and
 * a pending `topology enable` stays pending. No --take-over, and no warning
 * about servers without recorded keys: the caller staged them. */
kf_status kf_enable_account(struct kf_store *st, struct kf_dir *dir, const char *account,
                            bool dry_run, const struct kf_progress_sink *progress,
                            struct kf_enable_result **result, struct kf_err *err);

enum kf_verdict { KF_PASS, KF_WARN, KF_FAIL };

struct kf_finding {
    enum kf_verdict verdict;
    char *object; /* "site:redmond", "account:LAB\\kerbauth" */
    char *check;  /* short name of the check */
    char *detail; /* one sentence */
    char *fix;    /* the command that fixes it, or NULL */
};

struct kf_findings {
    struct kf_finding *v;
    size_t n;
};

/* `topology test`: every site with pools has an assignment; every assigned
 * account exists, is enabled and not expired, has AES enctypes and holds
 * exactly the implied SPNs (hand-added extras are warnings); the store
 * says whether an enable is pending. */
kf_status kf_topology_test(struct kf_store *st, struct kf_dir *dir, struct kf_findings *out,
                           struct kf_err *err);
void kf_findings_done(struct kf_findings *f);
int kf_findings_add(struct kf_findings *f, enum kf_verdict verdict, const char *object,
                    const char *check, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
bool kf_findings_failed(const struct kf_findings *f);

#endif
