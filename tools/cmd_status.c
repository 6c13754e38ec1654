/* cmd_status.c - krbfleet status: how every managed account and its web
 * servers stand, as a table, JSON or Prometheus metrics. The work is
 * kf_fleet_status_collect() (lib/status.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fileout.h"
#include "status.h"
#include "table.h"

/* Unix time T as "2026-12-07T14:30:00Z" in BUF; "" when T < 0. */
static const char *
utc(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    buf[0] = '\0';
    if (t >= 0 && gmtime_r(&tt, &tm) != NULL)
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static json_t *
time_or_null(int64_t t)
{
    char buf[32];

    return t >= 0 ? json_string(utc(t, buf)) : json_null();
}

static json_t *
account_json(const struct kf_fleet_account *a, const char *domain)
{
    json_t *servers = json_array(), *last = json_null();

    for (size_t i = 0; i < a->n_servers; i++) {
        const struct kf_fleet_server *s = &a->servers[i];
        json_array_append_new(servers,
                              json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s?}", "server",
                                        s->server, "pool", s->pool, "site", s->site, "state",
                                        kf_server_freshness_name(s->state), "kvno",
                                        kf_cli_int_or_null(s->kvno), "committed_kvno",
                                        kf_cli_int_or_null(s->committed), "error", s->error));
    }
    if (a->last.run != NULL) {
        json_decref(last);
        last = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "run", a->last.run, "time", a->last.time,
                         "result", a->last_ok ? "ok" : "failed", "step", a->last.step, "detail",
                         a->last.detail);
    }
    return json_pack("{s:s++, s:o, s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:o, s:o}", "account",
                     domain, "\\", a->account, "kvno", kf_cli_int_or_null(a->kvno),
                     "password_last_set", time_or_null(a->pwd_last_set), "password_age",
                     kf_cli_int_or_null(a->password_age_s), "rotation_due",
                     time_or_null(a->next_due), "due", a->due, "servers_current",
                     (json_int_t)a->count[KF_FRESH_CURRENT], "servers_stale",
                     (json_int_t)a->count[KF_FRESH_STALE], "servers_unreachable",
                     (json_int_t)a->count[KF_FRESH_UNREACHABLE], "servers", servers,
                     "last_rotation", last);
}

static void
account_text(const struct kf_fleet_account *a, const char *domain, long long max_age_s)
{
    static const char *const hdr[] = {"SERVER", "POOL", "SITE", "STATE", "KVNO", "COMMITTED",
                                      "DETAIL", NULL};
    char t1[32], t2[32], t3[32], t4[32];
    struct kf_table *t;

    printf("account %s\\%s: kvno %d", domain, a->account, a->kvno);
    if (a->password_age_s >= 0)
        printf(", password %s old (set %s); rotation %s %s (max_age %s)\n",
               kf_cli_age(a->password_age_s, t1), utc(a->pwd_last_set, t2),
               a->due ? "was due" : "due", utc(a->next_due, t3), kf_cli_age(max_age_s, t4));
    else
        printf(", password age unknown (pwdLastSet not readable)\n");
    if (a->last.run != NULL)
        printf("last rotation: %s %s (run %s, %s%s%s)\n", a->last.time,
               a->last_ok ? "ok" : "FAILED", a->last.run,
               strcmp(a->last.step, "done") == 0 ? "" : "stopped after step ",
               strcmp(a->last.step, "done") == 0 ? "" : a->last.step,
               a->last.detail != NULL && strcmp(a->last.step, "done") == 0 ? a->last.detail : "");
    else
        printf("last rotation: never (no `password set` run in the journal)\n");
    t = kf_table_new(hdr);
    for (size_t i = 0; t != NULL && i < a->n_servers; i++) {
        const struct kf_fleet_server *s = &a->servers[i];
        char kvno[16], committed[16], detail[600] = "";
        snprintf(kvno, sizeof(kvno), "%d", s->kvno);
        snprintf(committed, sizeof(committed), "%d", s->committed);
        if (s->error != NULL)
            snprintf(detail, sizeof(detail), "%s", s->error);
        else if (s->state == KF_FRESH_STALE)
            snprintf(detail, sizeof(detail), "the directory has kvno %d -> run: krbfleet sync "
                     "--account %s", a->kvno, a->account);
        const char *row[] = {s->server, s->pool, s->site, kf_server_freshness_name(s->state),
                             s->kvno >= 0 ? kvno : NULL, s->committed >= 0 ? committed : NULL,
                             detail};
        kf_table_add(t, row);
    }
    if (t != NULL && kf_table_rows(t) > 0)
        kf_table_print(t, stdout);
    kf_table_free(t);
    printf("servers: %zu current, %zu stale, %zu unreachable\n", a->count[KF_FRESH_CURRENT],
           a->count[KF_FRESH_STALE], a->count[KF_FRESH_UNREACHABLE]);
}

