/* permission.c - permission grant / revoke / list / test on a container.
 * See permission.h; the rights and why each is in docs/design.md. */
#include "permission.h"

#include "mem.h"
#include "strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define G_COMPUTER "bf967a86-0de6-11d0-a285-00aa003049e2" /* class computer */
#define G_RESET_PW "00299570-246d-11d0-a768-00aa006e0529" /* User-Force-Change-Password */
#define G_SPN "f3a64788-5306-11d1-a9c5-0000f80367c1"      /* servicePrincipalName */
#define G_UAC "bf967a68-0de6-11d0-a285-00aa003049e2"      /* userAccountControl */
#define G_ENCTYPES "20119867-1d04-4ab7-9371-cfc3d5df0afd" /* msDS-SupportedEncryptionTypes */
#define RID_DOMAIN_ADMINS 512

static const struct {
    uint8_t flags;
    uint32_t mask;
    const char *object;
    const char *inherited;
    const char *label;
} set[KF_PERM_N_ACES] = {
    {0, KF_RIGHT_CREATE_CHILD | KF_RIGHT_DELETE_CHILD, G_COMPUTER, NULL,
     "create and delete computer objects"},
    {KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, KF_RIGHT_CONTROL_ACCESS, G_RESET_PW,
     G_COMPUTER, "reset the password of computers"},
    {KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, KF_RIGHT_READ_PROP | KF_RIGHT_WRITE_PROP,
     G_SPN, G_COMPUTER, "read and write servicePrincipalName of computers"},
    {KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, KF_RIGHT_WRITE_PROP, G_UAC, G_COMPUTER,
     "write userAccountControl of computers"},
    {KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, KF_RIGHT_WRITE_PROP, G_ENCTYPES, G_COMPUTER,
     "write msDS-SupportedEncryptionTypes of computers"},
};

static struct kf_guid
guid(const char *text)
{
    struct kf_guid g = {{0}};

    (void)kf_guid_parse(text, &g); /* the constants above are well formed */
    return g;
}

const char *
kf_perm_ace_label(size_t i)
{
    return i < KF_PERM_N_ACES ? set[i].label : "";
}

void
kf_perm_aces(const struct kf_sid *sid, struct kf_ace out[KF_PERM_N_ACES])
{
    for (size_t i = 0; i < KF_PERM_N_ACES; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].type = KF_ACE_ALLOWED_OBJECT;
        out[i].flags = set[i].flags;
        out[i].mask = set[i].mask;
        out[i].has_object = true;
        out[i].object = guid(set[i].object);
        if (set[i].inherited != NULL) {
            out[i].has_inherited = true;
            out[i].inherited = guid(set[i].inherited);
        }
        out[i].sid = *sid;
    }
}

/* ---- helpers ------------------------------------------------------------- */

