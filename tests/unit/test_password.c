/* test_password.c - random printable passwords: length, alphabet, spread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mem.h"
#include "password.h"

static void
test_length_and_alphabet(void **state)
{
    static const size_t lens[] = {1, 2, 16, KF_PASSWORD_LEN, 1000, KF_PASSWORD_MAX};

    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char *pw = NULL;
        assert_int_equal(kf_password_new(lens[i], &pw), KF_OK);
        assert_non_null(pw);
        assert_int_equal(strlen(pw), lens[i]);
        for (size_t j = 0; j < lens[i]; j++) {
            if (pw[j] < 0x21 || pw[j] > 0x7e)
                fail_msg("byte 0x%02x at %zu is not printable ASCII without space",
                         (unsigned char)pw[j], j);
        }
        kf_free_secret_str(pw);
    }
}

static void
test_two_calls_differ(void **state)
{
    char *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(kf_password_new(KF_PASSWORD_LEN, &a), KF_OK);
    assert_int_equal(kf_password_new(KF_PASSWORD_LEN, &b), KF_OK);
    assert_string_not_equal(a, b);
    kf_free_secret_str(a);
    kf_free_secret_str(b);
}

/* 200 passwords of 120 characters: each of the 94 characters is expected
 * about 255 times; every one must appear, none wildly more than the rest. */
static void
test_every_character_used(void **state)
{
    unsigned long count[128] = {0};

    (void)state;
    for (int n = 0; n < 200; n++) {
        char *pw = NULL;
        assert_int_equal(kf_password_new(KF_PASSWORD_LEN, &pw), KF_OK);
        for (const char *p = pw; *p != '\0'; p++)
            count[(unsigned char)*p]++;
        kf_free_secret_str(pw);
    }
    for (int c = 0x21; c <= 0x7e; c++) {
        if (count[c] == 0 || count[c] > 3 * 255)
            fail_msg("character '%c' drawn %lu times (expected about 255)", c, count[c]);
    }
    assert_int_equal(count[' '], 0);
}

static void
test_bad_lengths(void **state)
{
    static char untouched[] = "untouched";
    char *pw = untouched;

    (void)state;
    assert_int_equal(kf_password_new(0, &pw), KF_ERR_INVALID);
    assert_null(pw);
    assert_int_equal(kf_password_new(KF_PASSWORD_MAX + 1, &pw), KF_ERR_INVALID);
    assert_null(pw);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_and_alphabet),
        cmocka_unit_test(test_two_calls_differ),
        cmocka_unit_test(test_every_character_used),
        cmocka_unit_test(test_bad_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
