/* store.h - the central management store: one SQLite file, or a
 * PostgreSQL database shared by several admin hosts.
 *
 * This module alone talks to the database (through db.h's two backends).
 * A SQLite file is created on first use with mode 0600 (its directory 0700
 * when we create it) and brought forward by migrations in order; a
 * PostgreSQL database only by `krbfleet store migrate` (KF_STORE_FOR_MIGRATING).
 * Both have the same schema versions. Every write goes through parameters.
 * A command makes all its changes between kf_store_begin() and
 * kf_store_commit(), so it changes everything or nothing, and no other
 * writer of the store runs in between.
 *
 * Name rules enforced on every write, for single adds and imports alike:
 * site names unique (case-insensitive); pool FQDNs unique; a web FQDN
 * belongs to one pool and is no pool's FQDN and no server's; server FQDNs
 * unique and no other pool's FQDN (a server FQDN may equal its own pool's).
 */
#ifndef KF_STORE_H
#define KF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "errors.h"
#include "mem.h"
#include "strv.h"
#include "topology.h"

#define KF_STORE_DEFAULT_PATH "/var/lib/krbfleet/krbfleet.db"

struct kf_store;

/* What a command will do with the store. */
enum kf_store_intent {
    KF_STORE_FOR_READING, /* it must exist (KF_ERR_NOT_FOUND if not); never created */
    KF_STORE_FOR_WRITING, /* created when missing; refused when not writable */
    KF_STORE_FOR_MIGRATING, /* writing, and a PostgreSQL schema brought forward */
};

/* True when WHERE is a PostgreSQL URL (postgresql://... or postgres://...);
 * anything else is a SQLite path ("sqlite:PATH" or PATH). */
bool kf_store_is_url(const char *where);
/* Refuse a PostgreSQL URL that libpq cannot parse or that holds a password
 * (KF_ERR_INVALID; the message never repeats the URL). *HAS_USER (may be
 * NULL): the URL names the user. */
kf_status kf_store_url_check(const char *url, bool *has_user, struct kf_err *err);

/* Open the store at PATH for INTENT and migrate it to the current schema.
 * Refused, with a message naming the path, what is wrong and the fix: a
 * missing store when reading (KF_ERR_NOT_FOUND), a symbolic link, a
 * directory or any other non-regular file, a store the caller cannot read
 * (KF_ERR_PERMISSION), and, when writing only, a store or store directory
 * the caller cannot write (KF_ERR_PERMISSION). *OUT is owned by the caller
 * (kf_store_free). */
kf_status kf_store_open_for(const char *path, enum kf_store_intent intent, struct kf_store **out,
                            struct kf_err *err);
/* The same for a SQLite path or a PostgreSQL URL (WHERE); on PostgreSQL,
 * a URL without a user connects as DEFAULT_USER (the full principal name
 * of the caller's ticket; NULL: libpq's default). A PostgreSQL store whose
 * schema is older than this build's is refused unless MIGRATING; an empty
 * database is KF_ERR_NOT_FOUND (a missing store). */
kf_status kf_store_open_as(const char *where, enum kf_store_intent intent,
                           const char *default_user, struct kf_store **out, struct kf_err *err);
/* kf_store_open_for(PATH, KF_STORE_FOR_WRITING, ...). */
kf_status kf_store_open(const char *path, struct kf_store **out, struct kf_err *err);
/* True when this open created the file. */
bool kf_store_created(const struct kf_store *st);
/* A warning about the open store (one sentence naming the fix: a store
 * other users may read), or NULL. */
const char *kf_store_warning(const struct kf_store *st);
void kf_store_free(struct kf_store *st); /* accepts NULL; rolls back an open transaction */
KF_DEFINE_CLEANUP(struct kf_store, kf_store_free)

/* The schema version this build writes, and the version of an open store. */
int kf_store_schema_current(void);
int kf_store_schema_version(struct kf_store *st);
/* The schema version before this open migrated the store, or -1 when it
 * did not. */
int kf_store_migrated_from(const struct kf_store *st);
/* True on PostgreSQL; the path or URL of the store. */
bool kf_store_is_pg(const struct kf_store *st);
const char *kf_store_where(const struct kf_store *st);
/* Every column of the store's schema as "table.column", sorted (new
 * strings, kf_strv_free): the same on both backends. */
kf_status kf_store_schema_columns(struct kf_store *st, char ***out, size_t *n,
                                  struct kf_err *err);

/* Copy a whole store: every row of every table but the rotation locks
 * (those of running processes, meaningless elsewhere), ids kept, in one
 * transaction of TO. TO must hold no rows unless REPLACE, which deletes
 * its contents first (never merges). COUNTS[i] (KF_STORE_COPY_TABLES of
 * them) gets each table's name and the rows copied, in copy order. */
