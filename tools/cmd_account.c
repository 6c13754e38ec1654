/* cmd_account.c - account, assignment, spn list, topology enable/test. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <pwd.h>
#include <unistd.h>

#include "account.h"
#include "acctset.h"
#include "cli.h"
#include "deploy.h"
#include "eligibility.h"
#include "enable.h"
#include "mem.h"
#include "names.h"
#include "permission.h"
#include "table.h"

KF_DEFINE_CLEANUP(struct kf_table, kf_table_free)
KF_DEFINE_CLEANUP(struct kf_account, kf_account_free)
KF_DEFINE_CLEANUP(struct kf_dir_account, kf_dir_account_free)

static int
fail_rollback(struct kf_cli *cli, kf_status rc)
{
    if (cli->store != NULL)
        kf_store_rollback(cli->store);
    return kf_cli_fail(cli, rc);
}

/* Resolve an account argument (name, name$ or DOMAIN\name) to its short
 * name, checking the domain against the store's. */
static kf_status
account_arg(struct kf_cli *cli, const char *arg, struct kf_account **out)
{
    struct kf_account_name an;
    kf_status rc;

    *out = NULL;
    if (kf_account_name_parse(arg, false, &an, &cli->err) != KF_OK)
        return cli->err.code = KF_ERR_USAGE; /* a malformed argument: exit 2 */
    if ((rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_account_get(cli->store, an.name, out, &cli->err)) != KF_OK)
        return rc;
    if (an.domain[0] != '\0' && strcasecmp(an.domain, (*out)->domain) != 0) {
        rc = kf_err_set(&cli->err, KF_ERR_NOT_FOUND,
                        "account %s is in domain %s, not %s (see `krbfleet account list`)",
                        an.name, (*out)->domain, an.domain);
        kf_account_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- account new / adopt ---------------------------------------------- */

#define SITES_MAX 64 /* --site given at most this often */

static kf_status
check_domain(struct kf_cli *cli, const struct kf_account_name *an)
{
    if (strcasecmp(an->domain, kf_dir_netbios(cli->dir)) != 0)
        return kf_err_set(&cli->err, KF_ERR_INVALID,
                          "domain %s is not the directory's: %s (%s) is domain %s; write the "
                          "account as %s\\%s",
                          an->domain, kf_dir_server(cli->dir), kf_dir_domain(cli->dir),
                          kf_dir_netbios(cli->dir), kf_dir_netbios(cli->dir), an->name);
    return KF_OK;
}

/* Adopt only an account that may carry web keys (eligibility.h), before
 * anything is recorded; say which SPNs of other services were accepted.
 * *MANAGED: the store has it already (adopt again: re-check, record the
 * allowance). */
static kf_status
adopt_check(struct kf_cli *cli, const struct kf_account_name *an, bool allow_foreign_spns,
            bool *managed)
{
    _cleanup_(kf_account_freep) struct kf_account *known = NULL;
    struct kf_eligibility e;
    struct kf_err ignored = {0};
    kf_status rc;

    *managed = kf_store_account_get(cli->store, an->name, &known, &ignored) == KF_OK;
    if ((rc = kf_eligibility_read(cli->dir, an->domain, an->name, allow_foreign_spns, *managed,
                                  &e, &cli->err)) != KF_OK)
        return rc;
    rc = kf_eligibility_refusal(&e, &cli->err);
    if (rc == KF_OK && e.n_foreign_spns > 0) {
        char list[2048] = "";
        for (size_t i = 0; i < e.n_foreign_spns; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s %s", i ? "," : "", e.foreign_spns[i]);
        }
        kf_cli_warn("%s\\%s holds SPNs of other services, accepted with --allow-foreign-spns; "
                    "their keys will be shared with every web server:%s",
                    an->domain, an->name, list);
    }
    kf_eligibility_done(&e);
    return rc;
}

/* `account adopt` of an account already managed: it passed the check
 * again; record whether its SPNs of other services are accepted. */
static int
readopt(struct kf_cli *cli, const struct kf_account_name *an, bool allow_foreign_spns)
{
    char object[64];
    kf_status rc;

    snprintf(object, sizeof(object), "account:%s\\%s", an->domain, an->name);
    if ((rc = kf_store_account_set_foreign_spns(cli->store, an->name, allow_foreign_spns,
                                                &cli->err)) != KF_OK ||
        (rc = kf_store_audit(cli->store, object,
                             allow_foreign_spns ? "adopted again: SPNs of other services accepted"
                                                : "adopted again: SPNs of other services refused",
                             &cli->err)) != KF_OK ||
        (rc = kf_store_commit(cli->store, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("%s\\%s is already managed; checked again: it may carry web keys%s", an->domain,
               an->name, allow_foreign_spns ? " (its SPNs of other services accepted)" : "");
    return kf_cli_emit(cli, kf_cli_change_doc("changed", object));
}

/* ---- account new --site: a first deployment -------------------------- */

static json_t *
servers_json(const struct kf_rotate_result *r)
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
    return arr;
}

static void
print_servers(const struct kf_rotate_result *r)
{
    static const char *const hdr[] = {"SERVER", "POOL", "RESULT", "KVNO", "DETAIL", NULL};
    struct kf_table *t;

    if (r == NULL || r->n_servers == 0 || (t = kf_table_new(hdr)) == NULL)
        return;
    for (size_t i = 0; i < r->n_servers; i++) {
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
    kf_table_print(t, stdout);
    kf_table_free(t);
}

static int
print_deploy(struct kf_cli *cli, const struct kf_account_name *an, unsigned enctypes,
             const struct kf_deploy_result *d, bool dry_run, kf_status rc)
{
    const struct kf_rotate_result *r = d ? d->r : NULL;
    char object[64], encs[64];
    json_t *doc = json_object(), *changes = json_array(), *warnings = json_array();

    snprintf(object, sizeof(object), "account:%s\\%s", an->domain, an->name);
    if (d != NULL && d->created)
        json_array_append_new(changes, json_pack("{s:s, s:s}", "action", "created", "object",
                                                 object));
    for (size_t i = 0; d && d->recorded && i < d->n_sites_assigned; i++)
        json_array_append_new(changes, json_pack("{s:s, s:s+}", "action", "added", "object",
                                                 "assignment:", d->sites_assigned[i]));
    for (size_t i = 0; d && i < d->n_warnings; i++)
        json_array_append_new(warnings, json_string(d->warnings[i]));
    json_object_set_new(doc, "result", json_string(rc == KF_OK ? "ok" : "failed"));
    json_object_set_new(doc, "dry_run", json_boolean(dry_run));
    json_object_set_new(doc, "completed", json_boolean(d && d->completed));
    json_object_set_new(doc, "account", json_pack("s++", an->domain, "\\", an->name));
    json_object_set_new(doc, "dn", d && d->dn ? json_string(d->dn) : json_null());
    json_object_set_new(doc, "run", r && r->run_id ? json_string(r->run_id) : json_null());
    json_object_set_new(doc, "dc", r && r->dc ? json_string(r->dc) : json_null());
    json_object_set_new(doc, "kvno", kf_cli_int_or_null(r ? r->new_kvno : -1));
    json_object_set_new(doc, "enctypes", kf_cli_enctypes_json(enctypes));
    json_object_set_new(doc, "restaged", json_boolean(d && d->restaged));
    json_object_set_new(doc, "sites", json_array());
    for (size_t i = 0; d && i < d->n_sites_assigned; i++)
        json_array_append_new(json_object_get(doc, "sites"), json_string(d->sites_assigned[i]));
    json_object_set_new(doc, "spns", json_array());
    for (size_t i = 0; d && i < d->n_spns; i++)
        json_array_append_new(json_object_get(doc, "spns"), json_string(d->spns[i]));
    json_object_set_new(doc, "changes", changes);
    json_object_set_new(doc, "servers", servers_json(r));
    json_object_set_new(doc, "warnings", warnings);
    if (!cli->json) {
        print_servers(r);
        kf_enctypes_format(enctypes, encs, sizeof(encs));
        if (dry_run && rc == KF_OK)
            printf("dry run: %s\\%s would be %s (enctypes %s), its %zu SPN(s) published and "
                   "%zu web server(s) given its keys; nothing was changed\n",
                   an->domain, an->name, d->completed ? "completed" : "created", encs, d->n_spns,
                   r ? r->n_servers : 0);
        else if (dry_run)
            printf("dry run: nothing was changed\n");
        else if (rc == KF_OK)
            printf("%s %s\\%s (%s), enctypes %s, kvno %d on %s: %zu SPN(s) published, %zu web "
                   "server(s) verified by a login\n",
                   d->completed ? "completed" : "deployed", an->domain, an->name,
                   d->dn ? d->dn : "?", encs, r ? r->new_kvno : -1, r ? r->dc : "?", d->n_spns,
                   r ? r->n_servers : 0);
        for (size_t i = 0; d && i < d->n_warnings; i++)
            kf_cli_warn("%s", d->warnings[i]);
    }
    return kf_cli_result(cli, doc, rc);
}

static int
deploy(struct kf_cli *cli, const struct kf_account_name *an, const struct kf_args *no,
       unsigned enctypes)
{
    struct passwd *pw = getpwuid(getuid());
    struct kf_deploy_result *res = NULL;
    struct kf_deploy_opts o = {
        .domain = an->domain,
        .account = an->name,
        .sites = no->sites.v,
        .n_sites = no->sites.n,
        .container = no->container,
        .enctypes = enctypes,
        .dry_run = no->dry_run,
        .concurrency = cli->cfg->rotation.concurrency,
        .timeout_s = (int)cli->cfg->directory.timeout_s,
        .agent_port = cli->cfg->agent.port,
        .grace_s = cli->cfg->rotation.grace_s,
        .probe_ca = cli->cfg->probe.ca_file,
        .user = pw ? pw->pw_name : "unknown",
        .progress = kf_cli_progress(cli),
    };
    kf_status rc = kf_deploy(cli->store, cli->dir, &o, &res, &cli->err);
    int r = print_deploy(cli, an, enctypes, res, no->dry_run, rc);

    kf_deploy_result_free(res);
    return r;
}

static int
account_create_or_adopt(struct kf_cli *cli, const struct kf_command *cmd, const struct kf_args *a,
                        bool adopt)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *dacct = NULL;
    struct kf_account_name an;
    unsigned enctypes = KF_ENCTYPES_DEFAULT;
    char object[64], encs[64];
    bool rc4 = false, managed = false;
    json_t *doc;
    kf_status rc;

    if (a->sites.n > SITES_MAX)
        return kf_cli_usage(cmd, "--site is given more than %d times", SITES_MAX);
    if (a->dry_run && a->sites.n == 0)
        return kf_cli_usage(cmd, "--dry-run goes with --site");
    kf_cli_object(cli, "account:%s", a->operands[0]);
    if (kf_account_name_parse(a->operands[0], true, &an, &cli->err) != KF_OK ||
        (a->enctypes && kf_enctypes_parse(a->enctypes, &enctypes, &rc4, &cli->err) != KF_OK))
        return kf_cli_bad_arg(cli);
    for (size_t i = 0; i < a->sites.n; i++)
        if (kf_site_name_check(a->sites.v[i], &cli->err) != KF_OK)
            return kf_cli_bad_arg(cli);
    if (rc4)
        kf_cli_warn("RC4 is weak and disabled by default on current Windows; enable it only for "
                    "clients that cannot do AES");
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_cli_dir(cli)) != KF_OK ||
        (rc = check_domain(cli, &an)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (a->sites.n > 0)
        return deploy(cli, &an, a, enctypes);
    /* Record first (inside the transaction), then create: a directory
     * failure rolls the record back. */
    if ((rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (adopt) {
        if ((rc = kf_dir_account_get(cli->dir, an.name, &dacct, &cli->err)) != KF_OK) {
            if (rc == KF_ERR_NOT_FOUND)
                kf_err_set(&cli->err, rc,
                           "the directory (%s) has no computer account %s$ to adopt; create "
                           "one with `krbfleet account new '%s\\%s'`",
                           kf_dir_server(cli->dir), an.name, an.domain, an.name);
            return fail_rollback(cli, rc);
        }
        enctypes = dacct->enctypes ? dacct->enctypes : KF_ENCTYPES_DEFAULT;
        if ((rc = adopt_check(cli, &an, a->allow_foreign_spns, &managed)) != KF_OK)
            return fail_rollback(cli, rc);
        /* Managing it means resetting its password and writing its SPNs:
         * a ticket that may not is refused now, not at its first rotation. */
        if ((rc = kf_perm_require(cli->dir, dacct->dn, KF_PERM_NEED_RESET | KF_PERM_NEED_SPN,
                                  &cli->err)) != KF_OK)
            return fail_rollback(cli, rc);
        if (managed)
            return readopt(cli, &an, a->allow_foreign_spns);
    }
    snprintf(object, sizeof(object), "account:%s\\%s", an.domain, an.name);
    kf_cli_object(cli, "%s", object);
    if ((rc = kf_store_account_add(cli->store, an.domain, an.name, dacct ? dacct->dn : NULL,
                                   enctypes, adopt, &cli->err)) != KF_OK ||
        (a->allow_foreign_spns &&
         (rc = kf_store_account_set_foreign_spns(cli->store, an.name, true, &cli->err)) !=
             KF_OK) ||
        (rc = kf_store_audit(cli->store, object, adopt ? "adopted" : "created", &cli->err)) !=
            KF_OK)
        return fail_rollback(cli, rc);
    if (!adopt) {
        if ((rc = kf_dir_account_create(cli->dir, an.name, a->container, enctypes, &cli->err)) !=
                KF_OK ||
            (rc = kf_dir_account_get(cli->dir, an.name, &dacct, &cli->err)) != KF_OK ||
            (rc = kf_store_account_set_dn(cli->store, an.name, dacct->dn, &cli->err)) != KF_OK)
            return fail_rollback(cli, rc);
    }
    if ((rc = kf_store_commit(cli->store, &cli->err)) != KF_OK) {
        if (!adopt)
            kf_err_prefix(&cli->err, "%s was created in the directory but not recorded; run "
                                     "`krbfleet account adopt '%s\\%s'`",
                          dacct->dn, an.domain, an.name);
        return kf_cli_fail(cli, rc);
    }
    kf_enctypes_format(enctypes, encs, sizeof(encs));
    kf_cli_say("%s %s\\%s (%s), enctypes %s, kvno %d", adopt ? "adopted" : "created", an.domain,
               an.name, dacct->dn, encs, dacct->kvno);
    if (!adopt)
        kf_cli_say("Its password is random and known to nobody; `krbfleet password set` gives its "
                   "keys to the web servers.");
    kf_cli_say("Next: krbfleet assignment new --site SITE --account %s", an.name);
    doc = kf_cli_change_doc(adopt ? "adopted" : "created", object);
    json_object_set_new(doc, "account",
                        json_pack("{s:s++, s:s, s:i, s:o, s:I}", "account", an.domain, "\\",
                                  an.name, "dn", dacct->dn, "kvno", dacct->kvno, "enctypes",
                                  kf_cli_enctypes_json(enctypes), "enctypes_mask",
                                  (json_int_t)enctypes));
    return kf_cli_emit(cli, doc);
}

KF_CMD(kf_cmd_account_new)
{
    return account_create_or_adopt(cli, cmd, a, false);
}

KF_CMD(kf_cmd_account_adopt)
{
    return account_create_or_adopt(cli, cmd, a, true);
}

static json_t *
strv_json(char **v, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static void
join(char *out, size_t size, char **v, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? "," : "", v[i]);
    }
}

KF_CMD(kf_cmd_account_list)
{
    static const char *const hdr[] = {"ACCOUNT", "SITES", "ENCTYPES", "ORIGIN", "SINCE", NULL};
    _cleanup_(kf_table_freep) struct kf_table *t = NULL;
    struct kf_account *list = NULL;
    size_t n = 0;
    json_t *arr;
    kf_status rc;

    if ((rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_account_list(cli->store, &list, &n, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    t = kf_table_new(hdr);
    arr = json_array();
    for (size_t i = 0; t && i < n; i++) {
        char name[64], sites[1024], encs[64];
        snprintf(name, sizeof(name), "%s\\%s", list[i].domain, list[i].name);
        join(sites, sizeof(sites), list[i].sites, list[i].n_sites);
        kf_enctypes_format(list[i].enctypes, encs, sizeof(encs));
        const char *row[] = {name, sites[0] ? sites : NULL, encs,
                             list[i].adopted ? "adopted" : "created", list[i].created};
        kf_table_add(t, row);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s?, s:o, s:o, s:I, s:s, s:s}", "account", name, "name",
                           list[i].name, "dn", list[i].dn, "sites",
                           strv_json(list[i].sites, list[i].n_sites), "enctypes",
                           kf_cli_enctypes_json(list[i].enctypes), "enctypes_mask",
                           (json_int_t)list[i].enctypes, "origin",
                           list[i].adopted ? "adopted" : "created", "since", list[i].created));
    }
    kf_account_list_free(list, n);
    if (t == NULL) {
        json_decref(arr);
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    }
    if (cli->json)
        return kf_cli_print_json(json_pack("{s:o}", "accounts", arr));
    json_decref(arr);
    kf_table_print(t, stdout);
    return 0;
}

KF_CMD(kf_cmd_account_show)
{
    _cleanup_(kf_account_freep) struct kf_account *acct = NULL;
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *d = NULL;
    char encs[64], sites[1024];
    kf_status rc;

    kf_cli_object(cli, "account:%s", a->operands[0]);
    if ((rc = account_arg(cli, a->operands[0], &acct)) != KF_OK || (rc = kf_cli_dir(cli)) != KF_OK ||
        (rc = kf_dir_account_get(cli->dir, acct->name, &d, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    kf_enctypes_format(d->enctypes, encs, sizeof(encs));
    join(sites, sizeof(sites), acct->sites, acct->n_sites);
    kf_cli_say("account:   %s\\%s", acct->domain, acct->name);
    kf_cli_say("dn:        %s", d->dn);
    kf_cli_say("kvno:      %d (as %s reports it)", d->kvno, kf_dir_server(cli->dir));
    kf_cli_say("enctypes:  %s (%u)", encs, d->enctypes);
    kf_cli_say("status:    %s%s", d->disabled ? "DISABLED" : "enabled",
               d->expired ? ", EXPIRED" : "");
    kf_cli_say("sites:     %s", sites[0] ? sites : "(none assigned)");
    kf_cli_say("origin:    %s %s", acct->adopted ? "adopted" : "created", acct->created);
    kf_cli_say("spns:      %zu", d->n_spns);
    for (size_t i = 0; i < d->n_spns; i++)
        kf_cli_say("           %s", d->spns[i]);
    return kf_cli_emit(
        cli, json_pack("{s:s++, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:b, s:b, s:o, s:o, s:s, s:s}",
                       "account", acct->domain, "\\", acct->name, "name", acct->name, "domain",
                       acct->domain, "dn", d->dn, "server", kf_dir_server(cli->dir), "kvno",
                       d->kvno, "enctypes", kf_cli_enctypes_json(d->enctypes), "enctypes_mask",
                       (json_int_t)d->enctypes, "disabled", d->disabled, "expired", d->expired,
                       "spns", strv_json(d->spns, d->n_spns), "sites",
                       strv_json(acct->sites, acct->n_sites), "origin",
                       acct->adopted ? "adopted" : "created", "since", acct->created));
}

/* ---- account set ---------------------------------------------------- */

/* --enctypes LIST as bits, refused (exit 2, nothing read) when empty,
 * unknown, DES or without AES. */
static kf_status
enctypes_arg(struct kf_cli *cli, const char *list, unsigned *bits)
{
    bool rc4;

    if (list[strspn(list, " ,")] == '\0')
        return kf_err_set(&cli->err, KF_ERR_USAGE,
                          "--enctypes: name at least one encryption type (aes256,aes128)");
    if (kf_enctypes_parse(list, bits, &rc4, &cli->err) != KF_OK)
        return cli->err.code = KF_ERR_USAGE;
    return kf_enctypes_check_request(*bits, &cli->err);
}

static void
say_plan(const struct kf_account_set_result *r, const char *object, long long grace_s,
         bool dry_run)
{
    char from[64], to[64], added[64], removed[64], union_[64], age[32];

    kf_enctypes_format(r->plan.old_types, from, sizeof(from));
    kf_enctypes_format(r->plan.new_types, to, sizeof(to));
    kf_enctypes_format(r->plan.added, added, sizeof(added));
    kf_enctypes_format(r->plan.removed, removed, sizeof(removed));
    kf_enctypes_format(r->plan.old_types | r->plan.new_types, union_, sizeof(union_));
    kf_cli_say("%s%s: enctypes %s -> %s", dry_run ? "dry run: " : "", object, from, to);
    if (r->plan.rotate)
        kf_cli_say("  1. a rotation stages keys of %s (the old and new types) on every web "
                   "server, then commits a new password: only a password set makes keys of "
                   "an added type (%s)",
                   union_, added);
    else if (r->plan.added != 0)
        kf_cli_say("  1. no rotation: no site is assigned to the account, so no web server "
                   "holds its keys");
    else
        kf_cli_say("  1. no rotation: a type is only removed (%s), every server already holds "
                   "keys of the rest",
                   removed);
    kf_cli_say("  2. msDS-SupportedEncryptionTypes becomes %u on %s", r->plan.new_types, r->dc);
    if (r->plan.removed != 0)
        kf_cli_say("  3. keys of %s stay in the keytabs for [rotation] grace (%s): tickets "
                   "issued before keep working; `password set` and `sync` prune them after",
                   removed, kf_cli_age(grace_s, age));
}

static json_t *
set_doc(const struct kf_account_set_result *r, const char *account, bool dry_run, kf_status rc)
{
    char when[32] = "";

    if (r->prune_after > 0) {
        time_t t = (time_t)r->prune_after;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    return json_pack("{s:s, s:b, s:s, s:s?, s:o, s:I, s:o, s:I, s:o, s:o, s:b, s:b, s:o, s:s?, "
                     "s:o}",
                     "result", rc == KF_OK ? "ok" : "failed", "dry_run", dry_run, "account",
                     account, "dc", r->dc, "old_enctypes",
                     kf_cli_enctypes_json(r->plan.old_types), "old_enctypes_mask",
                     (json_int_t)r->plan.old_types, "enctypes",
                     kf_cli_enctypes_json(r->plan.new_types), "enctypes_mask",
                     (json_int_t)r->plan.new_types, "added", kf_cli_enctypes_json(r->plan.added),
                     "removed", kf_cli_enctypes_json(r->plan.removed), "rotate", r->plan.rotate,
                     "changed", r->changed, "kvno", kf_cli_int_or_null(r->kvno), "prune_after",
                     when[0] ? when : NULL, "rotation",
                     r->rotation ? kf_cli_rotation_json(r->rotation, dry_run, rc) : json_null());
}

KF_CMD(kf_cmd_account_set)
{
    _cleanup_(kf_account_freep) struct kf_account *acct = NULL;
    struct kf_account_set_result *res = NULL;
    struct kf_account_set_opts o = {0};
    const struct kf_args *so = a;
    struct passwd *pw = getpwuid(getuid());
    char object[64], account[64], to[64];
    long long v = 0;
    kf_status rc;
    int r;

    kf_cli_object(cli, "account:%s", a->operands[0]);
    if (so->enctypes == NULL)
        return kf_cli_usage(cmd, "nothing to set: give --enctypes LIST");
    if (so->concurrency != NULL && (kf_uint_parse(so->concurrency, 4096, &v) != KF_OK || v < 1))
        return kf_cli_usage(cmd, "--concurrency must be a number from 1 to 4096");
    if (enctypes_arg(cli, so->enctypes, &o.enctypes) != KF_OK)
        return kf_cli_bad_arg(cli);
    if ((rc = account_arg(cli, a->operands[0], &acct)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(account, sizeof(account), "%s\\%s", acct->domain, acct->name);
    snprintf(object, sizeof(object), "account:%s", account);
    kf_cli_object(cli, "%s", object);
    if ((rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    o.account = acct->name;
    o.dry_run = so->dry_run;
    o.rotate.concurrency =
        kf_cli_fd_bound(so->concurrency ? (int)v : cli->cfg->rotation.concurrency);
    o.rotate.grace_s = cli->cfg->rotation.grace_s;
    o.rotate.agent_port = cli->cfg->agent.port;
    o.rotate.timeout_s = (int)cli->cfg->directory.timeout_s;
    o.rotate.probe_ca = cli->cfg->probe.ca_file;
    o.rotate.user = pw ? pw->pw_name : "unknown";
    o.rotate.progress = kf_cli_progress(cli);
    rc = kf_account_set(cli->store, cli->dir, &o, &res, &cli->err);
    if (res != NULL && (res->plan.added & KF_ENCTYPE_RC4_HMAC) && !cli->json)
        kf_cli_warn("RC4 is weak and disabled by default on current Windows; enable it only for "
                    "clients that cannot do AES");
    if (!cli->json && res != NULL && (res->plan.added | res->plan.removed) != 0) {
        say_plan(res, object, o.rotate.grace_s, o.dry_run);
        kf_cli_rotation_print(res->rotation, o.dry_run, rc);
    }
    if (!cli->json && rc == KF_OK && res != NULL) {
        kf_enctypes_format(res->plan.new_types, to, sizeof(to));
        if ((res->plan.added | res->plan.removed) == 0)
            kf_cli_say("%s already announces %s; nothing to change", object, to);
        else if (o.dry_run)
            kf_cli_say("dry run: nothing was changed");
        else
            kf_cli_say("done: msDS-SupportedEncryptionTypes of %s is %u (%s) on %s", account,
                       res->plan.new_types, to, res->dc);
        if (!o.dry_run && res->plan.removed != 0)
            kf_cli_say("after the grace period, `krbfleet sync --account %s` (or the next "
                       "`password set`) prunes the removed types' keys",
                       acct->name);
    }
    if (res == NULL || res->plan.new_types == 0) {
        kf_account_set_result_free(res);
        return kf_cli_fail(cli, rc);
    }
    r = kf_cli_result(cli, set_doc(res, account, o.dry_run, rc), rc);
    kf_account_set_result_free(res);
    return r;
}

KF_CMD(kf_cmd_account_remove)
{
    _cleanup_(kf_account_freep) struct kf_account *acct = NULL;
    char object[64], dn[1100];
    bool del = a->delete_from_directory;
    json_t *doc;
    kf_status rc;

    kf_cli_object(cli, "account:%s", a->operands[0]);
    if ((rc = account_arg(cli, a->operands[0], &acct)) != KF_OK ||
        (del && (rc = kf_cli_dir(cli)) != KF_OK) ||
        (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "account:%s\\%s", acct->domain, acct->name);
    if ((rc = kf_store_account_remove(cli->store, acct->name, &cli->err)) != KF_OK ||
        (rc = kf_store_audit(cli->store, object,
                             del ? "removed and deleted from the directory" : "removed",
                             &cli->err)) != KF_OK ||
        (del && (rc = kf_dir_account_delete(cli->dir, acct->name, &cli->err)) != KF_OK) ||
        (rc = kf_store_commit(cli->store, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    doc = kf_cli_change_doc("removed", object);
    if (del) {
        kf_cli_say("removed %s\\%s and deleted %s from the directory", acct->domain, acct->name,
                   acct->dn ? acct->dn : "its object");
        snprintf(dn, sizeof(dn), "dn:%s", acct->dn ? acct->dn : "");
        kf_cli_change_add(doc, "deleted", dn);
    } else {
        kf_cli_say("removed %s\\%s from krbfleet; the directory object %s stays (use "
                   "--delete-from-directory to delete it)",
                   acct->domain, acct->name, acct->dn ? acct->dn : "");
    }
    return kf_cli_emit(cli, doc);
}

/* ---- assignments ------------------------------------------------------ */

static int
assignment_change(struct kf_cli *cli, const struct kf_args *o, bool create)
{
    _cleanup_(kf_account_freep) struct kf_account *acct = NULL;
    char object[128];
    bool changed = false;
    json_t *doc;
    kf_status rc;

    kf_cli_object(cli, "assignment:%s", o->site);
    if ((rc = account_arg(cli, o->account, &acct)) != KF_OK ||
        (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "assignment:%s", o->site);
    if ((rc = kf_store_assignment_set(cli->store, o->site, acct->name, create, &changed,
                                      &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    if (!changed) {
        /* nothing changed: nothing to audit, nothing to publish */
        kf_store_rollback(cli->store);
        kf_cli_say("site %s already uses %s\\%s; nothing changed", o->site, acct->domain,
                   acct->name);
        doc = kf_cli_change_doc(NULL, NULL);
        json_object_set_new(doc, "site", json_string(o->site));
        json_object_set_new(doc, "account", json_pack("s++", acct->domain, "\\", acct->name));
        return kf_cli_emit(cli, doc);
    }
    if ((rc = kf_store_audit(cli->store, object, acct->name, &cli->err)) != KF_OK ||
        (rc = kf_store_commit(cli->store, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("site %s uses %s\\%s; publish its SPNs with `krbfleet topology enable` (after "
               "`krbfleet password set --account %s` on a first deployment)",
               o->site, acct->domain, acct->name, acct->name);
    doc = kf_cli_change_doc(create ? "added" : "changed", object);
    json_object_set_new(doc, "site", json_string(o->site));
    json_object_set_new(doc, "account", json_pack("s++", acct->domain, "\\", acct->name));
    return kf_cli_emit(cli, doc);
}

KF_CMD(kf_cmd_assignment_new)
{
    return assignment_change(cli, a, true);
}

KF_CMD(kf_cmd_assignment_set)
{
    return assignment_change(cli, a, false);
}

KF_CMD(kf_cmd_assignment_remove)
{
    const struct kf_args *o = a;
    char object[128];
    kf_status rc;

    kf_cli_object(cli, "assignment:%s", o->site);
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "assignment:%s", o->site);
    if ((rc = kf_store_assignment_remove(cli->store, o->site, &cli->err)) != KF_OK ||
        (rc = kf_store_audit(cli->store, object, NULL, &cli->err)) != KF_OK ||
        (rc = kf_store_commit(cli->store, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("site %s has no Kerberos account now; `krbfleet topology enable` removes its SPNs",
               o->site);
    return kf_cli_emit(cli, kf_cli_change_doc("removed", object));
}

KF_CMD(kf_cmd_assignment_get)
{
    static const char *const hdr[] = {"SITE", "ACCOUNT", NULL};
    _cleanup_(kf_table_freep) struct kf_table *t = NULL;
    struct kf_topology *topo = NULL;
    struct kf_account *list = NULL;
    const struct kf_args *o = a;
    size_t n = 0;
    bool found = false;
    json_t *arr;
    kf_status rc;

    if ((rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_topology_load(cli->store, &topo, &cli->err)) != KF_OK ||
        (rc = kf_store_account_list(cli->store, &list, &n, &cli->err)) != KF_OK) {
        kf_topology_free(topo);
        return kf_cli_fail(cli, rc);
    }
    t = kf_table_new(hdr);
    arr = json_array();
    for (size_t i = 0; t && i < topo->n_sites; i++) {
        const char *site = topo->sites[i].name;
        char name[64] = "";
        if (o->site != NULL && strcasecmp(o->site, site) != 0)
            continue;
        found = true;
        for (size_t k = 0; k < n && !name[0]; k++)
            for (size_t s = 0; s < list[k].n_sites; s++)
                if (strcasecmp(list[k].sites[s], site) == 0)
                    snprintf(name, sizeof(name), "%s\\%s", list[k].domain, list[k].name);
        const char *row[] = {site, name[0] ? name : NULL};
        kf_table_add(t, row);
        json_array_append_new(arr, json_pack("{s:s, s:s?}", "site", site, "account",
                                             name[0] ? name : NULL));
    }
    kf_account_list_free(list, n);
    kf_topology_free(topo);
    if (o->site != NULL && !found) {
        json_decref(arr);
        kf_err_set(&cli->err, KF_ERR_NOT_FOUND,
                   "site \"%s\" does not exist (see `krbfleet site list`)", o->site);
        return kf_cli_fail(cli, KF_ERR_NOT_FOUND);
    }
    if (cli->json)
        return kf_cli_print_json(json_pack("{s:o}", "assignments", arr));
    json_decref(arr);
    kf_table_print(t, stdout);
    return 0;
}

/* ---- spn list --------------------------------------------------------- */

KF_CMD(kf_cmd_spn_list)
{
    _cleanup_(kf_dir_account_freep) struct kf_dir_account *d = NULL;
    struct kf_account_name an;
    kf_status rc;

    /* Any computer account, managed or not, as setspn -L does. */
    kf_cli_object(cli, "account:%s", a->operands[0]);
    if (kf_account_name_parse(a->operands[0], false, &an, &cli->err) != KF_OK)
        return kf_cli_bad_arg(cli);
    if ((rc = kf_cli_dir(cli)) != KF_OK ||
        (an.domain[0] && (rc = check_domain(cli, &an)) != KF_OK) ||
        (rc = kf_dir_account_get(cli->dir, an.name, &d, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    kf_cli_say("Registered ServicePrincipalNames for %s:", d->dn);
    for (size_t i = 0; i < d->n_spns; i++) {
        if (!cli->json)
            fputc('\t', stdout); /* as setspn -L; the SPN itself escaped */
        kf_cli_say("%s", d->spns[i]);
    }
    return kf_cli_emit(cli, json_pack("{s:s++, s:s, s:o}", "account", kf_dir_netbios(cli->dir),
                                      "\\", an.name, "dn", d->dn, "spns",
                                      strv_json(d->spns, d->n_spns)));
}

/* ---- topology enable / test ------------------------------------------- */

/* An object of the plan as JSON: a managed account's short name becomes
 * DOMAIN\name (as everywhere in --json), a DN stays a DN. */
static json_t *
holder_json(const struct kf_cli *cli, const char *name)
{
    if (strchr(name, '=') != NULL)
        return json_string(name);
    return json_pack("s++", kf_dir_netbios(cli->dir), "\\", name);
}

static json_t *
notes_json(const struct kf_cli *cli, const struct kf_spn_note *notes, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "spn", notes[i].spn, "from",
                                             holder_json(cli, notes[i].from), "to",
                                             holder_json(cli, notes[i].to)));
    return arr;
}

static int
print_enable(struct kf_cli *cli, const struct kf_enable_result *res, bool dry_run, kf_status rc)
{
    const struct kf_spn_plan *plan = res ? res->plan : NULL;
    size_t added = 0, removed = 0;
    unsigned long reads = 0, nwrites = 0;
    json_t *writes = json_array(), *warnings = json_array(), *doc;

    kf_dir_counters(cli->dir, &reads, &nwrites);
    if (plan != NULL)
        kf_spn_plan_count(plan, &added, &removed);
    for (size_t w = 0; plan && w < plan->n_writes; w++)
        json_array_append_new(
            writes, json_pack("{s:o, s:o, s:o}", "object",
                              holder_json(cli, plan->writes[w].account ? plan->writes[w].account
                                                                       : plan->writes[w].dn),
                              "add", strv_json(plan->writes[w].add, plan->writes[w].n_add),
                              "remove", strv_json(plan->writes[w].del, plan->writes[w].n_del)));
    for (size_t i = 0; res && i < res->n_warnings; i++)
        json_array_append_new(warnings, json_string(res->warnings[i]));
    doc = json_pack("{s:b, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "dry_run", dry_run,
                    "result",
                    rc == KF_OK ? "ok" : rc == KF_ERR_CONFLICT ? "conflict" : "failed", "writes",
                    writes, "moves", notes_json(cli, plan ? plan->moves : NULL, plan ? plan->n_moves : 0),
                    "takeovers",
                    notes_json(cli, plan ? plan->takeovers : NULL, plan ? plan->n_takeovers : 0),
                    "conflicts",
                    notes_json(cli, plan ? plan->conflicts : NULL, plan ? plan->n_conflicts : 0),
                    "added", (json_int_t)added, "removed", (json_int_t)removed, "ldap_reads",
                    (json_int_t)reads, "ldap_writes", (json_int_t)nwrites, "warnings", warnings);
    if (plan != NULL) {
        for (size_t i = 0; i < plan->n_conflicts; i++)
            kf_cli_say("conflict  %s is held by %s (wanted by %s)", plan->conflicts[i].spn,
                       plan->conflicts[i].from, plan->conflicts[i].to);
        for (size_t w = 0; w < plan->n_writes; w++) {
            const struct kf_spn_write *wr = &plan->writes[w];
            const char *who = wr->account ? wr->account : wr->dn;
            for (size_t k = 0; k < wr->n_del; k++)
                kf_cli_say("%s  %s from %s", dry_run ? "would remove" : "removed", wr->del[k],
                           who);
            for (size_t k = 0; k < wr->n_add; k++)
                kf_cli_say("%s  %s to %s", dry_run ? "would add" : "added", wr->add[k], who);
        }
        for (size_t i = 0; i < plan->n_moves; i++)
            kf_cli_say("%s  %s from %s to %s (its site changed account)",
                       dry_run ? "would move" : "moved", plan->moves[i].spn, plan->moves[i].from,
                       plan->moves[i].to);
        for (size_t i = 0; i < plan->n_takeovers; i++)
            kf_cli_say("%s  %s from %s to %s (--take-over)",
                       dry_run ? "would take over" : "took over", plan->takeovers[i].spn,
                       plan->takeovers[i].from, plan->takeovers[i].to);
        if (rc == KF_OK)
            kf_cli_say("%s: %zu SPN(s) added, %zu removed, %zu directory write(s)%s",
                       dry_run ? "plan" : "enabled", added, removed,
                       dry_run ? plan->n_writes : res->writes_done,
                       plan->n_writes == 0 ? " - the directory already matches the topology" : "");
    }
    for (size_t i = 0; res && i < res->n_warnings; i++)
        kf_cli_warn("%s", res->warnings[i]);
    return kf_cli_result(cli, doc, rc);
}

KF_CMD(kf_cmd_topology_enable)
{
    struct kf_enable_result *res = NULL;
    kf_status rc;
    int r;

    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    struct kf_progress_sink progress = kf_cli_progress(cli);
    rc = kf_enable_run(cli->store, cli->dir, a->dry_run, a->take_over, &progress, &res, &cli->err);
    r = print_enable(cli, res, a->dry_run, rc);
    kf_enable_result_free(res);
    return r;
}

static const char *
verdict_name(enum kf_verdict v)
{
    return v == KF_PASS ? "PASS" : v == KF_WARN ? "WARN" : "FAIL";
}

/* Print findings as a table (or JSON); exit 1 if any failed. */
static int
print_findings(struct kf_cli *cli, const struct kf_findings *f)
{
    static const char *const hdr[] = {"RESULT", "OBJECT", "CHECK", "DETAIL", NULL};
    bool failed = kf_findings_failed(f);

    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < f->n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "result",
                                                 verdict_name(f->v[i].verdict), "object",
                                                 f->v[i].object, "check", f->v[i].check,
                                                 "detail", f->v[i].detail, "fix", f->v[i].fix));
        kf_cli_print_json(json_pack("{s:s, s:o}", "result", failed ? "fail" : "pass", "findings",
                                    arr));
        return failed ? 1 : 0;
    }
    struct kf_table *t = kf_table_new(hdr);
    for (size_t i = 0; t && i < f->n; i++) {
        char detail[1400];
        snprintf(detail, sizeof(detail), "%s%s%s", f->v[i].detail, f->v[i].fix ? " -> run: " : "",
                 f->v[i].fix ? f->v[i].fix : "");
        const char *row[] = {verdict_name(f->v[i].verdict), f->v[i].object, f->v[i].check, detail};
        kf_table_add(t, row);
    }
    if (t != NULL)
        kf_table_print(t, stdout);
    kf_table_free(t);
    printf("%s\n", failed ? "topology test: problems found" : "topology test: all checks passed");
    return failed ? 1 : 0;
}

KF_CMD(kf_cmd_topology_test)
{
    struct kf_findings f = {0};
    kf_status rc;
    int r;

    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_cli_dir(cli)) != KF_OK ||
        (rc = kf_topology_test(cli->store, cli->dir, &f, &cli->err)) != KF_OK) {
        kf_findings_done(&f);
        return kf_cli_fail(cli, rc);
    }
    r = print_findings(cli, &f);
    kf_findings_done(&f);
    return r;
}
