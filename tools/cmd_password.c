/* cmd_password.c - password set (both modes of Set-CsKerberosAccountPassword). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "cli.h"
#include "mem.h"
#include "names.h"
#include "rotate.h"
#include "table.h"

static int
print_result(struct kf_cli *cli, const struct kf_rotate_result *r, bool dry_run, kf_status rc)
{
    static const char *const hdr[] = {"SERVER", "POOL", "RESULT", "KVNO", "DETAIL", NULL};

    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; r && i < r->n_servers; i++) {
            const struct kf_server_result *s = &r->servers[i];
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s?, s:s?, s:s?, s:s?, s:I}",
                               "server", s->server, "pool", s->pool, "site", s->site, "result",
                               kf_server_state_name(s->state), "kvno",
                               kf_cli_int_or_null(s->kvno), "published", s->published, "action",
                               s->action, "login", s->login, "error", s->error, "fix", s->fix,
                               "pruned", (json_int_t)s->pruned));
        }
        return kf_cli_result(
            cli,
            json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:o, s:b, s:s?, s:o}", "result",
                      rc == KF_OK ? "ok" : "failed", "dry_run", dry_run, "run",
                      r ? r->run_id : NULL, "dc", r ? r->dc : NULL, "old_kvno",
                      kf_cli_int_or_null(r ? r->old_kvno : -1), "new_kvno",
                      kf_cli_int_or_null(r ? r->new_kvno : -1), "directory_changed",
                      r ? r->directory_changed : false, "summary", r ? r->summary : NULL,
                      "servers", arr),
            rc);
    }
    if (r != NULL && r->n_servers > 0) {
        struct kf_table *t = kf_table_new(hdr);
        for (size_t i = 0; t && i < r->n_servers; i++) {
            const struct kf_server_result *s = &r->servers[i];
            char kvno[16], detail[2048];
            snprintf(kvno, sizeof(kvno), "%d", s->kvno);
            if (s->error != NULL)
                snprintf(detail, sizeof(detail), "%s%s%s", s->error, s->fix ? " -> run: " : "",
                         s->fix ? s->fix : "");
            else if (s->state == KF_SERVER_NOT_STARTED)
                snprintf(detail, sizeof(detail), "not started: the run stopped before it");
            else
                snprintf(detail, sizeof(detail), "%s%s%s", s->action ? s->action : "",
                         s->action && s->login ? "; " : "", s->login ? s->login : "");
            const char *row[] = {s->server, s->pool, kf_server_state_name(s->state),
                                 s->kvno >= 0 ? kvno : NULL, detail};
            kf_table_add(t, row);
        }
        if (t != NULL)
            kf_table_print(t, stdout);
        kf_table_free(t);
        if (r->summary != NULL)
            printf("%s\n", r->summary);
        else if (dry_run && rc == KF_OK)
            printf("dry run: kvno %d would become %d on %s; nothing was changed\n", r->old_kvno,
                   r->new_kvno, r->dc);
        else if (dry_run)
            printf("dry run: nothing was changed\n");
        else if (r->directory_changed && r->new_kvno < 0)
            printf("kvno %d -> ?, the password was changed on %s but its kvno not read back\n",
                   r->old_kvno, r->dc);
        else if (r->directory_changed)
            printf("kvno %d -> %d, committed on %s\n", r->old_kvno, r->new_kvno, r->dc);
    }
    return rc == KF_OK ? 0 : kf_cli_fail(cli, rc);
}

KF_CMD(kf_cmd_password_set)
{
    static const struct option opts[] = {
        {"account", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"force", no_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *account = NULL, *from = NULL, *to = NULL, *conc = NULL;
    struct kf_rotate_opts o = {0};
    struct kf_rotate_result *res = NULL;
    struct kf_account_name an;
    char fromb[KF_FQDN_MAX + 1], tob[KF_FQDN_MAX + 1];
    struct passwd *pw = getpwuid(getuid());
    long long v;
    kf_status rc;
    int c, r;

    while ((c = kf_cli_getopt(cmd, argc, argv, "", opts)) != -1) {
        if (c == '?' || c == 'h')
            return c == 'h' ? 0 : 2;
        if (c == 'a')
            account = optarg;
        else if (c == 'F')
            from = optarg;
        else if (c == 'T')
            to = optarg;
        else if (c == 'f')
            o.force = true;
        else if (c == 'n')
            o.dry_run = true;
        else if (c == 'c')
            conc = optarg;
    }
    if (optind < argc)
        return kf_cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
    if ((from == NULL) != (to == NULL))
        return kf_cli_usage(cmd, "--from and --to go together");
    if (from != NULL && account != NULL)
        return kf_cli_usage(cmd, "use either --account or --from/--to");
    if (from == NULL && account == NULL)
        return kf_cli_usage(cmd, "--account (or --from and --to) is required");
    if (from != NULL && (o.force || conc))
        return kf_cli_usage(cmd, "--force and --concurrency go with --account");
    if (conc != NULL && (kf_uint_parse(conc, 4096, &v) != KF_OK || v < 1))
        return kf_cli_usage(cmd, "--concurrency must be a number from 1 to 4096");
    if ((rc = kf_cli_store(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    o.concurrency = conc ? (int)v : cli->cfg->rotation.concurrency;
    o.grace_s = cli->cfg->rotation.grace_s;
    o.agent_port = cli->cfg->agent.port;
    o.timeout_s = (int)cli->cfg->directory.timeout_s;
    o.probe_ca = cli->cfg->probe.ca_file;
    o.user = pw ? pw->pw_name : "unknown";
    o.progress = kf_cli_progress(cli);
    if (from != NULL) {
        if (kf_fqdn_normalize(from, fromb, sizeof(fromb), &cli->err) != KF_OK ||
            kf_fqdn_normalize(to, tob, sizeof(tob), &cli->err) != KF_OK)
            return kf_cli_bad_arg(cli);
        if ((rc = kf_cli_dir(cli)) != KF_OK)
            return kf_cli_fail(cli, rc);
        rc = kf_rotate_copy(cli->store, cli->dir, fromb, tob, &o, &res, &cli->err);
    } else {
        if (kf_account_name_parse(account, false, &an, &cli->err) != KF_OK)
            return kf_cli_bad_arg(cli);
        o.account = an.name;
        if ((rc = kf_cli_dir(cli)) != KF_OK)
            return kf_cli_fail(cli, rc);
        rc = kf_rotate(cli->store, cli->dir, &o, &res, &cli->err);
    }
    r = print_result(cli, res, o.dry_run, rc);
    kf_rotate_result_free(res);
    return r;
}
