/* rotctx.h - what the three modes of the rotation engine share (inside
 * lib/ only): password set (rotate.c), sync (sync.c) and the copy between
 * two servers (copy.c) each start the same way (kf_rotctx_begin: the
 * account and topology from the store, its servers planned, the
 * account's lock, its directory entry, every agent reached) and end the
 * same way (kf_rotctx_end). */
#ifndef KF_ROTCTX_H
#define KF_ROTCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "fleetrun.h"
#include "rotate.h"
#include "store.h"
#include "syncplan.h"

/* One account's run. */
struct kf_rotctx {
    struct kf_store *st;
    struct kf_dir *dir;
    const struct kf_rotate_opts *o;
    struct kf_account *acct;
    struct kf_topology *topo;
    struct kf_dir_account *dacct;
    struct kf_fleet run;
    struct kf_rotate_result *res;
    bool locked;
    bool withdraw_if_refused; /* sync: an ineligible account's keys are withdrawn */
    struct kf_err refused;    /* why it may not carry web keys (code KF_OK: it may) */
};

/* Lock C->o->account (not for a dry run), plan its servers (only those in
 * ONLY when not NULL), pin the KDC to the directory's DC, read the
 * account from the directory and reach every agent (phase "connect").
 * C->res is set whenever it could be allocated. */
kf_status kf_rotctx_begin(struct kf_rotctx *c, const char *const *only, size_t n_only,
                          struct kf_err *err);
/* Release the lock and everything but C->res. */
void kf_rotctx_end(struct kf_rotctx *c);

/* A line of the run's journal in the store. */
void kf_rotctx_journal(struct kf_store *st, const char *run_id, const char *account,
                       const char *step, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The account's managed principals: in *IMPLIED the SPNs the topology
 * implies ("HTTP/web.example.com"), in *WANT each of them with the realm
 * and NAME$@REALM, the principals a rotation stages. The caller frees both
 * (kf_strv_free). */
kf_status kf_rotctx_managed(const struct kf_rotctx *c, char ***implied, size_t *n_implied,
                            char ***want, size_t *n_want, struct kf_err *err);

/* The enctypes (msDS-SupportedEncryptionTypes bits) of the keys this run
 * stages or converges to: the options', else the directory's, else the
 * store's. */
unsigned kf_rotctx_staged_types(const struct kf_rotctx *c);

/* Prune the entries of the enctypes `account set --enctypes` took away
 * from the account longer than grace ago (and that CURRENT, the types of
 * this run's keys, does not hold) from every server that holds the
 * account's keys now; forget them once every server of the account is
 * clean (docs/design.md, "Changing enctypes safely"). */
void kf_rotctx_prune_retired(struct kf_rotctx *c, unsigned current);

/* COMMIT KVNO on every server marked (srv.commit), naming the account's
 * managed principals and its servers ("fqdn", or "fqdn:port" when the port
 * is not the default one) and the grace (issue 11). */
void kf_rotctx_mark_committed(struct kf_rotctx *c, uint32_t kvno);

/* When a run failed and the caller's ticket has expired meanwhile, or is
 * so close to its end that the KDC no longer honours it, say so first in
 * ERR: that is what the admin must fix. */
void kf_rotctx_blame_ticket(const char *account, struct kf_err *err);

/* Sync's and copy's check of keys with one fresh ticket. */
struct kf_synccheck {
    struct kf_syncsrv *s;
    const char *principal;
    const uint8_t *token;
    size_t token_len;
    const struct kf_keyset *target;
    uint32_t kvno;     /* D */
    char *const *want; /* the account's managed principals (with realm) */
    size_t n_want;
};

/* Worker (kf_fleet_phase, RUN->extra a struct kf_synccheck): ask server I
 * which of its keys accepts the ticket (CHECK). */
void kf_sync_check_one(size_t i, void *run);

#endif
