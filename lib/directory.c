/* directory.c - the directory interface: picks a backend, checks arguments,
 * dispatches. Backends plug in through struct kf_dir_ops (dir_backend.h). */
#include "directory.h"

#include "dir_backend.h"
#include "mem.h"
#include "password.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 256  /* an account name; real ones are at most 15 */
#define SPN_MAX_LEN 1024  /* one servicePrincipalName value, a DN */
#define SPN_LIST_MAX 1024 /* values added or removed in one call */

static const struct kf_dir_ops *const backends[] = {
    &kf_dir_ad_ops,
};

/* Backends that are planned and named in the design, but not built yet. */
static const char *const planned[] = {"mit"};

static const struct kf_dir_ops *
find_backend(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

kf_status
kf_dir_open(const struct kf_config *cfg, struct kf_dir **out, struct kf_err *err)
{
    const char *bname;
    const struct kf_dir_ops *ops;
    struct kf_dir *dir;
    kf_status st;

    *out = NULL;
    if (cfg == NULL)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "kf_dir_open: no configuration");
    bname = cfg->directory.backend != NULL ? cfg->directory.backend : "ad";
    ops = find_backend(bname);
    if (ops == NULL) {
        for (size_t i = 0; i < sizeof(planned) / sizeof(planned[0]); i++)
            if (strcmp(planned[i], bname) == 0)
                return kf_err_set(err, KF_ERR_CONFIG,
                                  "%s: [directory] backend = %s is not implemented yet "
                                  "(only \"ad\" is)",
                                  cfg->file != NULL ? cfg->file : "configuration", bname);
        return kf_err_set(err, KF_ERR_CONFIG,
                          "%s: [directory] backend = \"%s\" is unknown (use ad)",
                          cfg->file != NULL ? cfg->file : "configuration", bname);
    }
    dir = calloc(1, sizeof(*dir));
    if (dir == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    dir->ops = ops;
    dir->cfg = cfg;
    st = ops->open(dir, err);
    if (st != KF_OK) {
        kf_dir_free(dir);
        return st;
    }
    if (dir->server == NULL || dir->realm == NULL || dir->domain == NULL) {
        kf_dir_free(dir);
        return kf_err_set(err, KF_ERR_UNEXPECTED, "directory backend %s left its server unnamed",
                          ops->name);
    }
    *out = dir;
    return KF_OK;
}

void
kf_dir_free(struct kf_dir *dir)
{
    if (dir == NULL)
        return;
    if (dir->ops != NULL && dir->ops->free != NULL)
        dir->ops->free(dir);
    free(dir->server);
    free(dir->realm);
    free(dir->domain);
    free(dir->netbios);
    free(dir->base_dn);
    free(dir);
}

const char *
kf_dir_server(const struct kf_dir *dir)
{
    return dir->server;
}

const char *
kf_dir_realm(const struct kf_dir *dir)
{
    return dir->realm;
}

const char *
kf_dir_domain(const struct kf_dir *dir)
{
    return dir->domain;
}

const char *
kf_dir_netbios(const struct kf_dir *dir)
{
    return dir->netbios;
}

/* The DN of DN's parent: what follows its first unescaped comma; NULL
 * when there is none. Points into DN. */
static const char *
parent_dn(const char *dn)
{
    for (const char *p = dn; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == ',')
            return p[1] != '\0' ? p + 1 : NULL;
    }
    return NULL;
}

kf_status
kf_dir_refused(const struct kf_dir *dir, const char *who, const char *right, const char *object,
               const char *said, struct kf_err *err)
{
    const char *container = object != NULL ? parent_dn(object) : NULL;

    if (container == NULL)
        return kf_err_set(err, KF_ERR_PERMISSION, "%s may not %s%s%s%s", who, right,
                          said != NULL ? " (" : "", said != NULL ? said : "",
                          said != NULL ? ")" : "");
    return kf_err_set(err, KF_ERR_PERMISSION,
                      "%s may not %s%s%s%s; a domain admin can delegate it: krbfleet permission "
                      "grant --container '%s' --group '%s\\GROUP'",
                      who, right, said != NULL ? " (" : "", said != NULL ? said : "",
                      said != NULL ? ")" : "", container,
                      dir->netbios != NULL ? dir->netbios : "DOMAIN");
}

