/* test_agentstate.c - the agent's committed-state record (lib/agentstate.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentstate.h"

static char p1[] = "KERBAUTH$@LAB.TEST", p2[] = "HTTP/web.lab.test@LAB.TEST";
static char s1[] = "fe01.lab.test", s2[] = "fe02.lab.test:7391";
static char *princ[] = {p1, p2};
static char *srvs[] = {s1, s2};

static struct kf_agent_state *
roundtrip(const struct kf_agent_state *s)
{
    struct kf_agent_state *back = NULL;
    struct kf_err err = {0};
    char *text = NULL;

    assert_int_equal(kf_agent_state_encode(s, &text, &err), KF_OK);
    assert_int_equal(kf_agent_state_decode(text, strlen(text), &back, &err), KF_OK);
    free(text);
    return back;
}

static void
test_commit_and_roundtrip(void **unused)
{
    struct kf_agent_state *s = kf_agent_state_new(), *back;
    const struct kf_committed_account *a;
    struct kf_err err = {0};
    (void)unused;

    assert_int_equal(kf_agent_state_commit(s, "KERBAUTH$@LAB.TEST", 4, 1000, 36000, "LAB\\web", princ, 2,
                                           srvs, 2, &err),
                     KF_OK);
    assert_int_equal(kf_agent_state_commit(s, "kerbauth$@LAB.TEST", 5, 2000, 36000, NULL, princ, 1,
                                           NULL, 0, &err),
                     KF_OK);
    assert_int_equal(s->n, 1); /* the same account, whatever the case */
    assert_true(kf_agent_state_is_committed(s, "KERBAUTH$@LAB.TEST", 4));
    assert_true(kf_agent_state_is_committed(s, "KERBAUTH$@LAB.TEST", 5));
    assert_false(kf_agent_state_is_committed(s, "KERBAUTH$@LAB.TEST", 6));
    assert_false(kf_agent_state_is_committed(s, "OTHER$@LAB.TEST", 5));
    back = roundtrip(s);
    a = kf_agent_state_find(back, "KERBAUTH$@LAB.TEST");
    assert_non_null(a);
    assert_int_equal(a->n_commits, 2);
    assert_int_equal(a->commits[0].kvno, 4);
    assert_int_equal(a->commits[0].at, 1000);
    assert_int_equal(a->commits[1].kvno, 5);
    assert_int_equal(a->n_principals, 1); /* the newest COMMIT's list */
    assert_int_equal(a->n_servers, 0);
    assert_int_equal(a->grace_s, 36000);
    assert_string_equal(a->members_group, ""); /* the newest COMMIT named none */
    kf_agent_state_free(back);
    kf_agent_state_free(s);
}

static void
test_commit_again_keeps_time_forgets_above(void **unused)
{
    struct kf_agent_state *s = kf_agent_state_new();
    const struct kf_committed_account *a;
    struct kf_err err = {0};
    (void)unused;

    kf_agent_state_commit(s, "A$@R", 3, 100, 10, NULL, princ, 1, NULL, 0, &err);
    kf_agent_state_commit(s, "A$@R", 5, 200, 10, NULL, princ, 1, NULL, 0, &err);
    assert_int_equal(kf_agent_state_commit(s, "A$@R", 3, 300, 10, NULL, princ, 1, NULL, 0, &err),
                     KF_OK);
    a = kf_agent_state_find(s, "A$@R");
    assert_int_equal(a->n_commits, 1); /* 5 is forgotten: the directory says 3 */
    assert_int_equal(a->commits[0].at, 100);
    for (uint32_t k = 10; k < 40; k++)
        assert_int_equal(kf_agent_state_commit(s, "A$@R", k, k, 10, NULL, princ, 1, NULL, 0, &err),
                         KF_OK);
    a = kf_agent_state_find(s, "A$@R");
    assert_int_equal(a->n_commits, KF_AGENTSTATE_COMMITS_MAX);
    assert_int_equal(a->commits[a->n_commits - 1].kvno, 39);
    kf_agent_state_free(s);
}

static void
test_fetchable_by_grace(void **unused)
{
    struct kf_agent_state *s = kf_agent_state_new();
    uint32_t k[KF_AGENTSTATE_COMMITS_MAX];
    struct kf_err err = {0};
    (void)unused;

    assert_int_equal(kf_agent_state_fetchable(NULL, 0, k), 0);
    kf_agent_state_commit(s, "A$@R", 3, 1000, 100, NULL, princ, 1, NULL, 0, &err);
    kf_agent_state_commit(s, "A$@R", 4, 2000, 100, NULL, princ, 1, NULL, 0, &err);
    kf_agent_state_commit(s, "A$@R", 5, 2050, 100, NULL, princ, 1, NULL, 0, &err);
    /* at 2060: 4's successor 5 is 10 s old (keep 4); 3's successor 4 is 60 s old (keep 3) */
    assert_int_equal(kf_agent_state_fetchable(kf_agent_state_find(s, "A$@R"), 2060, k), 3);
    assert_int_equal(k[0], 5);
    assert_int_equal(k[1], 4);
    assert_int_equal(k[2], 3);
    /* at 2120: 3's successor is 120 s old: gone; 4 stays */
    assert_int_equal(kf_agent_state_fetchable(kf_agent_state_find(s, "A$@R"), 2120, k), 2);
    /* at 2200: only the newest */
    assert_int_equal(kf_agent_state_fetchable(kf_agent_state_find(s, "A$@R"), 2200, k), 1);
    assert_int_equal(k[0], 5);
    kf_agent_state_free(s);
}

