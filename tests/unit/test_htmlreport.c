/* test_htmlreport.c - the HTML page of a diagnosis: escaped, self-contained,
 * with the server x check matrix and every finding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "diagnose.h"
#include "htmlreport.h"

static struct kf_diag_report *
sample(void)
{
    struct kf_diag_report *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->title = strdup("assignment test --site <evil & \"co\">");
    r->generated = strdup("2026-01-01T00:00:00Z");
    r->facts = calloc(1, sizeof(*r->facts));
    r->facts[0].name = strdup("account");
    r->facts[0].value = strdup("LAB\\kerbauth");
    r->n_facts = 1;
    r->servers = calloc(2, sizeof(char *));
    r->servers[0] = strdup("fe01.example.com");
    r->servers[1] = strdup("fe02.example.com");
    r->n_servers = 2;
    assert_int_equal(
        kf_findings_add(&r->findings, KF_PASS, "server:fe01.example.com", "kvno", NULL, "kvno 5"),
        0);
    assert_int_equal(kf_findings_add(&r->findings, KF_FAIL, "server:fe02.example.com", "kvno",
                                     "krbfleet password set --from fe01.example.com --to "
                                     "fe02.example.com",
                                     "holds <script>alert('x')</script> kvno 4"),
                     0);
    assert_int_equal(kf_findings_add(&r->findings, KF_WARN, "server:fe02.example.com", "kvno", NULL,
                                     "a warning too"),
                     0);
    return r;
}

static void
test_escape(void **state)
{
    char *e = kf_html_escape("<a href=\"x\">Tom & 'Jerry'</a>");

    (void)state;
    assert_string_equal(e, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
    free(e);
    /* nothing raw reaches the reader: controls and bidi overrides too */
    e = kf_html_escape("fe01\x1b[2J<\xe2\x80\xae" "exe.txt");
    assert_string_equal(e, "fe01\\x1b[2J&lt;\\u202eexe.txt");
    free(e);
    e = kf_html_escape("");
    assert_string_equal(e, "");
    free(e);
}

static void
test_worst(void **state)
{
    struct kf_diag_report *r = sample();

    (void)state;
    assert_int_equal(kf_diag_worst(r, "server:fe01.example.com", "kvno"), KF_PASS);
    assert_int_equal(kf_diag_worst(r, "server:fe02.example.com", "kvno"), KF_FAIL);
    assert_int_equal(kf_diag_worst(r, "server:fe02.example.com", "login"), -1);
    assert_int_equal(kf_diag_worst(r, "server:fe02.example.com", NULL), KF_FAIL);
    assert_string_equal(kf_diag_verdict_name(KF_WARN), "WARN");
    kf_diag_report_free(r);
}

static void
test_page(void **state)
{
    struct kf_diag_report *r = sample();
    char *page = kf_html_report(r);

    (void)state;
    assert_non_null(page);
    assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(page, "default-src 'none'"));
    /* every string from outside is escaped */
    assert_null(strstr(page, "<script>"));
    assert_null(strstr(page, "<evil"));
    assert_non_null(strstr(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert_non_null(strstr(page, "--site &lt;evil &amp; &quot;co&quot;&gt;"));
    /* nothing is loaded from anywhere */
    assert_null(strstr(page, "src="));
    assert_null(strstr(page, "href="));
    assert_null(strstr(page, "<link"));
    /* the matrix: no agent finding ("-"), fe02's kvno cell is its worst verdict */
    assert_non_null(strstr(
        page,
        "<tr><th>fe02.example.com</th><td class=\"none\">-</td><td class=\"FAIL\">FAIL</td>"));
    assert_non_null(strstr(page, "<td class=\"none\">-</td>"));
    assert_non_null(strstr(page, "<code>krbfleet password set --from fe01.example.com --to "
                                 "fe02.example.com</code>"));
    assert_non_null(strstr(page, "LAB\\kerbauth"));
    assert_true(page[strlen(page) - 1] == '\n');
    free(page);
    kf_diag_report_free(r);
}

static void
test_write(void **state)
{
    struct kf_diag_report *r = sample();
    struct kf_err err = {0};
    char dir[] = "/tmp/kf-html.XXXXXX", path[64], bad[96];
    FILE *fp;
    char head[16] = "";

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.html", dir);
    assert_int_equal(kf_html_report_write(r, path, &err), KF_OK);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fread(head, 1, 15, fp), 15);
    fclose(fp);
    assert_string_equal(head, "<!DOCTYPE html>");
    snprintf(bad, sizeof(bad), "%s/missing/r.html", dir);
    assert_int_equal(kf_html_report_write(r, bad, &err), KF_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot write the report"));
    unlink(path);
    rmdir(dir);
    kf_diag_report_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_worst),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
