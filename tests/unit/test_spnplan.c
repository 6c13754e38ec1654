/* test_spnplan.c - the SPN difference of `topology enable`. The owner
 * lookup is a table here (this module is pure); the real directory is
 * exercised by the lab integration tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "spnplan.h"

struct holder {
    const char *spn, *name, *dn;
};

struct world {
    const struct holder *holders;
    size_t n;
    int lookups;
};

static kf_status
lookup(void *ctx, const char *spn, char **name, char **dn, struct kf_err *err)
{
    struct world *w = ctx;

    (void)err;
    w->lookups++;
    *name = *dn = NULL;
    for (size_t i = 0; i < w->n; i++)
        if (strcasecmp(w->holders[i].spn, spn) == 0) {
            *name = w->holders[i].name ? strdup(w->holders[i].name) : NULL;
            *dn = w->holders[i].dn ? strdup(w->holders[i].dn) : NULL;
        }
    return KF_OK;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool
has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void
test_first_enable_adds_everything(void **state)
{
    const char *implied[] = {"HTTP/web.a.test", "HTTP/lb.a.test"};
    struct kf_spn_account acct = {"kerbauth", NULL, 0, NULL, 0, implied, N(implied)};
    struct world w = {0};
    struct kf_spn_plan *plan = NULL;
    size_t added, removed;
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_writes, 1);
    assert_string_equal(plan->writes[0].account, "kerbauth");
    assert_int_equal(plan->writes[0].n_add, 2);
    assert_int_equal(plan->writes[0].n_del, 0);
    kf_spn_plan_count(plan, &added, &removed);
    assert_int_equal(added, 2);
    assert_int_equal(removed, 0);
    assert_int_equal(w.lookups, 2);
    kf_spn_plan_free(plan);
}

static void
test_second_enable_writes_nothing(void **state)
{
    const char *spns[] = {"HTTP/web.a.test", "HTTP/lb.a.test"};
    const char *current[] = {"http/WEB.a.test", "HTTP/lb.a.test", "HOST/kerbauth"};
    struct kf_spn_account acct = {"kerbauth", current, N(current), spns, N(spns), spns, N(spns)};
    struct world w = {0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_writes, 0);
    assert_int_equal(w.lookups, 0);
    kf_spn_plan_free(plan);
}

static void
test_removes_only_what_it_added(void **state)
{
    /* HTTP/old was added by krbfleet and is no longer implied: removed.
     * HTTP/manual was added by hand: survives. */
    const char *current[] = {"HTTP/web.a.test", "HTTP/old.a.test", "HTTP/manual.a.test"};
    const char *owned[] = {"HTTP/web.a.test", "HTTP/old.a.test", "HTTP/gone.a.test"};
    const char *implied[] = {"HTTP/web.a.test"};
    struct kf_spn_account acct = {"kerbauth", current, N(current), owned, N(owned),
                                  implied, N(implied)};
    struct world w = {0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_writes, 1);
    assert_int_equal(plan->writes[0].n_del, 1);
    assert_string_equal(plan->writes[0].del[0], "HTTP/old.a.test");
    assert_int_equal(plan->writes[0].n_add, 0);
    kf_spn_plan_free(plan);
}