const char *
kf_dir_base_dn(const struct kf_dir *dir)
{
    return dir->base_dn;
}

void
kf_dir_counters(const struct kf_dir *dir, unsigned long *reads, unsigned long *writes)
{
    if (reads != NULL)
        *reads = dir->reads;
    if (writes != NULL)
        *writes = dir->writes;
}

/* A string from the caller that goes into a directory request: non-empty,
 * at most MAX bytes, no control characters. */
static kf_status
check_text(const char *what, const char *s, size_t max, struct kf_err *err)
{
    size_t n;

    if (s == NULL || *s == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "%s is empty", what);
    n = strnlen(s, max + 1);
    if (n > max)
        return kf_err_set(err, KF_ERR_INVALID, "%s is longer than %zu characters", what, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return kf_err_set(err, KF_ERR_INVALID, "%s contains a control character", what);
    return KF_OK;
}

static kf_status
check_name(const char *name, struct kf_err *err)
{
    kf_status st = check_text("account name", name, NAME_MAX_LEN, err);

    if (st == KF_OK && name[strlen(name) - 1] == '$')
        return kf_err_set(err, KF_ERR_INVALID,
                          "account name \"%s\" must be given without the trailing '$'", name);
    return st;
}

/* Each SPN valid, none twice in LIST (SPNs compare case-insensitively, as
 * the directory compares them). */
static kf_status
check_spn_list(const char *what, const char *const *list, size_t n, struct kf_err *err)
{
    if (n > SPN_LIST_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "%zu SPNs to %s in one change; at most %d", n, what,
                          SPN_LIST_MAX);
    if (n > 0 && list == NULL)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "SPN list to %s is NULL", what);
    for (size_t i = 0; i < n; i++) {
        kf_status st = check_text("SPN", list[i], SPN_MAX_LEN, err);
        if (st != KF_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(list[i], list[j]) == 0)
                return kf_err_set(err, KF_ERR_INVALID, "SPN \"%s\" is given twice to %s", list[i],
                                  what);
    }
    return KF_OK;
}

kf_status
kf_dir_account_get(struct kf_dir *dir, const char *name, struct kf_dir_account **out,
                   struct kf_err *err)
{
    kf_status st;

    *out = NULL;
    st = check_name(name, err);
    if (st != KF_OK)
        return st;
    return dir->ops->account_get(dir, name, out, err);
}

void
kf_dir_account_free(struct kf_dir_account *acct)
{
    if (acct == NULL)
        return;
    free(acct->name);
    free(acct->dn);
    for (size_t i = 0; i < acct->n_spns; i++)
        free(acct->spns[i]);
    free(acct->spns);
    free(acct);
}

kf_status
kf_dir_account_traits(struct kf_dir *dir, const char *name, struct kf_dir_traits **out,
                      struct kf_err *err)
{
    kf_status st;

    *out = NULL;
    st = check_name(name, err);
    if (st != KF_OK)
        return st;
    if (dir->ops->account_traits == NULL)
        return kf_err_set(err, KF_ERR_UNEXPECTED,
                          "the %s directory backend cannot say whether an account may carry "
                          "web keys",
                          dir->ops->name);
    return dir->ops->account_traits(dir, name, out, err);
}

void
kf_dir_traits_free(struct kf_dir_traits *t)
{
    if (t == NULL)
        return;
    free(t->dn);
    for (size_t i = 0; i < t->n_object_classes; i++)
        free(t->object_classes[i]);
    free(t->object_classes);
    for (size_t i = 0; i < t->n_delegate_to; i++)
        free(t->delegate_to[i]);
    free(t->delegate_to);
    for (size_t i = 0; i < t->n_spns; i++)
        free(t->spns[i]);
    free(t->spns);
    free(t->groups);
    free(t);
}