#define KF_STORE_COPY_TABLES 14
struct kf_store_count {
    const char *table;
    int64_t rows;
};
kf_status kf_store_copy(struct kf_store *from, struct kf_store *to, bool replace,
                        struct kf_store_count counts[KF_STORE_COPY_TABLES], struct kf_err *err);
/* The tables store copy leaves out ("rotation_lock"), NULL-terminated. */
extern const char *const kf_store_copy_skipped[];

/* Who is acting, for the audit log. Strings are copied; PRINCIPAL may be
 * NULL (no Kerberos ticket). On PostgreSQL with gss authentication the
 * audit records instead the principal the server authenticated. */
kf_status kf_store_set_actor(struct kf_store *st, const char *user, const char *principal,
                             const char *command);

/* One transaction per command, excluding every other writer of the store
 * until it ends: SQLite's BEGIN IMMEDIATE (a concurrent writer waits up to
 * 5 s, then gets KF_ERR_STORE); on PostgreSQL a transaction-scoped advisory
 * lock taken first (a concurrent writer waits for it). */
kf_status kf_store_begin(struct kf_store *st, struct kf_err *err);
kf_status kf_store_commit(struct kf_store *st, struct kf_err *err);
void kf_store_rollback(struct kf_store *st);

/* Read the whole topology, in stored order. */
kf_status kf_store_topology_load(struct kf_store *st, struct kf_topology **out,
                                 struct kf_err *err);

/* Replace the whole topology with TOPO (inside the caller's transaction).
 * Sites whose names remain keep their identity. Errors name the JSON path
 * of the offending element (sites[i].pools[j]...). */
kf_status kf_store_topology_replace(struct kf_store *st, const struct kf_topology *topo,
                                    struct kf_err *err);

/* What replacing the topology with TOPO would take away that is in use:
 * a site that has an account assignment, a pool whose SPN `topology enable`
 * published (recorded in owned SPNs). One sentence each in *LOST (owned
 * by the caller, kf_strv_free); none: *N_LOST == 0. Reads the store only. */
kf_status kf_store_topology_losses(struct kf_store *st, const struct kf_topology *topo,
                                   char ***lost, size_t *n_lost, struct kf_err *err);

/* Single changes. Names must already be validated and normalised (names.h).
 * Removing an object with children fails with KF_ERR_CONFLICT unless FORCE. */
kf_status kf_store_site_add(struct kf_store *st, const char *name, struct kf_err *err);
kf_status kf_store_site_remove(struct kf_store *st, const char *name, bool force,
                               struct kf_err *err);
kf_status kf_store_pool_add(struct kf_store *st, const char *site, const struct kf_pool *pool,
                            struct kf_err *err);
kf_status kf_store_pool_remove(struct kf_store *st, const char *fqdn, bool force,
                               struct kf_err *err);
/* Change a pool: when SET_WEBS, its web FQDNs become WEBS (possibly none);
 * when SET_PROBE, its probe URL becomes PROBE_URL (NULL: the default). */
kf_status kf_store_pool_update(struct kf_store *st, const char *fqdn, const char *const *webs,
                               size_t n_webs, bool set_webs, const char *probe_url,
                               bool set_probe, struct kf_err *err);
kf_status kf_store_server_add(struct kf_store *st, const char *pool_fqdn,
                              const struct kf_server *srv, struct kf_err *err);
kf_status kf_store_server_remove(struct kf_store *st, const char *fqdn, struct kf_err *err);

/* Append an audit record for the current actor: OBJECT is what changed
 * ("site:redmond"), DETAIL an optional human summary. */
kf_status kf_store_audit(struct kf_store *st, const char *object, const char *detail,
                         struct kf_err *err);

/* ---- Kerberos accounts and assignments -------------------------------- */

struct kf_account {
    int64_t id;
    char *domain;  /* NetBIOS domain, upper case */
    char *name;    /* short name, lower case, no '$' */
    char *dn;      /* where the directory object was when last seen */
    unsigned enctypes;
    bool adopted;  /* taken over with `account adopt`, not created by us */
    bool allow_foreign_spns; /* the admin accepted its SPNs of other services
                                (--allow-foreign-spns; eligibility.h) */
    char *created; /* UTC ISO 8601 */
    char **sites;  /* the sites assigned to it, in site order */
    size_t n_sites;
};

/* Record an account. KF_ERR_EXISTS if the name is taken; KF_ERR_CONFLICT
 * if the store already holds accounts of another domain (one per store). */
