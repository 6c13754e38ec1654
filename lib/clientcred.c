/* clientcred.c - a TGT from a keytab into a private cache (clientcred.h). */
#include "clientcred.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
kf_krb5_has_valid_ticket(krb5_context ctx, krb5_ccache cc, krb5_principal princ)
{
    krb5_cc_cursor cur;
    krb5_creds creds;
    krb5_timestamp now;
    bool valid = false;

    if (krb5_timeofday(ctx, &now) != 0 || krb5_cc_start_seq_get(ctx, cc, &cur) != 0)
        return false;
    while (!valid && krb5_cc_next_cred(ctx, cc, &cur, &creds) == 0) {
        /* krb5 times are 32-bit and wrap in 2106: compare by difference */
        int32_t left = (int32_t)((uint32_t)creds.times.endtime - (uint32_t)now);
        valid = !krb5_is_config_principal(ctx, creds.server) &&
                krb5_principal_compare(ctx, creds.client, princ) &&
                (creds.ticket_flags & TKT_FLG_INVALID) == 0 && left > 0;
        krb5_free_cred_contents(ctx, &creds);
    }
    krb5_cc_end_seq_get(ctx, cc, &cur);
    return valid;
}

static bool
default_cache_valid(krb5_context ctx)
{
    krb5_ccache cc = NULL;
    krb5_principal princ = NULL;
    bool valid = false;

    if (krb5_cc_default(ctx, &cc) == 0 && krb5_cc_get_principal(ctx, cc, &princ) == 0)
        valid = kf_krb5_has_valid_ticket(ctx, cc, princ);
    krb5_free_principal(ctx, princ);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    return valid;
}

static kf_status
krb_fail(krb5_context ctx, krb5_error_code code, struct kf_err *err, const char *what)
{
    const char *why = krb5_get_error_message(ctx, code);

    kf_err_set(err, KF_ERR_CREDENTIALS, "%s: %s", what, why ? why : "unknown error");
    krb5_free_error_message(ctx, why);
    return KF_ERR_CREDENTIALS;
}

kf_status
kf_client_login(const char *keytab, const char *principal, const char *realm, bool *got,
                struct kf_err *err)
{
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_principal client = NULL;
    krb5_ccache mcc = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_creds creds;
    char full[512], ktname[4200], what[5000], *ccname = NULL;
    krb5_error_code code;
    kf_status rc = KF_OK;
    int n;

    *got = false;
    memset(&creds, 0, sizeof(creds));
    if (principal == NULL || principal[0] == '\0')
        return kf_err_set(err, KF_ERR_CONFIG,
                          "[directory] client_keytab %s needs [directory] client_principal "
                          "(a sAMAccountName such as ADMINHOST$)",
                          keytab);
    if (strchr(principal, '@') != NULL || realm == NULL)
        n = snprintf(full, sizeof(full), "%s", principal);
    else
        n = snprintf(full, sizeof(full), "%s@%s", principal, realm);
    if (n < 0 || (size_t)n >= sizeof(full))
        return kf_err_set(err, KF_ERR_CONFIG, "[directory] client_principal is too long");
    n = snprintf(ktname, sizeof(ktname), "FILE:%s", keytab);
    if (n < 0 || (size_t)n >= sizeof(ktname))
        return kf_err_set(err, KF_ERR_CONFIG, "[directory] client_keytab is too long");
    if (krb5_init_context(&ctx) != 0)
        return kf_err_set(err, KF_ERR_NOMEM, "cannot start libkrb5");
    if (default_cache_valid(ctx))
        goto out;
    if ((code = krb5_parse_name(ctx, full, &client)) != 0) {
        snprintf(what, sizeof(what), "[directory] client_principal %s is not a principal", full);
        rc = krb_fail(ctx, code, err, what);
        goto out;
    }
    if ((code = krb5_kt_resolve(ctx, ktname, &kt)) != 0 ||
        (code = krb5_get_init_creds_opt_alloc(ctx, &opt)) != 0 ||
        (code = krb5_get_init_creds_keytab(ctx, &creds, client, kt, 0, NULL, opt)) != 0) {
        snprintf(what, sizeof(what),
                 "no valid ticket in the cache, and none for %s from [directory] "
                 "client_keytab %s",
                 full, keytab);
        rc = krb_fail(ctx, code, err, what);
        goto out;
    }
    if ((code = krb5_cc_new_unique(ctx, "MEMORY", NULL, &mcc)) != 0 ||
        (code = krb5_cc_initialize(ctx, mcc, client)) != 0 ||
        (code = krb5_cc_store_cred(ctx, mcc, &creds)) != 0 ||
        (code = krb5_cc_get_full_name(ctx, mcc, &ccname)) != 0) {
        snprintf(what, sizeof(what), "cannot keep the ticket of %s in a memory cache", full);
        rc = krb_fail(ctx, code, err, what);
        goto out;
    }
    /* The MEMORY cache lives as long as the process (until destroyed),
     * whatever handle or context opened it. */
    if (setenv("KRB5CCNAME", ccname, 1) != 0) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    *got = true;
out:
    krb5_free_cred_contents(ctx, &creds);
    krb5_free_string(ctx, ccname);
    if (mcc != NULL)
        krb5_cc_close(ctx, mcc);
    krb5_get_init_creds_opt_free(ctx, opt);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_principal(ctx, client);
    krb5_free_context(ctx);
    return rc;
}