static void
hex_encode(const uint8_t *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Decode at most MAX bytes of hex TEXT; -1 when malformed or too long. */
static long
hex_decode(const char *text, uint8_t *out, size_t max)
{
    size_t n = strlen(text);

    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = text[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (uint8_t)v;
    }
    return (long)(n / 2);
}

kf_status
kf_perm_trustee(struct kf_dir *dir, const char *spec, struct kf_dir_principal **out,
                struct kf_err *err)
{
    const char *bs = strchr(spec, '\\'), *at = strrchr(spec, '@'), *name = spec;
    _cleanup_free_ char *copy = NULL;

    *out = NULL;
    if (bs != NULL) {
        size_t dl = (size_t)(bs - spec);
        const char *nb = kf_dir_netbios(dir), *dns = kf_dir_domain(dir);
        if (!((nb != NULL && strlen(nb) == dl && strncasecmp(spec, nb, dl) == 0) ||
              (dns != NULL && strlen(dns) == dl && strncasecmp(spec, dns, dl) == 0)))
            return kf_err_set(err, KF_ERR_INVALID,
                              "\"%s\": the domain %.*s is not the directory's (%s)", spec, (int)dl,
                              spec, nb != NULL ? nb : "?");
        name = bs + 1;
    } else if (at != NULL) {
        const char *realm = kf_dir_realm(dir);
        if (realm == NULL || strcasecmp(at + 1, realm) != 0)
            return kf_err_set(err, KF_ERR_INVALID,
                              "\"%s\": the realm %s is not the directory's "
                              "(%s)",
                              spec, at + 1, realm != NULL ? realm : "?");
        copy = strndup(spec, (size_t)(at - spec));
        if (copy == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        name = copy;
    }
    if (*name == '\0' || strchr(name, '\\') != NULL || strchr(name, '@') != NULL)
        return kf_err_set(err, KF_ERR_INVALID,
                          "\"%s\" is not a trustee: write it as 'DOMAIN\\name' (a group or an "
                          "account)",
                          spec);
    return kf_dir_principal_find(dir, name, NULL, false, out, err);
}

/* The container's DACL, parsed, and its uSNChanged. */
static kf_status
read_dacl(struct kf_dir *dir, const char *dn, unsigned parts, struct kf_sd **sd, int64_t *usn,
          struct kf_err *err)
{
    _cleanup_free_ uint8_t *raw = NULL;
    size_t len = 0;
    kf_status st;

    *sd = NULL;
    if ((st = kf_dir_sd_read(dir, dn, parts, &raw, &len, usn, err)) != KF_OK)
        return st;
    if ((st = kf_sd_parse(raw, len, sd, err)) != KF_OK)
        return kf_err_prefix(err,
                             "the directory server %s sent a security descriptor for %s "
                             "that cannot be read",
                             kf_dir_server(dir), dn);
    if ((parts & KF_SD_DACL) && !(kf_sd_parts(*sd) & KF_SD_DACL)) {
        kf_sd_free(*sd);
        *sd = NULL;
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "cannot read the permissions (DACL) of %s: the directory server %s "
                          "sent none",
                          dn, kf_dir_server(dir));
    }
    return KF_OK;
}

static kf_status
write_sd(struct kf_dir *dir, const char *dn, unsigned parts, const struct kf_sd *sd,
         struct kf_err *err)
{
    _cleanup_free_ uint8_t *raw = NULL;
    size_t len = 0;
    kf_status st = kf_sd_build(sd, parts, &raw, &len, err);

    if (st != KF_OK)
        return kf_err_prefix(err, "cannot build the permissions of %s", dn);
    return kf_dir_sd_write(dir, dn, parts, raw, len, err);
}

/* ---- grant ---------------------------------------------------------------- */

kf_status
kf_perm_grant(struct kf_dir *dir, struct kf_store *st, const char *container, const char *trustee,
              struct kf_perm_grant *out, struct kf_err *err)
{
    struct kf_dir_principal *p = NULL;
    struct kf_sd *sd = NULL;
    struct kf_ace want[KF_PERM_N_ACES];
    bool added[KF_PERM_N_ACES] = {false};
    kf_status rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kf_perm_trustee(dir, trustee, &p, err)) != KF_OK)
        return rc;
    kf_sid_format(&p->sid, out->trustee_sid, sizeof(out->trustee_sid));
    if ((rc = read_dacl(dir, container, KF_SD_DACL, &sd, NULL, err)) != KF_OK)
        goto out;
    kf_perm_aces(&p->sid, want);
    for (size_t i = 0; i < KF_PERM_N_ACES; i++) {
        if (kf_sd_find(sd, &want[i]) >= 0) {
            out->present++;
            continue;
        }
        if ((rc = kf_sd_add(sd, &want[i], err)) != KF_OK) {
            kf_err_prefix(err, "cannot add to the permissions of %s", container);
            goto out;
        }
        added[i] = true;
        out->added++;
    }
    if (out->added == 0)
        goto out; /* a second grant writes nothing */
    if ((rc = write_sd(dir, container, KF_SD_DACL, sd, err)) != KF_OK)
        goto out;
    out->written = true;
    for (size_t i = 0; i < KF_PERM_N_ACES && rc == KF_OK; i++) {
        uint8_t b[KF_ACE_MAX];
        char hex[2 * KF_ACE_MAX + 1];
        size_t n;
        if (!added[i])
            continue;
        n = kf_ace_encode(&want[i], b);
        hex_encode(b, n, hex);
        rc = kf_store_permission_ace_add(st, container, out->trustee_sid, trustee, hex, err);
    }
    if (rc != KF_OK)
        kf_err_prefix(err,
                      "the permissions of %s were written but not recorded in the store "
                      "(`krbfleet permission revoke` cannot remove them; remove them with "
                      "dsacl)",
                      container);
