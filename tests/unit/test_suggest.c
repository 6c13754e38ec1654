/* test_suggest.c - edit distance and "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "suggest.h"

static void
test_distance(void **state)
{
    char longword[KF_SUGGEST_WORD_MAX + 2];

    (void)state;
    assert_int_equal(kf_edit_distance("", ""), 0);
    assert_int_equal(kf_edit_distance("path", "path"), 0);
    assert_int_equal(kf_edit_distance("PATH", "path"), 0); /* case does not count */
    assert_int_equal(kf_edit_distance("", "port"), 4);
    assert_int_equal(kf_edit_distance("prot", "port"), 1);      /* a swap is one edit */
    assert_int_equal(kf_edit_distance("timout", "timeout"), 1); /* insertion */
    assert_int_equal(kf_edit_distance("timeoutt", "timeout"), 1);
    assert_int_equal(kf_edit_distance("concurency", "concurrency"), 1);
    assert_int_equal(kf_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(kf_edit_distance("ca", "abc"), 3); /* OSA, not full Damerau */
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    assert_int_equal(kf_edit_distance(longword, "a"), KF_SUGGEST_WORD_MAX + 1);
    longword[KF_SUGGEST_WORD_MAX] = '\0'; /* exactly the maximum: still measured */
    assert_int_equal(kf_edit_distance(longword, longword), 0);
}

static void
test_suggest(void **state)
{
    static const char *const keys[] = {"backend", "domain", "server", "ldap_uri", "tls",
                                       "ca_file", "password_method", "timeout"};
    const size_t n = sizeof(keys) / sizeof(keys[0]);

    (void)state;
    assert_string_equal(kf_suggest("timout", keys, n), "timeout");
    assert_string_equal(kf_suggest("sever", keys, n), "server");
    assert_string_equal(kf_suggest("Domian", keys, n), "domain");
    assert_string_equal(kf_suggest("password-methd", keys, n), "password_method");
    assert_string_equal(kf_suggest("tsl", keys, n), "tls");
    assert_null(kf_suggest("foo", keys, n));  /* nothing near */
    assert_null(kf_suggest("tlsx1", keys, n)); /* 2 edits from a 3-letter word */
    assert_null(kf_suggest("port", keys, n));
    assert_null(kf_suggest("", keys, n));
    assert_null(kf_suggest("timeout", keys, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
