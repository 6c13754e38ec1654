/* test_eligibility.c - the pure decision whether an account may carry web
 * keys (kf_eligibility_judge), property by property, and the SID parser
 * that reads tokenGroups (kf_sid_parse). The directory reads are tested
 * on the lab (tests/integration/test_account_guard.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "directory.h"
#include "eligibility.h"

/* a mutable string, as the directory layer hands them out */
#define S(x) ((char[]){x})

static char *computer_classes[] = {S("top"), S("person"), S("organizationalPerson"), S("user"),
                                   S("computer")};
static char web_dn[] = "CN=web,CN=Computers,DC=lab,DC=test";
static char *web_spns[] = {S("HTTP/web.lab.test"), S("http/lb.lab.test")};

/* S-1-5-21-1-2-3-RID and S-1-5-32-RID */
static struct kf_sid
dom_sid(uint32_t rid)
{
    struct kf_sid s = {.revision = 1, .authority = 5, .n_sub = 5, .sub = {21, 1, 2, 3, rid}};
    return s;
}

static struct kf_sid
builtin_sid(uint32_t rid)
{
    struct kf_sid s = {.revision = 1, .authority = 5, .n_sub = 2, .sub = {32, rid}};
    return s;
}

struct fixture {
    struct kf_dir_traits t;
    struct kf_sid groups[4];
    struct kf_eligibility e;
};

/* A plain computer account in Domain Computers with two web SPNs. */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->t.dn = web_dn;
    f->t.object_classes = computer_classes;
    f->t.n_object_classes = 5;
    f->t.uac = KF_UAC_WORKSTATION_TRUST_ACCOUNT;
    f->t.primary_group = 515;
    f->groups[0] = dom_sid(515);
    f->t.groups = f->groups;
    f->t.n_groups = 1;
    f->t.spns = web_spns;
    f->t.n_spns = 2;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    kf_eligibility_done(&f->e);
    free(f);
    return 0;
}

/* Judge F's traits as an account being adopted; returns the property. */
static enum kf_elig_property
judge(struct fixture *f, bool allow, bool managed)
{
    kf_eligibility_done(&f->e);
    assert_int_equal(kf_eligibility_judge(&f->t, "LAB", "web", allow, managed, &f->e), 0);
    if (f->e.failed == KF_ELIG_OK) {
        assert_null(f->e.reason);
        assert_null(f->e.fix);
    } else {
        assert_non_null(f->e.reason);
        assert_non_null(f->e.fix);
        assert_non_null(strstr(f->e.reason, "account LAB\\web is refused: "));
    }
    return f->e.failed;
}

static void
assert_says(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", text ? text : "(null)", part);
}

static void
test_plain_computer_is_eligible(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(judge(f, false, false), KF_ELIG_OK);
    assert_int_equal(f->e.n_foreign_spns, 0);
    f->t.uac |= KF_UAC_ACCOUNTDISABLE; /* disabled is another check's business */
    assert_int_equal(judge(f, false, false), KF_ELIG_OK);
    f->t.n_spns = 0;
    assert_int_equal(judge(f, false, false), KF_ELIG_OK);
}

static void
test_domain_controller(void **state)
{
    struct fixture *f = *state;

    f->t.uac = KF_UAC_SERVER_TRUST_ACCOUNT | KF_UAC_TRUSTED_FOR_DELEGATION; /* Samba's dc1 */
    f->t.primary_group = 516;
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "userAccountControl has SERVER_TRUST_ACCOUNT (a domain controller) "
                             "and TRUSTED_FOR_DELEGATION");
    assert_says(f->e.reason, "krbfleet only puts keys of a plain computer account on web servers");
    assert_says(f->e.fix, "krbfleet account new 'LAB\\NAME'");
    /* the flag alone, on a workstation account */
    f->t.uac = KF_UAC_WORKSTATION_TRUST_ACCOUNT | KF_UAC_PARTIAL_SECRETS_ACCOUNT;
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "PARTIAL_SECRETS_ACCOUNT (a read-only domain controller)");
    f->t.uac = KF_UAC_WORKSTATION_TRUST_ACCOUNT;
    assert_int_equal(judge(f, false, false), KF_ELIG_PRIMARY_GROUP);
    assert_says(f->e.reason, "primaryGroupID is 516 (Domain Controllers), not 515");
}

static void
test_delegation_flags(void **state)
{
    struct fixture *f = *state;

    f->t.uac = KF_UAC_WORKSTATION_TRUST_ACCOUNT | KF_UAC_TRUSTED_FOR_DELEGATION;
    assert_int_equal(judge(f, false, true), KF_ELIG_UAC);
    assert_says(f->e.reason, "userAccountControl has TRUSTED_FOR_DELEGATION (unconstrained");
    /* a managed account is told how to repair it, and to reset twice */
    assert_says(f->e.fix, "remove the refused flags from its userAccountControl on "
                          "CN=web,CN=Computers,DC=lab,DC=test");
    assert_says(f->e.fix, "`krbfleet password set --account web`, twice");
    f->t.uac = KF_UAC_WORKSTATION_TRUST_ACCOUNT | KF_UAC_TRUSTED_TO_AUTH_FOR_DELEGATION;
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "TRUSTED_TO_AUTH_FOR_DELEGATION (protocol transition");
}