out:
    kf_sd_free(sd);
    kf_dir_principal_free(p);
    return rc;
}

/* ---- revoke --------------------------------------------------------------- */

void
kf_perm_revoke_done(struct kf_perm_revoke *r)
{
    for (size_t i = 0; i < r->n_owned; i++) {
        free(r->owned[i].account);
        free(r->owned[i].dn);
        free(r->owned[i].owner_name);
    }
    free(r->owned);
    r->owned = NULL;
    r->n_owned = 0;
}

/* DN's parent is CONTAINER: the part after DN's first unescaped comma. */
static bool
is_child_of(const char *dn, const char *container)
{
    for (const char *p = dn; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == ',')
            return strcasecmp(p + 1, container) == 0;
    }
    return false;
}

static bool
sid_in(const struct kf_sid *sid, const struct kf_sid *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kf_sid_equal(sid, &v[i]))
            return true;
    return false;
}

/* Remove the explicit ACEs of A or B from SD; how many. */
static size_t
remove_explicit(struct kf_sd *sd, const struct kf_sid *a, const struct kf_sid *b)
{
    size_t removed = 0;
    struct kf_ace ace;

    for (size_t i = kf_sd_ace_count(sd); i-- > 0;) {
        if (!kf_sd_ace(sd, i, &ace) || (ace.flags & KF_ACE_INHERITED))
            continue;
        if (kf_sid_equal(&ace.sid, a) || kf_sid_equal(&ace.sid, b)) {
            kf_sd_remove(sd, i);
            removed++;
        }
    }
    return removed;
}

/* One managed account: is its owner the trustee or a member; reclaim. */
static kf_status
check_owned(struct kf_dir *dir, const struct kf_dir_principal *trustee, const char *account,
            const char *dn, bool reclaim, struct kf_perm_revoke *out, struct kf_err *err)
{
    struct kf_sd *sd = NULL;
    struct kf_dir_principal *owner = NULL;
    const struct kf_sid *osid;
    struct kf_perm_owned *o, *v;
    struct kf_err ignored = {0};
    kf_status rc;
    bool member;

    if ((rc = read_dacl(dir, dn, KF_SD_OWNER | KF_SD_DACL, &sd, NULL, err)) != KF_OK)
        return rc;
    osid = kf_sd_owner(sd);
    if (osid == NULL) {
        kf_sd_free(sd);
        return KF_OK;
    }
    member = kf_sid_equal(osid, &trustee->sid);
    if (kf_dir_principal_find(dir, NULL, osid, true, &owner, &ignored) == KF_OK && !member)
        member = sid_in(&trustee->sid, owner->groups, owner->n_groups);
    if (!member)
        goto done;
    v = realloc(out->owned, (out->n_owned + 1) * sizeof(*v));
    if (v == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto done;
    }
    out->owned = v;
    o = &v[out->n_owned];
    memset(o, 0, sizeof(*o));
    o->account = strdup(account);
    o->dn = strdup(dn);
    o->owner_name = owner != NULL ? kf_strdup0(owner->name) : NULL;
    kf_sid_format(osid, o->owner, sizeof(o->owner));
    out->n_owned++;
    if (o->account == NULL || o->dn == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto done;
    }
    {
        struct kf_sid creator = *osid;
        o->creator_aces = remove_explicit(sd, &creator, &trustee->sid);
        if (reclaim) {
            /* Domain Admins of the owner's domain: its SID with RID 512. */
            struct kf_sid da = creator;
            if (da.n_sub != 5 || da.authority != 5 || da.sub[0] != 21) {
                rc = kf_err_set(err, KF_ERR_CONFLICT,
                                "cannot reclaim %s: its owner %s is not "
                                "a domain account",
                                dn, o->owner);
                goto done;
            }
            da.sub[4] = RID_DOMAIN_ADMINS;
            kf_sd_set_owner(sd, &da);
            if ((rc = write_sd(dir, dn, KF_SD_OWNER | KF_SD_DACL, sd, err)) != KF_OK)
                goto done;
            o->reclaimed = true;
        }
    }
done:
    kf_dir_principal_free(owner);
    kf_sd_free(sd);
    return rc;
}

