/* cmd_password.c - password set (both modes of Set-CsKerberosAccountPassword). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "cli.h"
#include "mem.h"
#include "names.h"
#include "rotate.h"
#include "status.h"
#include "table.h"

json_t *
kf_cli_rotation_json(const struct kf_rotate_result *r, bool dry_run, kf_status rc)
{
    json_t *arr = json_array();

    for (size_t i = 0; r && i < r->n_servers; i++) {
        const struct kf_server_result *s = &r->servers[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s?, s:s?, s:s?, s:s?, s:I}",
                           "server", s->server, "pool", s->pool, "site", s->site, "result",
                           kf_server_state_name(s->state), "kvno", kf_cli_int_or_null(s->kvno),
                           "published", s->published, "action", s->action, "login", s->login,
                           "error", s->error, "fix", s->fix, "pruned", (json_int_t)s->pruned));
    }
    return json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:o, s:b, s:s?, s:o}", "result",
                     rc == KF_OK ? "ok" : "failed", "dry_run", dry_run, "run",
                     r ? r->run_id : NULL, "dc", r ? r->dc : NULL, "old_kvno",
                     kf_cli_int_or_null(r ? r->old_kvno : -1), "new_kvno",
                     kf_cli_int_or_null(r ? r->new_kvno : -1), "directory_changed",
                     r ? r->directory_changed : false, "summary", r ? r->summary : NULL,
                     "servers", arr);
}

void
kf_cli_rotation_print(const struct kf_rotate_result *r, bool dry_run, kf_status rc)
{
    static const char *const hdr[] = {"SERVER", "POOL", "RESULT", "KVNO", "DETAIL", NULL};

    if (r == NULL || r->n_servers == 0)
        return;
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

static int
print_result(struct kf_cli *cli, const struct kf_rotate_result *r, bool dry_run, kf_status rc)
{
    if (cli->json)
        return kf_cli_result(cli, kf_cli_rotation_json(r, dry_run, rc), rc);
    kf_cli_rotation_print(r, dry_run, rc);
    return rc == KF_OK ? 0 : kf_cli_fail(cli, rc);
}


/* One unattended account: rotate it when its password is older than
 * MAX_AGE_S, else sync it when a server is not at the directory's kvno.
 * Prints one line saying what and why. Returns false when a server of it
 * ended unhealthy (a lock held elsewhere is a skip, not a failure). */
static bool
unattended_account(struct kf_cli *cli, const struct kf_fleet_account *a, long long max_age_s,
                   struct kf_rotate_opts o)
{
    char t1[32], t2[32], line[KF_ERR_MSG_MAX + 256];
    struct kf_err err = {0};
    unsigned retired = 0;
    kf_status rc;
    bool ok = true;