kf_status
kf_cli_metrics_write(struct kf_cli *cli, const struct kf_fleet_status *res, const char *file)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    kf_status rc;

    if ((rc = kf_fleet_status_prometheus(res, kf_dir_netbios(cli->dir), &text, &len, &cli->err)) !=
        KF_OK)
        return rc;
    kf_cli_object(cli, "file:%s", file);
    return kf_file_replace(file, text, len, 0644, "the metrics file", &cli->err);
}

KF_CMD(kf_cmd_status)
{
    struct kf_fleet_status_opts o = {0};
    _cleanup_(kf_fleet_status_freep) struct kf_fleet_status *res = NULL;
    const char *file = a->prometheus_file, *domain;
    bool prometheus = a->prometheus, healthy;
    kf_status rc;

    o.account = a->account;
    if (prometheus && cli->json)
        return kf_cli_usage(cmd, "--prometheus and --json are two output formats; choose one");
    if (file != NULL && file[0] != '/')
        return kf_cli_usage(cmd, "--prometheus-file needs an absolute path, not \"%s\"", file);
    if ((rc = kf_cli_store(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (file == NULL)
        file = cli->cfg->status.prometheus_file;
    o.agent_port = cli->cfg->agent.port;
    o.timeout_s = (int)cli->cfg->directory.timeout_s;
    o.concurrency = cli->cfg->rotation.concurrency;
    o.max_age_s = cli->cfg->rotation.max_age_s;
    o.progress = kf_cli_progress(cli);
    if (o.account != NULL)
        kf_cli_object(cli, "account:%s", o.account);
    if ((rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((rc = kf_fleet_status_collect(cli->store, cli->dir, &o, &res, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    domain = kf_dir_netbios(cli->dir);
    healthy = kf_fleet_status_healthy(res);
    if (file != NULL && (rc = kf_cli_metrics_write(cli, res, file)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (prometheus && file == NULL) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        if ((rc = kf_fleet_status_prometheus(res, domain, &text, &len, &cli->err)) != KF_OK)
            return kf_cli_fail(cli, rc);
        fwrite(text, 1, len, stdout);
        return healthy ? 0 : 1;
    }
    if (prometheus)
        return healthy ? 0 : 1; /* written to the file instead of stdout */
    if (cli->json) {
        json_t *arr = json_array();
        char now[32];
        for (size_t i = 0; i < res->n; i++)
            json_array_append_new(arr, account_json(&res->v[i], domain));
        kf_cli_print_json(json_pack("{s:s, s:s, s:I, s:o}", "result", healthy ? "ok" : "fail",
                                    "generated", utc(res->now, now), "max_age",
                                    (json_int_t)res->max_age_s, "accounts", arr));
        return healthy ? 0 : 1;
    }
    if (res->n == 0)
        printf("no managed accounts; add one with `krbfleet account new` or `account adopt`\n");
    for (size_t i = 0; i < res->n; i++) {
        if (i > 0)
            putchar('\n');
        account_text(&res->v[i], domain, res->max_age_s);
    }
    return healthy ? 0 : 1;
}