kf_status
kf_perm_revoke(struct kf_dir *dir, struct kf_store *st, const char *container, const char *trustee,
               bool reclaim, struct kf_perm_revoke *out, struct kf_err *err)
{
    struct kf_dir_principal *p = NULL;
    struct kf_sd *sd = NULL;
    char **recorded = NULL;
    struct kf_account *accts = NULL;
    size_t n_rec = 0, n_accts = 0;
    kf_status rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kf_perm_trustee(dir, trustee, &p, err)) != KF_OK)
        return rc;
    kf_sid_format(&p->sid, out->trustee_sid, sizeof(out->trustee_sid));
    if ((rc = kf_store_permission_aces(st, container, out->trustee_sid, &recorded, &n_rec, err)) !=
            KF_OK ||
        (rc = read_dacl(dir, container, KF_SD_DACL, &sd, NULL, err)) != KF_OK)
        goto out;
    out->recorded = n_rec;
    for (size_t i = 0; i < n_rec; i++) {
        uint8_t b[KF_ACE_MAX];
        struct kf_ace ace;
        long len = hex_decode(recorded[i], b, sizeof(b)), at;
        if (len < 0 || kf_ace_parse(b, (size_t)len, &ace) != 0) {
            rc = kf_err_set(err, KF_ERR_STORE, "the store holds a malformed ACE for %s on %s",
                            out->trustee_sid, container);
            goto out;
        }
        if ((at = kf_sd_find(sd, &ace)) >= 0) {
            kf_sd_remove(sd, (size_t)at);
            out->removed++;
        }
    }
    if (out->removed > 0) {
        if ((rc = write_sd(dir, container, KF_SD_DACL, sd, err)) != KF_OK)
            goto out;
        out->written = true;
    }
    if (n_rec > 0 &&
        (rc = kf_store_permission_aces_remove(st, container, out->trustee_sid, err)) != KF_OK)
        goto out;
    /* What the trustee created keeps lasting rights: its owner's and the
     * class's default ACEs. */
    if ((rc = kf_store_account_list(st, &accts, &n_accts, err)) != KF_OK)
        goto out;
    for (size_t i = 0; i < n_accts && rc == KF_OK; i++) {
        struct kf_dir_account *a = NULL;
        struct kf_err ignored = {0};
        if (kf_dir_account_get(dir, accts[i].name, &a, &ignored) != KF_OK)
            continue; /* gone from the directory: nothing to reclaim */
        if (is_child_of(a->dn, container))
            rc = check_owned(dir, p, accts[i].name, a->dn, reclaim, out, err);
        kf_dir_account_free(a);
    }
out:
    kf_account_list_free(accts, n_accts);
    kf_strv_free(recorded, n_rec);
    kf_sd_free(sd);
    kf_dir_principal_free(p);
    return rc;
}

/* ---- list ----------------------------------------------------------------- */

void
kf_perm_holders_free(struct kf_perm_holder *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].name);
    free(v);
}

kf_status
kf_perm_list(struct kf_dir *dir, const char *container, struct kf_perm_holder **out, size_t *n,
             struct kf_err *err)
{
    struct kf_sd *sd = NULL;
    struct kf_perm_holder *v = NULL;
    size_t count = 0;
    kf_status rc;

