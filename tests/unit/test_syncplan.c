/* test_syncplan.c - the decisions of sync and copy: which server is the
 * source, the target set, and per server what to stage and withdraw. The
 * agents' answers are tables here (this module is pure); the real agents
 * are exercised by tests/integration/test_sync.sh and test_copy.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncplan.h"

#define HTTP "HTTP/web.example.com@EXAMPLE.COM"
#define HTTP2 "HTTP/web2.example.com@EXAMPLE.COM"
#define ACCT "kerbauth$@EXAMPLE.COM"
#define HOST "host/fe01.example.com@EXAMPLE.COM"

static char want0[] = HTTP, want1[] = HTTP2, want2[] = ACCT;
static char *want[] = {want0, want1, want2};
static const size_t n_want = 3;

/* Add an entry of PRINCIPAL, KVNO, ENCTYPE whose key is 16 bytes of FILL. */
static void
add(struct kf_keyset *ks, const char *principal, uint32_t kvno, int32_t enctype, unsigned fill)
{
    struct kf_key_entry e = {.kvno = kvno, .enctype = enctype, .key_len = 16};

    e.principal = (char *)(uintptr_t)principal;
    memset(e.key, (int)fill, e.key_len);
    assert_int_equal(kf_keyset_add(ks, &e), 0);
}

static void
test_source_prefers_label_d(void **state)
{
    struct kf_syncsrv s[3] = {
        {.checked = true, .accepted = true, .label = 4},
        {.checked = true, .accepted = false},
        {.checked = true, .accepted = true, .label = 5},
    };

    (void)state;
    assert_int_equal(kf_syncplan_source(s, 3, 5), 2);
    /* no key labelled D: one that accepts under another label will do */
    assert_int_equal(kf_syncplan_source(s, 2, 5), 0);
    /* nobody accepts: the keys are lost */
    assert_true(kf_syncplan_source(s + 1, 1, 5) == SIZE_MAX);
    assert_true(kf_syncplan_source(s, 0, 5) == SIZE_MAX);
}

static void
test_target_managed_only_and_completed(void **state)
{
    struct kf_keyset *src = kf_keyset_new(), *t = NULL;
    struct kf_err err = {0};

    (void)state;
    add(src, HTTP, 5, 18, 0xa1);
    add(src, HTTP, 5, 17, 0xa2);
    add(src, HOST, 5, 18, 0xee); /* another principal's: never spread */
    add(src, HTTP, 4, 18, 0x41); /* another kvno */
    assert_int_equal(kf_syncplan_target(src, 5, want, n_want, &t, &err), KF_OK);
    /* 2 enctypes x 3 managed principals, all with the source's keys */
    assert_int_equal(t->n, 6);
    assert_true(kf_syncplan_has(t, 5, false, HTTP2, 18));
    assert_true(kf_syncplan_has(t, 5, false, ACCT, 17));
    assert_false(kf_syncplan_has(t, 0, true, HOST, 18));
    for (size_t i = 0; i < t->n; i++)
        assert_int_equal(t->v[i].key[0], t->v[i].enctype == 18 ? 0xa1 : 0xa2);
    kf_keyset_free(t);
    kf_keyset_free(src);
}

static void
test_target_not_completed_when_keys_differ(void **state)
{
    struct kf_keyset *src = kf_keyset_new(), *t = NULL;
    struct kf_err err = {0};

    (void)state;
    /* two managed principals with different aes256 keys: which one the
     * third should get is unknown, so it gets none */
    add(src, HTTP, 5, 18, 0xa1);
    add(src, HTTP2, 5, 18, 0xb1);
    assert_int_equal(kf_syncplan_target(src, 5, want, n_want, &t, &err), KF_OK);
    assert_int_equal(t->n, 2);
    assert_false(kf_syncplan_has(t, 5, false, ACCT, 18));
    kf_keyset_free(t);
    kf_keyset_free(src);
}

static void
test_same_set(void **state)
{
    struct kf_keyset *held = kf_keyset_new(), *target = kf_keyset_new();

    (void)state;
    add(target, HTTP, 5, 18, 1);
    add(target, ACCT, 5, 18, 1);
    add(held, HTTP, 5, 18, 1);
    assert_false(kf_syncplan_same_set(held, 5, target, want, n_want)); /* ACCT missing */
    add(held, ACCT, 5, 18, 1);
    add(held, HOST, 5, 18, 9); /* not managed: does not count */
    add(held, HTTP, 4, 18, 2); /* another kvno: does not count */
    assert_true(kf_syncplan_same_set(held, 5, target, want, n_want));
    add(held, HTTP2, 5, 17, 1); /* one the target lacks */
    assert_false(kf_syncplan_same_set(held, 5, target, want, n_want));
    assert_false(kf_syncplan_same_set(NULL, 5, target, want, n_want));
    kf_keyset_free(held);
    kf_keyset_free(target);
}

