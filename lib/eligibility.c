/* eligibility.c - may this account carry web keys? (eligibility.h) */
#include "eligibility.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "strv.h"

#define RID_DOMAIN_COMPUTERS 515
#define SPNS_NAMED_MAX 6 /* foreign SPNs quoted in a message; the rest counted */

/* A growing message; OOM is sticky and checked once at the end. */
struct sb {
    char *s;
    bool oom;
};

static void sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_addf(struct sb *b, const char *fmt, ...)
{
    char *more = NULL, *joined = NULL;
    va_list ap;
    int n;

    if (b->oom)
        return;
    va_start(ap, fmt);
    n = vasprintf(&more, fmt, ap);
    va_end(ap);
    if (n < 0 || asprintf(&joined, "%s%s", b->s ? b->s : "", more) < 0) {
        free(more);
        b->oom = true;
        return;
    }
    free(more);
    free(b->s);
    b->s = joined;
}

const char *
kf_elig_property_name(enum kf_elig_property p)
{
    switch (p) {
    case KF_ELIG_OK:
        return "";
    case KF_ELIG_OBJECT_CLASS:
        return "objectClass";
    case KF_ELIG_UAC:
        return "userAccountControl";
    case KF_ELIG_PRIMARY_GROUP:
        return "primaryGroupID";
    case KF_ELIG_DELEGATE_TO:
        return "msDS-AllowedToDelegateTo";
    case KF_ELIG_RBCD:
        return "msDS-AllowedToActOnBehalfOfOtherIdentity";
    case KF_ELIG_GROUPS:
        return "tokenGroups";
    case KF_ELIG_FOREIGN_SPNS:
        return "servicePrincipalName";
    }
    return "?";
}

/* ---- the properties, each: append why it fails to B, or nothing ---------- */

/* Classes a plain computer object carries, most general first. */
static const char *const computer_chain[] = {"top", "person", "organizationalPerson", "user",
                                             "computer"};

static const char *
class_meaning(const char *cls)
{
    static const struct {
        const char *cls, *what;
    } known[] = {
        {"msDS-GroupManagedServiceAccount", "a group managed service account"},
        {"msDS-ManagedServiceAccount", "a standalone managed service account"},
        {"msDS-DelegatedManagedServiceAccount", "a delegated managed service account"},
        {"user", "a user or trust account"},
        {"trustedDomain", "a trust"},
        {"inetOrgPerson", "a user"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcasecmp(cls, known[i].cls) == 0)
            return known[i].what;
    return NULL;
}

static void
judge_class(const struct kf_dir_traits *t, struct sb *b)
{
    const char *odd = NULL, *what;

    if (t->n_object_classes == 0) {
        sb_addf(b, "its objectClass cannot be read");
        return;
    }
    /* Any class outside the computer chain is more specific than it (or
     * foreign to it); otherwise the last value is the most specific. */
    for (size_t i = 0; i < t->n_object_classes && odd == NULL; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof(computer_chain) / sizeof(computer_chain[0]); k++)
            known = known || strcasecmp(t->object_classes[i], computer_chain[k]) == 0;
        if (!known)
            odd = t->object_classes[i];
    }
    if (odd == NULL && strcasecmp(t->object_classes[t->n_object_classes - 1], "computer") != 0)
        odd = t->object_classes[t->n_object_classes - 1];
    if (odd == NULL)
        return;
    what = class_meaning(odd);
    sb_addf(b, "its most specific objectClass is %s%s%s%s, not computer", odd, what ? " (" : "",
            what ? what : "", what ? ")" : "");
}

static const struct {
    unsigned bit;
    const char *name, *what;
} refused_uac[] = {
    {KF_UAC_SERVER_TRUST_ACCOUNT, "SERVER_TRUST_ACCOUNT", "a domain controller"},
    {KF_UAC_PARTIAL_SECRETS_ACCOUNT, "PARTIAL_SECRETS_ACCOUNT", "a read-only domain controller"},
    {KF_UAC_INTERDOMAIN_TRUST_ACCOUNT, "INTERDOMAIN_TRUST_ACCOUNT", "a trust with another domain"},
    {KF_UAC_TRUSTED_FOR_DELEGATION, "TRUSTED_FOR_DELEGATION",
     "unconstrained delegation: it is sent the TGTs of users who log in"},
    {KF_UAC_TRUSTED_TO_AUTH_FOR_DELEGATION, "TRUSTED_TO_AUTH_FOR_DELEGATION",
     "protocol transition: it may act as any user"},
};

