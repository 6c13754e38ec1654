/* names.h - validation of the names and numbers a topology is made of.
 *
 * Pure functions, no allocation except where said. Messages written into
 * ERR quote the offending value and say what a valid one looks like.
 */
#ifndef KF_NAMES_H
#define KF_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define KF_FQDN_MAX 253
#define KF_LABEL_MAX 63
#define KF_SITE_NAME_MAX 64

/* Validate IN as a DNS name per RFC 1123 (labels of letters, digits and
 * inner hyphens, 1-63 characters, at most 253 in all; one trailing dot is
 * accepted and dropped) and write it, lower-cased, to OUT (at least
 * KF_FQDN_MAX + 1 bytes). A single label is accepted (a host name). */
kf_status kf_fqdn_normalize(const char *in, char *out, size_t outsize, struct kf_err *err);

/* True if S is a valid site name: 1-64 characters of letters, digits, '.',
 * '_', '-' or inner spaces. */
kf_status kf_site_name_check(const char *s, struct kf_err *err);

/* True if S is a literal IPv4 or IPv6 address. Writes the canonical text
 * form (inet_ntop) to OUT when OUT is not NULL (INET6_ADDRSTRLEN bytes). */
kf_status kf_address_normalize(const char *s, char *out, size_t outsize, struct kf_err *err);

/* Parse a TCP port 1-65535 from S, all of it. */
kf_status kf_port_parse(const char *s, int *port, struct kf_err *err);

/* Parse a non-negative decimal integer from S, all of it, at most MAX. */
kf_status kf_uint_parse(const char *s, long long max, long long *out);

/* Check an http(s) URL for --probe-url: scheme http or https, a valid host
 * (name or bracketed IPv6 / IPv4), optional port 1-65535, optional path; no
 * user info, no spaces or control characters; at most 2048 bytes. */
kf_status kf_url_check(const char *s, struct kf_err *err);

#endif