int
kf_sid_parse(const void *buf, size_t len, struct kf_sid *out)
{
    const unsigned char *p = buf;

    memset(out, 0, sizeof(*out));
    if (p == NULL || len < 8 || p[0] != 1 || p[1] > KF_SID_SUBAUTH_MAX ||
        len != 8 + 4 * (size_t)p[1])
        return -1;
    out->revision = p[0];
    out->n_sub = p[1];
    for (int i = 2; i < 8; i++) /* the authority is big-endian */
        out->authority = (out->authority << 8) | p[i];
    for (size_t i = 0; i < out->n_sub; i++) { /* sub-authorities little-endian */
        const unsigned char *q = p + 8 + 4 * i;
        out->sub[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                      (uint32_t)q[3] << 24;
    }
    return 0;
}

void
kf_sid_format(const struct kf_sid *sid, char *out, size_t size)
{
    size_t used;
    int n;

    if (size == 0)
        return;
    n = snprintf(out, size, "S-%u-%llu", sid->revision, (unsigned long long)sid->authority);
    used = n < 0 ? size : (size_t)n;
    for (size_t i = 0; i < sid->n_sub && i < KF_SID_SUBAUTH_MAX && used < size; i++) {
        n = snprintf(out + used, size - used, "-%u", sid->sub[i]);
        used += n < 0 ? size : (size_t)n;
    }
}

kf_status
kf_dir_account_create(struct kf_dir *dir, const char *name, const char *container,
                      unsigned enctypes, struct kf_err *err)
{
    return kf_dir_account_create_with_password(dir, name, container, enctypes, NULL, err);
}

kf_status
kf_dir_account_create_with_password(struct kf_dir *dir, const char *name, const char *container,
                                    unsigned enctypes, const char *password, struct kf_err *err)
{
    kf_status st = check_name(name, err);

    if (st != KF_OK)
        return st;
    if (container != NULL) {
        st = check_text("container", container, SPN_MAX_LEN, err);
        if (st != KF_OK)
            return st;
    }
    if (enctypes == 0 || (enctypes & ~0x1fu) != 0)
        return kf_err_set(err, KF_ERR_INVALID,
                          "encryption types 0x%x are not a valid msDS-SupportedEncryptionTypes "
                          "value (bits 0x01..0x10)",
                          enctypes);
    /* Never quote the password itself in a message. */
    if (password != NULL && (*password == '\0' || strnlen(password, KF_PASSWORD_MAX + 1) >
                                                      KF_PASSWORD_MAX))
        return kf_err_set(err, KF_ERR_INVALID,
                          "the password for %s must have 1 to %d characters", name,
                          KF_PASSWORD_MAX);
    return dir->ops->account_create(dir, name, container, enctypes, password, err);
}

kf_status
kf_dir_account_delete(struct kf_dir *dir, const char *name, struct kf_err *err)
{
    kf_status st = check_name(name, err);

    if (st != KF_OK)
        return st;
    return dir->ops->account_delete(dir, name, err);
}

/* The checks both SPN writes share: valid lists, no SPN both added and
 * removed. Sets *NOTHING when there is nothing to write. */
static kf_status
check_spn_change(const char *const *add, size_t n_add, const char *const *del, size_t n_del,
                 bool *nothing, struct kf_err *err)
{
    kf_status st = check_spn_list("add", add, n_add, err);

    if (st != KF_OK)
        return st;
    st = check_spn_list("remove", del, n_del, err);
    if (st != KF_OK)
        return st;
    for (size_t i = 0; i < n_add; i++)
        for (size_t j = 0; j < n_del; j++)
            if (strcasecmp(add[i], del[j]) == 0)
                return kf_err_set(err, KF_ERR_INVALID, "SPN \"%s\" is both added and removed",
                                  add[i]);
    *nothing = n_add == 0 && n_del == 0;
    return KF_OK;
}

kf_status
kf_dir_spn_modify(struct kf_dir *dir, const char *name, const char *const *add, size_t n_add,
                  const char *const *del, size_t n_del, struct kf_err *err)
{
    bool nothing = false;
    kf_status st = check_name(name, err);

    if (st == KF_OK)
        st = check_spn_change(add, n_add, del, n_del, &nothing, err);
    if (st != KF_OK || nothing)
        return st; /* nothing to write: nothing is sent, not even a read */
    return dir->ops->spn_modify(dir, name, add, n_add, del, n_del, err);
}

kf_status
kf_dir_spn_modify_dn(struct kf_dir *dir, const char *dn, const char *const *add, size_t n_add,
                     const char *const *del, size_t n_del, struct kf_err *err)
{
    bool nothing = false;
    kf_status st = check_text("DN", dn, SPN_MAX_LEN, err);

    if (st == KF_OK)
        st = check_spn_change(add, n_add, del, n_del, &nothing, err);
    if (st != KF_OK || nothing)
        return st;
    return dir->ops->spn_modify_dn(dir, dn, add, n_add, del, n_del, err);
}

kf_status
kf_dir_spn_owner(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out, struct kf_err *err)
{
    struct kf_dir_owner *v = NULL;
    size_t n = 0;
    kf_status st;

    *out = NULL;
    /* The owner is the one holder; two or more is a directory to repair. */
    if ((st = kf_dir_spn_holders(dir, spn, &v, &n, err)) != KF_OK)
        return st;
    if (n > 1) {
        st = kf_err_set(err, KF_ERR_CONFLICT,
                        "the SPN %s is held by more than one object (%s and %s): the directory "
                        "must be repaired (setspn -X lists duplicates)",
                        spn, v[0].dn ? v[0].dn : "?", v[1].dn ? v[1].dn : "?");
        kf_dir_owners_free(v, n);
        return st;
    }
    if (n == 1) {
        *out = malloc(sizeof(**out));
        if (*out == NULL) {
            kf_dir_owners_free(v, n);
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
        **out = v[0]; /* the strings move over */
    }
    free(v);
    return KF_OK;
}

void
kf_dir_owner_free(struct kf_dir_owner *owner)
{
    if (owner == NULL)
        return;
    free(owner->dn);
    free(owner->name);
    free(owner);
}

kf_status
kf_dir_spn_holders(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out, size_t *n,
                   struct kf_err *err)
{
    kf_status st;

    *out = NULL;
    *n = 0;
    st = check_text("SPN", spn, SPN_MAX_LEN, err);
    if (st != KF_OK)
        return st;
    if (dir->ops->spn_holders == NULL)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "the %s directory backend cannot list the "
                                                  "holders of an SPN", dir->ops->name);
    return dir->ops->spn_holders(dir, spn, out, n, err);
}

void
kf_dir_owners_free(struct kf_dir_owner *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].dn);
        free(v[i].name);
    }
    free(v);
}

