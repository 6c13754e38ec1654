/* test_keytab.c - key set operations, validation, the atomic keytab file
 * written here read back by libkrb5 (and libkrb5's read back here), what is
 * refused at the keytab path, and the choice of the host principal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <krb5.h>
#include <time.h>
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

/* libkrb5 writes a keytab (and removes an entry, leaving a hole): our
 * decoder reads the same entries. */
static void
test_decode_libkrb5_file(void **state)
{
    char dir[] = "/tmp/kf-test-keytab.XXXXXX";
    char path[256], name[300];
    krb5_context ctx;
    krb5_keytab kt;
    krb5_keytab_entry e;
    struct kf_keyset *back = NULL;
    struct kf_err err = {0};
    uint8_t key[32];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/k.keytab", dir);
    snprintf(name, sizeof(name), "FILE:%s", path);
    assert_int_equal(krb5_init_context(&ctx), 0);
    assert_int_equal(krb5_kt_resolve(ctx, name, &kt), 0);
    for (int i = 0; i < 3; i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(krb5_parse_name(ctx, i == 1 ? "host/fe01.lab.test@LAB.TEST"
                                                     : "HTTP/web.lab.test@LAB.TEST",
                                         &e.principal),
                         0);
        e.vno = i == 2 ? 300 : 5; /* over 255: the 32-bit field */
        e.timestamp = 1234;
        memset(key, 0x40 + i, sizeof(key));
        e.key.magic = KV5M_KEYBLOCK;
        e.key.enctype = AES256;
        e.key.length = sizeof(key);
        e.key.contents = key;
        assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
        krb5_free_principal(ctx, e.principal);
    }
    /* remove the host entry: libkrb5 leaves a hole (a negative size) */
    assert_int_equal(krb5_parse_name(ctx, "host/fe01.lab.test@LAB.TEST", &e.principal), 0);
    e.vno = 5;
    e.key.enctype = AES256;
    assert_int_equal(krb5_kt_remove_entry(ctx, kt, &e), 0);
    krb5_free_principal(ctx, e.principal);
    krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);

    assert_int_equal(kf_keytab_load(path, &back, &err), KF_OK);
    assert_int_equal(back->n, 2);
    assert_string_equal(back->v[0].principal, "HTTP/web.lab.test@LAB.TEST");
    assert_int_equal(back->v[0].kvno, 5);
    assert_int_equal(back->v[1].kvno, 300);
    assert_int_equal(back->v[1].key_len, 32);
    memset(key, 0x42, sizeof(key));
    assert_memory_equal(back->v[1].key, key, 32);
    kf_keyset_free(back);
    unlink(path);
    rmdir(dir);
}

/* Malformed bytes are refused with the reason, never read past the end. */
static void
test_decode_refuses(void **state)
{
    static const uint8_t not_kt[] = {'h', 'i', 0, 0};
    static const uint8_t old[] = {0x05, 0x01};
    static const uint8_t past_end[] = {0x05, 0x02, 0x00, 0x00, 0x00, 0x40, 0x00, 0x01};
    static const uint8_t short_size[] = {0x05, 0x02, 0x00, 0x00};
    static const uint8_t no_comp[] = {0x05, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00};
    static const uint8_t empty[] = {0x05, 0x02};
    struct kf_keyset *ks = NULL;
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_keytab_decode(not_kt, sizeof(not_kt), &ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not a keytab"));
    assert_int_equal(kf_keytab_decode(old, sizeof(old), &ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "0x0501"));
    assert_int_equal(kf_keytab_decode(past_end, sizeof(past_end), &ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "past the end"));
    assert_int_equal(kf_keytab_decode(short_size, sizeof(short_size), &ks, &err),
                     KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(kf_keytab_decode(no_comp, sizeof(no_comp), &ks, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "name components"));
    assert_null(ks);
    assert_int_equal(kf_keytab_decode(empty, sizeof(empty), &ks, &err), KF_OK);
    assert_int_equal(ks->n, 0);
    kf_keyset_free(ks);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int64_t
ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A link, FIFO or directory at the keytab path: load, save and stat say
 * what is there; nothing is followed, waited on or replaced. */
static void
test_not_regular(void **state)
{
    char dir[] = "/tmp/kf-test-keytab.XXXXXX";
    char path[256], target[256], buf[64];
    struct kf_keyset *ks = kf_keyset_new(), *back = NULL;
    struct kf_keytab_info info;
    struct kf_err err = {0};
    int64_t t0;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/http.keytab", dir);
    snprintf(target, sizeof(target), "%s/secret", dir);
    write_file(target, "host keys");
    add(ks, "HTTP/web.lab.test@LAB.TEST", 2, AES256, 0xa1);

    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "is a symbolic link"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(kf_keytab_save(path, ks, KF_KEYTAB_NO_GROUP, &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "is a symbolic link"));
    f = fopen(target, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "host keys");
    assert_int_equal(kf_keytab_stat(path, &info, &err), KF_OK);
    assert_true(info.exists);
    assert_false(info.regular);
    unlink(path);

    /* a FIFO with no writer: an error at once, not a wait */
    assert_int_equal(mkfifo(path, 0600), 0);
    t0 = ms_now();
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_ERR_IO);
    assert_true(ms_now() - t0 < 500);
    assert_non_null(strstr(err.msg, "is a FIFO"));
    assert_int_equal(kf_keytab_save(path, ks, KF_KEYTAB_NO_GROUP, &err), KF_ERR_IO);
    unlink(path);

    /* a device (root may make one): never opened */
    if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) == 0) {
        assert_int_equal(kf_keytab_load(path, &back, &err), KF_ERR_IO);
        assert_non_null(strstr(err.msg, "is a character device"));
        assert_int_equal(kf_keytab_save(path, ks, KF_KEYTAB_NO_GROUP, &err), KF_ERR_IO);
        unlink(path);
    }

    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "is a directory"));
    rmdir(path);

    /* the directory itself a link: refused too */
    snprintf(path, sizeof(path), "%s/linkdir", dir);
    assert_int_equal(symlink(dir, path), 0);
    snprintf(buf, sizeof(buf), "%s", path);
    snprintf(path, sizeof(path), "%s/http.keytab", buf);
    assert_int_equal(kf_keytab_load(path, &back, &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "is a symbolic link"));
    unlink(buf);
    unlink(target);
    rmdir(dir);
    kf_keyset_free(ks);
}