static void
judge_uac(const struct kf_dir_traits *t, struct sb *b)
{
    size_t found = 0;

    if (t->uac < 0) {
        sb_addf(b, "its userAccountControl cannot be read");
        return;
    }
    for (size_t i = 0; i < sizeof(refused_uac) / sizeof(refused_uac[0]); i++)
        if ((uint64_t)t->uac & refused_uac[i].bit)
            sb_addf(b, "%s%s (%s)", found++ ? " and " : "userAccountControl has ",
                    refused_uac[i].name, refused_uac[i].what);
    if (found == 0 && !((uint64_t)t->uac & KF_UAC_WORKSTATION_TRUST_ACCOUNT))
        sb_addf(b,
                "userAccountControl (0x%llx) lacks WORKSTATION_TRUST_ACCOUNT: it is not a plain "
                "computer account",
                (unsigned long long)t->uac);
}

struct rid_name {
    uint32_t rid;
    const char *name;
};

static const struct rid_name domain_groups[] = {
    {512, "Domain Admins"},
    {516, "Domain Controllers"},
    {518, "Schema Admins"},
    {519, "Enterprise Admins"},
    {521, "Read-only Domain Controllers"},
    {498, "Enterprise Read-only Domain Controllers"},
    {517, "Cert Publishers"},
    {571, "Allowed RODC Password Replication Group"},
};

static const struct rid_name builtin_groups[] = {
    {544, "Administrators"},  {548, "Account Operators"}, {549, "Server Operators"},
    {550, "Print Operators"}, {551, "Backup Operators"},
};

static const char *
group_name(uint32_t rid, bool builtin)
{
    const struct rid_name *v = builtin ? builtin_groups : domain_groups;
    size_t n = builtin ? sizeof(builtin_groups) / sizeof(builtin_groups[0])
                       : sizeof(domain_groups) / sizeof(domain_groups[0]);

    for (size_t i = 0; i < n; i++)
        if (v[i].rid == rid)
            return v[i].name;
    return NULL;
}

static void
judge_primary_group(const struct kf_dir_traits *t, struct sb *b)
{
    const char *name;

    if (t->primary_group == RID_DOMAIN_COMPUTERS)
        return;
    if (t->primary_group < 0) {
        sb_addf(b, "its primaryGroupID cannot be read");
        return;
    }
    name = group_name((uint32_t)t->primary_group, false);
    sb_addf(b, "primaryGroupID is %lld%s%s%s, not 515 (Domain Computers)",
            (long long)t->primary_group, name ? " (" : "", name ? name : "", name ? ")" : "");
}

/* The protected group SID names, or NULL: S-1-5-21-a-b-c-RID of any domain
 * (a forest's other domains are as dangerous) and S-1-5-32-RID. */
static const char *
protected_group(const struct kf_sid *s)
{
    if (s->revision != 1 || s->authority != 5)
        return NULL;
    if (s->n_sub == 5 && s->sub[0] == 21)
        return group_name(s->sub[4], false);
    if (s->n_sub == 2 && s->sub[0] == 32)
        return group_name(s->sub[1], true);
    return NULL;
}

static void
judge_groups(const struct kf_dir_traits *t, struct sb *b)
{
    size_t found = 0;

    if (t->n_groups == 0) {
        /* Every account is at least in its primary group. */
        sb_addf(b, "its group memberships (tokenGroups) cannot be read");
        return;
    }
    for (size_t i = 0; i < t->n_groups; i++) {
        const char *name = protected_group(&t->groups[i]);
        char sid[KF_SID_STR_MAX];
        if (name == NULL)
            continue;
        kf_sid_format(&t->groups[i], sid, sizeof(sid));
        sb_addf(b, "%s%s (%s)", found++ ? ", " : "it is a member (directly or nested) of ", name,
                sid);
    }
}

static bool
is_foreign_spn(const char *spn)
{
    return strncasecmp(spn, "HTTP/", 5) != 0;
}

