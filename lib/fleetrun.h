/* fleetrun.h - the web servers of one run of the rotation engine
 * (rotate.c: password set, sync, copy) and what happened to each.
 *
 * A run plans its servers from the topology (one kf_server_result row
 * each), then goes through phases, each one call of a per-server worker on
 * every server in parallel (kf_fleet_phase): connect, stage, withdraw,
 * verify, prune, or a mode's own. A worker records its server's outcome in
 * the server's row (kf_srv_fail, kf_srv_action); progress and warnings go
 * to the sink of the options (progress.h), never to stderr. */
#ifndef KF_FLEETRUN_H
#define KF_FLEETRUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_client.h"
#include "directory.h"
#include "keys.h"
#include "probe.h"
#include "rotate.h"
#include "topology.h"

/* One server of the run. */
struct kf_srv {
    struct kf_server_result *res;
    char *probe_url;
    char *probe_host; /* the SPN a login asks for is HTTP/<probe_host> */
    struct kf_agent *agent;
    struct kf_agent_status *status;
    bool skip;   /* not to be reached in this run */
    bool usable; /* reached and allowed (or --force skipped it) */
    bool staged; /* has the new key set */
    bool commit; /* to be told (COMMIT) that the directory uses run->kvno */
};

/* The run: its servers and what the current phase works with. */
struct kf_fleet {
    struct kf_srv *srv;
    size_t n;
    const struct kf_rotate_opts *o;
    const char *realm;
    const char *kdc;              /* the DC of the directory connection */
    const struct kf_keyset *keys; /* stage: the set to stage */
    uint32_t kvno;                /* the kvno of the current operation */
    pthread_mutex_t lock;         /* for counters */
    size_t events;
    const char *phase;
    void *extra;       /* the mode's own per-server state (sync) */
    char *const *want; /* the account's managed principals (prune keeps others'); or NULL */
    size_t n_want;
    int32_t retired[3]; /* krb5 enctypes whose entries of WANT go (prune_retired) */
    size_t n_retired;
    size_t unpruned; /* servers where that could not be done */
    struct kf_probe_cache *probes; /* verify: one ticket per pool SPN, or NULL */
    size_t verify_tickets;         /* service tickets the last verify asked the KDC for */
    /* commit: the account as NAME$@REALM, its servers, the grace */
    const char *account;
    char **servers;
    size_t n_servers;
    uint32_t grace_s;
};

/* Every web server of every site assigned to ACCT, or only those named in
 * ONLY: a row each in RES->servers (state NOT STARTED) and *OUT (free with
 * kf_fleet_srvs_free). Errors: KF_ERR_NOMEM. */
kf_status kf_fleet_plan(const struct kf_topology *topo, const struct kf_account *acct,
                        int default_port, const char *const *only, size_t n_only,
                        struct kf_rotate_result *res, struct kf_srv **out, struct kf_err *err);
void kf_fleet_srvs_free(struct kf_srv *srv, size_t n);

/* Run FN(i, RUN) for every server, RUN->o->concurrency at a time,
 * reporting progress as PHASE. */
void kf_fleet_phase(struct kf_fleet *run, const char *phase, void (*fn)(size_t, void *));

/* The phases' workers (for kf_fleet_phase):
 *  connect  reach the agent and read its STATUS (marks it usable);
 *  stage    stage RUN->keys at RUN->kvno on every usable server;
 *  withdraw withdraw RUN->kvno from every server that staged it;
 *  verify   a real login where the pool is published (RUN->kvno expected);
 *  prune    remove the account's entries below RUN->kvno (RUN->want);
 *  prune_retired  remove the account's entries (RUN->want) of the enctypes
 *           in RUN->retired at every kvno (counted in RUN->unpruned when
 *           that fails). */
void kf_fleet_connect(size_t i, void *run);
void kf_fleet_stage(size_t i, void *run);
void kf_fleet_withdraw(size_t i, void *run);
void kf_fleet_verify(size_t i, void *run);
void kf_fleet_prune(size_t i, void *run);
void kf_fleet_prune_retired(size_t i, void *run);
/* commit   COMMIT RUN->kvno of RUN->account (RUN->want, RUN->servers,
 *           RUN->grace_s) on every server marked commit whose agent knows
 *           the operation; a refusal fails the server (fix: sync). */
void kf_fleet_commit(size_t i, void *run);

/* The verify phase: one ticket per pool SPN, obtained from the KDC now
 * (after the commit, so it carries the new kvno), serves every login to
 * that pool's servers; each login makes its own authenticator and checks
 * the server's mutual-authentication token. */
void kf_fleet_verify_all(struct kf_fleet *run);

/* Servers not usable; with FORCE they are marked SKIPPED. */
size_t kf_fleet_unreachable(struct kf_fleet *run, bool force);
/* The first server error in OUT ("" if none). */
void kf_fleet_first_failure(const struct kf_fleet *run, char *out, size_t size);

/* Mark R failed with a one-sentence error and the command that repairs
 * it (FIX, or NULL). */
void kf_srv_fail(struct kf_server_result *r, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append a sentence to what was done to R (sync, copy). */
void kf_srv_action(struct kf_server_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Make the managed entries (principals in WANT) of S's keytab at KVNO
 * exactly MANAGED (NULL or empty: none), leaving the entries of other
 * principals there as they are. Errors: those of the agent calls. */
kf_status kf_srv_put_managed(struct kf_srv *s, uint32_t kvno, const struct kf_keyset *managed,
                             char *const *want, size_t n_want, struct kf_err *err);

/* Whether D lists HTTP/HOST among its SPNs. */
bool kf_fleet_has_spn(const struct kf_dir_account *d, const char *host);

#endif