static void
test_decide_in_sync_does_nothing(void **state)
{
    struct kf_keyset *held = kf_keyset_new(), *target = kf_keyset_new();
    struct kf_syncsrv x = {.checked = true, .accepted = true, .label = 5};
    struct kf_err err = {0};

    (void)state;
    add(target, HTTP, 5, 18, 1);
    add(held, HTTP, 5, 18, 1);
    add(held, HTTP, 4, 18, 2); /* an older kvno within grace: kept */
    assert_int_equal(kf_syncplan_decide(held, 5, target, want, n_want, &x, &err), KF_OK);
    assert_false(x.stage);
    assert_int_equal(x.n_drop, 0);
    free(x.drop);
    kf_keyset_free(held);
    kf_keyset_free(target);
}

static void
test_decide_withdraws_uncommitted_and_wrong_label(void **state)
{
    struct kf_keyset *held = kf_keyset_new(), *target = kf_keyset_new();
    struct kf_syncsrv x = {.checked = true, .accepted = true, .label = 3};
    struct kf_err err = {0};

    (void)state;
    add(target, HTTP, 5, 18, 1);
    add(held, HTTP, 3, 18, 1); /* the right keys under a wrong label */
    add(held, ACCT, 3, 18, 1);
    add(held, HTTP, 6, 18, 7); /* staged by a run that never committed */
    add(held, HTTP, 2, 18, 8); /* older: kept (prune decides) */
    add(held, HOST, 7, 18, 9); /* not the account's: left alone */
    assert_int_equal(kf_syncplan_decide(held, 5, target, want, n_want, &x, &err), KF_OK);
    assert_true(x.stage);
    assert_int_equal(x.n_drop, 2);
    assert_int_equal(x.drop[0], 3);
    assert_int_equal(x.drop[1], 6);
    free(x.drop);
    kf_keyset_free(held);
    kf_keyset_free(target);
}

static void
test_decide_stage_when_no_key_or_set_differs(void **state)
{
    struct kf_keyset *held = kf_keyset_new(), *target = kf_keyset_new();
    struct kf_syncsrv none = {.checked = true, .accepted = false};
    struct kf_syncsrv partial = {.checked = true, .accepted = true, .label = 5};
    struct kf_err err = {0};

    (void)state;
    add(target, HTTP, 5, 18, 1);
    add(target, ACCT, 5, 18, 1);
    assert_int_equal(kf_syncplan_decide(NULL, 5, target, want, n_want, &none, &err), KF_OK);
    assert_true(none.stage);
    assert_int_equal(none.n_drop, 0);
    add(held, HTTP, 5, 18, 1); /* accepts, but ACCT's entry is missing */
    assert_int_equal(kf_syncplan_decide(held, 5, target, want, n_want, &partial, &err), KF_OK);
    assert_true(partial.stage);
    assert_int_equal(partial.n_drop, 0);
    free(none.drop);
    free(partial.drop);
    kf_keyset_free(held);
    kf_keyset_free(target);
}

static void
test_has_foreign(void **state)
{
    struct kf_keyset *held = kf_keyset_new();

    (void)state;
    add(held, HTTP, 5, 18, 1);
    assert_false(kf_syncplan_has_foreign(held, 5, want, n_want));
    add(held, HOST, 4, 18, 1);
    assert_false(kf_syncplan_has_foreign(held, 5, want, n_want));
    assert_true(kf_syncplan_has_foreign(held, 4, want, n_want));
    assert_false(kf_syncplan_has_foreign(NULL, 4, want, n_want));
    kf_keyset_free(held);
}

static void
test_principal(void **state)
{
    char s0[] = "host/kerbauth", s1[] = "HTTP/web2.example.com", s2[] = "HTTP/web.example.com";
    char i0[] = "HTTP/web.example.com", i1[] = "HTTP/web2.example.com";
    char *spns[] = {s0, s1, s2}, *implied[] = {i0, i1};
    char *p;

    (void)state;
    /* the first of its SPNs whose keys are staged */
    p = kf_syncplan_principal(spns, 3, implied, 2, "kerbauth", "EXAMPLE.COM");
    assert_string_equal(p, "HTTP/web2.example.com@EXAMPLE.COM");
    free(p);
    /* none published: the account's own name */
    p = kf_syncplan_principal(spns, 1, implied, 2, "kerbauth", "EXAMPLE.COM");
    assert_string_equal(p, "kerbauth$@EXAMPLE.COM");
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_prefers_label_d),
        cmocka_unit_test(test_target_managed_only_and_completed),
        cmocka_unit_test(test_target_not_completed_when_keys_differ),
        cmocka_unit_test(test_same_set),
        cmocka_unit_test(test_decide_in_sync_does_nothing),
        cmocka_unit_test(test_decide_withdraws_uncommitted_and_wrong_label),
        cmocka_unit_test(test_decide_stage_when_no_key_or_set_differs),
        cmocka_unit_test(test_has_foreign),
        cmocka_unit_test(test_principal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