static void
test_not_a_workstation(void **state)
{
    struct fixture *f = *state;

    f->t.uac = KF_UAC_INTERDOMAIN_TRUST_ACCOUNT;
    f->t.object_classes = computer_classes;
    f->t.n_object_classes = 4; /* a trust account is a user object */
    assert_int_equal(judge(f, false, false), KF_ELIG_OBJECT_CLASS);
    assert_says(f->e.reason, "most specific objectClass is user (a user or trust account), not "
                             "computer");
    f->t.n_object_classes = 5;
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "INTERDOMAIN_TRUST_ACCOUNT (a trust with another domain)");
    f->t.uac = 0x200; /* NORMAL_ACCOUNT */
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "(0x200) lacks WORKSTATION_TRUST_ACCOUNT");
    f->t.uac = -1;
    assert_int_equal(judge(f, false, false), KF_ELIG_UAC);
    assert_says(f->e.reason, "its userAccountControl cannot be read");
}

static void
test_managed_service_accounts(void **state)
{
    struct fixture *f = *state;
    char *gmsa[] = {S("top"),  S("person"),   S("organizationalPerson"),
                    S("user"), S("computer"), S("msDS-GroupManagedServiceAccount")};
    char *smsa[] = {S("top"),    S("msDS-ManagedServiceAccount"),
                    S("person"), S("organizationalPerson"),
                    S("user"),   S("computer")};

    f->t.object_classes = gmsa;
    f->t.n_object_classes = 6;
    assert_int_equal(judge(f, false, false), KF_ELIG_OBJECT_CLASS);
    assert_says(f->e.reason, "msDS-GroupManagedServiceAccount (a group managed service account), "
                             "not computer");
    f->t.object_classes = smsa; /* whatever the order, a subclass is refused */
    assert_int_equal(judge(f, false, false), KF_ELIG_OBJECT_CLASS);
    assert_says(f->e.reason, "msDS-ManagedServiceAccount (a standalone managed service account)");
    f->t.n_object_classes = 0;
    assert_int_equal(judge(f, false, false), KF_ELIG_OBJECT_CLASS);
    assert_says(f->e.reason, "objectClass cannot be read");
}

static void
test_delegation_attributes(void **state)
{
    struct fixture *f = *state;
    char *a2d[] = {S("cifs/fs1.lab.test"), S("cifs/fs1")};

    f->t.delegate_to = a2d;
    f->t.n_delegate_to = 2;
    assert_int_equal(judge(f, false, false), KF_ELIG_DELEGATE_TO);
    assert_says(f->e.reason, "msDS-AllowedToDelegateTo is set (constrained delegation to "
                             "cifs/fs1.lab.test and others)");
    f->t.n_delegate_to = 0;
    f->t.rbcd = true;
    assert_int_equal(judge(f, false, true), KF_ELIG_RBCD);
    assert_says(f->e.reason, "msDS-AllowedToActOnBehalfOfOtherIdentity is set");
    assert_says(f->e.fix, "remove msDS-AllowedToActOnBehalfOfOtherIdentity on CN=web");
}

static void
test_protected_groups(void **state)
{
    struct fixture *f = *state;
    static const uint32_t domain_rids[] = {512, 516, 518, 519, 521, 498, 517, 571};
    static const uint32_t builtin_rids[] = {544, 548, 549, 550, 551};

    for (size_t i = 0; i < sizeof(domain_rids) / sizeof(domain_rids[0]); i++) {
        f->groups[1] = dom_sid(domain_rids[i]);
        f->t.n_groups = 2;
        assert_int_equal(judge(f, false, false), KF_ELIG_GROUPS);
        assert_says(f->e.reason, "it is a member (directly or nested) of ");
    }
    f->groups[1] = dom_sid(517);
    judge(f, false, false);
    assert_says(f->e.reason, "Cert Publishers (S-1-5-21-1-2-3-517)");
    for (size_t i = 0; i < sizeof(builtin_rids) / sizeof(builtin_rids[0]); i++) {
        f->groups[1] = builtin_sid(builtin_rids[i]);
        assert_int_equal(judge(f, false, false), KF_ELIG_GROUPS);
    }
    f->groups[1] = builtin_sid(551);
    f->groups[2] = dom_sid(512);
    f->t.n_groups = 3;
    assert_int_equal(judge(f, false, true), KF_ELIG_GROUPS);
    assert_says(f->e.reason, "Backup Operators (S-1-5-32-551), Domain Admins (S-1-5-21-1-2-3-512)");
    assert_says(f->e.fix, "remove its membership of those groups");
    /* harmless groups: Domain Users, Users, a custom group, a non-domain SID */
    f->groups[1] = dom_sid(513);
    f->groups[2] = builtin_sid(545);
    f->groups[3] = dom_sid(1105);
    f->t.n_groups = 4;
    assert_int_equal(judge(f, false, false), KF_ELIG_OK);
    f->groups[3].sub[0] = 22; /* S-1-5-22-1-2-3-512 is no domain's Domain Admins */
    f->groups[3].sub[4] = 512;
    assert_int_equal(judge(f, false, false), KF_ELIG_OK);
    f->t.n_groups = 0; /* never empty when readable: refused */
    assert_int_equal(judge(f, false, false), KF_ELIG_GROUPS);
    assert_says(f->e.reason, "tokenGroups) cannot be read");
    assert_says(f->e.fix, "read objectClass, userAccountControl, primaryGroupID and tokenGroups "
                          "of CN=web,CN=Computers,DC=lab,DC=test");
}

