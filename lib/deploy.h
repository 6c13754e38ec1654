/* deploy.h - a first deployment in one command: `krbfleet account new
 * 'DOMAIN\name' --site S [--site ...]` (docs/design.md, "The rotation",
 * "First deployment"). New-CsKerberosAccount, the assignments, keys on
 * every web server of the sites, the SPNs and a real login on every
 * server, in one process and in the safe order:
 *
 *   check     sites exist and are free, the name is free in the directory
 *             (or the account is ours: a re-run completes it), every agent
 *             answers — before anything is written
 *   stage     a random password; keys derived with the salt the account
 *             will have (AD's computer salt from realm, domain and name:
 *             the KDC cannot be asked before the object exists), staged
 *             at kvno 1 (a new object's) on every server
 *   record    account, assignments and the rotation lock in the store
 *   create    the computer object created WITH that password (one hash on
 *             the DC); its kvno read back
 *   confirm   the KDC's etype-info salt compared with the one used; keys
 *             derived again and staged if it differs, restamped if the kvno
 *             does
 *   publish   the account's SPNs (enable's plan, this account alone)
 *   verify    a real SPNEGO login to every server with a fresh ticket
 *
 * An account krbfleet already manages (a run killed half-way) is
 * completed instead: `sync` (a rotation when no server holds usable keys),
 * publish, then `sync` again, which verifies every server by a login.
 */
#ifndef KF_DEPLOY_H
#define KF_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "rotate.h"
#include "store.h"

struct kf_deploy_opts {
    const char *domain;        /* NetBIOS domain, as typed (checked by the caller) */
    const char *account;       /* short name */
    char *const *sites;        /* at least one */
    size_t n_sites;
    const char *container;     /* NULL: the domain's Computers container */
    unsigned enctypes;         /* msDS-SupportedEncryptionTypes bits */
    bool dry_run;              /* check and reach every agent; change nothing */
    int concurrency, timeout_s, agent_port;
    long long grace_s;
    const char *probe_ca;
    const char *user;          /* who runs it, for the lock */
    struct kf_progress_sink progress;
};

struct kf_deploy_result {
    struct kf_rotate_result *r; /* dc, run, new_kvno, one row per server (may be NULL) */
    char *dn;                   /* the account's object; NULL until it exists */
    bool completed;             /* the account was ours already: an earlier run completed */
    bool created;               /* this run created the directory object */
    bool restaged;              /* the KDC's salt or kvno differed: keys staged again */
    bool recorded;              /* the store holds the account and SITES_ASSIGNED now */
    char **sites_assigned;      /* sites this run assigns (dry run: would assign) */
    size_t n_sites_assigned;
    char **spns;                /* the account's SPNs published (dry run: to publish) */
    size_t n_spns;
    char **warnings;            /* one sentence each */
    size_t n_warnings;
};

/* Deploy OPTS->account on OPTS->sites. *RESULT is always set (free with
 * kf_deploy_result_free). KF_OK only when every web server of the sites
 * ended with the keys and a working login (dry run: every agent answered).
 * Refused with nothing changed (store, directory, keytabs): an unknown
 * site (KF_ERR_NOT_FOUND), a site assigned to another account
 * (KF_ERR_CONFLICT), an object of that name krbfleet does not manage
 * (KF_ERR_EXISTS), sites without web servers, an agent that does not
 * answer (KF_ERR_AGENT), an account of ours that may not carry web keys. A
 * later failure says what to run; re-running the same command completes
 * the deployment. */
kf_status kf_deploy(struct kf_store *st, struct kf_dir *dir, const struct kf_deploy_opts *opts,
                    struct kf_deploy_result **result, struct kf_err *err);
void kf_deploy_result_free(struct kf_deploy_result *r);

#endif
