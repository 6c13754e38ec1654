/* test_keytab.c - key set operations, validation, and the atomic keytab
 * file written here read back by libkrb5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "keys.h"
#include "keytab.h"

#define AES256 18
#define AES128 17

static void
add(struct kf_keyset *ks, const char *princ, uint32_t kvno, int32_t enctype, uint8_t fill)
{
    struct kf_key_entry e = {0};

    e.principal = (char *)(uintptr_t)princ;
    e.kvno = kvno;
    e.enctype = enctype;
    e.timestamp = 1000;
    e.key_len = enctype == AES256 ? 32 : 16;
    memset(e.key, fill, e.key_len);
    assert_int_equal(kf_keyset_add(ks, &e), 0);
}

static size_t
count_kvno(const struct kf_keyset *ks, uint32_t kvno)
{
    size_t n = 0;

    for (size_t i = 0; i < ks->n; i++)
        n += ks->v[i].kvno == kvno;
    return n;
}

static void
test_stage_withdraw_prune(void **state)
{
    struct kf_keyset *ks = kf_keyset_new(), *set2 = kf_keyset_new(), *set2b = kf_keyset_new();
    struct kf_err err = {0};

    (void)state;
    add(set2, "HTTP/web.lab.test@LAB.TEST", 0, AES256, 2);
    add(set2, "HTTP/web.lab.test@LAB.TEST", 0, AES128, 2);
    add(set2b, "HTTP/web.lab.test@LAB.TEST", 0, AES256, 0x22);
    assert_int_equal(kf_keytab_check_set(set2, &err), KF_OK);

    assert_int_equal(kf_keytab_stage(ks, 2, set2, 50, &err), KF_OK);
    assert_int_equal(ks->n, 2);
    assert_int_equal(ks->v[0].kvno, 2);
    assert_int_equal(ks->v[0].timestamp, 50);
    /* staging kvno 2 again replaces the whole set at 2 */
    assert_int_equal(kf_keytab_stage(ks, 2, set2b, 60, &err), KF_OK);
    assert_int_equal(ks->n, 1);
    assert_int_equal(ks->v[0].key[0], 0x22);
    /* kvno 3 keeps 2 */
    assert_int_equal(kf_keytab_stage(ks, 3, set2, 70, &err), KF_OK);
    assert_int_equal(count_kvno(ks, 2), 1);
    assert_int_equal(count_kvno(ks, 3), 2);
    assert_int_equal(kf_keytab_stage(ks, 4, set2, 80, &err), KF_OK);
    /* withdraw 4, prune below 3 */
    assert_int_equal(kf_keytab_withdraw(ks, 4), 2);
    assert_int_equal(kf_keytab_withdraw(ks, 4), 0);
    assert_int_equal(kf_keytab_prune(ks, 3), 1);
    assert_int_equal(ks->n, 2);
    assert_int_equal(count_kvno(ks, 3), 2);
    kf_keyset_free(ks);
    kf_keyset_free(set2);
    kf_keyset_free(set2b);
}

static void
test_check_set_refuses(void **state)
{
    struct kf_err err = {0};
    struct kf_keyset *ks;

    (void)state;
    ks = kf_keyset_new();
    assert_int_equal(kf_keytab_check_set(ks, &err), KF_ERR_INVALID); /* empty */
    add(ks, "HTTP/web.lab.test", 0, AES256, 1);                     /* no realm */
    assert_int_equal(kf_keytab_check_set(ks, &err), KF_ERR_INVALID);
    kf_keyset_free(ks);

    ks = kf_keyset_new();
    add(ks, "HTTP/web.lab.test@LAB.TEST", 0, 9999, 1); /* unknown enctype */
    assert_int_equal(kf_keytab_check_set(ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "unknown enctype 9999"));
    kf_keyset_free(ks);

    ks = kf_keyset_new();
    add(ks, "HTTP/web.lab.test@LAB.TEST", 0, AES256, 1);
    ks->v[0].key_len = 16; /* AES256 needs 32 */
    assert_int_equal(kf_keytab_check_set(ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "32"));
    kf_keyset_free(ks);

    ks = kf_keyset_new();
    add(ks, "HTTP/web.lab.test@LAB.TEST", 0, AES256, 1);
    add(ks, "HTTP/web.lab.test@LAB.TEST", 0, AES256, 2);
    assert_int_equal(kf_keytab_check_set(ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "twice"));
    kf_keyset_free(ks);
}

