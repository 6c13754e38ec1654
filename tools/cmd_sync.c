/* cmd_sync.c - krbfleet sync: bring every web server back to the keys the
 * directory uses (after a killed or failed run). The work is kf_sync(). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "cli.h"
#include "rotate.h"
#include "table.h"

static json_t *
account_json(const struct kf_sync_account *a, const char *domain)
{
    const struct kf_rotate_result *r = a->r;
    json_t *arr = json_array();

    for (size_t i = 0; r && i < r->n_servers; i++) {
        const struct kf_server_result *s = &r->servers[i];
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:b, s:s?, s:s?, s:s?, s:I}", "server",
                      s->server, "pool", s->pool, "site", s->site, "result",
                      kf_server_state_name(s->state), "kvno", kf_cli_int_or_null(s->kvno), "action", s->action, "published", s->published, "login",
                      s->login, "error", s->error, "fix", s->fix, "pruned", (json_int_t)s->pruned));
    }
    return json_pack("{s:s++, s:s, s:s?, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "account",
                     domain, "\\", a->account, "result", a->status == KF_OK ? "ok" : "failed",
                     "dc", r ? r->dc : NULL, "kvno", kf_cli_int_or_null(r ? r->new_kvno : -1),
                     "checked_with", a->principal,
                     "source", a->source, "note", a->note, "error", a->error, "fix", a->fix,
                     "servers", arr);
}

static void
account_table(const struct kf_sync_account *a)
{
    static const char *const hdr[] = {"SERVER", "POOL", "RESULT", "KVNO", "DONE", "DETAIL", NULL};
    const struct kf_rotate_result *r = a->r;
    struct kf_table *t;

    if (a->note != NULL) {
        printf("account %s: %s\n", a->account, a->note);
        return;
    }
    if (r == NULL || r->n_servers == 0) {
        printf("account %s: not synced\n", a->account);
        return;
    }
    if (r->new_kvno > 0 && a->source != NULL)
        printf("account %s: kvno %d on %s; the keys that accept a fresh ticket for %s were "
               "taken from %s\n",
               a->account, r->new_kvno, r->dc, a->principal, a->source);
    else if (r->new_kvno > 0)
        printf("account %s: kvno %d on %s\n", a->account, r->new_kvno, r->dc);
    else
        printf("account %s\n", a->account);
    t = kf_table_new(hdr);
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
            snprintf(detail, sizeof(detail), "%s", s->login ? s->login : "");
        const char *row[] = {s->server, s->pool, kf_server_state_name(s->state), s->kvno >= 0 ? kvno : NULL,
                             s->action, detail};
        kf_table_add(t, row);
    }
    if (t != NULL)
        kf_table_print(t, stdout);
    kf_table_free(t);
}

static int
print_result(struct kf_cli *cli, const struct kf_sync_result *res, kf_status rc)
{
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; res && i < res->n; i++)
            json_array_append_new(arr, account_json(&res->v[i], kf_dir_netbios(cli->dir)));
        return kf_cli_result(
            cli, json_pack("{s:s, s:o}", "result", rc == KF_OK ? "ok" : "failed", "accounts", arr),
            rc);
    }
    for (size_t i = 0; res && i < res->n; i++) {
        if (i > 0)
            putchar('\n');
        account_table(&res->v[i]);
        if (res->v[i].status == KF_OK && res->v[i].note == NULL && res->v[i].r != NULL)
            printf("in sync: every server holds kvno %d, the directory's\n", res->v[i].r->new_kvno);
        else if (res->v[i].status != KF_OK && res->n > 1)
            printf("not in sync: %s\n", res->v[i].error ? res->v[i].error : "failed");
    }
    return rc == KF_OK ? 0 : kf_cli_fail(cli, rc);
}

KF_CMD(kf_cmd_sync)
{
    const char *account = a->account;
    struct kf_rotate_opts o = {0};
    struct kf_sync_result *res = NULL;
    struct kf_account_name an;
    struct passwd *pw = getpwuid(getuid());
    kf_status rc;
    int r;

    if (account != NULL) {
        if (kf_account_name_parse(account, false, &an, &cli->err) != KF_OK)
            return kf_cli_bad_arg(cli);
        o.account = an.name;
    }
    if ((rc = kf_cli_store(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    o.concurrency = cli->cfg->rotation.concurrency;
    o.grace_s = cli->cfg->rotation.grace_s;
    o.agent_port = cli->cfg->agent.port;
    o.timeout_s = (int)cli->cfg->directory.timeout_s;
    o.probe_ca = cli->cfg->probe.ca_file;
    o.user = pw ? pw->pw_name : "unknown";
    o.progress = kf_cli_progress(cli);
    if ((rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    rc = kf_sync(cli->store, cli->dir, &o, &res, &cli->err);
    r = print_result(cli, res, rc);
    kf_sync_result_free(res);
    return r;
}