    *out = NULL;
    *n = 0;
    if ((rc = read_dacl(dir, container, KF_SD_DACL, &sd, NULL, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < kf_sd_ace_count(sd); i++) {
        struct kf_ace ace, want[KF_PERM_N_ACES];
        char sid[KF_SID_STR_MAX];
        size_t h;
        if (!kf_sd_ace(sd, i, &ace) || (ace.flags & KF_ACE_INHERITED))
            continue;
        kf_perm_aces(&ace.sid, want);
        for (size_t k = 0; k < KF_PERM_N_ACES; k++) {
            if (!kf_ace_equal(&ace, &want[k]))
                continue;
            kf_sid_format(&ace.sid, sid, sizeof(sid));
            for (h = 0; h < count && strcmp(v[h].sid, sid) != 0; h++)
                ;
            if (h == count) {
                struct kf_perm_holder *nv = realloc(v, (count + 1) * sizeof(*nv));
                struct kf_dir_principal *p = NULL;
                struct kf_err ignored = {0};
                if (nv == NULL) {
                    kf_perm_holders_free(v, count);
                    kf_sd_free(sd);
                    return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
                }
                v = nv;
                memset(&v[count], 0, sizeof(v[count]));
                memcpy(v[count].sid, sid, sizeof(sid));
                if (kf_dir_principal_find(dir, NULL, &ace.sid, false, &p, &ignored) == KF_OK)
                    v[count].name = TAKE_PTR(p->name);
                kf_dir_principal_free(p);
                count++;
            }
            v[h].have |= 1u << k;
            v[h].complete = v[h].have == (1u << KF_PERM_N_ACES) - 1;
        }
    }
    kf_sd_free(sd);
    *out = v;
    *n = count;
    return KF_OK;
}

/* ---- test ----------------------------------------------------------------- */

void
kf_perm_test_done(struct kf_perm_test *t)
{
    free(t->subject);
    free(t->sample_dn);
    t->subject = t->sample_dn = NULL;
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], s) == 0)
            return true;
    return false;
}

/* A managed account of ST whose object is in CONTAINER: its DN (new). */
static char *
sample_account(struct kf_dir *dir, struct kf_store *st, const char *container)
{
    struct kf_account *accts = NULL;
    size_t n = 0;
    char *dn = NULL;
    struct kf_err ignored = {0};

    if (st == NULL || kf_store_account_list(st, &accts, &n, &ignored) != KF_OK)
        return NULL;
    for (size_t i = 0; i < n && dn == NULL; i++) {
        struct kf_dir_account *a = NULL;
        if (kf_dir_account_get(dir, accts[i].name, &a, &ignored) == KF_OK &&
            is_child_of(a->dn, container))
            dn = TAKE_PTR(a->dn);
        kf_dir_account_free(a);
    }
    kf_account_list_free(accts, n);
    return dn;
}

