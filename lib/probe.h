/* probe.h - a real SPNEGO login against one web server, as a browser makes
 * it, with the server's mutual-authentication token checked (libcurl's
 * own Negotiate does not check it, so the exchange is made here with
 * GSSAPI and libcurl only carries HTTP/TLS).
 *
 * The service ticket is always fresh — obtained from the KDC in this run:
 * the caller's TGT is copied into a private in-memory cache, so a ticket
 * cached before a rotation (with the old kvno) is never reused. It is
 * issued by KDC when given (the DC the operation talks to), else by
 * whichever KDC krb5.conf names. Many logins to one service share one
 * such ticket through a kf_probe_cache (each login still makes its own
 * authenticator and checks the server's token), as browsers behind a load
 * balancer do.
 */
#ifndef KF_PROBE_H
#define KF_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

struct kf_probe_result {
    long http_status;   /* 0 when no HTTP answer */
    bool mutual;        /* the server's final token verified */
    int ticket_kvno;    /* kvno of the service ticket we used, -1 unknown */
    int ticket_enctype; /* its session... ticket enctype, -1 unknown */
    bool fell_back;     /* the server offered only NTLM or Basic */
    char detail[512];   /* one sentence for people */
};

/* Log in to URL (its host names the service: HTTP/<host>@REALM), sending
 * the request to ADDRESS (NULL: resolve the host) as curl --resolve does.
 * CA_FILE verifies https (NULL: system trust); TIMEOUT_S bounds it all.
 * Returns KF_OK when the exchange could be made (see RESULT for the
 * verdict), an error when it could not even be tried (no ticket, no KDC). */
kf_status kf_probe_login(const char *url, const char *address, const char *realm, const char *kdc,
                         const char *ca_file, int timeout_s, struct kf_probe_result *result,
                         struct kf_err *err);

/* The same, asking for a ticket for HTTP/SERVICE_HOST instead of the URL's
 * host (NULL: the URL's host), as a browser does after resolving the host
 * to its canonical name; the request still carries the URL's host. */
kf_status kf_probe_login_spn(const char *url, const char *address, const char *service_host,
                             const char *realm, const char *kdc, const char *ca_file, int timeout_s,
                             struct kf_probe_result *result, struct kf_err *err);

/* A private ticket cache for many logins (thread-safe): the caller's TGT
 * for REALM, and per service the one ticket KDC issued for it in this
 * run. Errors: KF_ERR_CREDENTIALS (no TGT), KF_ERR_NOMEM, KF_ERR_CONFIG. */
struct kf_probe_cache;
kf_status kf_probe_cache_new(const char *realm, const char *kdc, struct kf_probe_cache **out,
                             struct kf_err *err);
void kf_probe_cache_free(struct kf_probe_cache *pc); /* accepts NULL */
/* How many service tickets PC asked the KDC for. */
size_t kf_probe_cache_requests(const struct kf_probe_cache *pc);

/* kf_probe_login with PC's ticket for the URL's host (asked of PC's KDC
 * by the first login to that service, then reused). May be called from
 * many threads at once. */
kf_status kf_probe_login_cached(struct kf_probe_cache *pc, const char *url, const char *address,
                                const char *ca_file, int timeout_s, struct kf_probe_result *result,
                                struct kf_err *err);

/* A verdict: HTTP 200 (or another 2xx/3xx) with mutual authentication. */
bool kf_probe_ok(const struct kf_probe_result *r);

#endif