static void
judge_spns(const struct kf_eligibility *e, struct sb *b)
{
    char **classes = NULL;
    size_t n_classes = 0;

    for (size_t i = 0; i < e->n_foreign_spns; i++) {
        const char *spn = e->foreign_spns[i];
        size_t len = strcspn(spn, "/");
        bool seen = false;
        for (size_t k = 0; k < n_classes && !seen; k++)
            seen = strlen(classes[k]) == len && strncasecmp(classes[k], spn, len) == 0;
        if (!seen && kf_strv_pushf(&classes, &n_classes, "%.*s", (int)len, spn) != 0)
            b->oom = true;
    }
    sb_addf(b, "it holds SPNs of other services (");
    for (size_t k = 0; k < n_classes; k++)
        sb_addf(b, "%s%s", k ? ", " : "", classes[k]);
    sb_addf(b, ": ");
    for (size_t i = 0; i < e->n_foreign_spns && i < SPNS_NAMED_MAX; i++)
        sb_addf(b, "%s%s", i ? ", " : "", e->foreign_spns[i]);
    if (e->n_foreign_spns > SPNS_NAMED_MAX)
        sb_addf(b, " and %zu more", e->n_foreign_spns - SPNS_NAMED_MAX);
    sb_addf(b, "): their keys would be shared with every web server, so whoever controls one "
               "web server could act as any user towards those services");
    kf_strv_free(classes, n_classes);
}

/* What to do about a failed property. */
static void
fixes(enum kf_elig_property p, const struct kf_dir_traits *t, const char *domain, const char *name,
      bool managed, struct sb *b)
{
    const char *dn = t->dn ? t->dn : name;
    const char *clear = NULL;

    if (p == KF_ELIG_FOREIGN_SPNS) {
        sb_addf(b,
                "remove those SPNs from %s, use an account made for the web servers "
                "(`krbfleet account new '%s\\NAME'`), or accept the risk with `krbfleet "
                "account adopt --allow-foreign-spns '%s\\%s'`",
                dn, domain, domain, name);
        return;
    }
    if ((p == KF_ELIG_OBJECT_CLASS && t->n_object_classes == 0) ||
        (p == KF_ELIG_UAC && t->uac < 0) || (p == KF_ELIG_PRIMARY_GROUP && t->primary_group < 0) ||
        (p == KF_ELIG_GROUPS && t->n_groups == 0)) {
        sb_addf(b,
                "let the principal that runs krbfleet read objectClass, userAccountControl, "
                "primaryGroupID and tokenGroups of %s (on Active Directory, membership of the "
                "Windows Authorization Access Group grants tokenGroups), then run it again",
                dn);
        return;
    }
    if (!managed) {
        sb_addf(b, "use an account made for the web servers: `krbfleet account new '%s\\NAME'`",
                domain);
        return;
    }
    switch (p) {
    case KF_ELIG_UAC:
        clear = "the refused flags from its userAccountControl";
        if (t->uac < 0 ||
            ((uint64_t)t->uac & (KF_UAC_SERVER_TRUST_ACCOUNT | KF_UAC_PARTIAL_SECRETS_ACCOUNT |
                                 KF_UAC_INTERDOMAIN_TRUST_ACCOUNT)) ||
            !((uint64_t)t->uac & KF_UAC_WORKSTATION_TRUST_ACCOUNT))
            clear = NULL;
        break;
    case KF_ELIG_DELEGATE_TO:
        clear = "msDS-AllowedToDelegateTo";
        break;
    case KF_ELIG_RBCD:
        clear = "msDS-AllowedToActOnBehalfOfOtherIdentity";
        break;
    case KF_ELIG_GROUPS:
        clear = "its membership of those groups (and of every group that nests them)";
        if (t->n_groups == 0)
            clear = NULL;
        break;
    default:
        break;
    }
    if (clear != NULL)
        sb_addf(b,
                "remove %s on %s, or give its sites a new account (`krbfleet account new "
                "'%s\\NAME'`, then `krbfleet assignment set --site SITE --account NAME`); ",
                clear, dn, domain);
    else
        sb_addf(b,
                "give its sites a new account (`krbfleet account new '%s\\NAME'`, then "
                "`krbfleet assignment set --site SITE --account NAME`); ",
                domain);
    sb_addf(b,
            "its keys were on the web servers while it had that power: reset its password "
            "twice once it is cleared (`krbfleet password set --account %s`, twice) or "
            "delete it",
            name);
}

