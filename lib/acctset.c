/* acctset.c - `account set`: an account's encryption types, safely. */
#include "acctset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "mem.h"
#include "permission.h"

#define KNOWN_TYPES (KF_ENCTYPE_RC4_HMAC | KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256)
#define AES_TYPES (KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256)

KF_DEFINE_CLEANUP(struct kf_account, kf_account_free)
KF_DEFINE_CLEANUP(struct kf_dir_account, kf_dir_account_free)

void
kf_enctypes_plan_make(unsigned old_types, unsigned want, bool has_sites,
                      struct kf_enctypes_plan *out)
{
    old_types &= KNOWN_TYPES;
    out->old_types = old_types;
    out->new_types = want;
    out->added = want & ~old_types;
    out->removed = old_types & ~want;
    out->rotate = out->added != 0 && has_sites;
}

kf_status
kf_enctypes_check_request(unsigned want, struct kf_err *err)
{
    if (want == 0)
        return kf_err_set(err, KF_ERR_USAGE,
                          "--enctypes: name at least one encryption type (aes256,aes128)");
    if ((want & ~(unsigned)KNOWN_TYPES) != 0)
        return kf_err_set(err, KF_ERR_USAGE, "--enctypes: only aes256, aes128 and rc4");
    if ((want & AES_TYPES) == 0)
        return kf_err_set(err, KF_ERR_USAGE,
                          "--enctypes: RC4 alone is refused: every ticket would be sealed with "
                          "RC4; keep aes256 and aes128 and add rc4 for the clients that need it "
                          "(aes256,aes128,rc4)");
    return KF_OK;
}

void
kf_account_set_result_free(struct kf_account_set_result *r)
{
    if (r == NULL)
        return;
    free(r->dc);
    kf_rotate_result_free(r->rotation);
    free(r);
}

/* The rotation a new type needs: keys of the old and new types together,
 * so tickets of either set decrypt everywhere whatever the attribute says
 * in between. */
static kf_status
rotate_union(struct kf_store *st, struct kf_dir *dir, const struct kf_account_set_opts *o,
             struct kf_account_set_result *r, struct kf_err *err)
{
    struct kf_rotate_opts ro = o->rotate;
    char types[64];
    kf_status rc;

    ro.account = o->account;
    ro.dry_run = o->dry_run;
    ro.enctypes = r->plan.old_types | r->plan.new_types;
    rc = kf_rotate(st, dir, &ro, &r->rotation, err);
    if (rc == KF_OK || o->dry_run)
        return rc;
    kf_enctypes_format(ro.enctypes, types, sizeof(types));
    if (r->rotation != NULL && r->rotation->directory_changed)
        kf_err_prefix(err,
                      "the rotation to keys of %s committed kvno %d but not every web server "
                      "is healthy, so msDS-SupportedEncryptionTypes was not changed; repair "
                      "them (the table says how), then run this command again",
                      types, r->rotation->new_kvno);
    else
        kf_err_prefix(err,
                      "the rotation to keys of %s did not happen, so msDS-SupportedEncryption"
                      "Types was not changed",
                      types);
    return rc;
}