/* The start-up checks of the keytab's place. */
static void
test_check_place(void **state)
{
    char dir[] = "/tmp/kf-test-keytab.XXXXXX";
    char path[256], host[256], sub[256], other[300];
    struct kf_err err = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/http.keytab", dir);
    snprintf(host, sizeof(host), "%s/host.keytab", dir);
    write_file(host, "x");

    assert_int_equal(kf_keytab_check_place(path, host, geteuid(), &err), KF_OK);

    /* group- or world-writable: refused, naming the directory and chmod */
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(kf_keytab_check_place(path, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "writable by its group"));
    assert_non_null(strstr(err.msg, "chmod go-w"));
    /* sticky does not help the keytab's own directory */
    assert_int_equal(chmod(dir, 01777), 0);
    assert_int_equal(kf_keytab_check_place(path, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "writable by others"));
    /* ... but a root-owned sticky ancestor (like /tmp) is fine */
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(other, sizeof(other), "%s/http.keytab", sub);
    if (geteuid() == 0)
        assert_int_equal(kf_keytab_check_place(other, NULL, 0, &err), KF_OK);
    /* a non-sticky writable ancestor is not */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(kf_keytab_check_place(other, NULL, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "an ancestor"));
    assert_int_equal(chmod(dir, 0700), 0);

    /* owned by someone else */
    if (geteuid() == 0) {
        assert_int_equal(chown(sub, 4321, 0), 0);
        assert_int_equal(kf_keytab_check_place(other, NULL, 0, &err), KF_ERR_CONFIG);
        assert_non_null(strstr(err.msg, "owned by uid 4321"));
        assert_non_null(strstr(err.msg, "chown root"));
    }
    rmdir(sub);

    /* a directory named as the keytab */
    assert_int_equal(kf_keytab_check_place(dir, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "is a directory"));

    /* the host keytab: same path (also spelled differently), same inode */
    assert_int_equal(kf_keytab_check_place(host, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "same path"));
    snprintf(other, sizeof(other), "%s/../%s/host.keytab", dir, strrchr(dir, '/') + 1);
    assert_int_equal(kf_keytab_check_place(other, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "same path"));
    assert_int_equal(link(host, path), 0);
    assert_int_equal(kf_keytab_check_place(path, host, geteuid(), &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "hard link"));
    unlink(path);
    /* a link at the path is refused before anything else */
    assert_int_equal(symlink(host, path), 0);
    assert_int_equal(kf_keytab_check_place(path, host, geteuid(), &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "symbolic link"));
    unlink(path);
    unlink(host);
    rmdir(dir);
}

static void
test_host_principal(void **state)
{
    struct kf_keyset *ks = kf_keyset_new();
    struct kf_err err = {0};
    char *p = NULL;

    (void)state;
    add(ks, "WEB$@LAB.TEST", 2, AES256, 1);
    assert_int_equal(kf_keytab_host_principal(ks, &p, &err), KF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no host/FQDN principal (it holds WEB$@LAB.TEST)"));
    add(ks, "host/fe01.lab.test@LAB.TEST", 2, AES256, 1);
    add(ks, "host/fe01.lab.test@LAB.TEST", 2, AES128, 1); /* same principal again */
    add(ks, "host/a/b@LAB.TEST", 2, AES256, 1);          /* three components */
    assert_int_equal(kf_keytab_host_principal(ks, &p, &err), KF_OK);
    assert_string_equal(p, "host/fe01.lab.test@LAB.TEST");
    free(p);
    add(ks, "host/fe01@LAB.TEST", 2, AES256, 1);
    assert_int_equal(kf_keytab_host_principal(ks, &p, &err), KF_ERR_CONFLICT);
    assert_null(p);
    assert_non_null(strstr(err.msg, "2 host principals (host/fe01.lab.test@LAB.TEST, "
                                    "host/fe01@LAB.TEST)"));
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
        cmocka_unit_test(test_decode_libkrb5_file),
        cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test(test_not_regular),
        cmocka_unit_test(test_check_place),
        cmocka_unit_test(test_host_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