static void __attribute__((format(printf, 5, 6)))
judge(struct kf_perm_check *c, const char *operation, const char *command, bool may,
      const char *fmt, ...)
{
    va_list ap;

    c->operation = operation;
    c->command = command;
    c->may = may;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

kf_status
kf_perm_test(struct kf_dir *dir, struct kf_store *st, const char *container,
             struct kf_perm_test *out, struct kf_err *err)
{
    static const struct kf_sid everyone = {.revision = 1, .authority = 1, .n_sub = 1, .sub = {0}};
    static const struct kf_sid authenticated = {
        .revision = 1, .authority = 5, .n_sub = 1, .sub = {11}};
    struct kf_dir_principal *me = NULL;
    struct kf_sd *csd = NULL, *asd = NULL;
    _cleanup_free_ struct kf_sid *token = NULL;
    char **cls = NULL, **cattrs = NULL, **attrs = NULL, **acls = NULL;
    size_t n_cls = 0, n_cattrs = 0, n_attrs = 0, n_acls = 0, n_token;
    struct kf_guid computer = guid(G_COMPUTER), reset = guid(G_RESET_PW);
    kf_status rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kf_dir_whoami(dir, &me, err)) != KF_OK)
        return rc;
    out->subject = strdup(me->name);
    n_token = me->n_groups + 3;
    token = calloc(n_token, sizeof(*token));
    if (out->subject == NULL || token == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    token[0] = me->sid;
    token[1] = everyone;
    token[2] = authenticated;
    memcpy(token + 3, me->groups, me->n_groups * sizeof(*token));
    if ((rc = kf_dir_effective(dir, container, &cls, &n_cls, &cattrs, &n_cattrs, err)) != KF_OK ||
        (rc = read_dacl(dir, container, KF_SD_DACL, &csd, NULL, err)) != KF_OK)
        goto out;
    out->sample_dn = sample_account(dir, st, container);
    if (out->sample_dn != NULL &&
        ((rc = kf_dir_effective(dir, out->sample_dn, &acls, &n_acls, &attrs, &n_attrs, err)) !=
             KF_OK ||
         (rc = read_dacl(dir, out->sample_dn, KF_SD_DACL, &asd, NULL, err)) != KF_OK))
        goto out;

    judge(&out->checks[0], "create computer accounts", "account new --container",
          strv_has(cls, n_cls, "computer"),
          strv_has(cls, n_cls, "computer")
              ? "computer is in allowedChildClassesEffective of %s"
              : "computer is not in allowedChildClassesEffective of %s (right: create child "
                "objects of class computer)",
          container);
    {
        bool may = kf_sd_grants(csd, token, n_token, KF_RIGHT_DELETE_CHILD, &computer, NULL) ||
                   (asd != NULL && kf_sd_grants(asd, token, n_token, KF_RIGHT_DELETE, NULL, NULL));
        judge(&out->checks[1], "delete computer accounts", "account remove --delete-from-directory",
              may,
              may ? "the DACL of %s gives the ticket's groups delete-child of class computer"
                  : "no ACE of %s gives the ticket's groups delete-child of class computer",
              container);
    }
    static const struct {
        const char *attr, *guid, *operation, *command;
    } wp[] = {
        {"servicePrincipalName", G_SPN, "write SPNs of computer accounts", "topology enable"},
        {"msDS-SupportedEncryptionTypes", G_ENCTYPES, "write the enctypes of computer accounts",
         "account set --enctypes"},
        {"userAccountControl", G_UAC, "write userAccountControl of computer accounts",
         "- (no command changes it yet)"},
    };
    for (size_t i = 0; i < 3; i++) {
        struct kf_perm_check *c = &out->checks[2 + i];
        bool may;
        if (out->sample_dn != NULL) {
            may = strv_has(attrs, n_attrs, wp[i].attr);
            judge(c, wp[i].operation, wp[i].command, may,
                  "%s is %sin allowedAttributesEffective of %s", wp[i].attr, may ? "" : "not ",
                  out->sample_dn);
        } else {
            struct kf_guid g = guid(wp[i].guid);
            may = kf_sd_grants(csd, token, n_token, KF_RIGHT_WRITE_PROP, &g, &computer);
            judge(c, wp[i].operation, wp[i].command, may,
                  "the DACL of %s passes %swrite of %s to new computers (no managed account "
                  "there to ask)",
                  container, may ? "" : "no ", wp[i].attr);
        }
    }
    {
        bool may =
            asd != NULL
                ? kf_sd_grants(asd, token, n_token, KF_RIGHT_CONTROL_ACCESS, &reset, NULL)
                : kf_sd_grants(csd, token, n_token, KF_RIGHT_CONTROL_ACCESS, &reset, &computer);
        const char *where = asd != NULL ? out->sample_dn : container;
        judge(&out->checks[5], "reset the password of computer accounts", "password set", may,
              may ? "the DACL of %s gives the ticket's groups Reset Password"
                  : "no ACE of %s gives the ticket's groups Reset Password "
                    "(User-Force-Change-Password)",
              where);
    }
out:
    kf_strv_free(cls, n_cls);
    kf_strv_free(cattrs, n_cattrs);
    kf_strv_free(attrs, n_attrs);
    kf_strv_free(acls, n_acls);
    kf_sd_free(csd);
    kf_sd_free(asd);
    kf_dir_principal_free(me);
    return rc;
}

