/* diagnose.h - why does a browser keep prompting? Two diagnoses, each a
 * list of PASS/WARN/FAIL findings (enable.h) where every FAIL names the
 * command that repairs it:
 *
 *  - kf_assignment_test (Test-CsKerberosAccountAssignment): for one site,
 *    its account in the directory (exists, enabled, not expired, exactly
 *    the implied SPNs, none of them also held by another object), its
 *    pools' names in DNS (a CNAME makes browsers ask for another SPN), and
 *    for every web server: the agent answers and admits us; the keytab
 *    holds every SPN at the directory's kvno with the account's enctypes;
 *    the file is readable by the web server's group and nobody else; the
 *    clock is within Kerberos' 5 minutes; which kvno's key accepts a fresh
 *    ticket (the agent's CHECK); and a real SPNEGO login with mutual
 *    authentication (probe.h).
 *
 *  - kf_doctor: one URL from a client's point of view: the SPN the client
 *    asks for after canonicalising the host name, whether the KDC issues a
 *    ticket for it and which directory object holds it, the ticket's kvno
 *    and enctype against the keytab of the server that answers (through
 *    its agent when the server is in the topology), the server's
 *    mutual-authentication token, and a fallback to NTLM or Basic.
 *
 * The directory is reached only through directory.h, agents through
 * agent_client.h. Tickets are always fresh and come from the directory
 * connection's DC when there is one.
 */
#ifndef KF_DIAGNOSE_H
#define KF_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "enable.h"
#include "errors.h"
#include "progress.h"
#include "store.h"

#define KF_DIAG_SKEW_MAX_S 300 /* Kerberos' default clockskew: a FAIL beyond */
#define KF_DIAG_SKEW_WARN_S 60 /* a WARN beyond */

struct kf_diag_opts {
    int agent_port;       /* an agent's port when the topology sets none */
    int timeout_s;        /* per agent call, ticket and login */
    int concurrency;      /* servers checked at once */
    const char *probe_ca; /* CA file for https probe URLs; NULL: system trust */
    struct kf_progress_sink progress; /* servers checked; doctor: its steps */
};

/* One line of the report's header: "site" = "redmond". */
struct kf_diag_fact {
    char *name;
    char *value;
};

/* What a diagnosis found. Findings about a web server have the object
 * "server:<fqdn>" and one of kf_diag_server_checks as check; the others
 * are about "account:DOMAIN\name", "pool:<fqdn>", "site:<name>",
 * "topology", or (doctor) "dns", "kdc", "directory", "login". */
struct kf_diag_report {
    char *title;     /* "assignment test --site redmond" */
    char *generated; /* UTC, ISO 8601 */
    struct kf_diag_fact *facts;
    size_t n_facts;
    char **servers; /* the web servers checked, in topology order */
    size_t n_servers;
    struct kf_findings findings;
};

/* The per-server checks, in the order of the report's columns; NULL-ended. */
extern const char *const kf_diag_server_checks[];

void kf_diag_report_free(struct kf_diag_report *r); /* accepts NULL */

/* "PASS", "WARN" or "FAIL". */
const char *kf_diag_verdict_name(enum kf_verdict v);

/* The worst verdict of the findings about OBJECT and CHECK (CHECK NULL:
 * any check); -1 when there is none. */
int kf_diag_worst(const struct kf_diag_report *r, const char *object, const char *check);

/* Test SITE's Kerberos account assignment (see above). *OUT is always set
 * on KF_OK; a test that finds problems still returns KF_OK (see
 * kf_findings_failed). Errors: KF_ERR_NOT_FOUND (no such site),
 * KF_ERR_DIRECTORY/CREDENTIALS (the directory cannot be read), KF_ERR_STORE,
 * KF_ERR_NOMEM. */
kf_status kf_assignment_test(struct kf_store *st, struct kf_dir *dir, const char *site,
                             const struct kf_diag_opts *opts, struct kf_diag_report **out,
                             struct kf_err *err);

/* Diagnose a Negotiate login to URL, connecting to ADDRESS (NULL: resolve
 * the URL's host). ST and DIR may be NULL (no store, no directory: those
 * findings are left out and said so). *LOGIN_OK says whether the real
 * login succeeded with mutual authentication. Errors: KF_ERR_INVALID (URL
 * or address malformed), KF_ERR_CREDENTIALS (no ticket to log in with),
 * KF_ERR_NOMEM. */
kf_status kf_doctor(struct kf_store *st, struct kf_dir *dir, const char *url, const char *address,
                    const struct kf_diag_opts *opts, struct kf_diag_report **out, bool *login_ok,
                    struct kf_err *err);

#endif
