/* test_keys.c - AD's computer salt, and keys derived with a given salt:
 * one entry per principal per enctype, the same key string-to-key makes
 * with that salt, and a different key with any other salt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <krb5.h>

#include "directory.h"
#include "keys.h"
#include "mem.h"

static void
test_computer_salt(void **state)
{
    struct kf_err err = {0};
    char salt[128], tiny[20];

    (void)state;
    assert_int_equal(kf_keys_computer_salt("LAB.TEST", "lab.test", "webpool", salt, sizeof(salt),
                                           &err),
                     KF_OK);
    assert_string_equal(salt, "LAB.TESThostwebpool.lab.test");
    /* the name and the DNS domain are lower-cased, the realm is not; a '$' goes */
    assert_int_equal(kf_keys_computer_salt("EXAMPLE.COM", "Example.COM", "KerbAuth$", salt,
                                           sizeof(salt), &err),
                     KF_OK);
    assert_string_equal(salt, "EXAMPLE.COMhostkerbauth.example.com");
    /* never cut short */
    assert_int_equal(kf_keys_computer_salt("LAB.TEST", "lab.test", "webpool", tiny, sizeof(tiny),
                                           &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_keys_computer_salt("LAB.TEST", "", "webpool", salt, sizeof(salt), &err),
                     KF_ERR_INVALID);
}

static void
expect_key(const struct kf_key_entry *e, const char *salt_s, bool equal)
{
    krb5_context ctx;
    krb5_keyblock key = {0};
    char pwbuf[] = "s3cret-pw";
    krb5_data pw = {.data = pwbuf, .length = sizeof(pwbuf) - 1};
    krb5_data salt = {.data = (char *)(uintptr_t)salt_s, .length = (unsigned)strlen(salt_s)};

    assert_int_equal(krb5_init_context(&ctx), 0);
    assert_int_equal(krb5_c_string_to_key(ctx, e->enctype, &pw, &salt, &key), 0);
    assert_int_equal(key.length, e->key_len);
    assert_int_equal(memcmp(key.contents, e->key, e->key_len) == 0, equal);
    krb5_free_keyblock_contents(ctx, &key);
    krb5_free_context(ctx);
}

static void
test_derive_salted(void **state)
{
    static const char *const spns[] = {"HTTP/web.lab.test", "HTTP/www.lab.test"};
    struct kf_keyset *ks = NULL;
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_keys_derive_salted("LAB.TEST", "webpool", "LAB.TESThostwebpool.lab.test",
                                           "s3cret-pw", KF_ENCTYPES_DEFAULT, spns, 2, 1, &ks,
                                           &err),
                     KF_OK);
    assert_int_equal(ks->n, 6); /* (2 SPNs + webpool$) x (aes256, aes128) */
    assert_string_equal(ks->v[0].principal, "HTTP/web.lab.test@LAB.TEST");
    assert_string_equal(ks->v[2].principal, "webpool$@LAB.TEST");
    for (size_t i = 0; i < ks->n; i++) {
        assert_int_equal(ks->v[i].kvno, 1);
        assert_int_equal(ks->v[i].enctype, i < 3 ? ENCTYPE_AES256_CTS_HMAC_SHA1_96
                                                 : ENCTYPE_AES128_CTS_HMAC_SHA1_96);
        assert_memory_equal(ks->v[i].key, ks->v[i < 3 ? 0 : 3].key, ks->v[i].key_len);
        expect_key(&ks->v[i], "LAB.TESThostwebpool.lab.test", true);
        expect_key(&ks->v[i], "LAB.TESTwebpool$", false);
    }
    kf_keyset_free(ks);
    assert_int_equal(kf_keys_derive_salted("LAB.TEST", "webpool", "x", "pw", 0, spns, 2, 1, &ks,
                                           &err),
                     KF_ERR_INVALID);
    assert_null(ks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_computer_salt),
        cmocka_unit_test(test_derive_salted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
