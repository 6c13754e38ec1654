/* keytab.h - the web keytab on the agent's side.
 *
 * The keytab krbfleetd keeps for the web server is read with libkrb5
 * (FILE: keytabs) and written by encoding the standard keytab file format
 * (version 0x0502, 32-bit kvnos) into a secret buffer and replacing the file
 * atomically: a temporary file in the same directory, owner unchanged (root
 * when the daemon runs as root), group GROUP and mode 0640 — or 0600 without
 * a group —, fsync, rename over PATH, fsync of the directory. A reader (the
 * web server re-reads the keytab on every request) sees either the old file
 * or the new one, never a mix.
 *
 * Keys are held in struct kf_keyset (keys.h), which wipes them when freed;
 * every copy made here is wiped too. The set operations below are pure and
 * keep the order of the remaining entries.
 */
#ifndef KF_KEYTAB_H
#define KF_KEYTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "errors.h"
#include "keys.h"

#define KF_KEYTAB_ENTRIES_MAX 1024  /* entries in one keytab or one request */
#define KF_KEYTAB_PRINCIPAL_MAX 512 /* bytes of a principal name */
#define KF_KEYTAB_FILE_MAX (1024 * 1024)
#define KF_KEYTAB_NO_GROUP ((gid_t)-1)

/* What stat says about the keytab file. */
struct kf_keytab_info {
    bool exists;
    uint32_t uid, gid, mode; /* mode: permission bits only (07777) */
    int64_t mtime;           /* seconds since the epoch */
    int64_t size;
};

/* Read the keytab at PATH (a file name, no "FILE:" prefix) into a new set
 * stored in *OUT (free with kf_keyset_free). A missing file gives an empty
 * set. Errors: KF_ERR_IO (unreadable, malformed), KF_ERR_INVALID (more than
 * KF_KEYTAB_ENTRIES_MAX entries, a key longer than KF_KEY_MAX),
 * KF_ERR_NOMEM. */
kf_status kf_keytab_load(const char *path, struct kf_keyset **out, struct kf_err *err);

/* Append the keytab file form of KS to OUT (which should be secret).
 * Errors: KF_ERR_INVALID (a principal that does not parse, a field too
 * long for the format), KF_ERR_NOMEM. */
kf_status kf_keytab_encode(const struct kf_keyset *ks, struct kf_buf *out, struct kf_err *err);

/* Replace the file PATH atomically with KS (see above). GROUP is the gid
 * the file gets with mode 0640, or KF_KEYTAB_NO_GROUP for mode 0600 (group
 * left as created). Errors: KF_ERR_IO, KF_ERR_PERMISSION, KF_ERR_INVALID,
 * KF_ERR_NOMEM; on error PATH is unchanged and no temporary file is left. */
kf_status kf_keytab_save(const char *path, const struct kf_keyset *ks, gid_t group,
                         struct kf_err *err);

/* Stat PATH into *OUT (exists false when it does not exist).
 * Errors: KF_ERR_IO. */
kf_status kf_keytab_stat(const char *path, struct kf_keytab_info *out, struct kf_err *err);

/* Check a staged key set before it touches a keytab: 1..KF_KEYTAB_ENTRIES_MAX
 * entries, each principal parses (with a realm), each enctype is known to
 * libkrb5 and its key has that enctype's length, no (principal, enctype)
 * twice. Errors: KF_ERR_INVALID naming the first bad entry. */
kf_status kf_keytab_check_set(const struct kf_keyset *add, struct kf_err *err);

/* Replace every entry of KS at KVNO by the entries of ADD (their kvno set to
 * KVNO, their timestamp to NOW); other kvnos stay. ADD must have passed
 * kf_keytab_check_set. Errors: KF_ERR_INVALID (the result would hold more
 * than KF_KEYTAB_ENTRIES_MAX entries), KF_ERR_NOMEM; KS is unchanged then. */
kf_status kf_keytab_stage(struct kf_keyset *ks, uint32_t kvno, const struct kf_keyset *add,
                          uint32_t now, struct kf_err *err);

/* Remove the entries at KVNO; returns how many. */
size_t kf_keytab_withdraw(struct kf_keyset *ks, uint32_t kvno);

/* Remove the entries whose kvno is below KVNO; returns how many. */
size_t kf_keytab_prune(struct kf_keyset *ks, uint32_t kvno);

/* Result of kf_keytab_check_apreq. */
struct kf_keytab_check {
    bool accepted;
    uint32_t kvno;         /* accepted: the kvno of the keytab entry whose key worked */
    uint32_t ticket_kvno;  /* accepted: the kvno label in the ticket */
    int32_t enctype;       /* accepted: the ticket's enctype */
    char *server;          /* accepted: the ticket's server principal */
    char *client;          /* accepted: the ticket's client principal */
    char *reason;          /* not accepted: why, for a person */
};

/* Free the strings of R (not R itself). Accepts NULL. */
void kf_keytab_check_done(struct kf_keytab_check *r);

/* Decide which key of KS decrypts the AP-REQ at APREQ (LEN bytes): every
 * entry (of PRINCIPAL only, if not NULL or empty) is tried as the ticket
 * key, highest kvno first, regardless of the kvno labels (the MIT acceptor
 * ignores them too), with krb5_rd_req and no replay cache. Fills *OUT;
 * "not accepted" is a result (KF_OK), not an error.
 * Errors: KF_ERR_INVALID (PRINCIPAL does not parse), KF_ERR_NOMEM,
 * KF_ERR_UNEXPECTED (libkrb5 could not start). */
kf_status kf_keytab_check_apreq(const struct kf_keyset *ks, const char *principal,
                                const uint8_t *apreq, size_t len, struct kf_keytab_check *out,
                                struct kf_err *err);

#endif
