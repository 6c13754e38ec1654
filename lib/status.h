/* status.h - how the fleet stands, for a person, a script or Prometheus:
 * per managed account its kvno and password age (from the directory), when
 * its next rotation is due ([rotation] max_age), which of its web servers
 * hold keys at the directory's kvno (asked of the agents, STATUS, all at
 * once with a bounded time each) and how its last `password set` run ended
 * (the store's journal). Reads the store, the directory and the agents;
 * writes nothing; prints nothing.
 */
#ifndef KF_STATUS_H
#define KF_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "store.h"

enum kf_server_freshness {
    KF_FRESH_CURRENT,     /* holds the account's keys at the directory's kvno */
    KF_FRESH_STALE,       /* reached, but its newest key of the account is another kvno */
    KF_FRESH_UNREACHABLE, /* its agent did not answer (or refused us) in time */
};
#define KF_FRESH_N 3

/* "current", "stale", "unreachable" */
const char *kf_server_freshness_name(enum kf_server_freshness f);

struct kf_fleet_server {
    char *server, *pool, *site;
    enum kf_server_freshness state;
    int kvno;    /* the newest kvno of the account's principals in its keytab; -1: none/unknown */
    int committed; /* the newest kvno its agent holds as committed (COMMIT); -1: none/unknown */
    char *error; /* why it is unreachable; NULL otherwise */
};

struct kf_fleet_account {
    char *account;          /* short name */
    int kvno;               /* msDS-KeyVersionNumber; -1 if unknown */
    int64_t pwd_last_set;   /* Unix time; -1 if unknown */
    int64_t password_age_s; /* now - pwd_last_set; -1 if unknown */
    int64_t next_due;       /* pwd_last_set + max_age (Unix time); -1 if unknown */
    bool due;               /* the password is max_age old or older */
    struct kf_fleet_server *servers;
    size_t n_servers;
    size_t count[KF_FRESH_N]; /* servers per state */
    /* the last `password set` run (kf_store_last_rotation); run NULL: never */
    struct kf_rotation_run last;
    bool last_ok; /* it ran to the end and every server ended healthy */
};

struct kf_fleet_status {
    int64_t now; /* when it was asked (Unix time) */
    long long max_age_s;
    struct kf_fleet_account *v;
    size_t n;
};

struct kf_fleet_status_opts {
    const char *account; /* NULL: every managed account */
    int agent_port;      /* [agent] port, for servers without their own */
    int timeout_s;       /* bound of each agent's connection and STATUS */
    int concurrency;     /* agents asked at once */
    long long max_age_s; /* [rotation] max_age */
    struct kf_progress_sink progress;
};

/* Gather the status of one account (OPTS->account) or all. *RESULT is the
 * caller's (kf_fleet_status_free). Unreachable or stale servers are
 * results, not errors; the return is an error only when the store or the
 * directory could not be read (KF_ERR_STORE, KF_ERR_NOT_FOUND for an
 * unknown account, KF_ERR_DIRECTORY, ...). */
kf_status kf_fleet_status_collect(struct kf_store *st, struct kf_dir *dir,
                            const struct kf_fleet_status_opts *opts,
                            struct kf_fleet_status **result, struct kf_err *err);
void kf_fleet_status_free(struct kf_fleet_status *r); /* accepts NULL */
KF_DEFINE_CLEANUP(struct kf_fleet_status, kf_fleet_status_free)

/* True when every server of every account is current. */
bool kf_fleet_status_healthy(const struct kf_fleet_status *r);

/* R in the Prometheus text exposition format (version 0.0.4), every series
 * labelled account="DOMAIN\name" (NETBIOS is the domain), with # HELP and
 * # TYPE lines; label values escaped as the format says. *OUT (a new
 * string, free()) and *LEN. Errors: KF_ERR_NOMEM. */
kf_status kf_fleet_status_prometheus(const struct kf_fleet_status *r, const char *netbios, char **out,
                               size_t *len, struct kf_err *err);

/* Escape S for a Prometheus label value (\ -> \\, " -> \", newline -> \n)
 * into OUT of SIZE bytes. Returns the length it needed (>= SIZE: truncated,
 * OUT holds nothing usable). */
size_t kf_prom_label_escape(const char *s, char *out, size_t size);

#endif
