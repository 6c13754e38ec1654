/* test_proc.c - parsing /proc/PID/stat for the rotation lock's holder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static bool
parse(const char *s, char *state, unsigned long long *start)
{
    return kf_proc_stat_parse(s, strlen(s), state, start);
}

static void
test_parse(void **unused)
{
    char st = 0;
    unsigned long long start = 0;
    (void)unused;

    assert_true(parse("4242 (krbfleet) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                      "987654 1000 200 18446744073709551615\n",
                      &st, &start));
    assert_int_equal(st, 'S');
    assert_int_equal(start, 987654);
    /* a COMM with ") Z " and spaces inside: the last ')' ends it */
    assert_true(parse("7 (a) Z 1 (b) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 1 2", &st, &start));
    assert_int_equal(st, 'R');
    assert_int_equal(start, 55);
}

static void
test_malformed(void **unused)
{
    char st;
    unsigned long long start;
    (void)unused;

    assert_false(parse("", &st, &start));
    assert_false(parse("12 (x", &st, &start));
    assert_false(parse("12 (x) S", &st, &start));
    assert_false(parse("12 (x) S 1 2 3", &st, &start)); /* too short */
    assert_false(
        parse("12 (x) s 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", &st, &start)); /* state */
    assert_false(parse("12 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x5", &st, &start));
    assert_false(parse("12 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x", &st, &start));
    assert_false(parse("12 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999",
                       &st, &start)); /* overflows */
}

static void
test_self(void **unused)
{
    unsigned long long a = 0, b = 0;
    (void)unused;

    assert_true(kf_proc_start(getpid(), &a));
    assert_true(kf_proc_start(getpid(), &b));
    assert_true(a > 0 && a == b);
    assert_false(kf_proc_start(0, &a));
    assert_false(kf_proc_start(-1, &a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
