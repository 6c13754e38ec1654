/* keys.c - derive an account's keys from its password with the KDC's salt. */
#include "keys.h"

#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directory.h"
#include "krb5pin.h"
#include "mem.h"

struct kf_keyset *
kf_keyset_new(void)
{
    return calloc(1, sizeof(struct kf_keyset));
}

void
kf_keyset_free(struct kf_keyset *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].principal);
    if (ks->v != NULL)
        explicit_bzero(ks->v, ks->n * sizeof(*ks->v));
    free(ks->v);
    free(ks);
}

int
kf_keyset_add(struct kf_keyset *ks, const struct kf_key_entry *e)
{
    struct kf_key_entry *bigger;
    char *p = strdup(e->principal);

    if (p == NULL || e->key_len > KF_KEY_MAX) {
        free(p);
        return -1;
    }
    /* Grow by copying into fresh memory so no key is left behind in a
     * block realloc might free unwiped. */
    bigger = calloc(ks->n + 1, sizeof(*bigger));
    if (bigger == NULL) {
        free(p);
        return -1;
    }
    if (ks->n > 0) {
        memcpy(bigger, ks->v, ks->n * sizeof(*bigger));
        explicit_bzero(ks->v, ks->n * sizeof(*ks->v));
    }
    free(ks->v);
    ks->v = bigger;
    ks->v[ks->n] = *e;
    ks->v[ks->n].principal = p;
    ks->n++;
    return 0;
}

size_t
kf_enctypes_krb5(unsigned bits, int32_t *out)
{
    size_t n = 0;

    if (bits & KF_ENCTYPE_AES256)
        out[n++] = ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    if (bits & KF_ENCTYPE_AES128)
        out[n++] = ENCTYPE_AES128_CTS_HMAC_SHA1_96;
    if (bits & KF_ENCTYPE_RC4_HMAC)
        out[n++] = ENCTYPE_ARCFOUR_HMAC;
    return n;
}

kf_status
kf_krb5_err(void *vctx, long code, kf_status kind, struct kf_err *err, const char *what)
{
    krb5_context ctx = vctx;
    const char *msg = ctx ? krb5_get_error_message(ctx, (krb5_error_code)code) : NULL;

    kf_err_set(err, kind, "%s: %s", what, msg ? msg : "Kerberos error");
    if (msg != NULL)
        krb5_free_error_message(ctx, msg);
    return kind;
}

/* The salt the KDC uses for PRINC with ENCTYPE (etype-info). */
static kf_status
kdc_salt(krb5_context ctx, krb5_principal princ, krb5_enctype enctype, krb5_data *salt,
         krb5_data *params, struct kf_err *err)
{
    krb5_get_init_creds_opt *opt = NULL;
    krb5_enctype got = ENCTYPE_NULL;
    krb5_error_code ret;

    if ((ret = krb5_get_init_creds_opt_alloc(ctx, &opt)) != 0)
        return kf_krb5_err(ctx, ret, KF_ERR_NOMEM, err, "allocating options");
    krb5_get_init_creds_opt_set_etype_list(opt, &enctype, 1);
    ret = krb5_get_etype_info(ctx, princ, opt, &got, salt, params);
    krb5_get_init_creds_opt_free(ctx, opt);
    if (ret != 0)
        return kf_krb5_err(ctx, ret, KF_ERR_KDC, err, "asking the KDC for the account's salt");
    if (got != enctype)
        return kf_err_set(err, KF_ERR_KDC,
                          "the KDC offers no key of enctype %d for this account (it answered %d); "
                          "check msDS-SupportedEncryptionTypes",
                          (int)enctype, (int)got);
    return KF_OK;
}

/* Append one entry per principal (SPNS[i]@REALM, then ACCOUNT) with KEY. */
static kf_status
add_entries(struct kf_keyset *ks, const krb5_keyblock *key, krb5_enctype enctype,
            const char *realm, const char *account, const char *const *spns, size_t n_spns,
            uint32_t kvno, struct kf_err *err)
{
    kf_status rc = KF_OK;

    if (key->length > KF_KEY_MAX)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "key too long");
    for (size_t i = 0; rc == KF_OK && i <= n_spns; i++) {
        struct kf_key_entry ent = {0};
        char pname[512];
        int n = i < n_spns ? snprintf(pname, sizeof(pname), "%s@%s", spns[i], realm)
                           : snprintf(pname, sizeof(pname), "%s", account);
        if (n < 0 || (size_t)n >= sizeof(pname))
            return kf_err_set(err, KF_ERR_INVALID, "principal name too long");
        ent.principal = pname;
        ent.kvno = kvno;
        ent.enctype = enctype;
        ent.timestamp = (uint32_t)time(NULL);
        ent.key_len = key->length;
        memcpy(ent.key, key->contents, key->length);
        if (kf_keyset_add(ks, &ent) != 0)
            rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        explicit_bzero(ent.key, sizeof(ent.key));
    }
    return rc;
}

