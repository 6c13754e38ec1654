/* test_b64.c - base64 for Negotiate tokens: round trips and strictness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "b64.h"

static void
test_round_trip(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                        "Zm9vYmFy"};
    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char *enc = kf_b64_encode((const unsigned char *)plain[i], strlen(plain[i]));
        assert_string_equal(enc, coded[i]);
        free(enc);
        if (i > 0) {
            size_t n;
            unsigned char *dec = kf_b64_decode(coded[i], strlen(coded[i]), 100, &n);
            assert_non_null(dec);
            assert_int_equal(n, strlen(plain[i]));
            assert_memory_equal(dec, plain[i], n);
            free(dec);
        }
    }
}

static void
test_strict(void **state)
{
    static const char *const bad[] = {"Zg=", "Zg===", "Z===", "Zh==", "Zm9=", "Zg==Zg==",
                                      "Zm9v!A==", "Zm 9v", "===="};
    size_t n;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (kf_b64_decode(bad[i], strlen(bad[i]), 100, &n) != NULL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_null(kf_b64_decode("", 0, 100, &n));
    assert_null(kf_b64_decode("Zm9vYmFy", 8, 4, &n)); /* over the limit */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
