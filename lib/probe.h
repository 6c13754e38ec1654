/* probe.h - a real SPNEGO login against one web server, as a browser makes
 * it, with the server's mutual-authentication token checked (libcurl's
 * own Negotiate does not check it, so the exchange is made here with
 * GSSAPI and libcurl only carries HTTP/TLS).
 *
 * The service ticket is always fresh: the caller's TGT is copied into a
 * private in-memory cache, so a ticket cached before a rotation (with the
 * old kvno) is never reused. It is issued by KDC when given (the DC the
 * operation talks to), else by whichever KDC krb5.conf names.
 */
#ifndef KF_PROBE_H
#define KF_PROBE_H

#include <stdbool.h>

#include "errors.h"

struct kf_probe_result {
    long http_status;    /* 0 when no HTTP answer */
    bool mutual;         /* the server's final token verified */
    int ticket_kvno;     /* kvno of the service ticket we used, -1 unknown */
    int ticket_enctype;  /* its session... ticket enctype, -1 unknown */
    bool fell_back;      /* the server offered only NTLM or Basic */
    char detail[512];    /* one sentence for people */
};

/* Log in to URL (its host names the service: HTTP/<host>@REALM), sending
 * the request to ADDRESS (NULL: resolve the host) as curl --resolve does.
 * CA_FILE verifies https (NULL: system trust); TIMEOUT_S bounds it all.
 * Returns KF_OK when the exchange could be made (see RESULT for the
 * verdict), an error when it could not even be tried (no ticket, no KDC). */
kf_status kf_probe_login(const char *url, const char *address, const char *realm,
                         const char *kdc, const char *ca_file, int timeout_s,
                         struct kf_probe_result *result, struct kf_err *err);

/* The same, asking for a ticket for HTTP/SERVICE_HOST instead of the URL's
 * host (NULL: the URL's host), as a browser does after resolving the host
 * to its canonical name; the request still carries the URL's host. */
kf_status kf_probe_login_spn(const char *url, const char *address, const char *service_host,
                             const char *realm, const char *kdc, const char *ca_file,
                             int timeout_s, struct kf_probe_result *result, struct kf_err *err);

/* A verdict: HTTP 200 (or another 2xx/3xx) with mutual authentication. */
bool kf_probe_ok(const struct kf_probe_result *r);

#endif