    o.account = a->account;
    if (a->pwd_last_set < 0) {
        printf("account %s: not rotated: its password age is unknown (pwdLastSet not "
               "readable)\n",
               a->account);
        return false;
    }
    if (a->password_age_s >= max_age_s) {
        struct kf_rotate_result *res = NULL;
        printf("account %s: rotating: password %s old, older than %s\n", a->account,
               kf_cli_age(a->password_age_s, t1), kf_cli_age(max_age_s, t2));
        fflush(stdout);
        rc = kf_rotate(cli->store, cli->dir, &o, &res, &err);
        if (res != NULL && res->locked_elsewhere) {
            printf("account %s: skipped: %s\n", a->account, err.msg);
            snprintf(line, sizeof(line), "password set --all: skipped: %s", err.msg);
            kf_store_audit(cli->store, "password", line, NULL);
        } else {
            print_result(cli, res, false, KF_OK);
            if (rc != KF_OK) {
                printf("account %s: rotation failed: %s\n", a->account, err.msg);
                ok = false;
            }
        }
        kf_rotate_result_free(res);
        kf_err_clear(&err);
        return ok;
    }
    snprintf(line, sizeof(line), "account %s: not rotated: password %s old, younger than %s",
             a->account, kf_cli_age(a->password_age_s, t1), kf_cli_age(max_age_s, t2));
    printf("%s\n", line);
    kf_store_audit(cli->store, "password", line, NULL);
    /* keys of types `account set --enctypes` removed longer than grace ago */
    if (kf_store_enctypes_retired(cli->store, a->account, (int64_t)time(NULL) - o.grace_s,
                                  &retired, NULL) != KF_OK)
        retired = 0;
    if (a->count[KF_FRESH_STALE] + a->count[KF_FRESH_UNREACHABLE] > 0 || retired != 0) {
        struct kf_sync_result *sr = NULL;
        kf_enctypes_format(retired, t1, sizeof(t1));
        if (a->count[KF_FRESH_STALE] + a->count[KF_FRESH_UNREACHABLE] > 0)
            printf("account %s: syncing: %zu of %zu servers not at kvno %d\n", a->account,
                   a->count[KF_FRESH_STALE] + a->count[KF_FRESH_UNREACHABLE], a->n_servers,
                   a->kvno);
        else
            printf("account %s: syncing: the keys of %s (removed from the account longer than "
                   "grace ago) are to be pruned\n",
                   a->account, t1);
        fflush(stdout);
        rc = kf_sync(cli->store, cli->dir, &o, &sr, &err);
        for (size_t i = 0; sr != NULL && i < sr->n; i++) {
            const struct kf_sync_account *x = &sr->v[i];
            if (x->r != NULL && x->r->locked_elsewhere) {
                printf("account %s: skipped: %s\n", a->account, x->error ? x->error : err.msg);
                continue;
            }
            print_result(cli, x->r, false, KF_OK);
            if (x->status == KF_OK)
                printf("account %s: in sync: every server holds kvno %d\n", a->account,
                       x->r ? x->r->new_kvno : a->kvno);
            else {
                printf("account %s: not in sync: %s\n", a->account,
                       x->error ? x->error : err.msg);
                ok = false;
            }
        }
        if (sr == NULL && rc != KF_OK) {
            printf("account %s: not in sync: %s\n", a->account, err.msg);
            ok = false;
        }
        kf_sync_result_free(sr);
        kf_err_clear(&err);
    }
    return ok;
}

/* After an unattended run, with [status] prometheus_file set: the metrics
 * as they are now (the new kvnos, this run's results), read afresh. */
static kf_status
write_metrics(struct kf_cli *cli, const struct kf_fleet_status_opts *so)
{
    _cleanup_(kf_fleet_status_freep) struct kf_fleet_status *now = NULL;
    struct kf_fleet_status_opts o = *so;
    const char *file = cli->cfg->status.prometheus_file;
    kf_status rc;

    if (file == NULL)
        return KF_OK;
    o.max_age_s = cli->cfg->rotation.max_age_s; /* "due" as `status` reports it */
    if ((rc = kf_fleet_status_collect(cli->store, cli->dir, &o, &now, &cli->err)) != KF_OK ||
        (rc = kf_cli_metrics_write(cli, now, file)) != KF_OK)
        return kf_err_prefix(&cli->err, "the run is over, but its metrics were not written");
    printf("metrics written to %s\n", file);
    return KF_OK;
}

/* password set --all [--if-older-than AGE]: every managed account, as the
 * timer runs it. */
/* Servers in flight, within the open-file limit: each holds its agent's
 * connection and a login's; krbfleet raised its soft limit to the hard one
 * at start, and says so when that still bounds the concurrency. */
int
kf_cli_fd_bound(int want)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    room = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 2 : 32;
    if ((rlim_t)want <= room)
        return want;
    kf_cli_warn("open files are limited to %llu (ulimit -Hn): at most %llu servers in flight "
                "instead of %d; raise the hard limit (LimitNOFILE=, limits.conf) for more",
                (unsigned long long)rl.rlim_cur, (unsigned long long)room, want);
    return (int)room;
}

