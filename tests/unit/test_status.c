/* test_status.c - the pure parts of lib/status.c: Prometheus label
 * escaping and the exposition text of a result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"

static void
test_label_escape(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(kf_prom_label_escape("LAB\\web", out, sizeof(out)), 8);
    assert_string_equal(out, "LAB\\\\web");
    kf_prom_label_escape("a\"b\nc", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\nc");
    kf_prom_label_escape("plain", out, sizeof(out));
    assert_string_equal(out, "plain");
    /* too small: the length needed is returned, the output terminated */
    assert_int_equal(kf_prom_label_escape("\\\\\\\\", out, 4), 8);
    assert_true(strlen(out) < 4);
}

static void
test_exposition(void **state)
{
    char name[] = "web\"x", run[] = "r1", done[] = "done";
    struct kf_fleet_account a = {.account = name, .kvno = 5, .pwd_last_set = 1000,
                                 .password_age_s = 86400, .next_due = 2000, .count = {3, 1, 0}};
    struct kf_fleet_status r = {.now = 87400, .max_age_s = 1000, .v = &a, .n = 1};
    struct kf_err err = {0};
    char *text = NULL;
    size_t len = 0;

    (void)state;
    a.last.run = run;
    a.last.step = done;
    a.last.when = 1234;
    a.last_ok = false;
    assert_int_equal(kf_fleet_status_prometheus(&r, "LAB", &text, &len, &err), KF_OK);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "# HELP krbfleet_account_password_age_seconds "));
    assert_non_null(strstr(text, "# TYPE krbfleet_account_password_age_seconds gauge\n"));
    assert_non_null(
        strstr(text, "krbfleet_account_password_age_seconds{account=\"LAB\\\\web\\\"x\"} 86400\n"));
    assert_non_null(
        strstr(text, "krbfleet_servers{account=\"LAB\\\\web\\\"x\",state=\"current\"} 3\n"));
    assert_non_null(
        strstr(text, "krbfleet_servers{account=\"LAB\\\\web\\\"x\",state=\"stale\"} 1\n"));
    assert_non_null(
        strstr(text, "krbfleet_servers{account=\"LAB\\\\web\\\"x\",state=\"unreachable\"} 0\n"));
    assert_non_null(strstr(text, "krbfleet_last_rotation_success{account=\"LAB\\\\web\\\"x\"} 0\n"));
    assert_non_null(
        strstr(text, "krbfleet_last_rotation_timestamp_seconds{account=\"LAB\\\\web\\\"x\"} 1234\n"));
    free(text);

    /* never rotated, age unknown: those series are left out, not -1 */
    a.last.run = NULL;
    a.password_age_s = -1;
    assert_int_equal(kf_fleet_status_prometheus(&r, "LAB", &text, &len, &err), KF_OK);
    assert_null(strstr(text, "krbfleet_last_rotation_success{"));
    assert_null(strstr(text, "krbfleet_account_password_age_seconds{"));
    assert_non_null(strstr(text, "# TYPE krbfleet_last_rotation_success gauge\n"));
    free(text);
}

static void
test_healthy(void **state)
{
    struct kf_fleet_account a[2] = {{.count = {4, 0, 0}}, {.count = {2, 0, 1}}};
    struct kf_fleet_status r = {.v = a, .n = 1};

    (void)state;
    assert_true(kf_fleet_status_healthy(&r));
    r.n = 2;
    assert_false(kf_fleet_status_healthy(&r));
    assert_string_equal(kf_server_freshness_name(KF_FRESH_STALE), "stale");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_healthy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
