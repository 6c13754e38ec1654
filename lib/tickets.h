/* tickets.h - krbfleet's private cache of the agents' service tickets.
 *
 * A connection to an agent needs a host/<server> service ticket. Asking
 * the KDC for one per agent per run was half of a rotation's KDC work, so
 * the tickets are kept between runs in a directory of krbfleet's own
 * ([rotation] ticket_cache; default /var/cache/krbfleet/<uid>), never in
 * the admin's ccache: one file per client principal, in libkrb5's ccache
 * file format, holding host/ service tickets only (no TGT, no long-term
 * key). The process loads that file once into a MEMORY ccache (a FILE
 * ccache is read linearly on every lookup: quadratic over 1,000 agents),
 * every agent connection of the process takes its ticket from there (the
 * KDC is asked only for a missing or expiring one), and kf_tickets_save
 * writes the cache back atomically at the end.
 *
 * The directory must be a real directory (not a symlink) owned by the
 * effective user with mode 0700 (it is created so when missing, its parent
 * when that is /var/cache/krbfleet); the file a regular file owned by the
 * user, not readable by others, at most KF_TICKETS_FILE_MAX bytes. Anything
 * else is not used (a symlink, another owner, wrong modes, garbage) and a
 * warning says why; a bad directory also keeps the file from being written.
 *
 * Process-wide state (the ccache is the process's); thread-safe. */
#ifndef KF_TICKETS_H
#define KF_TICKETS_H

#include <krb5.h>
#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define KF_TICKETS_DIR_BASE "/var/cache/krbfleet"
#define KF_TICKETS_FILE_MAX (16 * 1024 * 1024)
#define KF_TICKETS_MAX 8192 /* tickets kept; the ones expiring first go */

/* Use DIR (absolute; NULL: KF_TICKETS_DIR_BASE/<euid>) for this process's
 * agent tickets. Nothing is read until the first agent connection.
 * Errors: KF_ERR_NOMEM, KF_ERR_INVALID (not absolute, too long). */
kf_status kf_tickets_use(const char *dir, struct kf_err *err);

/* For agent_client: the shared MEMORY ccache of this process, loaded on
 * first use and holding a copy of TGT (the caller's TGT for CLIENT), as a
 * GSSAPI ccache name "MEMORY:..." in NAME (SIZE bytes). False when the
 * cache is not in use (kf_tickets_use not called) or could not be set up:
 * then the caller keeps its own private ccache. */
bool kf_tickets_ccache(krb5_context ctx, krb5_principal client, const krb5_creds *tgt,
                       char *name, size_t size);

/* Drop SERVER's ticket from the shared cache (the agent refused it: its
 * host keys changed), so the next request asks the KDC. */
void kf_tickets_drop(krb5_context ctx, krb5_principal server);

/* What the cache did in this process. */
struct kf_tickets_report {
    bool used;           /* the cache was loaded (an agent was contacted) */
    size_t loaded;       /* tickets read from the file */
    size_t saved;        /* tickets written back */
    char warning[512];   /* why the file or directory was not used; "" */
};

/* Write the shared cache's valid host/ tickets back (a temporary file in
 * the directory, fsync, rename over the file) and fill *R. Does nothing
 * when no agent was contacted. Errors (the warning says why; nothing is
 * lost but the cache): KF_ERR_IO, KF_ERR_NOMEM. */
kf_status kf_tickets_save(struct kf_tickets_report *r, struct kf_err *err);

#endif