/* The caller's token as the DACL is judged against it: its SID, Everyone,
 * Authenticated Users and its tokenGroups (new, *N entries). */
static struct kf_sid *
caller_token(const struct kf_dir_principal *me, size_t *n)
{
    static const struct kf_sid everyone = {.revision = 1, .authority = 1, .n_sub = 1, .sub = {0}};
    static const struct kf_sid authenticated = {
        .revision = 1, .authority = 5, .n_sub = 1, .sub = {11}};
    struct kf_sid *token = calloc(me->n_groups + 3, sizeof(*token));

    if (token == NULL)
        return NULL;
    token[0] = me->sid;
    token[1] = everyone;
    token[2] = authenticated;
    memcpy(token + 3, me->groups, me->n_groups * sizeof(*token));
    *n = me->n_groups + 3;
    return token;
}

kf_status
kf_perm_require(struct kf_dir *dir, const char *dn, unsigned need, struct kf_err *err)
{
    struct kf_dir_principal *me = NULL;
    struct kf_sd *sd = NULL;
    _cleanup_free_ struct kf_sid *token = NULL;
    _cleanup_free_ char *who = NULL, *right = NULL;
    char **cls = NULL, **attrs = NULL;
    size_t n_cls = 0, n_attrs = 0, n_token = 0;
    struct kf_guid reset = guid(G_RESET_PW);
    kf_status rc;

    if ((rc = kf_dir_whoami(dir, &me, err)) != KF_OK)
        return kf_err_prefix(err, "cannot tell whether the ticket may write %s", dn);
    token = caller_token(me, &n_token);
    if (asprintf(&who, "%s@%s", me->name, kf_dir_realm(dir)) < 0)
        who = NULL;
    if (token == NULL || who == NULL) {
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (need & (KF_PERM_NEED_SPN | KF_PERM_NEED_ENCTYPES)) {
        static const struct {
            unsigned bit;
            const char *attr;
        } wanted[] = {{KF_PERM_NEED_SPN, "servicePrincipalName"},
                      {KF_PERM_NEED_ENCTYPES, "msDS-SupportedEncryptionTypes"}};
        char said[160];
        if ((rc = kf_dir_effective(dir, dn, &cls, &n_cls, &attrs, &n_attrs, err)) != KF_OK)
            goto out;
        for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
            if (!(need & wanted[i].bit) || strv_has(attrs, n_attrs, wanted[i].attr))
                continue;
            if (asprintf(&right, "write %s on %s", wanted[i].attr, dn) < 0)
                right = NULL;
            snprintf(said, sizeof(said),
                     "%s is not in its allowedAttributesEffective; nothing was written",
                     wanted[i].attr);
            rc = right == NULL ? kf_err_set(err, KF_ERR_NOMEM, "out of memory")
                               : kf_dir_refused(dir, who, right, dn, said, err);
            goto out;
        }
    }
    if (need & KF_PERM_NEED_RESET) {
        if ((rc = read_dacl(dir, dn, KF_SD_DACL, &sd, NULL, err)) != KF_OK)
            goto out;
        if (!kf_sd_grants(sd, token, n_token, KF_RIGHT_CONTROL_ACCESS, &reset, NULL)) {
            if (asprintf(&right, "reset the password on %s", dn) < 0)
                right = NULL;
            rc = right == NULL ? kf_err_set(err, KF_ERR_NOMEM, "out of memory")
                               : kf_dir_refused(dir, who, right, dn,
                                                "no ACE of its DACL gives the ticket's groups "
                                                "Reset Password; nothing was written",
                                                err);
            goto out;
        }
    }
out:
    kf_strv_free(cls, n_cls);
    kf_strv_free(attrs, n_attrs);
    kf_sd_free(sd);
    kf_dir_principal_free(me);
    return rc;
}