/* A krb5 context for KDC (pinned) or, when NULL, krb5.conf's. */
static kf_status
context_for(const char *realm, const char *kdc, krb5_context *ctx, struct kf_err *err)
{
    if (kdc != NULL)
        return kf_krb5_pinned_context(realm, kdc, ctx, err);
    if (krb5_init_context(ctx) != 0)
        return kf_err_set(err, KF_ERR_CONFIG, "cannot initialise Kerberos (krb5.conf?)");
    return KF_OK;
}

/* The keys of NAME from PASSWORD: with SALT when given (AES's default
 * parameters), else with the salt and parameters the KDC reports. */
static kf_status
derive(const char *realm, const char *kdc, const char *name, const char *salt_given,
       const char *password, unsigned enctype_bits, const char *const *spns, size_t n_spns,
       uint32_t kvno, struct kf_keyset **out, struct kf_err *err)
{
    krb5_context ctx = NULL;
    krb5_principal princ = NULL;
    _cleanup_(kf_keyset_freep) struct kf_keyset *ks = kf_keyset_new();
    int32_t enctypes[3];
    size_t n_enc = kf_enctypes_krb5(enctype_bits, enctypes);
    char account[128];
    krb5_error_code ret;
    kf_status rc = KF_OK;

    *out = NULL;
    if (ks == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (n_enc == 0)
        return kf_err_set(err, KF_ERR_INVALID, "the account has no usable encryption type");
    if ((rc = context_for(realm, salt_given ? NULL : kdc, &ctx, err)) != KF_OK)
        return rc;
    if ((size_t)snprintf(account, sizeof(account), "%s$@%s", name, realm) >= sizeof(account)) {
        rc = kf_err_set(err, KF_ERR_INVALID, "account name too long");
        goto out;
    }
    if ((ret = krb5_parse_name(ctx, account, &princ)) != 0) {
        rc = kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, account);
        goto out;
    }
    for (size_t e = 0; rc == KF_OK && e < n_enc; e++) {
        krb5_data salt = {0}, params = {0};
        krb5_data pw = {.data = (char *)(uintptr_t)password, .length = (unsigned)strlen(password)};
        krb5_data given = {.data = (char *)(uintptr_t)salt_given,
                           .length = salt_given ? (unsigned)strlen(salt_given) : 0};
        krb5_keyblock key = {0};

        /* RC4's key is the NT hash of the password: no salt, nothing to ask
         * (and a KDC may not offer RC4 before the account announces it,
         * which is exactly when `account set --enctypes` stages it). */
        if (salt_given == NULL && enctypes[e] != ENCTYPE_ARCFOUR_HMAC &&
            (rc = kdc_salt(ctx, princ, enctypes[e], &salt, &params, err)) != KF_OK)
            break;
        ret = krb5_c_string_to_key_with_params(ctx, enctypes[e], &pw,
                                               salt_given ? &given : &salt,
                                               params.length ? &params : NULL, &key);
        krb5_free_data_contents(ctx, &salt);
        krb5_free_data_contents(ctx, &params);
        if (ret != 0) {
            rc = kf_krb5_err(ctx, ret, KF_ERR_UNEXPECTED, err, "deriving a key");
            break;
        }
        rc = add_entries(ks, &key, enctypes[e], realm, account, spns, n_spns, kvno, err);
        krb5_free_keyblock_contents(ctx, &key); /* zeroes the key */
    }
out:
    krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
    if (rc == KF_OK)
        *out = TAKE_PTR(ks);
    return rc;
}

kf_status
kf_keys_derive(const char *realm, const char *kdc, const char *name, const char *password,
               unsigned enctype_bits, const char *const *spns, size_t n_spns, uint32_t kvno,
               struct kf_keyset **out, struct kf_err *err)
{
    return derive(realm, kdc, name, NULL, password, enctype_bits, spns, n_spns, kvno, out, err);
}

kf_status
kf_keys_derive_salted(const char *realm, const char *name, const char *salt,
                      const char *password, unsigned enctype_bits, const char *const *spns,
                      size_t n_spns, uint32_t kvno, struct kf_keyset **out, struct kf_err *err)
{
    return derive(realm, NULL, name, salt, password, enctype_bits, spns, n_spns, kvno, out, err);
}

kf_status
kf_keys_computer_salt(const char *realm, const char *domain, const char *name, char *out,
                      size_t size, struct kf_err *err)
{
    size_t n = 0, len;

    if (realm == NULL || domain == NULL || name == NULL || *realm == '\0' || *domain == '\0' ||
        *name == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "a salt needs a realm, a domain and a name");
    len = strlen(name);
    if (name[len - 1] == '$')
        len--;
    if (strlen(realm) + 4 + len + 1 + strlen(domain) + 1 > size)
        return kf_err_set(err, KF_ERR_INVALID, "the salt of %s would be too long", name);
    for (const char *p = realm; *p; p++)
        out[n++] = *p;
    for (const char *p = "host"; *p; p++)
        out[n++] = *p;
    for (size_t i = 0; i < len; i++)
        out[n++] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    out[n++] = '.';
    for (const char *p = domain; *p; p++)
        out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    out[n] = '\0';
    return KF_OK;
}
