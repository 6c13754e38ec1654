/* secdesc.h - Windows security descriptors as Active Directory stores them
 * (nTSecurityDescriptor, MS-DTYP 2.4.6): parse one, look at and change its
 * DACL and owner, build it again. Pure: no I/O.
 *
 * The descriptor comes from the directory and is not trusted: every offset
 * and length is checked against the buffer (at most KF_SD_MAX bytes) and
 * against the structure that contains it. ACEs of types krbfleet does not
 * decode (audit, callback, ...) are kept byte for byte, in their place.
 *
 * GUIDs are held in their binary, mixed-endian form (the first three
 * fields little-endian), exactly as in an object ACE.
 */
#ifndef KF_SECDESC_H
#define KF_SECDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h" /* struct kf_sid */
#include "errors.h"

#define KF_SD_MAX (256 * 1024) /* larger than two full ACLs and two SIDs */
#define KF_ACE_MAX (4 + 4 + 4 + 16 + 16 + 8 + 4 * KF_SID_SUBAUTH_MAX)

/* SECURITY_INFORMATION bits: which parts a read or write concerns (the
 * LDAP_SERVER_SD_FLAGS control's value). */
#define KF_SD_OWNER 0x1
#define KF_SD_GROUP 0x2
#define KF_SD_DACL 0x4
#define KF_SD_SACL 0x8

/* ACE types krbfleet decodes. */
#define KF_ACE_ALLOWED 0x00
#define KF_ACE_DENIED 0x01
#define KF_ACE_ALLOWED_OBJECT 0x05
#define KF_ACE_DENIED_OBJECT 0x06

/* ACE flags */
#define KF_ACE_OBJECT_INHERIT 0x01
#define KF_ACE_CONTAINER_INHERIT 0x02
#define KF_ACE_NO_PROPAGATE 0x04
#define KF_ACE_INHERIT_ONLY 0x08
#define KF_ACE_INHERITED 0x10

/* Directory access rights (MS-ADTS 5.1.3.2) */
#define KF_RIGHT_CREATE_CHILD 0x00000001
#define KF_RIGHT_DELETE_CHILD 0x00000002
#define KF_RIGHT_SELF 0x00000008 /* validated write */
#define KF_RIGHT_READ_PROP 0x00000010
#define KF_RIGHT_WRITE_PROP 0x00000020
#define KF_RIGHT_CONTROL_ACCESS 0x00000100 /* extended right */
#define KF_RIGHT_DELETE 0x00010000
#define KF_RIGHT_GENERIC_ALL 0x10000000

struct kf_guid {
    uint8_t b[16];
};
#define KF_GUID_STR_LEN 37 /* 36 characters and the terminator */

/* "bf967a86-0de6-11d0-a285-00aa003049e2" (any case) into OUT. 0, or -1
 * when TEXT is not exactly that form. */
int kf_guid_parse(const char *text, struct kf_guid *out);
/* Lower-case text form into OUT (KF_GUID_STR_LEN bytes). */
void kf_guid_format(const struct kf_guid *g, char out[KF_GUID_STR_LEN]);
bool kf_guid_equal(const struct kf_guid *a, const struct kf_guid *b);

/* One decoded ACE. has_object / has_inherited only for the object types. */
struct kf_ace {
    uint8_t type;
    uint8_t flags;
    uint32_t mask;
    bool has_object;
    bool has_inherited;
    struct kf_guid object;    /* ObjectType: the class, attribute or right */
    struct kf_guid inherited; /* InheritedObjectType: the class it passes to */
    struct kf_sid sid;
};

/* Decode exactly LEN bytes (one ACE of a type above). 0, or -1 when it is
 * malformed, of another type, or LEN is not its size. */
int kf_ace_parse(const void *buf, size_t len, struct kf_ace *out);
/* Encode ACE into OUT (KF_ACE_MAX bytes); returns its length, 0 when the
 * ACE cannot be encoded (unknown type, SID of more than 15 parts). */
size_t kf_ace_encode(const struct kf_ace *ace, uint8_t out[KF_ACE_MAX]);
/* Same type, flags (the INHERITED bit aside), mask, GUIDs and SID. */
bool kf_ace_equal(const struct kf_ace *a, const struct kf_ace *b);
bool kf_sid_equal(const struct kf_sid *a, const struct kf_sid *b);

/* Binary form of SID into OUT (8 + 4 x 15 bytes at most); returns its
 * length, 0 when the SID is malformed. */
size_t kf_sid_encode(const struct kf_sid *sid, uint8_t out[8 + 4 * KF_SID_SUBAUTH_MAX]);

struct kf_sd;

/* Parse a self-relative descriptor of LEN bytes. KF_ERR_INVALID, naming
 * the part at fault, when anything is out of bounds or malformed. *OUT is
 * new (kf_sd_free). */
kf_status kf_sd_parse(const void *buf, size_t len, struct kf_sd **out, struct kf_err *err);
void kf_sd_free(struct kf_sd *sd); /* accepts NULL */

/* Which parts the descriptor holds (KF_SD_* bits). */
unsigned kf_sd_parts(const struct kf_sd *sd);

/* The DACL's ACEs, in order. kf_sd_ace decodes ACE I into OUT: false for a
 * type it does not decode (such an ACE is kept as it was). */
size_t kf_sd_ace_count(const struct kf_sd *sd);
bool kf_sd_ace(const struct kf_sd *sd, size_t i, struct kf_ace *out);

/* The index of the first explicit (not inherited) ACE equal to ACE, or -1. */
long kf_sd_find(const struct kf_sd *sd, const struct kf_ace *ace);

/* Add ACE (explicit; its INHERITED flag must be clear) in canonical order:
 * after every explicit ACE, before the inherited ones. Creates an empty
 * DACL when there is none; raises the ACL revision to 4 (DS) for an
 * object ACE. KF_ERR_INVALID for an ACE that cannot be encoded,
 * KF_ERR_CONFLICT when the DACL would exceed 64 KiB. */
kf_status kf_sd_add(struct kf_sd *sd, const struct kf_ace *ace, struct kf_err *err);

/* Remove ACE I (I < kf_sd_ace_count). */
void kf_sd_remove(struct kf_sd *sd, size_t i);

/* The owner, or NULL when the descriptor holds none. */
const struct kf_sid *kf_sd_owner(const struct kf_sd *sd);
void kf_sd_set_owner(struct kf_sd *sd, const struct kf_sid *owner);

/* Build the self-relative form of the parts PARTS (KF_SD_* bits; parts
 * the descriptor does not hold are left out) into *OUT (new, free()),
 * *LEN bytes. */
kf_status kf_sd_build(const struct kf_sd *sd, unsigned parts, uint8_t **out, size_t *len,
                      struct kf_err *err);

/* Does the DACL give a token holding the N SIDs of TOKEN every bit of
 * MASK, where OBJECT names the right, attribute or class the access is
 * for (NULL: none)? Evaluated in order, a deny of any wanted bit first
 * refusing it (MS-DTYP 2.5.3.2, without the owner's implicit rights).
 *
 * CHILD_CLASS NULL: the access is to the object itself (inherit-only ACEs
 * do not apply). CHILD_CLASS set: the access is to a new child of that
 * class, judged from the ACEs the container passes down (inheritable, with
 * no InheritedObjectType or that class) - the class's own default ACEs
 * are not known here. */
bool kf_sd_grants(const struct kf_sd *sd, const struct kf_sid *token, size_t n, uint32_t mask,
                  const struct kf_guid *object, const struct kf_guid *child_class);

#endif
