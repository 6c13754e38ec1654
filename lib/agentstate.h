/* agentstate.h - what an agent knows beyond its keytab: which kvnos of
 * which account the directory has committed (issue 11).
 *
 * The keytab says which keys a server holds; it cannot say which of them
 * the directory uses. A rotation stages K+1 beside K before it writes the
 * directory, so a keytab may hold a set that was never committed (and
 * never will be, if the run died). The CLI therefore tells the agent, with
 * COMMIT, once the directory was written and read back (`password set`) or
 * found matching (`sync`): "ACCOUNT's kvno N is committed; its managed
 * principals are these; its servers are these; keep old sets for GRACE".
 * The agent records that in a small JSON file beside its keytab
 * (KEYTAB.committed, root-only 0600, replaced atomically) and serves peers
 * only committed sets.
 *
 * The decoder takes bytes (the file, read back) and is bounded and fuzzed
 * (tests/fuzz/fuzz_agentstate.c); encode, commit and the queries are pure.
 */
#ifndef KF_AGENTSTATE_H
#define KF_AGENTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "mem.h"

#define KF_AGENTSTATE_FILE_MAX (256 * 1024)
#define KF_AGENTSTATE_ACCOUNTS_MAX 16   /* accounts one agent serves */
#define KF_AGENTSTATE_COMMITS_MAX 16    /* committed kvnos remembered per account */
#define KF_AGENTSTATE_PRINCIPALS_MAX 512 /* managed principals per account */
#define KF_AGENTSTATE_SERVERS_MAX 4096  /* servers of an account ("fqdn" or "fqdn:port") */
#define KF_AGENTSTATE_NAME_MAX 512      /* bytes of a principal or server name */
#define KF_AGENTSTATE_GRACE_MAX (366u * 86400u)

struct kf_commit {
    uint32_t kvno;
    int64_t at; /* when the agent was told, seconds since the epoch (its clock) */
};

struct kf_committed_account {
    char *account;       /* NAME$@REALM */
    uint32_t grace_s;    /* keep an older set this long after a newer one was committed */
    char *members_group; /* "DOMAIN\\group" whose computers may fetch the sets; "" none */
    char **principals;   /* managed principals (NAME$@REALM, HTTP/...@REALM) */
    size_t n_principals;
    char **servers;      /* the account's servers as the last COMMIT named them */
    size_t n_servers;
    struct kf_commit *commits; /* ascending kvno */
    size_t n_commits;
};

struct kf_agent_state {
    struct kf_committed_account *v;
    size_t n;
};

struct kf_agent_state *kf_agent_state_new(void);
void kf_agent_state_free(struct kf_agent_state *s); /* accepts NULL */
KF_DEFINE_CLEANUP(struct kf_agent_state, kf_agent_state_free)

/* Parse LEN bytes of the state file at TEXT into a new state in *OUT.
 * Errors: KF_ERR_INVALID naming what is wrong (not JSON, an unknown or
 * missing member, a value out of range, over a maximum, duplicates,
 * kvnos not ascending), KF_ERR_NOMEM. Nothing is stored on failure. */
kf_status kf_agent_state_decode(const char *text, size_t len, struct kf_agent_state **out,
                                struct kf_err *err);

/* The state as the file holds it, a NUL-terminated string in *OUT (free()).
 * Errors: KF_ERR_NOMEM. */
kf_status kf_agent_state_encode(const struct kf_agent_state *s, char **out, struct kf_err *err);

/* Record that ACCOUNT's KVNO is committed, at NOW. PRINCIPALS, SERVERS,
 * MEMBERS_GROUP ("" or NULL: none) and GRACE_S replace what was recorded for the account (the newest COMMIT
 * knows best). A KVNO already recorded keeps its first time; kvnos above
 * KVNO are forgotten (a restamp or a rotation that lost the directory's
 * race: the directory's word is the newest); at most
 * KF_AGENTSTATE_COMMITS_MAX are kept, the oldest dropped. Errors:
 * KF_ERR_INVALID (names over their maxima, too many accounts, principals
 * or servers, grace over KF_AGENTSTATE_GRACE_MAX, kvno 0), KF_ERR_NOMEM;
 * S is unchanged on failure. */
kf_status kf_agent_state_commit(struct kf_agent_state *s, const char *account, uint32_t kvno,
                                int64_t now, uint32_t grace_s, const char *members_group,
                                char *const *principals,
                                size_t n_principals, char *const *servers, size_t n_servers,
                                struct kf_err *err);

/* The account's record (case-insensitive name), or NULL. */
const struct kf_committed_account *kf_agent_state_find(const struct kf_agent_state *s,
                                                       const char *account);

/* Whether KVNO of ACCOUNT is recorded as committed. */
bool kf_agent_state_is_committed(const struct kf_agent_state *s, const char *account,
                                 uint32_t kvno);

/* The kvnos of A a peer may be given at NOW: the newest committed one,
 * and each older committed one whose successor was committed less than
 * A->grace_s ago (tickets in it may still be alive). Into OUT (room for
 * KF_AGENTSTATE_COMMITS_MAX), newest first; returns how many. */
size_t kf_agent_state_fetchable(const struct kf_committed_account *a, int64_t now,
                                uint32_t *out);

/* The state file of the keytab at KEYTAB: "KEYTAB.committed" (*OUT, free()). */
kf_status kf_agent_state_path(const char *keytab, char **out, struct kf_err *err);

/* Read the state file PATH (a regular file, no link followed, at most
 * KF_AGENTSTATE_FILE_MAX bytes) into *OUT; a missing file is an empty
 * state. Errors: KF_ERR_IO (cannot read, not a regular file, too large),
 * KF_ERR_INVALID (does not decode), KF_ERR_NOMEM. */
kf_status kf_agent_state_load(const char *path, struct kf_agent_state **out, struct kf_err *err);

/* Replace PATH with S atomically, mode 0600 (kf_file_replace). */
kf_status kf_agent_state_save(const char *path, const struct kf_agent_state *s,
                              struct kf_err *err);

#endif
