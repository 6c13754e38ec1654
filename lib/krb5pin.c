/* krb5pin.c - a krb5 context pinned to one KDC, through a profile vtable
 * that answers the realm's server relations itself and passes every other
 * question to the normal krb5.conf profile. */
#include "krb5pin.h"

#include "mem.h"

#include <com_err.h>
#include <errno.h>
#include <profile.h>
#include <stdlib.h>
#include <string.h>

struct pin {
    unsigned refs;  /* profile copies share one pin (the vtable's copy) */
    profile_t real; /* the krb5.conf profile, read-only */
    char *realm;
    char *server;
};

static void
pin_unref(struct pin *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    if (p->real != NULL)
        profile_abandon(p->real); /* never written: no flush */
    free(p->realm);
    free(p->server);
    free(p);
}

/* The value we force for NAMES, or NULL to ask the real profile. */
static const char *
pinned_value(const struct pin *p, const char *const *names)
{
    static const char *const servers[] = {"kdc", "primary_kdc", "master_kdc", "admin_server",
                                          "kpasswd_server"};
    size_t n = 0;

    while (names[n] != NULL)
        n++;
    if (n == 2 && strcmp(names[0], "libdefaults") == 0 &&
        (strcmp(names[1], "dns_lookup_kdc") == 0 || strcmp(names[1], "dns_fallback") == 0))
        return "false";
    if (n == 3 && strcmp(names[0], "realms") == 0 && strcmp(names[1], p->realm) == 0)
        for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++)
            if (strcmp(names[2], servers[i]) == 0)
                return p->server;
    return NULL;
}

static long
pin_get_values(void *cbdata, const char *const *names, char ***ret)
{
    struct pin *p = cbdata;
    const char *v = pinned_value(p, names);
    char **real = NULL, **out;
    size_t n = 0;
    long code;

    *ret = NULL;
    if (v != NULL) {
        out = calloc(2, sizeof(char *));
        if (out == NULL || (out[0] = strdup(v)) == NULL) {
            free(out);
            return ENOMEM;
        }
        *ret = out;
        return 0;
    }
    code = profile_get_values(p->real, names, &real);
    if (code != 0)
        return code;
    /* copy, so that pin_free_values frees what it allocated */
    while (real[n] != NULL)
        n++;
    out = calloc(n + 1, sizeof(char *));
    if (out == NULL) {
        profile_free_list(real);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(real[i]);
        if (out[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            profile_free_list(real);
            return ENOMEM;
        }
    }
    profile_free_list(real);
    *ret = out;
    return 0;
}

static void
pin_free_values(void *cbdata, char **values)
{
    (void)cbdata;
    for (size_t i = 0; values != NULL && values[i] != NULL; i++)
        free(values[i]);
    free(values);
}

static void
pin_cleanup(void *cbdata)
{
    pin_unref(cbdata);
}

static long
pin_copy(void *cbdata, void **ret)
{
    struct pin *p = cbdata;

    p->refs++;
    *ret = p;
    return 0;
}

/* Iteration (listing [realms], [domain_realm], ...) goes to the real
 * profile: pinning only changes single lookups. The real iterator lives in
 * a box because profile_iterator() frees it and clears the handle at the
 * end of the listing. */
static long
pin_iterator_create(void *cbdata, const char *const *names, int flags, void **ret)
{
    struct pin *p = cbdata;
    void **box = calloc(1, sizeof(void *));
    long code;

    *ret = NULL;
    if (box == NULL)
        return ENOMEM;
    code = profile_iterator_create(p->real, names, flags, box);
    if (code != 0) {
        free(box);
        return code;
    }
    *ret = box;
    return 0;
}

static long
pin_iterator(void *cbdata, void *iter, char **name, char **value)
{
    void **box = iter;

    (void)cbdata;
    *name = NULL;
    *value = NULL;
    if (*box == NULL)
        return 0; /* already at the end */
    return profile_iterator(box, name, value);
}

static void
pin_iterator_free(void *cbdata, void *iter)
{
    void **box = iter;

    (void)cbdata;
    if (box == NULL)
        return;
    profile_iterator_free(box); /* accepts a cleared handle */
    free(box);
}

static void
pin_free_string(void *cbdata, char *s)
{
    (void)cbdata;
    profile_release_string(s);
}

kf_status
kf_krb5_pinned_context(const char *realm, const char *server, krb5_context *out, struct kf_err *err)
{
    static struct profile_vtable vt = {
        .minor_ver = 1,
        .get_values = pin_get_values,
        .free_values = pin_free_values,
        .cleanup = pin_cleanup,
        .copy = pin_copy,
        .iterator_create = pin_iterator_create,
        .iterator = pin_iterator,
        .iterator_free = pin_iterator_free,
        .free_string = pin_free_string,
    };
    krb5_context base = NULL;
    profile_t prof = NULL;
    struct pin *p;
    krb5_error_code ret;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    p->refs = 1;
    p->realm = strdup(realm);
    p->server = strdup(server);
    if (p->realm == NULL || p->server == NULL) {
        pin_unref(p);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    ret = krb5_init_context(&base);
    if (ret == 0)
        ret = krb5_get_profile(base, &p->real); /* a copy of krb5.conf's profile */
    if (base != NULL)
        krb5_free_context(base);
    if (ret != 0) {
        pin_unref(p);
        return kf_err_set(err, KF_ERR_CONFIG, "cannot read the Kerberos configuration: %s",
                          error_message(ret));
    }
    ret = profile_init_vtable(&vt, p, &prof);
    if (ret != 0) {
        pin_unref(p);
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot make a pinned Kerberos profile: %s",
                          error_message(ret));
    }
    /* prof owns p now (its cleanup drops the reference) */
    ret = krb5_init_context_profile(prof, 0, out);
    profile_abandon(prof);
    if (ret != 0) {
        *out = NULL;
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot make a Kerberos context pinned to %s: %s",
                          server, error_message(ret));
    }
    return KF_OK;
}
