/* test_acctset.c - what `account set --enctypes` plans, and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "acctset.h"

#define AES (KF_ENCTYPE_AES256 | KF_ENCTYPE_AES128)
#define RC4 KF_ENCTYPE_RC4_HMAC

static void
test_add_rotates_first(void **state)
{
    struct kf_enctypes_plan p;

    (void)state;
    kf_enctypes_plan_make(AES, AES | RC4, true, &p);
    assert_int_equal(p.added, RC4);
    assert_int_equal(p.removed, 0);
    assert_true(p.rotate);
    assert_int_equal(p.old_types | p.new_types, AES | RC4);
    /* no site, no server holds keys: nothing to stage */
    kf_enctypes_plan_make(AES, AES | RC4, false, &p);
    assert_false(p.rotate);
    /* added and removed at once: still a rotation, with the union */
    kf_enctypes_plan_make(KF_ENCTYPE_AES256 | RC4, AES, true, &p);
    assert_int_equal(p.added, KF_ENCTYPE_AES128);
    assert_int_equal(p.removed, RC4);
    assert_true(p.rotate);
}

static void
test_remove_only_does_not_rotate(void **state)
{
    struct kf_enctypes_plan p;

    (void)state;
    kf_enctypes_plan_make(AES | RC4, AES, true, &p);
    assert_int_equal(p.added, 0);
    assert_int_equal(p.removed, RC4);
    assert_false(p.rotate);
    /* DES bits the directory may hold are not ours to carry along */
    kf_enctypes_plan_make(AES | KF_ENCTYPE_DES_CBC_MD5, AES, true, &p);
    assert_int_equal(p.old_types, AES);
    assert_int_equal(p.added | p.removed, 0);
}

static void
test_requests_refused(void **state)
{
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_enctypes_check_request(0, &err), KF_ERR_USAGE);
    assert_non_null(strstr(err.msg, "at least one"));
    assert_int_equal(kf_enctypes_check_request(RC4, &err), KF_ERR_USAGE);
    assert_non_null(strstr(err.msg, "RC4 alone is refused"));
    assert_int_equal(kf_enctypes_check_request(AES | KF_ENCTYPE_DES_CBC_CRC, &err), KF_ERR_USAGE);
    assert_int_equal(kf_enctypes_check_request(KF_ENCTYPE_AES256, NULL), KF_OK);
    assert_int_equal(kf_enctypes_check_request(AES | RC4, NULL), KF_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_rotates_first),
        cmocka_unit_test(test_remove_only_does_not_rotate),
        cmocka_unit_test(test_requests_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
