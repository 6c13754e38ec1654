/* account.h - naming a Kerberos account and its encryption types.
 *
 * An account is written DOMAIN\name (NetBIOS domain, as the seed's
 * contoso\kerbauth); afterwards name, name$ and DOMAIN\name all name it,
 * case-insensitively. Pure functions.
 */
#ifndef KF_ACCOUNT_H
#define KF_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define KF_ACCOUNT_NAME_MAX 15 /* a computer's NetBIOS name; sAMAccountName adds '$' */
#define KF_NETBIOS_MAX 15

struct kf_account_name {
    char domain[KF_NETBIOS_MAX + 1]; /* upper case; empty when not given */
    char name[KF_ACCOUNT_NAME_MAX + 1]; /* lower case, no '$' */
};

/* Parse "DOMAIN\name", "name$" or "name". When REQUIRE_DOMAIN, the domain
 * part must be present. Names are 1-15 letters, digits or inner '-'. */
kf_status kf_account_name_parse(const char *in, bool require_domain, struct kf_account_name *out,
                                struct kf_err *err);

/* Parse a comma-separated list of encryption types into
 * msDS-SupportedEncryptionTypes bits: aes256 (aes256-cts-hmac-sha1-96),
 * aes128 (aes128-cts-hmac-sha1-96), rc4 (rc4-hmac, arcfour-hmac). DES is
 * refused. *RC4 is set when RC4 was asked for (the caller warns). */
kf_status kf_enctypes_parse(const char *list, unsigned *bits, bool *rc4, struct kf_err *err);

/* "aes256,aes128" for BITS, written to OUT. */
void kf_enctypes_format(unsigned bits, char *out, size_t outsize);

#endif