kf_status
kf_dir_set_password(struct kf_dir *dir, const char *name, const char *password, struct kf_err *err)
{
    kf_status st = check_name(name, err);

    if (st != KF_OK)
        return st;
    /* Never quote the password itself in a message. */
    if (password == NULL || *password == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "the new password for %s is empty", name);
    if (strnlen(password, KF_PASSWORD_MAX + 1) > KF_PASSWORD_MAX)
        return kf_err_set(err, KF_ERR_INVALID,
                          "the new password for %s is longer than %d characters", name,
                          KF_PASSWORD_MAX);
    return dir->ops->set_password(dir, name, password, err);
}

kf_status
kf_dir_enctypes_set(struct kf_dir *dir, const char *name, unsigned enctypes, struct kf_err *err)
{
    kf_status st = check_name(name, err);

    if (st != KF_OK)
        return st;
    if ((enctypes & (KF_ENCTYPE_RC4_HMAC | KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256)) == 0 ||
        (enctypes & ~(unsigned)(KF_ENCTYPE_RC4_HMAC | KF_ENCTYPE_AES128 | KF_ENCTYPE_AES256)) != 0)
        return kf_err_set(err, KF_ERR_INVALID,
                          "msDS-SupportedEncryptionTypes %u for %s: only aes256, aes128 and rc4 "
                          "(16, 8, 4), at least one",
                          enctypes, name);
    if (dir->ops->enctypes_set == NULL)
        return kf_err_set(err, KF_ERR_CONFIG,
                          "the %s directory backend cannot change an account's encryption types",
                          dir->ops->name);
    return dir->ops->enctypes_set(dir, name, enctypes, err);
}

