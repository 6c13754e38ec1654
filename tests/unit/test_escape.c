/* test_escape.c - showing outside text safely: what is escaped, what is
 * kept, truncation, and the input check for names and URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errors.h"
#include "escape.h"

struct esc_case {
    const char *in, *want;
};

static const struct esc_case cases[] = {
    {"plain web.example.com", "plain web.example.com"},
    {"\x1b[31mred", "\\x1b[31mred"},
    {"a\rb\nc\td", "a\\x0db\\x0ac\\x09d"},
    {"del\x7f", "del\\x7f"},
    {"c1 \xc2\x9b", "c1 \\u009b"},                     /* U+009B CSI */
    {"rlo \xe2\x80\xae txt.exe", "rlo \\u202e txt.exe"}, /* U+202E */
    {"lre \xe2\x80\xaa pdf \xe2\x80\xac", "lre \\u202a pdf \\u202c"},
    {"fsi \xe2\x81\xa8 pdi \xe2\x81\xa9", "fsi \\u2068 pdi \\u2069"},
    {"lrm \xe2\x80\x8e alm \xd8\x9c", "lrm \\u200e alm \\u061c"},
    {"ls \xe2\x80\xa8", "ls \\u2028"},
    {"bom \xef\xbb\xbf", "bom \\ufeff"},
    {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"}, /* é and € stay */
    {"bad \xff\xfe", "bad \\xff\\xfe"},
    {"overlong \xc0\xaf", "overlong \\xc0\\xaf"},
    {"cut \xe2\x80", "cut \\xe2\\x80"},
    {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
    {"back\\slash \\x1b", "back\\slash \\x1b"}, /* kept: escaping twice is a no-op */
};

static void
test_escape_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        size_t need = kf_escape(cases[i].in, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        assert_int_equal(need, strlen(cases[i].want));
        char *dup = kf_escape_dup(cases[i].in);
        assert_non_null(dup);
        assert_string_equal(dup, cases[i].want);
        /* idempotent */
        kf_escape(dup, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        free(dup);
    }
}

static void
test_escape_truncates_whole_escapes(void **state)
{
    char out[6];

    (void)state;
    /* "ab\x1b" needs 6 bytes escaped: "ab" fits, the escape does not */
    assert_int_equal(kf_escape("ab\x1b", out, sizeof(out)), 6);
    assert_string_equal(out, "ab");
    assert_int_equal(kf_escape("x", out, 0), 1);
}

static void
test_text_check(void **state)
{
    struct kf_err err = {0};
    size_t n = 0;

    (void)state;
    assert_null(kf_text_unsafe("web.example.com", NULL));
    assert_non_null(kf_text_unsafe("a\xe2\x80\xae", &n));
    assert_int_equal(n, 3);
    assert_int_equal(kf_text_check("ok-name", "site name", &err), KF_OK);
    assert_int_equal(kf_text_check("evil\x1b[2J", "site name", &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "site name \"evil\\x1b[2J\" contains a control character"));
    assert_non_null(strstr(err.msg, "\\x1b at byte 5"));
    assert_int_equal(kf_text_check("x\xe2\x80\xaey", "probe URL", &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "\\u202e at byte 2"));
    assert_null(strchr(err.msg, '\x1b'));
}

static void
test_err_messages_are_escaped(void **state)
{
    struct kf_err err = {0};
    char big[3000];

    (void)state;
    kf_err_set(&err, KF_ERR_INVALID, "site \"%s\" does not exist", "x\x1b]0;owned\x07");
    assert_string_equal(err.msg, "site \"x\\x1b]0;owned\\x07\" does not exist");
    kf_err_prefix(&err, "%s", "file\r");
    assert_string_equal(err.msg, "file\\x0d: site \"x\\x1b]0;owned\\x07\" does not exist");
    /* too long: cut, and said so */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kf_err_set(&err, KF_ERR_INVALID, "%s", big);
    assert_int_equal(strlen(err.msg), KF_ERR_MSG_MAX - 1);
    assert_string_equal(err.msg + strlen(err.msg) - 3, "...");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_cases),
        cmocka_unit_test(test_escape_truncates_whole_escapes),
        cmocka_unit_test(test_text_check),
        cmocka_unit_test(test_err_messages_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
