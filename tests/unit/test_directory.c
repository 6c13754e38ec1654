/* test_directory.c - the backend-independent part of the directory
 * interface (directory.c): backend choice, argument checks, and the
 * "nothing to do" cases that must not reach the backend at all. The
 * backend here only records what it was asked; the real one is tested
 * against a Samba DC (tests/integration/test_directory_ad.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "dir_backend.h"
#include "directory.h"

static int calls;

static kf_status
rec_modify(struct kf_dir *dir, const char *name, const char *const *add, size_t n_add,
           const char *const *del, size_t n_del, struct kf_err *err)
{
    (void)dir, (void)name, (void)add, (void)n_add, (void)del, (void)n_del, (void)err;
    calls++;
    return KF_OK;
}

static kf_status
rec_create(struct kf_dir *dir, const char *name, const char *container, unsigned enctypes,
           const char *password, struct kf_err *err)
{
    (void)dir, (void)name, (void)container, (void)enctypes, (void)password, (void)err;
    calls++;
    return KF_OK;
}

static kf_status
rec_password(struct kf_dir *dir, const char *name, const char *pw, struct kf_err *err)
{
    (void)dir, (void)name, (void)pw, (void)err;
    calls++;
    return KF_OK;
}

static const struct kf_dir_ops rec_ops = {
    .name = "recorder",
    .account_create = rec_create,
    .spn_modify = rec_modify,
    .spn_modify_dn = rec_modify,
    .set_password = rec_password,
};

static struct kf_dir *
rec_dir(void)
{
    struct kf_dir *dir = calloc(1, sizeof(*dir));
    assert_non_null(dir);
    dir->ops = &rec_ops;
    calls = 0;
    return dir;
}

static void
test_backend_choice(void **state)
{
    static const char text_mit[] = "[directory]\nbackend = mit\n";
    struct kf_config *cfg = NULL;
    struct kf_dir *dir = NULL;
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_config_parse(text_mit, strlen(text_mit), "t.conf", &cfg, &err), KF_OK);
    assert_int_equal(kf_dir_open(cfg, &dir, &err), KF_ERR_CONFIG);
    assert_null(dir);
    assert_non_null(strstr(err.msg, "backend = mit is not implemented yet"));
    assert_non_null(strstr(err.msg, "t.conf"));
    kf_config_free(cfg);
}

static void
test_empty_change_sends_nothing(void **state)
{
    struct kf_dir *dir = rec_dir();
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_dir_spn_modify(dir, "web", NULL, 0, NULL, 0, &err), KF_OK);
    assert_int_equal(kf_dir_spn_modify_dn(dir, "CN=x,DC=t", NULL, 0, NULL, 0, &err), KF_OK);
    assert_int_equal(calls, 0);
    kf_dir_free(dir);
}

static void
test_spn_lists_checked(void **state)
{
    static const char *const twice[] = {"HTTP/a.example.com", "http/A.example.com"};
    static const char *const one[] = {"HTTP/a.example.com"};
    static const char *const other[] = {"HTTP/b.example.com"};
    static const char *const empty[] = {""};
    static const char *const ctl[] = {"HTTP/a\n.example.com"};
    struct kf_dir *dir = rec_dir();
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_dir_spn_modify(dir, "web", twice, 2, NULL, 0, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "given twice"));
    assert_int_equal(kf_dir_spn_modify(dir, "web", one, 1, one, 1, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "both added and removed"));
    assert_int_equal(kf_dir_spn_modify(dir, "web", empty, 1, NULL, 0, &err), KF_ERR_INVALID);
    assert_int_equal(kf_dir_spn_modify(dir, "web", ctl, 1, NULL, 0, &err), KF_ERR_INVALID);
    assert_int_equal(kf_dir_spn_modify(dir, "web$", one, 1, NULL, 0, &err), KF_ERR_INVALID);
    assert_int_equal(kf_dir_spn_modify(dir, "", one, 1, NULL, 0, &err), KF_ERR_INVALID);
    assert_int_equal(calls, 0);
    assert_int_equal(kf_dir_spn_modify(dir, "web", one, 1, other, 1, &err), KF_OK);
    assert_int_equal(calls, 1);
    kf_dir_free(dir);
}

static void
test_create_and_password_checked(void **state)
{
    struct kf_dir *dir = rec_dir();
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_dir_account_create(dir, "web", NULL, 0, &err), KF_ERR_INVALID);
    assert_int_equal(kf_dir_account_create(dir, "web", NULL, 0x20, &err), KF_ERR_INVALID);
    assert_int_equal(kf_dir_set_password(dir, "web", "", &err), KF_ERR_INVALID);
    assert_null(strstr(err.msg, "\"\"")); /* never quotes the password */
    assert_int_equal(
        kf_dir_account_create_with_password(dir, "web", NULL, KF_ENCTYPES_DEFAULT, "", &err),
        KF_ERR_INVALID);
    assert_int_equal(calls, 0);
    assert_int_equal(kf_dir_account_create(dir, "web", NULL, KF_ENCTYPES_DEFAULT, &err), KF_OK);
    assert_int_equal(kf_dir_set_password(dir, "web", "s3cret", &err), KF_OK);
    assert_int_equal(
        kf_dir_account_create_with_password(dir, "web", NULL, KF_ENCTYPES_DEFAULT, "s3cr3t", &err),
        KF_OK);
    assert_null(strstr(err.msg, "s3cr3t"));
    assert_int_equal(calls, 3);
    kf_dir_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_choice),
        cmocka_unit_test(test_empty_change_sends_nothing),
        cmocka_unit_test(test_spn_lists_checked),
        cmocka_unit_test(test_create_and_password_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