int
kf_eligibility_judge(const struct kf_dir_traits *t, const char *domain, const char *name,
                     bool allow_foreign_spns, bool managed, struct kf_eligibility *out)
{
    static void (*const judges[])(const struct kf_dir_traits *, struct sb *) = {
        [KF_ELIG_OBJECT_CLASS] = judge_class,
        [KF_ELIG_UAC] = judge_uac,
        [KF_ELIG_PRIMARY_GROUP] = judge_primary_group,
        [KF_ELIG_GROUPS] = judge_groups,
    };
    struct sb why = {0}, fix = {0};
    enum kf_elig_property failed = KF_ELIG_OK;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < t->n_spns; i++)
        if (is_foreign_spn(t->spns[i]) &&
            kf_strv_push(&out->foreign_spns, &out->n_foreign_spns, t->spns[i]) != 0)
            goto nomem;
    for (enum kf_elig_property p = KF_ELIG_OBJECT_CLASS; p <= KF_ELIG_FOREIGN_SPNS; p++) {
        if (p < sizeof(judges) / sizeof(judges[0]) && judges[p] != NULL)
            judges[p](t, &why);
        else if (p == KF_ELIG_DELEGATE_TO && t->n_delegate_to > 0)
            sb_addf(&why,
                    "msDS-AllowedToDelegateTo is set (constrained delegation to %s%s): it may "
                    "act as users towards those services",
                    t->delegate_to[0], t->n_delegate_to > 1 ? " and others" : "");
        else if (p == KF_ELIG_RBCD && t->rbcd)
            sb_addf(&why, "msDS-AllowedToActOnBehalfOfOtherIdentity is set (resource-based "
                          "delegation: other accounts may act as users towards it)");
        else if (p == KF_ELIG_FOREIGN_SPNS && out->n_foreign_spns > 0 && !allow_foreign_spns)
            judge_spns(out, &why);
        if (why.s != NULL || why.oom) {
            failed = p;
            break;
        }
    }
    if (failed != KF_ELIG_OK) {
        struct sb reason = {0};
        sb_addf(&reason, "account %s\\%s is refused: %s", domain, name, why.s ? why.s : "");
        if (failed != KF_ELIG_FOREIGN_SPNS)
            sb_addf(&reason, "; krbfleet only puts keys of a plain computer account on web "
                             "servers");
        fixes(failed, t, domain, name, managed, &fix);
        out->reason = reason.s;
        out->fix = fix.s;
        if (reason.oom || fix.oom)
            goto nomem;
    }
    out->failed = failed;
    free(why.s);
    return 0;
nomem:
    free(why.s);
    kf_eligibility_done(out);
    return -1;
}

void
kf_eligibility_done(struct kf_eligibility *e)
{
    free(e->reason);
    free(e->fix);
    kf_strv_free(e->foreign_spns, e->n_foreign_spns);
    memset(e, 0, sizeof(*e));
}

kf_status
kf_eligibility_read(struct kf_dir *dir, const char *domain, const char *name,
                    bool allow_foreign_spns, bool managed, struct kf_eligibility *out,
                    struct kf_err *err)
{
    struct kf_dir_traits *t = NULL;
    kf_status rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kf_dir_account_traits(dir, name, &t, err)) != KF_OK)
        return rc;
    if (kf_eligibility_judge(t, domain, name, allow_foreign_spns, managed, out) != 0)
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_dir_traits_free(t);
    return rc;
}

kf_status
kf_eligibility_refusal(const struct kf_eligibility *e, struct kf_err *err)
{
    if (e->failed == KF_ELIG_OK)
        return KF_OK;
    /* Never cut the reason: when both do not fit, point at the fix where
     * `topology test` shows it in full. */
    if (strlen(e->reason) + strlen(e->fix) + 8 >= KF_ERR_MSG_MAX)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "%.*s. Fix: see `krbfleet topology test` (check \"eligible\")",
                          KF_ERR_MSG_MAX - 64, e->reason);
    return kf_err_set(err, KF_ERR_CONFLICT, "%s. Fix: %s", e->reason, e->fix);
}

kf_status
kf_eligibility_check(struct kf_dir *dir, const char *domain, const char *name,
                     bool allow_foreign_spns, bool managed, struct kf_err *err)
{
    struct kf_eligibility e;
    kf_status rc = kf_eligibility_read(dir, domain, name, allow_foreign_spns, managed, &e, err);

    if (rc == KF_OK)
        rc = kf_eligibility_refusal(&e, err);
    kf_eligibility_done(&e);
    return rc;
}