static void
test_save_load(void **state)
{
    char dir[] = "/tmp/kf-test-keytab.XXXXXX";
    char path[256];
    struct kf_keyset *ks = kf_keyset_new(), *back = NULL;
    struct kf_keytab_info info;
    struct kf_err err = {0};
    struct dirent *de;
    DIR *d;
    int files = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/http.keytab", dir);

    /* missing file: empty set, stat says it does not exist */
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_OK);
    assert_int_equal(back->n, 0);
    kf_keyset_free(back);
    assert_int_equal(kf_keytab_stat(path, &info, &err), KF_OK);
    assert_false(info.exists);

    add(ks, "HTTP/web.lab.test@LAB.TEST", 2, AES256, 0xa1);
    add(ks, "HTTP/web.lab.test@LAB.TEST", 2, AES128, 0xa2);
    add(ks, "WEBPOOL$@LAB.TEST", 300, AES256, 0xa3); /* kvno over 255 */
    assert_int_equal(kf_keytab_save(path, ks, KF_KEYTAB_NO_GROUP, &err), KF_OK);
    assert_int_equal(kf_keytab_stat(path, &info, &err), KF_OK);
    assert_true(info.exists);
    assert_int_equal(info.mode, 0600);

    assert_int_equal(kf_keytab_load(path, &back, &err), KF_OK);
    assert_int_equal(back->n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(back->v[i].principal, ks->v[i].principal);
        assert_int_equal(back->v[i].kvno, ks->v[i].kvno);
        assert_int_equal(back->v[i].enctype, ks->v[i].enctype);
        assert_int_equal(back->v[i].timestamp, 1000);
        assert_int_equal(back->v[i].key_len, ks->v[i].key_len);
        assert_memory_equal(back->v[i].key, ks->v[i].key, ks->v[i].key_len);
    }
    kf_keyset_free(back);

    /* with a group: 0640 and that group; an empty set is a valid keytab */
    kf_keytab_withdraw(ks, 2);
    kf_keytab_withdraw(ks, 300);
    assert_int_equal(kf_keytab_save(path, ks, getgid(), &err), KF_OK);
    assert_int_equal(kf_keytab_stat(path, &info, &err), KF_OK);
    assert_int_equal(info.mode, 0640);
    assert_int_equal(info.gid, getgid());
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_OK);
    assert_int_equal(back->n, 0);
    kf_keyset_free(back);

    /* no temporary file is left behind */
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        files += de->d_name[0] != '.' || strncmp(de->d_name, ".http", 5) == 0;
    closedir(d);
    assert_int_equal(files, 1);

    /* a bad principal fails and leaves the file as it was */
    add(ks, "a@b@c", 5, AES256, 1);
    assert_int_not_equal(kf_keytab_save(path, ks, KF_KEYTAB_NO_GROUP, &err), KF_OK);
    assert_int_equal(kf_keytab_stat(path, &info, &err), KF_OK);
    assert_int_equal(info.mode, 0640);

    /* a directory that does not exist */
    assert_int_equal(kf_keytab_save("/nonexistent-kf/x.keytab", ks, KF_KEYTAB_NO_GROUP, &err) !=
                         KF_OK,
                     1);
    unlink(path);
    rmdir(dir);
    kf_keyset_free(ks);
}

static void
test_check_without_keys(void **state)
{
    struct kf_keyset *ks = kf_keyset_new();
    struct kf_keytab_check r;
    struct kf_err err = {0};
    static const uint8_t junk[] = {0x6e, 0x03, 0x02, 0x01, 0x05};

    (void)state;
    assert_int_equal(kf_keytab_check_apreq(ks, NULL, junk, sizeof(junk), &r, &err), KF_OK);
    assert_false(r.accepted);
    assert_non_null(strstr(r.reason, "no key"));
    kf_keytab_check_done(&r);
    add(ks, "HTTP/web.lab.test@LAB.TEST", 2, AES256, 1);
    assert_int_equal(kf_keytab_check_apreq(ks, "HTTP/web.lab.test@LAB.TEST", junk, sizeof(junk),
                                           &r, &err),
                     KF_OK);
    assert_false(r.accepted);
    assert_non_null(r.reason);
    kf_keytab_check_done(&r);
    kf_keyset_free(ks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_withdraw_prune),
        cmocka_unit_test(test_check_set_refuses),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_check_without_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
