/* directory.h - the directory that holds the Kerberos account: one
 * interface, several backends (ad: Active Directory over LDAP; mit later).
 *
 * Rotation and `topology enable` talk only to this interface and never
 * know which backend is behind it. A struct kf_dir is a connection to ONE
 * server (a DC), authenticated with the caller's Kerberos ticket
 * (KRB5CCNAME); every call of one command goes to that same server, so
 * replication lag cannot make a command read its own writes wrongly.
 * Every call has a timeout ([directory] timeout, default 10 s); a dead
 * server is reported naming it.
 *
 * Accounts are named by their short name: "kerbauth" (sAMAccountName
 * "kerbauth$" on AD). Names passed in are validated by the caller
 * (kf_account_name_parse in account.h).
 *
 * Errors: KF_ERR_CREDENTIALS (no/expired ticket: the message says to run
 * kinit), KF_ERR_PERMISSION (names the object/container and the right),
 * KF_ERR_DIRECTORY (server unreachable or refused; names the server),
 * KF_ERR_NOT_FOUND, KF_ERR_EXISTS, KF_ERR_CONFLICT (e.g. SPN held elsewhere).
 *
 * The program must ignore SIGPIPE (krbfleet and krbfleetd do): libldap
 * writes to its sockets without MSG_NOSIGNAL, so a server that drops the
 * connection would otherwise kill the process.
 */
#ifndef KF_DIRECTORY_H
#define KF_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "errors.h"

/* msDS-SupportedEncryptionTypes bits */
#define KF_ENCTYPE_DES_CBC_CRC 0x01
#define KF_ENCTYPE_DES_CBC_MD5 0x02
#define KF_ENCTYPE_RC4_HMAC 0x04
#define KF_ENCTYPE_AES128 0x08
#define KF_ENCTYPE_AES256 0x10
#define KF_ENCTYPES_DEFAULT (KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256)

/* userAccountControl bits that decide whether an account may carry web
 * keys (eligibility.h; MS-ADTS 2.2.16). */
#define KF_UAC_ACCOUNTDISABLE 0x2
#define KF_UAC_INTERDOMAIN_TRUST_ACCOUNT 0x800
#define KF_UAC_WORKSTATION_TRUST_ACCOUNT 0x1000
#define KF_UAC_SERVER_TRUST_ACCOUNT 0x2000
#define KF_UAC_TRUSTED_FOR_DELEGATION 0x80000
#define KF_UAC_TRUSTED_TO_AUTH_FOR_DELEGATION 0x1000000
#define KF_UAC_PARTIAL_SECRETS_ACCOUNT 0x4000000

/* A security identifier (S-1-5-21-a-b-c-RID). */
#define KF_SID_SUBAUTH_MAX 15
#define KF_SID_STR_MAX 192 /* "S-1-" + 48-bit authority + 15 x "-4294967295" */
struct kf_sid {
    uint8_t revision;
    uint64_t authority; /* 48 bits */
    uint8_t n_sub;
    uint32_t sub[KF_SID_SUBAUTH_MAX];
};

/* Parse a binary SID (MS-DTYP 2.4.2.2) of exactly LEN bytes: revision 1,
 * at most 15 sub-authorities, length 8 + 4 x count. 0, or -1 when
 * malformed. Pure; the input is the directory's and is not trusted. */
int kf_sid_parse(const void *buf, size_t len, struct kf_sid *out);

/* "S-1-5-21-...": OUT of at least KF_SID_STR_MAX bytes. */
void kf_sid_format(const struct kf_sid *sid, char *out, size_t size);

/* What decides whether an account may carry web keys, as the directory
 * holds it (kf_dir_account_traits; judged by eligibility.h). Absent values
 * are -1 / NULL / 0: the judge refuses what it cannot see. */
struct kf_dir_traits {
    char *dn;
    char **object_classes;    /* objectClass values, as stored (AD: most general first) */
    size_t n_object_classes;
    int64_t uac;              /* userAccountControl; -1 if absent */
    int64_t primary_group;    /* primaryGroupID; -1 if absent */
    char **delegate_to;       /* msDS-AllowedToDelegateTo values */
    size_t n_delegate_to;
    bool rbcd;                /* msDS-AllowedToActOnBehalfOfOtherIdentity is set */
    struct kf_sid *groups;    /* tokenGroups: every group, nested, it is a member of */
    size_t n_groups;
    char **spns;              /* servicePrincipalName values */
    size_t n_spns;
};

struct kf_dir;

