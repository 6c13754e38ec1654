/* test_account.c - account names and encryption type lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "account.h"
#include "directory.h"

static void
test_names(void **state)
{
    struct kf_account_name n;
    struct kf_err err = {0};
    (void)state;

    assert_int_equal(kf_account_name_parse("contoso\\KerbAuth", true, &n, NULL), KF_OK);
    assert_string_equal(n.domain, "CONTOSO");
    assert_string_equal(n.name, "kerbauth");
    assert_int_equal(kf_account_name_parse("kerbauth$", false, &n, NULL), KF_OK);
    assert_string_equal(n.domain, "");
    assert_string_equal(n.name, "kerbauth");
    assert_int_equal(kf_account_name_parse("LAB\\web-pool1$", false, &n, NULL), KF_OK);
    assert_string_equal(n.name, "web-pool1");
    assert_int_equal(kf_account_name_parse("kerbauth", true, &n, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "DOMAIN\\name"));
    assert_int_equal(kf_account_name_parse("LAB\\", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("\\x", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("LAB\\sixteen-chars-xy", false, &n, NULL),
                     KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("LAB\\fifteen-chars", false, &n, NULL), KF_OK);
    assert_int_equal(kf_account_name_parse("LAB\\a b", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("LAB\\-x", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("LAB\\x\\y", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("$", false, &n, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_account_name_parse("THIS-IS-TOO-LONG-DOMAIN\\x", false, &n, NULL),
                     KF_ERR_INVALID);
}

static void
test_enctypes(void **state)
{
    unsigned bits;
    bool rc4;
    char out[64];
    struct kf_err err = {0};
    (void)state;

    assert_int_equal(kf_enctypes_parse("aes256,aes128", &bits, &rc4, NULL), KF_OK);
    assert_int_equal(bits, 24);
    assert_false(rc4);
    assert_int_equal(kf_enctypes_parse("AES256-CTS-HMAC-SHA1-96", &bits, &rc4, NULL), KF_OK);
    assert_int_equal(bits, 16);
    assert_int_equal(kf_enctypes_parse("aes256, rc4-hmac", &bits, &rc4, NULL), KF_OK);
    assert_int_equal(bits, 20);
    assert_true(rc4);
    assert_int_equal(kf_enctypes_parse("des-cbc-crc", &bits, &rc4, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "DES"));
    assert_int_equal(kf_enctypes_parse("aes512", &bits, &rc4, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "unknown encryption type \"aes512\""));
    assert_int_equal(kf_enctypes_parse("", &bits, &rc4, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_enctypes_parse("aes256,", &bits, &rc4, NULL), KF_ERR_INVALID);
    kf_enctypes_format(28, out, sizeof(out));
    assert_string_equal(out, "aes256,aes128,rc4");
    kf_enctypes_format(0, out, sizeof(out));
    assert_string_equal(out, "none");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_enctypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