/* ---- delegation ----------------------------------------------------------- */

static kf_status
no_delegation(const struct kf_dir *dir, struct kf_err *err)
{
    return kf_err_set(err, KF_ERR_UNEXPECTED,
                      "the %s directory backend cannot read or change permissions",
                      dir->ops->name);
}

kf_status
kf_dir_principal_find(struct kf_dir *dir, const char *name, const struct kf_sid *sid, bool groups,
                      struct kf_dir_principal **out, struct kf_err *err)
{
    kf_status st;

    *out = NULL;
    if (name != NULL && (st = check_text("principal name", name, NAME_MAX_LEN, err)) != KF_OK)
        return st;
    if (name == NULL && (sid == NULL || sid->revision != 1 || sid->n_sub > KF_SID_SUBAUTH_MAX))
        return kf_err_set(err, KF_ERR_INVALID, "no principal name or SID to look up");
    if (dir->ops->principal_find == NULL)
        return no_delegation(dir, err);
    return dir->ops->principal_find(dir, name, sid, groups, out, err);
}

kf_status
kf_dir_whoami(struct kf_dir *dir, struct kf_dir_principal **out, struct kf_err *err)
{
    *out = NULL;
    if (dir->ops->whoami == NULL)
        return no_delegation(dir, err);
    return dir->ops->whoami(dir, out, err);
}

void
kf_dir_principal_free(struct kf_dir_principal *p)
{
    if (p == NULL)
        return;
    free(p->dn);
    free(p->name);
    free(p->groups);
    free(p);
}

/* Only the owner, group and DACL: krbfleet never reads or writes a SACL. */
#define SD_PARTS_ALLOWED 0x7u

kf_status
kf_dir_sd_read(struct kf_dir *dir, const char *dn, unsigned parts, uint8_t **sd, size_t *len,
               int64_t *usn, struct kf_err *err)
{
    kf_status st = check_text("DN", dn, SPN_MAX_LEN, err);

    *sd = NULL;
    *len = 0;
    if (usn != NULL)
        *usn = -1;
    if (st != KF_OK)
        return st;
    if (parts == 0 || (parts & ~SD_PARTS_ALLOWED) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "security descriptor parts 0x%x: owner, group "
                          "and DACL only", parts);
    if (dir->ops->sd_read == NULL)
        return no_delegation(dir, err);
    return dir->ops->sd_read(dir, dn, parts, sd, len, usn, err);
}

kf_status
kf_dir_sd_write(struct kf_dir *dir, const char *dn, unsigned parts, const uint8_t *sd, size_t len,
                struct kf_err *err)
{
    kf_status st = check_text("DN", dn, SPN_MAX_LEN, err);

    if (st != KF_OK)
        return st;
    if (parts == 0 || (parts & ~SD_PARTS_ALLOWED) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "security descriptor parts 0x%x: owner, group "
                          "and DACL only", parts);
    if (sd == NULL || len < 20)
        return kf_err_set(err, KF_ERR_INVALID, "no security descriptor to write on %s", dn);
    if (dir->ops->sd_write == NULL)
        return no_delegation(dir, err);
    return dir->ops->sd_write(dir, dn, parts, sd, len, err);
}

kf_status
kf_dir_effective(struct kf_dir *dir, const char *dn, char ***classes, size_t *n_classes,
                 char ***attrs, size_t *n_attrs, struct kf_err *err)
{
    kf_status st = check_text("DN", dn, SPN_MAX_LEN, err);

    *classes = *attrs = NULL;
    *n_classes = *n_attrs = 0;
    if (st != KF_OK)
        return st;
    if (dir->ops->effective == NULL)
        return no_delegation(dir, err);
    return dir->ops->effective(dir, dn, classes, n_classes, attrs, n_attrs, err);
}
