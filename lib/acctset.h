/* acctset.h - `krbfleet account set`: change a managed account's
 * properties, each in the order that never fails a login. Today one
 * property, its encryption types (msDS-SupportedEncryptionTypes):
 *
 *  - a type added: the KDC issues tickets in it from the moment the
 *    directory announces it, so every web server must hold keys of it
 *    first. Keys of a type exist only for a password that was set (krbfleet
 *    never keeps one), so a rotation stages keys of the union of the old
 *    and new types on every server and commits a new password, and only
 *    then is the attribute written (under the account's lock, refused if
 *    another rotation came in between);
 *  - a type only removed: the attribute is written first (no rotation);
 *    tickets issued before in that type stay valid until they expire, so
 *    its keys stay in the keytabs, and rotation and sync prune them once
 *    the change is older than [rotation] grace (the store records when).
 *
 * docs/design.md, Decisions, "Changing enctypes safely (issue 9)".
 */
#ifndef KF_ACCTSET_H
#define KF_ACCTSET_H

#include <stdbool.h>
#include <stdint.h>

#include "directory.h"
#include "errors.h"
#include "rotate.h"
#include "store.h"

/* What changing an account's types from OLD to WANT takes. Pure. */
struct kf_enctypes_plan {
    unsigned old_types, new_types;
    unsigned added, removed;
    bool rotate; /* a type is added and there are web servers to give keys to */
};
void kf_enctypes_plan_make(unsigned old_types, unsigned want, bool has_sites,
                           struct kf_enctypes_plan *out);

/* Whether WANT (bits, as kf_enctypes_parse made them) may be asked for:
 * at least one type, and at least one AES type (an RC4-only account gets
 * RC4-sealed tickets, and `topology test` fails it). KF_ERR_USAGE with the
 * reason otherwise. Pure. */
kf_status kf_enctypes_check_request(unsigned want, struct kf_err *err);

struct kf_account_set_opts {
    const char *account;  /* short name */
    unsigned enctypes;    /* the new set; 0: not changed */
    bool dry_run;         /* plan, reach every agent when a rotation is needed; change nothing */
    struct kf_rotate_opts rotate; /* for that rotation (account, dry_run, enctypes set here) */
};

struct kf_account_set_result {
    char *dc;
    struct kf_enctypes_plan plan;
    bool changed;            /* the attribute was written (or, dry run, would be) */
    int kvno;                /* the directory's kvno afterwards; -1 unknown */
    int64_t prune_after;     /* removed types' keys are pruned by runs after this (Unix time) */
    struct kf_rotate_result *rotation; /* the rotation a new type needed, or NULL */
};

/* Change OPTS->account's encryption types as above. *RESULT is always set
 * (kf_account_set_result_free). KF_OK when the directory announces the new
 * set (or, dry run, would). On failure the message says what was done
 * (a rotation that committed) and that the attribute was not changed. */
kf_status kf_account_set(struct kf_store *st, struct kf_dir *dir,
                         const struct kf_account_set_opts *opts,
                         struct kf_account_set_result **result, struct kf_err *err);
void kf_account_set_result_free(struct kf_account_set_result *r);

#endif
