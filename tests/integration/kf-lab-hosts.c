/* kf-lab-hosts.c - test fixture: give lab web servers their host identity.
 *
 * For each line "FQDN KEYTAB" on standard input: a computer account in the
 * lab DC (named "h" + 10 hex digits of a hash of FQDN, so fe01.site1 and
 * fe01.site2 do not collide), a random password set on it, the SPN
 * host/FQDN, and KEYTAB holding only host/FQDN@REALM's keys (mode 0600),
 * derived with the salt the KDC reports. One LDAP connection for all, with
 * the caller's ticket (the lab's admin). Prints "FQDN ACCOUNT KVNO" per
 * line. Built for tests only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "directory.h"
#include "keys.h"
#include "keytab.h"
#include "mem.h"
#include "password.h"

static void
account_name(const char *fqdn, char *out, size_t size)
{
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a */

    for (const char *p = fqdn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, size, "h%010llx", h & 0xffffffffffULL);
}

int
main(void)
{
    struct kf_config *cfg = NULL;
    struct kf_dir *dir = NULL;
    struct kf_err err = {0};
    char line[2048];
    int rc = 1;

    if (kf_config_load(NULL, &cfg, &err) != KF_OK || kf_dir_open(cfg, &dir, &err) != KF_OK) {
        fprintf(stderr, "kf-lab-hosts: %s\n", err.msg);
        goto out;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char fqdn[256], keytab[1024], name[32], spn[300];
        const char *spns[1] = {spn};
        struct kf_dir_account *acct = NULL;
        struct kf_keyset *ks = NULL, *own = NULL;
        char *pw = NULL;
        char *sp = strchr(line, ' ');
        size_t n;

        line[strcspn(line, "\n")] = '\0';
        if (sp == NULL || (size_t)(sp - line) >= sizeof(fqdn) || strlen(sp + 1) >= sizeof(keytab))
            continue;
        memcpy(fqdn, line, (size_t)(sp - line));
        fqdn[sp - line] = '\0';
        snprintf(keytab, sizeof(keytab), "%s", sp + 1);
        account_name(fqdn, name, sizeof(name));
        snprintf(spn, sizeof(spn), "host/%s", fqdn);
        if (kf_password_new(64, &pw) != KF_OK ||
            kf_dir_account_create(dir, name, NULL, KF_ENCTYPES_DEFAULT, &err) != KF_OK ||
            kf_dir_set_password(dir, name, pw, &err) != KF_OK ||
            kf_dir_spn_modify(dir, name, spns, 1, NULL, 0, &err) != KF_OK ||
            kf_dir_account_get(dir, name, &acct, &err) != KF_OK ||
            kf_keys_derive(kf_dir_realm(dir), kf_dir_server(dir), name, pw, KF_ENCTYPES_DEFAULT, spns, 1,
                           (uint32_t)acct->kvno, &ks, &err) != KF_OK) {
            fprintf(stderr, "kf-lab-hosts: %s: %s\n", fqdn, err.msg);
            kf_free_secret_str(pw);
            kf_dir_account_free(acct);
            goto out;
        }
        kf_free_secret_str(pw);
        own = kf_keyset_new();
        n = strlen(spn);
        for (size_t i = 0; own && i < ks->n; i++)
            if (strncmp(ks->v[i].principal, spn, n) == 0 && ks->v[i].principal[n] == '@')
                kf_keyset_add(own, &ks->v[i]);
        if (own == NULL || kf_keytab_save(keytab, own, KF_KEYTAB_NO_GROUP, &err) != KF_OK) {
            fprintf(stderr, "kf-lab-hosts: %s: %s\n", keytab, err.msg);
            kf_keyset_free(own);
            kf_keyset_free(ks);
            kf_dir_account_free(acct);
            goto out;
        }
        printf("%s %s %d\n", fqdn, name, acct->kvno);
        fflush(stdout);
        kf_keyset_free(own);
        kf_keyset_free(ks);
        kf_dir_account_free(acct);
    }
    rc = 0;
out:
    kf_dir_free(dir);
    kf_config_free(cfg);
    return rc;
}
