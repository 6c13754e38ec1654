/* dns_srv.h - DNS SRV lookups (RFC 2782), e.g. _ldap._tcp.<domain>.
 *
 * Uses the system resolver (libresolv, a private resolver state per call:
 * no global state is changed). Results come back in the order a client
 * should try them: lowest priority first, and within one priority a
 * weighted random order.
 */
#ifndef KF_DNS_SRV_H
#define KF_DNS_SRV_H

#include <stddef.h>

#include "errors.h"

#define KF_SRV_MAX 64 /* records kept from one answer */

struct kf_srv {
    char *target; /* host name, lower-cased, no trailing dot */
    unsigned priority;
    unsigned weight;
    unsigned port;
};

/* Look up the SRV records of NAME ("_ldap._tcp.lab.test") and store them,
 * ordered as above, in a new array *OUT of *N entries (free with
 * kf_srv_free). Errors: KF_ERR_NOT_FOUND (no such name, no SRV records, or
 * only the "." target that means "no service here"), KF_ERR_DIRECTORY
 * (the resolver failed or timed out; the message names NAME), KF_ERR_NOMEM. */
kf_status kf_srv_lookup(const char *name, struct kf_srv **out, size_t *n, struct kf_err *err);

/* Parse a DNS answer of LEN bytes (at most 64 KiB) to the SRV query for
 * NAME into *OUT / *N, unordered: the bounded parser kf_srv_lookup uses
 * (fuzzed). Targets that are not valid host names are skipped. Errors as
 * kf_srv_lookup. */
kf_status kf_srv_parse(const unsigned char *answer, size_t len, const char *name,
                       struct kf_srv **out, size_t *n, struct kf_err *err);

/* Put LIST in RFC 2782 order: ascending priority; within a priority, pick
 * records one by one with probability proportional to weight (weight 0 is
 * picked last among its priority). RND returns a uniform value in
 * [0, bound) for bound > 0; NULL uses getrandom(). */
void kf_srv_order(struct kf_srv *list, size_t n, unsigned long (*rnd)(unsigned long bound));

void kf_srv_free(struct kf_srv *list, size_t n); /* accepts NULL */

#endif