/* What the directory holds about one account. All strings owned. */
struct kf_dir_account {
    char *name;      /* short name, no '$' ("kerbauth") */
    char *dn;        /* distinguished name (AD) or principal (MIT) */
    char **spns;     /* servicePrincipalName values, as stored */
    size_t n_spns;
    int kvno;        /* msDS-KeyVersionNumber; -1 if unknown */
    unsigned enctypes; /* msDS-SupportedEncryptionTypes; 0 if unset */
    bool disabled;   /* userAccountControl ACCOUNTDISABLE */
    bool expired;    /* accountExpires in the past */
    int64_t usn_changed; /* uSNChanged (AD), for "nothing was written" checks; -1 */
    int64_t pwd_last_set; /* pwdLastSet as Unix time (AD); -1 if unknown or never set */
};

/* Who holds an SPN (kf_dir_spn_owner). */
struct kf_dir_owner {
    char *dn;   /* the object's DN */
    char *name; /* its sAMAccountName without a trailing '$', or NULL */
};

/* Connect to the directory named by CFG ([directory] backend, domain,
 * server / ldap_uri / DNS SRV, tls, ca_file, timeout) and authenticate
 * with the caller's ticket. */
kf_status kf_dir_open(const struct kf_config *cfg, struct kf_dir **out, struct kf_err *err);
void kf_dir_free(struct kf_dir *dir); /* accepts NULL */

/* The server this connection talks to ("dc1.lab.test"), the realm
 * ("LAB.TEST"), the DNS domain ("lab.test"), the NetBIOS domain ("LAB"),
 * and the base DN (AD). Owned by DIR. */
const char *kf_dir_server(const struct kf_dir *dir);
const char *kf_dir_realm(const struct kf_dir *dir);
const char *kf_dir_domain(const struct kf_dir *dir);
const char *kf_dir_netbios(const struct kf_dir *dir);
const char *kf_dir_base_dn(const struct kf_dir *dir);

/* A directory write on OBJECT (a DN) refused for lack of RIGHT ("reset the
 * password on DN"), seen by the write itself or by a check before any
 * write: KF_ERR_PERMISSION, the message naming WHO, the right, what was
 * said (SAID, may be NULL) and the `krbfleet permission grant` on OBJECT's
 * container that gives the right. The one wording of every such refusal. */
kf_status kf_dir_refused(const struct kf_dir *dir, const char *who, const char *right,
                         const char *object, const char *said, struct kf_err *err);

/* Read an account. KF_ERR_NOT_FOUND when there is none. */
kf_status kf_dir_account_get(struct kf_dir *dir, const char *name, struct kf_dir_account **out,
                             struct kf_err *err);
void kf_dir_account_free(struct kf_dir_account *acct); /* accepts NULL */

/* Read what decides whether account NAME may carry web keys: its class,
 * userAccountControl, primary group, delegation settings, SPNs, and (on
 * AD, a base-scope read of tokenGroups) every group it belongs to, nested.
 * KF_ERR_NOT_FOUND when there is none; KF_ERR_DIRECTORY when a group SID
 * the server sends is malformed. */
kf_status kf_dir_account_traits(struct kf_dir *dir, const char *name, struct kf_dir_traits **out,
                                struct kf_err *err);
void kf_dir_traits_free(struct kf_dir_traits *t); /* accepts NULL */

/* Create a computer account NAME in CONTAINER (a DN; NULL: the domain's
 * Computers container, found through wellKnownObjects) with ENCTYPES and a
 * random 120-character password that is never shown or stored (wiped).
 * KF_ERR_EXISTS when an object with that sAMAccountName exists. */
kf_status kf_dir_account_create(struct kf_dir *dir, const char *name, const char *container,
                                unsigned enctypes, struct kf_err *err);

/* The same with PASSWORD (the caller wipes it) set in the same add (AD:
 * unicodePwd over the sealed connection), so the DC hashes one password:
 * for a first deployment whose keys were derived and staged before the
 * account existed. PASSWORD NULL: as kf_dir_account_create. */
kf_status kf_dir_account_create_with_password(struct kf_dir *dir, const char *name,
                                              const char *container, unsigned enctypes,
                                              const char *password, struct kf_err *err);

/* Delete the account's directory object. */
kf_status kf_dir_account_delete(struct kf_dir *dir, const char *name, struct kf_err *err);

/* Change the account's SPNs in ONE write: remove DEL, add ADD. Either list
 * may be empty; when both are, nothing is written. */
kf_status kf_dir_spn_modify(struct kf_dir *dir, const char *name, const char *const *add,
                            size_t n_add, const char *const *del, size_t n_del,
                            struct kf_err *err);

