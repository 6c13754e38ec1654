/* cmd_diagnose.c - assignment test (Test-CsKerberosAccountAssignment) and
 * doctor: the CLI side of lib/diagnose.c and lib/htmlreport.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "names.h"
#include "diagnose.h"
#include "htmlreport.h"
#include "mem.h"
#include "table.h"

KF_DEFINE_CLEANUP(struct kf_diag_report, kf_diag_report_free)

static json_t *
report_json(const struct kf_diag_report *r, bool failed)
{
    json_t *facts = json_object(), *servers = json_array(), *findings = json_array();

    for (size_t i = 0; i < r->n_facts; i++)
        json_object_set_new(facts, r->facts[i].name, json_string(r->facts[i].value));
    for (size_t i = 0; i < r->n_servers; i++) {
        json_t *checks = json_object();
        char object[512];
        int worst;
        snprintf(object, sizeof(object), "server:%s", r->servers[i]);
        for (size_t c = 0; kf_diag_server_checks[c] != NULL; c++) {
            int v = kf_diag_worst(r, object, kf_diag_server_checks[c]);
            json_object_set_new(checks, kf_diag_server_checks[c],
                                v < 0 ? json_null()
                                      : json_string(kf_diag_verdict_name((enum kf_verdict)v)));
        }
        worst = kf_diag_worst(r, object, NULL);
        json_array_append_new(
            servers, json_pack("{s:s, s:s, s:o}", "server", r->servers[i], "result",
                               worst < 0 ? "PASS" : kf_diag_verdict_name((enum kf_verdict)worst),
                               "checks", checks));
    }
    for (size_t i = 0; i < r->findings.n; i++) {
        const struct kf_finding *f = &r->findings.v[i];
        json_array_append_new(findings,
                              json_pack("{s:s, s:s, s:s, s:s, s:s?}", "result",
                                        kf_diag_verdict_name(f->verdict), "object", f->object,
                                        "check", f->check, "detail", f->detail, "fix", f->fix));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "test", r->title, "result",
                     failed ? "fail" : "pass", "generated", r->generated, "facts", facts, "servers",
                     servers, "findings", findings);
}

/* The text form: facts, the server x check matrix, every finding. */
static void
report_text(const struct kf_diag_report *r, bool failed)
{
    static const char *const hdr[] = {"RESULT", "OBJECT", "CHECK", "DETAIL", NULL};
    struct kf_table *t;

    for (size_t i = 0; i < r->n_facts; i++)
        kf_cli_say("%-10s %s", r->facts[i].name, r->facts[i].value);
    printf("\n");
    if (r->n_servers > 0) {
        const char *mh[16] = {"SERVER"};
        size_t nc = 0;
        while (kf_diag_server_checks[nc] != NULL && nc < 14) {
            mh[nc + 1] = kf_diag_server_checks[nc];
            nc++;
        }
        mh[nc + 1] = NULL;
        t = kf_table_new(mh);
        for (size_t i = 0; t && i < r->n_servers; i++) {
            const char *row[16] = {r->servers[i]};
            char object[512];
            snprintf(object, sizeof(object), "server:%s", r->servers[i]);
            for (size_t c = 0; c < nc; c++) {
                int v = kf_diag_worst(r, object, kf_diag_server_checks[c]);
                row[c + 1] = v < 0 ? NULL : kf_diag_verdict_name((enum kf_verdict)v);
            }
            kf_table_add(t, row);
        }
        if (t != NULL)
            kf_table_print(t, stdout);
        kf_table_free(t);
        printf("\n");
    }
    t = kf_table_new(hdr);
    for (size_t i = 0; t && i < r->findings.n; i++) {
        const struct kf_finding *f = &r->findings.v[i];
        char detail[2600];
        snprintf(detail, sizeof(detail), "%s%s%s", f->detail, f->fix ? " -> run: " : "",
                 f->fix ? f->fix : "");
        const char *row[] = {kf_diag_verdict_name(f->verdict), f->object, f->check, detail};
        kf_table_add(t, row);
    }
    if (t != NULL)
        kf_table_print(t, stdout);
    kf_table_free(t);
    kf_cli_say("%s: %s", r->title,
               failed ? "problems found; run each fix above, then test again"
                      : "all checks passed");
}

static void
diag_opts(struct kf_cli *cli, struct kf_diag_opts *o)
{
    o->agent_port = cli->cfg->agent.port;
    o->timeout_s = (int)cli->cfg->directory.timeout_s;
    o->concurrency = cli->cfg->rotation.concurrency;
    o->progress = kf_cli_progress(cli);
    o->probe_ca = cli->cfg->probe.ca_file;
}

KF_CMD(kf_cmd_assignment_test)
{
    _cleanup_(kf_diag_report_freep) struct kf_diag_report *r = NULL;
    const char *site = a->site, *report = a->report;
    struct kf_diag_opts o = {0};
    bool failed;
    kf_status rc;

    if (report != NULL && *report == '\0')
        return kf_cli_usage(cmd, "--report needs a file name");
    kf_cli_object(cli, "site:%s", site);
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    diag_opts(cli, &o);
    if ((rc = kf_assignment_test(cli->store, cli->dir, site, &o, &r, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    failed = kf_findings_failed(&r->findings);
    if (report != NULL && (rc = kf_html_report_write(r, report, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        if (kf_cli_print_json(report_json(r, failed)) != 0)
            return 1;
    } else {
        report_text(r, failed);
        if (report != NULL)
            kf_cli_say("report written to %s", report);
    }
    return failed ? 1 : 0;
}

KF_CMD(kf_cmd_doctor)
{
    _cleanup_(kf_diag_report_freep) struct kf_diag_report *r = NULL;
    const char *address = a->address;
    struct kf_diag_opts o = {0};
    bool login_ok = false;
    kf_status rc;

    kf_cli_object(cli, "url:%s", a->operands[0]);
    if (kf_url_check(a->operands[0], &cli->err) != KF_OK ||
        (address != NULL && kf_address_normalize(address, NULL, 0, &cli->err) != KF_OK))
        return kf_cli_bad_arg(cli);
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    /* Store and directory are optional here: without them, the findings
     * that need them say so. A client machine has no store and must not get
     * one; a store named with --store, $KRBFLEET_STORE or [store] path must
     * exist. */
    if ((rc = kf_cli_store(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (kf_cli_dir(cli) != KF_OK) {
        kf_cli_warn("%s; going on without the directory", cli->err.msg);
        kf_err_clear(&cli->err);
    }
    diag_opts(cli, &o);
    rc = kf_doctor(cli->store, cli->dir, a->operands[0], address, &o, &r, &login_ok, &cli->err);
    if (rc != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        json_t *j = report_json(r, !login_ok || kf_findings_failed(&r->findings));
        json_object_set_new(j, "login", json_boolean(login_ok));
        if (kf_cli_print_json(j) != 0)
            return 1;
    } else {
        report_text(r, !login_ok || kf_findings_failed(&r->findings));
    }
    return login_ok ? 0 : 1;
}
