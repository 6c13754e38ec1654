/* config.h - the krbfleet configuration file (INI, read with libinih).
 *
 * Sections and keys (docs/design.md, "Configuration and command line"):
 *
 *   [directory] backend, domain, server, ldap_uri, tls, ca_file,
 *               password_method, timeout, client_keytab, client_principal
 *   [store]     path or url (a PostgreSQL URL; both: an error)
 *   [agent]     port, and krbfleetd's own keys, named as its long options:
 *               listen, principal, host-keytab, keytab, keytab-group,
 *               allow (may repeat)
 *   [rotation]  concurrency, grace, max_age, ticket_cache
 *   [probe]     ca_file
 *   [status]    prometheus_file
 *   [permission] group
 *
 * Unknown sections or keys, a key given twice (except `allow`), an empty
 * value, a malformed value, an indented continuation line, a line longer
 * than libinih's line buffer and a file over KF_CONFIG_MAX_SIZE are all
 * errors; the message starts "FILE:LINE: ". An unknown key or section
 * near a known one (suggest.h) gets "did you mean ...?". Comments start a line with ';'
 * or '#', or follow a value after whitespace and ';' ("port = 7390 ; web").
 * Paths must be absolute. No global state is used or changed.
 */
#ifndef KF_CONFIG_H
#define KF_CONFIG_H

#include <stddef.h>

#include "errors.h"
#include "mem.h"

#define KF_CONFIG_DEFAULT_PATH "/etc/krbfleet/krbfleet.conf"
#define KF_CONFIG_ENV "KRBFLEET_CONFIG"
#define KF_CONFIG_MAX_SIZE (1024 * 1024) /* larger files are refused */
#define KF_CONFIG_ALLOW_MAX 1024         /* `allow` lines in [agent] */
#define KF_DURATION_MAX (3650LL * 86400) /* 3650d */

enum kf_tls { KF_TLS_NO, KF_TLS_STARTTLS, KF_TLS_LDAPS };
enum kf_password_method { KF_PW_LDAP, KF_PW_KPASSWD };

/* A loaded configuration. Every string is owned by the struct and freed by
 * kf_config_free(); NULL means "not set" (the documented default applies
 * where a default is not filled in below). */
struct kf_config {
    char *file; /* the file that was read, NULL if none */
    struct {
        char *backend;   /* "ad" (default) or "mit" */
        char *domain;    /* lower-cased DNS name; when not set, the default realm of
                          * krb5.conf lower-cased (kf_config_load only; stays NULL
                          * if krb5 knows no default realm) */
        char *server;    /* DNS name (lower-cased) or address; NULL: DNS SRV */
        char *ldap_uri;  /* ldap://, ldaps:// or ldapi:// URIs, space-separated */
        enum kf_tls tls; /* default KF_TLS_NO */
        char *ca_file;   /* NULL: system trust */
        enum kf_password_method password_method; /* default KF_PW_LDAP */
        long long timeout_s;                     /* default 10, 1..3600 */
        char *client_keytab;    /* a keytab to get a TGT from when the cache has none */
        char *client_principal; /* its principal: sAMAccountName ("ADMINHOST$") or
                                 * NAME@REALM; NULL: the keytab's first entry */
    } directory;
    struct {
        char *path; /* default /var/lib/krbfleet/krbfleet.db */
        char *url;  /* postgresql://host/dbname (no password), or NULL */
    } store;
    struct {
        int port; /* default 7390 */
        /* krbfleetd's own keys, same names as its long options: */
        char *listen;       /* HOST:PORT or [IPv6]:PORT */
        char *principal;    /* host/FQDN */
        char *host_keytab;  /* "host-keytab" */
        char *keytab;       /* "keytab" */
        char *keytab_group; /* "keytab-group" */
        char **allow;       /* PRINCIPAL or @GROUP, in file order */
        size_t n_allow;
    } agent;
    struct {
        int concurrency;   /* default 1024, 1..4096 */
        long long grace_s; /* default 36000 (10h) */
        long long max_age_s; /* default 2592000 (30d): a password older is due */
        char *ticket_cache;  /* NULL: /var/cache/krbfleet/<uid> (tickets.h) */
    } rotation;
    struct {
        char *ca_file; /* NULL: system trust */
    } probe;
    struct {
        char *prometheus_file; /* NULL: `status --prometheus` writes stdout */
    } status;
    struct {
        char *group; /* the trustee of `permission grant/revoke` without --group */
    } permission;
};

/* Load PATH into a new configuration stored in *OUT (free it with
 * kf_config_free). If PATH is NULL, use $KRBFLEET_CONFIG if set and not
 * empty, else KF_CONFIG_DEFAULT_PATH. A missing file is an error only when
 * it was named (PATH or the environment); a missing default file gives the
 * defaults, with file NULL. Resolves directory.domain from krb5.conf when the
 * file does not set it.
 * Errors: KF_ERR_CONFIG (missing named file, not a regular file, too large,
 * any content error), KF_ERR_PERMISSION, KF_ERR_IO, KF_ERR_NOMEM. */
kf_status kf_config_load(const char *path, struct kf_config **out, struct kf_err *err);

/* kf_config_load with DEFAULT_PATH in place of KF_CONFIG_DEFAULT_PATH; for
 * tests (and nothing else should need it). */
kf_status kf_config_load_at(const char *path, const char *default_path, struct kf_config **out,
                            struct kf_err *err);

/* Parse TEXT (LEN bytes, need not be NUL-terminated; a NUL byte inside is an
 * error) as if read from the file NAME (used in messages and stored as
 * cfg->file; NULL: "<config>" and file NULL). Does not consult krb5.conf:
 * directory.domain stays NULL unless set. Stores a new configuration in *OUT.
 * Errors: KF_ERR_CONFIG, KF_ERR_NOMEM. */
kf_status kf_config_parse(const char *text, size_t len, const char *name, struct kf_config **out,
                          struct kf_err *err);

/* Free CFG and everything it owns. Accepts NULL. */
void kf_config_free(struct kf_config *cfg);
KF_DEFINE_CLEANUP(struct kf_config, kf_config_free)

/* Parse a duration: a non-negative decimal integer immediately followed by
 * one unit, s, m, h or d ("90s", "5m", "10h", "2d"), at most KF_DURATION_MAX
 * seconds. Stores seconds in *SECONDS. Errors: KF_ERR_INVALID. */
kf_status kf_duration_parse(const char *s, long long *seconds, struct kf_err *err);

#endif