static void
test_site_moved_between_accounts(void **state)
{
    /* Site b's pool moved from account one to account two. */
    const char *cur1[] = {"HTTP/web.a.test", "HTTP/web.b.test"};
    const char *own1[] = {"HTTP/web.a.test", "HTTP/web.b.test"};
    const char *imp1[] = {"HTTP/web.a.test"};
    const char *imp2[] = {"HTTP/web.b.test"};
    const struct holder holders[] = {{"HTTP/web.b.test", "one", "CN=one,CN=Computers"}};
    struct kf_spn_account accts[] = {
        {"one", cur1, N(cur1), own1, N(own1), imp1, N(imp1)},
        {"two", NULL, 0, NULL, 0, imp2, N(imp2)},
    };
    struct world w = {holders, N(holders), 0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(accts, 2, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_conflicts, 0);
    assert_int_equal(plan->n_moves, 1);
    assert_string_equal(plan->moves[0].from, "one");
    assert_string_equal(plan->moves[0].to, "two");
    /* removal from one first, then the addition to two */
    assert_int_equal(plan->n_writes, 2);
    assert_string_equal(plan->writes[0].account, "one");
    assert_true(has(plan->writes[0].del, plan->writes[0].n_del, "HTTP/web.b.test"));
    assert_string_equal(plan->writes[1].account, "two");
    assert_true(has(plan->writes[1].add, plan->writes[1].n_add, "HTTP/web.b.test"));
    kf_spn_plan_free(plan);
}

static void
test_moves_even_a_hand_added_spn_of_a_managed_account(void **state)
{
    const char *cur1[] = {"HTTP/web.b.test"}; /* added by hand, not owned */
    const char *imp2[] = {"HTTP/web.b.test"};
    const struct holder holders[] = {{"HTTP/web.b.test", "one", "CN=one"}};
    struct kf_spn_account accts[] = {
        {"one", cur1, N(cur1), NULL, 0, NULL, 0},
        {"two", NULL, 0, NULL, 0, imp2, N(imp2)},
    };
    struct world w = {holders, N(holders), 0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(accts, 2, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_moves, 1);
    assert_int_equal(plan->n_writes, 2);
    assert_string_equal(plan->writes[0].account, "one");
    kf_spn_plan_free(plan);
}

static void
test_conflict_writes_nothing(void **state)
{
    const char *imp[] = {"HTTP/web.a.test", "HTTP/free.a.test"};
    const struct holder holders[] = {{"HTTP/web.a.test", "fe01", "CN=FE01,CN=Computers,DC=x"}};
    struct kf_spn_account acct = {"kerbauth", NULL, 0, NULL, 0, imp, N(imp)};
    struct world w = {holders, N(holders), 0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, false, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_conflicts, 1);
    assert_string_equal(plan->conflicts[0].spn, "HTTP/web.a.test");
    assert_string_equal(plan->conflicts[0].from, "CN=FE01,CN=Computers,DC=x");
    assert_int_equal(plan->n_writes, 0);
    kf_spn_plan_free(plan);
}

static void
test_take_over(void **state)
{
    const char *imp[] = {"HTTP/web.a.test", "HTTP/free.a.test"};
    const struct holder holders[] = {{"HTTP/web.a.test", "fe01", "CN=FE01,CN=Computers,DC=x"}};
    struct kf_spn_account acct = {"kerbauth", NULL, 0, NULL, 0, imp, N(imp)};
    struct world w = {holders, N(holders), 0};
    struct kf_spn_plan *plan = NULL;
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, true, lookup, &w, &plan, NULL), KF_OK);
    assert_int_equal(plan->n_conflicts, 0);
    assert_int_equal(plan->n_takeovers, 1);
    assert_int_equal(plan->n_writes, 3);
    assert_null(plan->writes[0].account);
    assert_string_equal(plan->writes[0].dn, "CN=FE01,CN=Computers,DC=x");
    assert_string_equal(plan->writes[0].del[0], "HTTP/web.a.test");
    assert_string_equal(plan->writes[1].account, "kerbauth"); /* the free one at once */
    assert_string_equal(plan->writes[1].add[0], "HTTP/free.a.test");
    assert_string_equal(plan->writes[2].add[0], "HTTP/web.a.test"); /* after the removal */
    kf_spn_plan_free(plan);
}

static kf_status
failing_lookup(void *ctx, const char *spn, char **name, char **dn, struct kf_err *err)
{
    (void)ctx;
    (void)spn;
    *name = *dn = NULL;
    return kf_err_set(err, KF_ERR_DIRECTORY, "dc1 went away");
}

static void
test_lookup_failure(void **state)
{
    const char *imp[] = {"HTTP/web.a.test"};
    struct kf_spn_account acct = {"kerbauth", NULL, 0, NULL, 0, imp, N(imp)};
    struct kf_spn_plan *plan = NULL;
    struct kf_err err = {0};
    (void)state;

    assert_int_equal(kf_spn_plan_make(&acct, 1, false, failing_lookup, NULL, &plan, &err),
                     KF_ERR_DIRECTORY);
    assert_null(plan);
    assert_string_equal(err.msg, "dc1 went away");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_enable_adds_everything),
        cmocka_unit_test(test_second_enable_writes_nothing),
        cmocka_unit_test(test_removes_only_what_it_added),
        cmocka_unit_test(test_site_moved_between_accounts),
        cmocka_unit_test(test_moves_even_a_hand_added_spn_of_a_managed_account),
        cmocka_unit_test(test_conflict_writes_nothing),
        cmocka_unit_test(test_take_over),
        cmocka_unit_test(test_lookup_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
