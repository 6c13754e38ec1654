/* clientcred.h - krbfleet's own credentials for unattended runs.
 *
 * With [directory] client_keytab (and client_principal) set and no valid
 * ticket in the default cache, a TGT is got from that keytab into a private
 * MEMORY cache of this process, and KRB5CCNAME is pointed at it, so every
 * later libkrb5 and GSSAPI call of the process (LDAP's SASL/GSSAPI bind,
 * the rotation's KDC requests, the agents' authentication) uses it.
 * KRB5_CLIENT_KTNAME alone would serve only GSSAPI initiators, not the
 * krb5_get_credentials calls the rotation makes. No password anywhere.
 */
#ifndef KF_CLIENTCRED_H
#define KF_CLIENTCRED_H

#include <krb5.h>
#include <stdbool.h>

#include "errors.h"

/* True when CC holds a ticket of PRINC valid now: not expired, not marked
 * invalid (postdated), not a cache configuration entry. */
bool kf_krb5_has_valid_ticket(krb5_context ctx, krb5_ccache cc, krb5_principal princ);

/* If the default cache holds no valid ticket, get a TGT for PRINCIPAL
 * (a sAMAccountName such as "ADMINHOST$", REALM appended, or NAME@REALM)
 * from KEYTAB (an absolute path) into a new MEMORY cache and set
 * KRB5CCNAME to it. *GOT says whether it did. Errors: KF_ERR_CONFIG
 * (no principal), KF_ERR_CREDENTIALS (the KDC or keytab refused: the
 * message names both and libkrb5's reason), KF_ERR_NOMEM. */
kf_status kf_client_login(const char *keytab, const char *principal, const char *realm,
                          bool *got, struct kf_err *err);

#endif
