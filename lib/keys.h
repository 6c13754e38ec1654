/* keys.h - the keys of a Kerberos account derived from its password, the
 * way the KDC derives them: for every enctype, string-to-key with the salt
 * the KDC reports (etype-info, asked with the account name — never
 * computed), and one keytab entry per principal that shares the account's
 * key (its SPNs and NAME$ itself).
 *
 * Key material lives only in memory; kf_keyset_free wipes it.
 */
#ifndef KF_KEYS_H
#define KF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "mem.h"

#define KF_KEY_MAX 64 /* bytes of one key; AES256 is 32 */

struct kf_key_entry {
    char *principal; /* "HTTP/web.example.com@EXAMPLE.COM" */
    uint32_t kvno;
    int32_t enctype; /* krb5 enctype number (18 aes256, 17 aes128, 23 rc4) */
    uint32_t timestamp;
    size_t key_len;
    unsigned char key[KF_KEY_MAX];
};

struct kf_keyset {
    struct kf_key_entry *v;
    size_t n;
};

struct kf_keyset *kf_keyset_new(void);
void kf_keyset_free(struct kf_keyset *ks); /* wipes; accepts NULL */
KF_DEFINE_CLEANUP(struct kf_keyset, kf_keyset_free)
/* Append a copy of E (its key too). 0 or -1 (ENOMEM). */
int kf_keyset_add(struct kf_keyset *ks, const struct kf_key_entry *e);

/* msDS-SupportedEncryptionTypes bits -> krb5 enctype numbers, strongest
 * first; returns the count written to OUT (at most 3). */
size_t kf_enctypes_krb5(unsigned bits, int32_t *out);

/* Derive the keys of account NAME (short name; principal NAME$@REALM) at
 * KVNO from PASSWORD for every enctype of ENCTYPE_BITS, for the principals
 * SPNS[i]@REALM and NAME$@REALM. Salts come from the KDC (etype-info),
 * asked of KDC (a DC's name: the one the operation talks to) or, when KDC
 * is NULL, of the realm's KDCs as krb5.conf says. */
kf_status kf_keys_derive(const char *realm, const char *kdc, const char *name,
                         const char *password, unsigned enctype_bits, const char *const *spns,
                         size_t n_spns, uint32_t kvno, struct kf_keyset **out,
                         struct kf_err *err);

/* The same keys with SALT given instead of asked (AES with its default
 * parameters): for an account that does not exist yet, whose salt the KDC
 * cannot report (kf_keys_computer_salt). No KDC is asked. */
kf_status kf_keys_derive_salted(const char *realm, const char *name, const char *salt,
                                const char *password, unsigned enctype_bits,
                                const char *const *spns, size_t n_spns, uint32_t kvno,
                                struct kf_keyset **out, struct kf_err *err);

/* Active Directory's salt for the computer account NAME (with or without
 * its '$'): REALM "host" lower(NAME) "." lower(DOMAIN), e.g.
 * "LAB.TESThostwebpool.lab.test", into OUT of SIZE bytes. KF_ERR_INVALID
 * when it does not fit. Pure. */
kf_status kf_keys_computer_salt(const char *realm, const char *domain, const char *name,
                                char *out, size_t size, struct kf_err *err);

/* Translate a krb5 error (message freed) into ERR with CODE. */
kf_status kf_krb5_err(void *krb5_ctx, long code, kf_status kind, struct kf_err *err,
                      const char *what);

#endif