/* The same for any object named by its DN (for --take-over from an object
 * krbfleet does not manage, which may be a user or another computer). */
kf_status kf_dir_spn_modify_dn(struct kf_dir *dir, const char *dn, const char *const *add,
                               size_t n_add, const char *const *del, size_t n_del,
                               struct kf_err *err);

/* Which object holds SPN (case-insensitive), searching the global catalog
 * where there is one (SPN uniqueness is forest-wide), else the domain.
 * *OUT is NULL when no object holds it. */
kf_status kf_dir_spn_owner(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out,
                           struct kf_err *err);
void kf_dir_owner_free(struct kf_dir_owner *owner); /* accepts NULL */

/* Every object that holds SPN, searched as kf_dir_spn_owner does, so a
 * duplicate (two objects, which AD should have refused) shows as N >= 2
 * instead of an error. *OUT is a new array of N owners (kf_dir_owners_free);
 * NULL and 0 when nobody holds it. */
kf_status kf_dir_spn_holders(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out,
                             size_t *n, struct kf_err *err);
void kf_dir_owners_free(struct kf_dir_owner *v, size_t n); /* accepts NULL */

/* Set the account's password (the caller wipes PASSWORD). On AD: unicodePwd
 * over this same sealed connection, or kpasswd set-password when
 * [directory] password_method = kpasswd. */
kf_status kf_dir_set_password(struct kf_dir *dir, const char *name, const char *password,
                              struct kf_err *err);

/* Replace the account's msDS-SupportedEncryptionTypes with ENCTYPES (the
 * KF_ENCTYPE_* bits; DES refused, at least one type). One write. The
 * caller decides when this is safe (acctset.h): the KDC issues tickets
 * only in the types it names, from the next request on. */
kf_status kf_dir_enctypes_set(struct kf_dir *dir, const char *name, unsigned enctypes,
                              struct kf_err *err);

/* A security principal (user, group, computer) as the directory holds it
 * (kf_dir_principal_find, kf_dir_whoami). All owned. */
struct kf_dir_principal {
    char *dn;
    char *name;            /* sAMAccountName ("alice", "webadmins", "HOST$") */
    struct kf_sid sid;     /* objectSid */
    struct kf_sid *groups; /* tokenGroups (nested), when asked for; else NULL */
    size_t n_groups;
};

/* Find the principal whose sAMAccountName is NAME (case-insensitive), or,
 * when NAME is NULL, whose objectSid is SID; with GROUPS, also read its
 * tokenGroups. KF_ERR_NOT_FOUND when there is none. */
kf_status kf_dir_principal_find(struct kf_dir *dir, const char *name, const struct kf_sid *sid,
                                bool groups, struct kf_dir_principal **out, struct kf_err *err);
/* The principal of the caller's ticket, with its tokenGroups. */
kf_status kf_dir_whoami(struct kf_dir *dir, struct kf_dir_principal **out, struct kf_err *err);
void kf_dir_principal_free(struct kf_dir_principal *p); /* accepts NULL */

/* Read the parts PARTS (secdesc.h KF_SD_* bits: owner 1, group 2, DACL 4)
 * of DN's security descriptor (nTSecurityDescriptor, with the
 * LDAP_SERVER_SD_FLAGS control on AD) into *SD (new, free()), *LEN bytes,
 * and DN's uSNChanged into *USN (-1 when unknown; USN may be NULL). The
 * bytes are the server's: parse them with kf_sd_parse. KF_ERR_PERMISSION
 * when the caller may not read them. */
kf_status kf_dir_sd_read(struct kf_dir *dir, const char *dn, unsigned parts, uint8_t **sd,
                         size_t *len, int64_t *usn, struct kf_err *err);
/* Replace the parts PARTS of DN's security descriptor with those of SD. */
kf_status kf_dir_sd_write(struct kf_dir *dir, const char *dn, unsigned parts, const uint8_t *sd,
                          size_t len, struct kf_err *err);

/* What the caller may do at DN, as the server computes it for the
 * caller's ticket (allowedChildClassesEffective: the classes it may create
 * below DN; allowedAttributesEffective: the attributes it may write on
 * DN). New string arrays (kf_strv_free); empty when none. */
kf_status kf_dir_effective(struct kf_dir *dir, const char *dn, char ***classes, size_t *n_classes,
                           char ***attrs, size_t *n_attrs, struct kf_err *err);

/* Counters of requests sent on this connection, for benchmarks and for
 * tests that prove "no write happened". */
void kf_dir_counters(const struct kf_dir *dir, unsigned long *reads, unsigned long *writes);

#endif
