/* test_dns_srv.c - RFC 2782 ordering of SRV records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns_srv.h"

static unsigned long fixed;

static unsigned long
rnd_fixed(unsigned long bound)
{
    return fixed % bound;
}

#define REC(t, p, w)                                                                               \
    {                                                                                              \
        (char *)(uintptr_t)(t), p, w, 389                                                          \
    }

static void
test_priority_first(void **state)
{
    struct kf_srv list[] = {REC("c", 20, 0), REC("a", 0, 0), REC("b", 10, 5), REC("d", 30, 1)};

    (void)state;
    fixed = 0;
    kf_srv_order(list, 4, rnd_fixed);
    assert_string_equal(list[0].target, "a");
    assert_string_equal(list[1].target, "b");
    assert_string_equal(list[2].target, "c");
    assert_string_equal(list[3].target, "d");
}

/* Within one priority the draw follows the weights: with weights 10 and 90
 * a draw below 10 picks the first, 10 or more the second. */
static void
test_weighted_draw(void **state)
{
    (void)state;
    for (unsigned long r = 0; r < 100; r++) {
        struct kf_srv list[] = {REC("light", 0, 10), REC("heavy", 0, 90)};
        fixed = r;
        kf_srv_order(list, 2, rnd_fixed);
        assert_string_equal(list[0].target, r < 10 ? "light" : "heavy");
    }
}

/* Weight-0 records come after the weighted ones of their priority. */
static void
test_zero_weight_last(void **state)
{
    struct kf_srv list[] = {REC("zero", 0, 0), REC("one", 0, 1), REC("other", 1, 0)};

    (void)state;
    fixed = 0;
    kf_srv_order(list, 3, rnd_fixed);
    assert_string_equal(list[0].target, "one");
    assert_string_equal(list[1].target, "zero");
    assert_string_equal(list[2].target, "other");
}

/* With the real random source every order is a permutation of the input. */
static void
test_random_source(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        struct kf_srv list[] = {REC("a", 0, 1), REC("b", 0, 1), REC("c", 0, 1)};
        unsigned seen = 0;
        kf_srv_order(list, 3, NULL);
        for (int k = 0; k < 3; k++)
            seen |= 1u << (list[k].target[0] - 'a');
        assert_int_equal(seen, 7);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_first),
        cmocka_unit_test(test_weighted_draw),
        cmocka_unit_test(test_zero_weight_last),
        cmocka_unit_test(test_random_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