kf_status kf_store_account_add(struct kf_store *st, const char *domain, const char *name,
                               const char *dn, unsigned enctypes, bool adopted,
                               struct kf_err *err);
/* KF_ERR_NOT_FOUND names the account and `krbfleet account list`. */
kf_status kf_store_account_get(struct kf_store *st, const char *name, struct kf_account **out,
                               struct kf_err *err);
kf_status kf_store_account_list(struct kf_store *st, struct kf_account **out, size_t *n,
                                struct kf_err *err);
void kf_account_free(struct kf_account *acct);
void kf_account_list_free(struct kf_account *list, size_t n);
/* Record whether the admin accepted the account's SPNs of other services. */
kf_status kf_store_account_set_foreign_spns(struct kf_store *st, const char *name, bool allow,
                                            struct kf_err *err);
/* Refused (KF_ERR_CONFLICT, naming the sites) while sites are assigned. */
kf_status kf_store_account_remove(struct kf_store *st, const char *name, struct kf_err *err);
kf_status kf_store_account_set_dn(struct kf_store *st, const char *name, const char *dn,
                                  struct kf_err *err);

/* Assign ACCOUNT to SITE. CREATE: `assignment new`, refused when the site
 * has one; else `assignment set`, refused when it has none. *CHANGED (may
 * be NULL) is false when the site already used ACCOUNT: nothing is
 * written then, and no `topology enable` is marked as needed. */
kf_status kf_store_assignment_set(struct kf_store *st, const char *site, const char *account,
                                  bool create, bool *changed, struct kf_err *err);
kf_status kf_store_assignment_remove(struct kf_store *st, const char *site, struct kf_err *err);

/* SPNs krbfleet recorded as added by it to ACCOUNT. */
kf_status kf_store_owned_spns(struct kf_store *st, const char *account, char ***out, size_t *n,
                              struct kf_err *err);
kf_status kf_store_owned_spn_add(struct kf_store *st, const char *account, const char *spn,
                                 struct kf_err *err);
kf_status kf_store_owned_spn_remove(struct kf_store *st, const char *account, const char *spn,
                                    struct kf_err *err);

/* Small named state values ("enable_needed" = "1" after a topology or
 * assignment change that `topology enable` has not yet published).
 * *VALUE is NULL when unset. */
kf_status kf_store_state_get(struct kf_store *st, const char *key, char **value,
                             struct kf_err *err);
kf_status kf_store_state_set(struct kf_store *st, const char *key, const char *value,
                             struct kf_err *err);
#define KF_STATE_ENABLE_NEEDED "enable_needed"

/* ---- rotation ---------------------------------------------------------- */

/* Who holds a rotation lock: the local user, the host, and the process as
 * its PID plus that process's start time (clock ticks after boot, proc.h;
 * 0 when unknown, as for locks taken before schema 5). */
struct kf_lock_holder {
    const char *user;
    const char *host;
    long pid;
    unsigned long long start;
};

/* Take ACCOUNT's rotation lock for ME, inside the caller's transaction. A
 * lock held by someone else is refused (KF_ERR_CONFLICT, naming them)
 * unless ALIVE says its holder is gone. */
kf_status kf_store_lock_take(struct kf_store *st, const char *account,
                             const struct kf_lock_holder *me,
                             bool (*alive)(const struct kf_lock_holder *holder),
                             struct kf_err *err);
kf_status kf_store_lock_release(struct kf_store *st, const char *account, long pid,
                                struct kf_err *err);

/* Append one step of run RUN_ID to the journal (its own statement; commit
 * it with a transaction or autocommit). */
kf_status kf_store_journal(struct kf_store *st, const char *run_id, const char *account,
                           const char *step, const char *detail, struct kf_err *err);

/* The last `password set` run of an account, as its journal shows it: the
 * run's id and its last step ("done" when it ran to the end; "plan",
 * "staged", "written", ... when it stopped there), with that step's time
 * (UTC, ISO 8601) and detail ("kvno 4 -> 5; 4 of 4 servers healthy" for
 * "done"). Free the strings with kf_store_rotation_run_done. */
struct kf_rotation_run {
    char *run;    /* NULL when the account was never rotated */
    char *step;
    char *time;
    int64_t when; /* the same as Unix time; -1 if unknown */
    char *detail; /* may be NULL */
};
kf_status kf_store_last_rotation(struct kf_store *st, const char *account,
                                 struct kf_rotation_run *out, struct kf_err *err);
void kf_store_rotation_run_done(struct kf_rotation_run *r);

/* Which kvno of ACCOUNT a server was given: STATE "staged" or
 * "committed"; NULL deletes the record. */