static void
test_foreign_spns(void **state)
{
    struct fixture *f = *state;
    char *joined[] = {S("HOST/web9"),
                      S("host/web9.lab.test"),
                      S("RestrictedKrbHost/web9"),
                      S("HTTP/web.lab.test"),
                      S("cifs/web9.lab.test"),
                      S("host/a"),
                      S("host/b"),
                      S("host/c")};

    f->t.spns = joined;
    f->t.n_spns = 5;
    assert_int_equal(judge(f, false, false), KF_ELIG_FOREIGN_SPNS);
    assert_says(f->e.reason, "it holds SPNs of other services (HOST, RestrictedKrbHost, cifs: "
                             "HOST/web9, host/web9.lab.test, RestrictedKrbHost/web9, "
                             "cifs/web9.lab.test)");
    assert_says(f->e.reason, "shared with every web server");
    assert_says(f->e.fix, "krbfleet account adopt --allow-foreign-spns 'LAB\\web'");
    assert_int_equal(f->e.n_foreign_spns, 4);
    f->t.n_spns = 8;
    judge(f, false, false);
    assert_says(f->e.reason, " and 1 more)");
    /* the refusal as an error: reason and fix, never cut */
    {
        struct kf_err err = {0};
        assert_int_equal(kf_eligibility_refusal(&f->e, &err), KF_ERR_CONFLICT);
        assert_says(err.msg, "shared with every web server");
        assert_says(err.msg, ". Fix: remove those SPNs from CN=web");
    }
    /* accepted: eligible, and the SPNs are still listed */
    assert_int_equal(judge(f, true, false), KF_ELIG_OK);
    assert_int_equal(f->e.n_foreign_spns, 7);
    /* the allowance covers SPNs only, never the other properties */
    f->t.uac |= KF_UAC_TRUSTED_FOR_DELEGATION;
    assert_int_equal(judge(f, true, false), KF_ELIG_UAC);
}

static void
test_sid_parse(void **state)
{
    /* tokenGroups of the lab's handmade$: S-1-5-21-...-515 */
    static const unsigned char dc[] = {1,    5,    0,    0,    0,    0,    0,    5,    0x15, 0,
                                       0,    0,    0xc3, 0x6a, 0x5d, 0x39, 0x10, 0x20, 0xb2, 0x6a,
                                       0xf1, 0xc2, 0x08, 0xad, 0x03, 0x02, 0,    0};
    unsigned char bad[sizeof(dc)];
    struct kf_sid s;
    char text[KF_SID_STR_MAX];

    (void)state;
    assert_int_equal(kf_sid_parse(dc, sizeof(dc), &s), 0);
    assert_int_equal(s.n_sub, 5);
    assert_int_equal(s.sub[4], 515);
    kf_sid_format(&s, text, sizeof(text));
    assert_string_equal(text, "S-1-5-21-962423491-1790058512-2903032561-515");
    assert_int_equal(kf_sid_parse(dc, sizeof(dc) - 1, &s), -1); /* length must match */
    assert_int_equal(kf_sid_parse(dc, 7, &s), -1);
    assert_int_equal(kf_sid_parse(NULL, 0, &s), -1);
    memcpy(bad, dc, sizeof(bad));
    bad[0] = 2; /* revision */
    assert_int_equal(kf_sid_parse(bad, sizeof(bad), &s), -1);
    bad[0] = 1;
    bad[1] = 16; /* more sub-authorities than a SID may have */
    assert_int_equal(kf_sid_parse(bad, sizeof(bad), &s), -1);
    bad[1] = 0; /* S-1-5 alone is 8 bytes */
    assert_int_equal(kf_sid_parse(bad, 8, &s), 0);
    kf_sid_format(&s, text, sizeof(text));
    assert_string_equal(text, "S-1-5");
    kf_sid_format(&s, text, 4); /* a short buffer truncates, terminated */
    assert_string_equal(text, "S-1");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_plain_computer_is_eligible), T(test_domain_controller),
        T(test_delegation_flags),           T(test_not_a_workstation),
        T(test_managed_service_accounts),   T(test_delegation_attributes),
        T(test_protected_groups),           T(test_foreign_spns),
        cmocka_unit_test(test_sid_parse),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
