/* keytab.h - the web keytab on the agent's side.
 *
 * The keytab krbfleetd keeps for the web server is read and written here in
 * the standard keytab file format (version 0x0502, 32-bit kvnos), never
 * through libkrb5's FILE: keytab, so that every access goes through a
 * descriptor this module checked: the keytab's directory is opened with
 * O_DIRECTORY|O_NOFOLLOW, the file relative to it with O_NOFOLLOW|O_NONBLOCK
 * after a look (fstatat, no link followed) and again after the open
 * (fstat): only a regular file is ever read or replaced — a symbolic link,
 * FIFO, device or directory at the path is an error naming it, never
 * followed, opened or waited on.
 *
 * A save encodes the set into a secret buffer and replaces the file
 * atomically: a new temporary file in the same directory (O_EXCL, relative
 * to the directory descriptor), owner unchanged (root when the daemon runs
 * as root), group GROUP and mode 0640 — or 0600 without a group —, fsync,
 * renameat over the file, fsync of the directory. A reader (the web server
 * re-reads the keytab on every request) sees either the old file or the new
 * one, never a mix.
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
#define KF_KEYTAB_COMPONENTS_MAX 8  /* name components of one principal */
#define KF_KEYTAB_NO_GROUP ((gid_t)-1)

/* What stat says about the keytab file. */
struct kf_keytab_info {
    bool exists;
    bool regular;            /* a regular file (not a link, FIFO, device...) */
    uint32_t uid, gid, mode; /* mode: permission bits only (07777) */
    int64_t mtime;           /* seconds since the epoch */
    int64_t size;
};

/* Read the keytab at PATH (an absolute file name, no "FILE:" prefix) into a
 * new set stored in *OUT (free with kf_keyset_free). A missing file gives an
 * empty set. Errors: KF_ERR_IO (unreadable; not a regular file, naming what
 * it is; a directory that is a link), KF_ERR_INVALID (malformed, see
 * kf_keytab_decode; over KF_KEYTAB_FILE_MAX bytes), KF_ERR_NOMEM. */
kf_status kf_keytab_load(const char *path, struct kf_keyset **out, struct kf_err *err);

/* Decode the keytab file form at DATA (LEN bytes) into a new set in *OUT:
 * version 0x0502, entries until the end or a zero size, holes (negative
 * sizes) skipped, the optional 32-bit kvno used when present and not 0.
 * Every length is checked against what is left; at most
 * KF_KEYTAB_ENTRIES_MAX entries, KF_KEYTAB_COMPONENTS_MAX components and
 * KF_KEYTAB_PRINCIPAL_MAX bytes per principal, KF_KEY_MAX bytes per key.
 * Errors: KF_ERR_INVALID naming the byte offset and what is wrong,
 * KF_ERR_NOMEM, KF_ERR_UNEXPECTED (libkrb5 could not start). */
kf_status kf_keytab_decode(const uint8_t *data, size_t len, struct kf_keyset **out,
                           struct kf_err *err);

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

/* Stat PATH, not following a link there, into *OUT (exists false when it
 * does not exist). Errors: KF_ERR_IO. */
kf_status kf_keytab_stat(const char *path, struct kf_keytab_info *out, struct kf_err *err);

/* Check, before an agent starts, that PATH is a place where it may own a
 * keytab (the rules of sshd's StrictModes): an absolute file name; not a
 * directory; nothing but a regular file there, if anything; its directory
 * not a symbolic link; that directory and every ancestor owned by root or
 * OWNER and writable by neither group nor others — except that an ancestor
 * (never the keytab's own directory) may be a root-owned sticky directory
 * such as /tmp, where others cannot rename or remove what root made; and,
 * when OTHER is not NULL, not the same file as OTHER (the same path once
 * directories and links are resolved, or the same inode).
 * Errors: KF_ERR_CONFIG (a rule broken: the message names the path and the
 * fix), KF_ERR_IO, KF_ERR_INVALID (not an absolute file name),
 * KF_ERR_NOMEM. */
kf_status kf_keytab_check_place(const char *path, const char *other, uid_t owner,
                                struct kf_err *err);

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

/* The one principal host/NAME@REALM (two components, the first "host") of
 * KS, in a new string *OUT (free()): how an agent without a configured
 * principal finds its own in its host keytab. Errors (the message starts
 * with a verb, for "<keytab> ..."): KF_ERR_NOT_FOUND (none: names the
 * principals there are), KF_ERR_CONFLICT (several: names them),
 * KF_ERR_NOMEM, KF_ERR_UNEXPECTED. */
kf_status kf_keytab_host_principal(const struct kf_keyset *ks, char **out, struct kf_err *err);

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