kf_status kf_store_server_key_set(struct kf_store *st, const char *server, const char *account,
                                  int kvno, const char *state, struct kf_err *err);
/* The highest committed kvno recorded for SERVER, or -1. */
kf_status kf_store_server_kvno(struct kf_store *st, const char *server, const char *account,
                               int *kvno, struct kf_err *err);

/* When (Unix time) KVNO of ACCOUNT was committed in the directory; -1 if
 * unknown. */
kf_status kf_store_kvno_committed(struct kf_store *st, const char *account, int kvno,
                                  int64_t when, struct kf_err *err);
kf_status kf_store_kvno_committed_at(struct kf_store *st, const char *account, int kvno,
                                     int64_t *when, struct kf_err *err);

/* The highest kvno of ACCOUNT committed at or before CUTOFF (Unix time):
 * every older kvno may be pruned. -1 if none. */
kf_status kf_store_kvno_prunable(struct kf_store *st, const char *account, int64_t cutoff,
                                 int *kvno, struct kf_err *err);

/* Set the account's encryption types as the store records them
 * (msDS-SupportedEncryptionTypes bits). */
kf_status kf_store_account_set_enctypes(struct kf_store *st, const char *name,
                                        unsigned enctypes, struct kf_err *err);

/* Encryption types taken away from ACCOUNT (`account set --enctypes`):
 * record each bit of RETIRED as retired at WHEN (Unix time; a bit already
 * retired keeps its earlier time) and forget each bit of RESTORED. */
kf_status kf_store_enctypes_retire(struct kf_store *st, const char *account, unsigned retired,
                                   unsigned restored, int64_t when, struct kf_err *err);
/* The bits of ACCOUNT retired at or before CUTOFF (Unix time; INT64_MAX:
 * all), 0 when none: their keys may be pruned from the keytabs. */
kf_status kf_store_enctypes_retired(struct kf_store *st, const char *account, int64_t cutoff,
                                    unsigned *bits, struct kf_err *err);
/* Forget the retired BITS of ACCOUNT (their keys are gone everywhere). */
kf_status kf_store_enctypes_forget(struct kf_store *st, const char *account, unsigned bits,
                                   struct kf_err *err);

struct kf_audit_entry {
    int64_t id;
    char *time; /* UTC, ISO 8601 */
    char *user;
    char *principal; /* NULL when no ticket */
    char *command;
    char *object;
    char *detail; /* may be NULL */
};

/* Which audit entries to list; a NULL field does not filter. */
struct kf_audit_filter {
    const char *since;  /* UTC "YYYY-MM-DDTHH:MM:SSZ" (kf_audit_since): entries at or after */
    const char *object; /* "site:redmond" exactly, "redmond" (any kind of object of that
                         * name) or "site" (every object of that kind); case-insensitive */
};

/* The audit entries FILTER (may be NULL) selects, oldest first. Free with
 * kf_audit_list_free. */
kf_status kf_store_audit_list(struct kf_store *st, const struct kf_audit_filter *filter,
                              struct kf_audit_entry **out, size_t *n, struct kf_err *err);

/* Turn SINCE - a UTC date "YYYY-MM-DD", with "THH:MM" or "THH:MM:SS" (a
 * space for the T and a final Z allowed), or a duration before NOW ("90m",
 * "12h", "7d") - into the audit log's timestamp form in OUT (21 bytes).
 * KF_ERR_INVALID names the forms accepted. */
#define KF_AUDIT_TIME_LEN 21
kf_status kf_audit_since(const char *since, time_t now, char out[KF_AUDIT_TIME_LEN],
                         struct kf_err *err);
void kf_audit_list_free(struct kf_audit_entry *list, size_t n);

/* Delegation (permission grant/revoke): the ACEs krbfleet wrote on
 * CONTAINER for the trustee of TRUSTEE_SID ("S-1-5-21-..."; TRUSTEE is the
 * name it was given as), each as the hex of its bytes. Adding one that is
 * recorded already changes nothing. kf_store_permission_aces lists them
 * (new strings, kf_strv_free). */
kf_status kf_store_permission_ace_add(struct kf_store *st, const char *container,
                                      const char *trustee_sid, const char *trustee,
                                      const char *ace_hex, struct kf_err *err);
kf_status kf_store_permission_aces(struct kf_store *st, const char *container,
                                   const char *trustee_sid, char ***out, size_t *n,
                                   struct kf_err *err);
kf_status kf_store_permission_aces_remove(struct kf_store *st, const char *container,
                                          const char *trustee_sid, struct kf_err *err);

#endif