static void
test_commit_refusals_leave_state(void **unused)
{
    struct kf_agent_state *s = kf_agent_state_new();
    char d1[] = "X@R", d2[] = "x@R", c1[] = "X\n@R";
    char *dup[] = {d1, d2};
    char *ctl[] = {c1};
    struct kf_err err = {0};
    (void)unused;

    assert_int_equal(kf_agent_state_commit(s, "A$@R", 0, 1, 1, NULL, princ, 1, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_agent_state_commit(s, "A$@R", 1, 1, 1, NULL, princ, 0, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_agent_state_commit(s, "A$@R", 1, 1, 1, NULL, dup, 2, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(kf_agent_state_commit(s, "A$@R", 1, 1, 1, NULL, ctl, 1, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_agent_state_commit(s, "", 1, 1, 1, NULL, princ, 1, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_agent_state_commit(s, "A$@R", 1, 1, KF_AGENTSTATE_GRACE_MAX + 1, NULL, princ,
                                           1, NULL, 0, &err),
                     KF_ERR_INVALID);
    assert_int_equal(s->n, 0);
    kf_agent_state_free(s);
}

static void
test_decode_refusals(void **unused)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"format\": 2, \"accounts\": []}",
        "{\"format\": 1}",
        "{\"format\": 1, \"accounts\": [], \"x\": 1}",
        "{\"format\": 1, \"format\": 1, \"accounts\": []}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": 1, \"members_group\": \"\", \"principals\": "
        "[\"P\"], \"servers\": [], \"committed\": []}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": -1, \"members_group\": \"\", \"principals\": "
        "[\"P\"], \"servers\": [], \"committed\": [{\"kvno\": 1, \"at\": 0}]}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": 1, \"members_group\": \"\", \"principals\": "
        "[\"P\"], \"servers\": [], \"committed\": [{\"kvno\": 2, \"at\": 0}, {\"kvno\": 1, "
        "\"at\": 0}]}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": 1, \"members_group\": \"\", \"principals\": "
        "[\"P\", \"p\"], \"servers\": [], \"committed\": [{\"kvno\": 1, \"at\": 0}]}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\\u0000\", \"grace\": 1, "
        "\"members_group\": \"\", \"principals\": [\"P\"], \"servers\": [], \"committed\": [{\"kvno\": 1, \"at\": 0}]}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": 1, \"members_group\": \"\", \"principals\": "
        "[\"P\"], \"servers\": [], \"committed\": [{\"kvno\": 1, \"at\": 0}]}, {\"account\": "
        "\"a\", \"grace\": 1, \"members_group\": \"\", \"principals\": [\"P\"], \"servers\": [], \"committed\": "
        "[{\"kvno\": 1, \"at\": 0}]}]}",
        "{\"format\": 1, \"accounts\": [{\"account\": \"A\", \"grace\": 1, \"members_group\": "
        "\"LAB\\\\web\\n\", \"principals\": [\"P\"], \"servers\": [], \"committed\": [{\"kvno\": 1, "
        "\"at\": 0}]}]}",
    };
    (void)unused;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kf_agent_state *s = (void *)1;
        struct kf_err err = {0};
        if (kf_agent_state_decode(bad[i], strlen(bad[i]), &s, &err) != KF_ERR_INVALID)
            fail_msg("accepted: %s", bad[i]);
        assert_null(s);
        assert_true(err.msg[0] != '\0');
    }
}

static void
test_file(void **unused)
{
    char dir[] = "/tmp/kf-state-XXXXXX", *path = NULL, link[300];
    struct kf_agent_state *s = kf_agent_state_new(), *back = NULL;
    struct kf_err err = {0};
    struct stat sb;
    (void)unused;

    assert_non_null(mkdtemp(dir));
    snprintf(link, sizeof(link), "%s/http.keytab", dir);
    assert_int_equal(kf_agent_state_path(link, &path, &err), KF_OK);
    assert_string_equal(strrchr(path, '/'), "/http.keytab.committed");
    /* missing: empty */
    assert_int_equal(kf_agent_state_load(path, &back, &err), KF_OK);
    assert_int_equal(back->n, 0);
    kf_agent_state_free(back);
    kf_agent_state_commit(s, "A$@R", 7, 5, 10, NULL, princ, 2, srvs, 2, &err);
    assert_int_equal(kf_agent_state_save(path, s, &err), KF_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(kf_agent_state_load(path, &back, &err), KF_OK);
    assert_true(kf_agent_state_is_committed(back, "A$@R", 7));
    kf_agent_state_free(back);
    /* a link there is not followed */
    unlink(path);
    snprintf(link, sizeof(link), "%s/elsewhere", dir);
    assert_int_equal(symlink(link, path), 0);
    assert_int_equal(kf_agent_state_load(path, &back, &err), KF_ERR_IO);
    assert_null(back);
    unlink(path);
    rmdir(dir);
    free(path);
    kf_agent_state_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_roundtrip),
        cmocka_unit_test(test_commit_again_keeps_time_forgets_above),
        cmocka_unit_test(test_fetchable_by_grace),
        cmocka_unit_test(test_commit_refusals_leave_state),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
