/* rotate.h - Set-CsKerberosAccountPassword, safely (docs/design.md, "The
 * rotation"): plan, stage, commit, verify, prune — the copy of keys from
 * one web server to another, and `krbfleet sync`, which repairs whatever
 * a killed or failed run left behind.
 *
 * The directory is reached only through directory.h, the agents only
 * through agent_client.h; the KDC traffic that matters (the account's salt,
 * the verification tickets) goes to the directory connection's DC, so
 * replication lag cannot mislead it. The admin host keeps no key material
 * at rest: keys exist in memory only for the run and are wiped.
 */
#ifndef KF_ROTATE_H
#define KF_ROTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "store.h"

struct kf_rotate_opts {
    const char *account; /* short name */
    bool force;          /* skip unreachable/refusing/failing servers, report them */
    bool dry_run;        /* plan and reach every agent; change nothing */
    int concurrency;     /* agents in flight */
    int timeout_s;       /* per agent call and per probe */
    long long grace_s;   /* keep a kvno this long after a newer one was committed */
    int agent_port;      /* default agent port ([agent] port) */
    const char *probe_ca;
    const char *user;    /* who runs it, for the lock */
    unsigned enctypes;   /* rotation: stage keys of these types (msDS-SupportedEncryptionTypes
                            bits); 0: the account's (the directory's, else the store's) */
    struct kf_progress_sink progress; /* per phase: servers done, the slowest pending */
};

enum kf_server_state {
    KF_SERVER_OK,          /* has the new keys and a real login works */
    KF_SERVER_SKIPPED,     /* --force: unreachable or refused, left alone */
    KF_SERVER_FAILED,      /* something failed; see error and fix */
    KF_SERVER_PLANNED,     /* dry run: reachable, would be rotated */
    KF_SERVER_NOT_STARTED, /* the run was refused or stopped before it came to this server */
};

/* "OK", "SKIPPED", "FAILED", "READY", "NOT STARTED": the words tables and
 * JSON use. */
const char *kf_server_state_name(enum kf_server_state s);

struct kf_server_result {
    char *server, *pool, *site, *address;
    int port;
    enum kf_server_state state;
    int kvno;          /* newest kvno it holds after the run, -1 unknown */
    bool published;    /* the pool's SPN is in the directory */
    char *login;       /* the probe's verdict, one sentence (NULL if none) */
    char *error;       /* one sentence, NULL when fine */
    char *fix;         /* the command that repairs it, or NULL */
    size_t pruned;     /* entries pruned */
    char *action;      /* sync: what was done to it, one sentence (NULL: rotation) */
};

struct kf_rotate_result {
    char *run_id;
    char *dc;             /* the DC everything went to */
    char *summary;        /* --from/--to: what was (or would be) copied, one sentence; or NULL */
    int old_kvno, new_kvno;
    bool directory_changed;
    bool locked_elsewhere; /* refused: another run holds the account's lock (the error names it) */
    struct kf_server_result *servers;
    size_t n_servers;
};

/* Rotate the password of OPTS->account and deliver its keys to every web
 * server of every site assigned to it. *RESULT is always set (free with
 * kf_rotate_result_free); the return is KF_OK only if every server ended
 * healthy (for a dry run: every agent reachable). */
kf_status kf_rotate(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *opts,
                    struct kf_rotate_result **result, struct kf_err *err);

/* Copy the account's keys from FROM's agent to TO's agent
 * (Set-CsKerberosAccountPassword -FromComputer -ToComputer). Both must be
 * web servers of sites assigned to the same account. A copy can only
 * improve TO:
 *  - FROM is checked first: a fresh service ticket (from the directory's
 *    DC, this run) must be accepted by FROM's key set labelled with the
 *    directory's kvno D (CHECK). If not, nothing is changed and the error
 *    names a server of the account that does hold the right keys, if one
 *    answers.
 *  - Only entries of the account's managed principals (the HTTP/ names the
 *    topology implies and NAME$) are copied, completed for every one of
 *    them; other principals' entries are never spread, and TO's own are
 *    kept. TO gets FROM's set at D, and FROM's older kvnos that TO lacks.
 *  - TO is checked again with the same ticket (and a real login where the
 *    pool is published); if its set at D accepted the ticket before and
 *    not after, its old set is put back. OK only when it accepts it.
 * OPTS->dry_run: both agents are reached and checked, SUMMARY says what
 * would be copied, nothing is changed. *RESULT is always set when the two
 * servers were planned; its SUMMARY says what was done. */
kf_status kf_rotate_copy(struct kf_store *st, struct kf_dir *dir, const char *from,
                         const char *to, const struct kf_rotate_opts *opts,
                         struct kf_rotate_result **result, struct kf_err *err);

void kf_rotate_result_free(struct kf_rotate_result *r);

/* ---- sync: converge every server to the directory ----------------------
 *
 * For each account (OPTS->account, or every account when NULL): take its
 * lock; read its kvno D from the directory (one DC; the KDC pinned to it);
 * reach every agent of its sites; get a fresh service ticket for one of
 * its published SPNs that the topology implies (NAME$ when none is) and
 * ask every agent which key accepts it (CHECK tries every key whatever its
 * kvno label says); take that key set from one agent that holds it
 * (EXPORT), completed with entries for every SPN the topology implies;
 * stage it at D on every server whose set at D differs (restamping keys
 * found under a wrong label); withdraw sets labelled above D (staged by a
 * run that never committed) and wrong labels; check every server again
 * with the same ticket and log in for real where the pool is published;
 * prune kvnos older than grace; record it all in the store.
 *
 * Refused when the store recorded a kvno above D as committed (this DC may
 * not have replicated it yet). When no reachable agent holds a key that
 * accepts the ticket, the keys are lost: the account's error says so, and
 * that `krbfleet password set --account NAME` makes new ones. */
struct kf_sync_account {
    char *account;              /* short name */
    char *principal;            /* the service the fresh ticket was for; NULL if none */
    char *source;               /* the server whose keys were copied; NULL if none */
    char *note;                 /* nothing to do and why, e.g. no site assigned; or NULL */
    char *error;                /* why this account is not in sync; NULL when it is */
    char *fix;                  /* the command that repairs it, or NULL */
    kf_status status;
    struct kf_rotate_result *r; /* dc, old_kvno = new_kvno = D, one row per server */
};

struct kf_sync_result {
    struct kf_sync_account *v;
    size_t n;
};

/* Sync OPTS->account (NULL: every account). OPTS->force and dry_run are
 * not used. *RESULT is always set when accounts were found (free with
 * kf_sync_result_free); the return is KF_OK only if every server of every
 * account ended holding the keys the directory uses, at its kvno. */
kf_status kf_sync(struct kf_store *st, struct kf_dir *dir, const struct kf_rotate_opts *opts,
                  struct kf_sync_result **result, struct kf_err *err);

void kf_sync_result_free(struct kf_sync_result *r);

/* Take ACCOUNT's rotation lock for USER in its own transaction, as
 * `password set` and `sync` do (a dead holder's lock on this host is taken
 * over); *ELSEWHERE when a live run holds it (KF_ERR_CONFLICT, naming it).
 * For changes that must not interleave with a rotation (acctset.h). */
kf_status kf_rotate_lock(struct kf_store *st, const char *account, const char *user,
                         bool *elsewhere, struct kf_err *err);
void kf_rotate_unlock(struct kf_store *st, const char *account);

#endif