static int
unattended(struct kf_cli *cli, const char *account, long long max_age_s,
           const struct kf_rotate_opts *o)
{
    struct kf_fleet_status_opts so = {
        .account = account,
        .agent_port = o->agent_port,
        .timeout_s = o->timeout_s,
        .concurrency = o->concurrency,
        .max_age_s = max_age_s,
        .progress = o->progress,
    };
    _cleanup_(kf_fleet_status_freep) struct kf_fleet_status *st = NULL;
    size_t bad = 0;
    kf_status rc;

    if ((rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((rc = kf_fleet_status_collect(cli->store, cli->dir, &so, &st, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (st->n == 0)
        printf("krbfleet manages no account yet; nothing to rotate\n");
    for (size_t i = 0; i < st->n; i++)
        if (!unattended_account(cli, &st->v[i], max_age_s, *o))
            bad++;
    if ((rc = write_metrics(cli, &so)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (bad == 0)
        return 0;
    return kf_cli_fail(cli, kf_err_set(&cli->err, KF_ERR_AGENT,
                                       "%zu of %zu accounts did not end with every web server "
                                       "healthy; the lines above say which and why",
                                       bad, st->n));
}

KF_CMD(kf_cmd_password_set)
{
    const char *account = a->account, *from = a->from, *to = a->to, *conc = a->concurrency;
    const char *older = a->if_older_than;
    bool all = a->all;
    long long max_age = 0;
    struct kf_rotate_opts o = {0};
    struct kf_rotate_result *res = NULL;
    struct kf_account_name an;
    char fromb[KF_FQDN_MAX + 1], tob[KF_FQDN_MAX + 1];
    struct passwd *pw = getpwuid(getuid());
    long long v;
    kf_status rc;
    int r;

    o.force = a->force;
    o.dry_run = a->dry_run;
    if (all && (account != NULL || from != NULL || to != NULL))
        return kf_cli_usage(cmd, "--all rotates every managed account; it goes without "
                                 "--account, --from and --to");
    if (older != NULL && !all)
        return kf_cli_usage(cmd, "--if-older-than goes with --all");
    if (all && (o.dry_run || cli->json))
        return kf_cli_usage(cmd, "--all does not take --dry-run or --json (see `krbfleet "
                                 "status` for what is due)");
    if (older != NULL &&
        (kf_duration_parse(older, &max_age, &cli->err) != KF_OK || max_age < 1))
        return kf_cli_usage(cmd, "--if-older-than needs a duration of at least 1s such as "
                                 "30d, 12h or 90s, not \"%s\"",
                            older);
    if ((from == NULL) != (to == NULL))
        return kf_cli_usage(cmd, "--from and --to go together");
    if (from != NULL && account != NULL)
        return kf_cli_usage(cmd, "use either --account or --from/--to");
    if (from == NULL && account == NULL && !all)
        return kf_cli_usage(cmd, "--account (or --from and --to) is required");
    if (from != NULL && (o.force || conc))
        return kf_cli_usage(cmd, "--force and --concurrency go with --account");
    if (conc != NULL && (kf_uint_parse(conc, 4096, &v) != KF_OK || v < 1))
        return kf_cli_usage(cmd, "--concurrency must be a number from 1 to 4096");
    if ((rc = kf_cli_store(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    o.concurrency = kf_cli_fd_bound(conc ? (int)v : cli->cfg->rotation.concurrency);
    o.grace_s = cli->cfg->rotation.grace_s;
    o.agent_port = cli->cfg->agent.port;
    o.timeout_s = (int)cli->cfg->directory.timeout_s;
    o.probe_ca = cli->cfg->probe.ca_file;
    o.user = pw ? pw->pw_name : "unknown";
    o.progress = kf_cli_progress(cli);
    if (all)
        return unattended(cli, NULL, older ? max_age : cli->cfg->rotation.max_age_s, &o);
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