/* Under the account's lock: the attribute, then the store's record. */
static kf_status
write_types(struct kf_store *st, struct kf_dir *dir, const struct kf_account_set_opts *o,
            struct kf_account_set_result *r, struct kf_err *err)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *now = NULL;
    char from[64], to[64], detail[200], object[64];
    int64_t when = (int64_t)time(NULL);
    bool elsewhere;
    kf_status rc;

    if ((rc = kf_rotate_lock(st, o->account, o->rotate.user, &elsewhere, err)) != KF_OK) {
        if (r->rotation != NULL)
            kf_err_prefix(err,
                          "every web server holds keys of the new types (kvno %d), but "
                          "msDS-SupportedEncryptionTypes was not changed; run this command "
                          "again",
                          r->rotation->new_kvno);
        else
            kf_err_prefix(err, "msDS-SupportedEncryptionTypes was not changed");
        return rc;
    }
    if (r->rotation != NULL) {
        if ((rc = kf_dir_account_get(dir, o->account, &now, err)) != KF_OK)
            goto out;
        if (now->kvno != r->rotation->new_kvno) {
            rc = kf_err_set(err, KF_ERR_CONFLICT,
                            "the account's kvno is %d, not the %d this rotation committed: "
                            "another rotation came in between, with keys of the old types "
                            "only; msDS-SupportedEncryptionTypes was not changed, run this "
                            "command again",
                            now->kvno, r->rotation->new_kvno);
            goto out;
        }
    }
    if ((rc = kf_dir_enctypes_set(dir, o->account, r->plan.new_types, err)) != KF_OK) {
        if (r->rotation != NULL)
            kf_err_prefix(err,
                          "every web server holds keys of the new types (kvno %d), but "
                          "msDS-SupportedEncryptionTypes could not be changed",
                          r->rotation->new_kvno);
        goto out;
    }
    r->changed = true;
    kf_enctypes_format(r->plan.old_types, from, sizeof(from));
    kf_enctypes_format(r->plan.new_types, to, sizeof(to));
    snprintf(detail, sizeof(detail), "enctypes %s -> %s%s", from, to,
             r->rotation != NULL ? " after a rotation" : "");
    snprintf(object, sizeof(object), "account:%s", o->account);
    if ((rc = kf_store_begin(st, err)) != KF_OK)
        goto recorded;
    if ((rc = kf_store_account_set_enctypes(st, o->account, r->plan.new_types, err)) != KF_OK ||
        (rc = kf_store_enctypes_retire(st, o->account, r->plan.removed, r->plan.added, when,
                                       err)) != KF_OK ||
        (rc = kf_store_audit(st, object, detail, err)) != KF_OK ||
        (rc = kf_store_commit(st, err)) != KF_OK)
        kf_store_rollback(st);
recorded:
    if (rc != KF_OK)
        kf_err_prefix(err,
                      "msDS-SupportedEncryptionTypes was changed to %s but the store could not "
                      "record it (keys of removed types are then never pruned); run this "
                      "command again",
                      to);
    if (r->plan.removed != 0)
        r->prune_after = when + o->rotate.grace_s;
out:
    kf_rotate_unlock(st, o->account);
    return rc;
}

kf_status
kf_account_set(struct kf_store *st, struct kf_dir *dir, const struct kf_account_set_opts *o,
               struct kf_account_set_result **result, struct kf_err *err)
{
    _cleanup_(kf_account_freep) struct kf_account *acct = NULL;
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *dacct = NULL;
    struct kf_account_set_result *r = calloc(1, sizeof(*r));
    kf_status rc;

    *result = r;
    if (r == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    r->kvno = -1;
    if ((r->dc = strdup(kf_dir_server(dir))) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if ((rc = kf_enctypes_check_request(o->enctypes, err)) != KF_OK ||
        (rc = kf_store_account_get(st, o->account, &acct, err)) != KF_OK ||
        (rc = kf_dir_account_get(dir, o->account, &dacct, err)) != KF_OK)
        return rc;
    r->kvno = dacct->kvno;
    kf_enctypes_plan_make(dacct->enctypes != 0 ? dacct->enctypes : acct->enctypes, o->enctypes,
                          acct->n_sites > 0, &r->plan);
    if (r->plan.added == 0 && r->plan.removed == 0) {
        /* The directory has it already; the store follows it. */
        if (!o->dry_run && acct->enctypes != o->enctypes)
            return kf_store_account_set_enctypes(st, o->account, o->enctypes, err);
        return KF_OK;
    }
    /* Before the rotation it may need: the ticket may write the types (and
     * reset the password), so a refusal comes with nothing written. */
    if ((rc = kf_perm_require(dir, dacct->dn,
                              KF_PERM_NEED_ENCTYPES | (r->plan.rotate ? KF_PERM_NEED_RESET : 0),
                              err)) != KF_OK) {
        if (o->dry_run)
            kf_err_prefix(err, "dry run: nothing was changed, and this would be refused");
        return rc;
    }
    if (r->plan.rotate && (rc = rotate_union(st, dir, o, r, err)) != KF_OK)
        return rc;
    if (o->dry_run) {
        r->changed = true;
        return KF_OK;
    }
    if (r->rotation != NULL)
        r->kvno = r->rotation->new_kvno;
    return write_types(st, dir, o, r, err);
}
