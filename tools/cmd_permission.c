/* cmd_permission.c - permission grant / revoke / list / test. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mem.h"
#include "permission.h"
#include "table.h"

/* The trustee: --group, else the configuration's [permission] group.
 * Returns -1 to go on (*GROUP set), else the exit code. */
static int
trustee(struct kf_cli *cli, const struct kf_command *cmd, const char **group)
{
    kf_status rc;

    if (*group != NULL && **group == '\0')
        return kf_cli_usage(cmd, "--group needs a value: 'DOMAIN\\name' (a group, or one account)");
    if (*group != NULL)
        return -1;
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->cfg->permission.group == NULL)
        return kf_cli_usage(cmd, "no trustee: give --group 'DOMAIN\\name' (a group, or one "
                                 "account) or set [permission] group in the configuration");
    *group = cli->cfg->permission.group;
    return -1;
}

static int
fail_rollback(struct kf_cli *cli, kf_status rc)
{
    kf_store_rollback(cli->store);
    return kf_cli_fail(cli, rc);
}

/* The changes array of --json (docs/json.md): the container's DACL, when
 * CHANGED, else nothing. */
static json_t *
perm_changes(const char *container, bool changed)
{
    json_t *doc = kf_cli_change_doc(NULL, NULL), *changes;
    char *object = malloc(strlen(container) + sizeof("container:"));

    if (doc != NULL && object != NULL && changed) {
        snprintf(object, strlen(container) + sizeof("container:"), "container:%s", container);
        kf_cli_change_add(doc, "changed", object);
    }
    free(object);
    changes = json_incref(json_object_get(doc, "changes"));
    json_decref(doc);
    return changes != NULL ? changes : json_array();
}

KF_CMD(kf_cmd_permission_grant)
{
    const char *container = a->container, *group = a->group;
    struct kf_perm_grant g;
    _cleanup_free_ char *object = NULL;
    char detail[160];
    kf_status rc;
    int r = trustee(cli, cmd, &group);

    if (r >= 0)
        return r;

    kf_cli_object(cli, "container:%s", container);
    if ((rc = kf_cli_dir(cli)) != KF_OK || (rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((rc = kf_perm_grant(cli->dir, cli->store, container, group, &g, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    if (g.written) {
        object = malloc(strlen(container) + sizeof("container:"));
        if (object == NULL)
            return fail_rollback(cli, kf_err_set(&cli->err, KF_ERR_NOMEM, "out of memory"));
        snprintf(object, strlen(container) + sizeof("container:"), "container:%s", container);
        snprintf(detail, sizeof(detail), "granted %s (%s): %zu ACE(s) added", group, g.trustee_sid,
                 g.added);
        if ((rc = kf_store_audit(cli->store, object, detail, &cli->err)) != KF_OK)
            return fail_rollback(cli, rc);
    }
    if ((rc = kf_store_commit(cli->store, &cli->err)) != KF_OK)
        return fail_rollback(cli, rc);
    if (cli->json)
        return kf_cli_print_json(json_pack(
            "{s:o, s:s, s:s, s:s, s:i, s:i, s:b}", "changes", perm_changes(container, g.written),
            "container", container, "trustee", group, "sid", g.trustee_sid, "added",
            (int)g.added, "present", (int)g.present, "written", g.written));
    if (!g.written)
        printf("%s already holds krbfleet's permissions on %s; nothing written\n", group,
               container);
    else
        printf("granted %s (%s) krbfleet's permissions on %s: %zu ACE(s) added%s\n", group,
               g.trustee_sid, container, g.added,
               g.present > 0 ? " (the others were there already and stay when revoked)" : "");
    return 0;
}

KF_CMD(kf_cmd_permission_revoke)
{
    const char *container = a->container, *group = a->group;
    bool reclaim = a->reclaim;
    struct kf_perm_revoke rv;
    _cleanup_free_ char *object = NULL;
    char detail[200];
    kf_status rc;
    int r = trustee(cli, cmd, &group);

    if (r >= 0)
        return r;

    kf_cli_object(cli, "container:%s", container);
    if ((rc = kf_cli_dir(cli)) != KF_OK || (rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    rc = kf_perm_revoke(cli->dir, cli->store, container, group, reclaim, &rv, &cli->err);
    if (rc != KF_OK) {
        kf_perm_revoke_done(&rv);
        return fail_rollback(cli, rc);
    }
    if (rv.written || rv.recorded > 0 || reclaim) {
        size_t reclaimed = 0;
        for (size_t i = 0; i < rv.n_owned; i++)
            reclaimed += rv.owned[i].reclaimed;
        object = malloc(strlen(container) + sizeof("container:"));
        if (object == NULL) {
            kf_perm_revoke_done(&rv);
            return fail_rollback(cli, kf_err_set(&cli->err, KF_ERR_NOMEM, "out of memory"));
        }
        snprintf(object, strlen(container) + sizeof("container:"), "container:%s", container);
        snprintf(detail, sizeof(detail),
                 "revoked %s (%s): %zu ACE(s) removed, %zu account(s) "
                 "reclaimed",
                 group, rv.trustee_sid, rv.removed, reclaimed);
        if ((rv.written || reclaimed > 0) &&
            (rc = kf_store_audit(cli->store, object, detail, &cli->err)) != KF_OK) {
            kf_perm_revoke_done(&rv);
            return fail_rollback(cli, rc);
        }
    }
    if ((rc = kf_store_commit(cli->store, &cli->err)) != KF_OK) {
        kf_perm_revoke_done(&rv);
        return fail_rollback(cli, rc);
    }
    if (cli->json) {
        json_t *owned = json_array();
        for (size_t i = 0; i < rv.n_owned; i++)
            json_array_append_new(owned,
                                  json_pack("{s:s, s:s, s:s, s:s?, s:i, s:b}", "account",
                                            rv.owned[i].account, "dn", rv.owned[i].dn, "owner",
                                            rv.owned[i].owner, "owner_name", rv.owned[i].owner_name,
                                            "creator_aces", (int)rv.owned[i].creator_aces,
                                            "reclaimed", rv.owned[i].reclaimed));
        r = kf_cli_print_json(json_pack(
            "{s:o, s:s, s:s, s:s, s:i, s:i, s:o}", "changes",
            perm_changes(container, rv.removed > 0), "container", container, "trustee", group,
            "sid", rv.trustee_sid, "recorded", (int)rv.recorded, "removed", (int)rv.removed,
            "owned", owned));
        kf_perm_revoke_done(&rv);
        return r;
    }
    if (rv.recorded == 0)
        printf("krbfleet granted %s nothing on %s; no ACE removed\n", group, container);
    else
        printf("revoked %s on %s: %zu of the %zu ACE(s) krbfleet wrote removed%s\n", group,
               container, rv.removed, rv.recorded,
               rv.removed < rv.recorded ? " (the others were gone already)" : "");
    for (size_t i = 0; i < rv.n_owned; i++) {
        const struct kf_perm_owned *o = &rv.owned[i];
        if (o->reclaimed)
            printf("reclaimed %s (%s): owner was %s, now Domain Admins; %zu ACE(s) of the "
                   "creator removed\n",
                   o->account, o->dn, o->owner_name != NULL ? o->owner_name : o->owner,
                   o->creator_aces);
        else
            printf("%s (%s) is owned by %s, who keeps rights on it (reset, delete); run "
                   "`krbfleet permission revoke --container '%s' --group '%s' --reclaim`\n",
                   o->account, o->dn, o->owner_name != NULL ? o->owner_name : o->owner, container,
                   group);
    }
    kf_perm_revoke_done(&rv);
    return 0;
}

KF_CMD(kf_cmd_permission_list)
{
    static const char *const hdr[] = {"TRUSTEE", "SID", "COMPLETE", "MISSING", NULL};
    const char *container = a->container;
    struct kf_perm_holder *v = NULL;
    struct kf_table *t;
    size_t n = 0;
    kf_status rc;

    kf_cli_object(cli, "container:%s", container);
    if ((rc = kf_cli_dir(cli)) != KF_OK ||
        (rc = kf_perm_list(cli->dir, container, &v, &n, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *missing = json_array();
            for (size_t k = 0; k < KF_PERM_N_ACES; k++)
                if (!(v[i].have & (1u << k)))
                    json_array_append_new(missing, json_string(kf_perm_ace_label(k)));
            json_array_append_new(arr, json_pack("{s:s?, s:s, s:b, s:o}", "trustee", v[i].name,
                                                 "sid", v[i].sid, "complete", v[i].complete,
                                                 "missing", missing));
        }
        kf_perm_holders_free(v, n);
        return kf_cli_print_json(json_pack("{s:s, s:o}", "container", container, "trustees", arr));
    }
    if (n == 0) {
        printf("nobody holds krbfleet's permissions on %s\n", container);
        kf_perm_holders_free(v, n);
        return 0;
    }
    t = kf_table_new(hdr);
    for (size_t i = 0; t != NULL && i < n; i++) {
        char missing[512] = "";
        size_t used = 0;
        for (size_t k = 0; k < KF_PERM_N_ACES; k++)
            if (!(v[i].have & (1u << k)) && used < sizeof(missing))
                used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s",
                                         used ? "; " : "", kf_perm_ace_label(k));
        const char *row[] = {v[i].name != NULL ? v[i].name : "?", v[i].sid,
                             v[i].complete ? "yes" : "no", used ? missing : "-"};
        if (kf_table_add(t, row) != 0)
            break;
    }
    kf_perm_holders_free(v, n);
    if (t == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    kf_table_print(t, stdout);
    kf_table_free(t);
    return 0;
}

KF_CMD(kf_cmd_permission_test)
{
    static const char *const hdr[] = {"OPERATION", "COMMAND", "MAY", "WHY", NULL};
    const char *container = a->container;
    struct kf_perm_test pt;
    struct kf_table *t;
    kf_status rc;
    int r;

    kf_cli_object(cli, "container:%s", container);
    if ((rc = kf_cli_dir(cli)) != KF_OK)
        return kf_cli_fail(cli, rc);
    /* The store only names a managed account to judge on: a delegated
     * user's first run has none yet. */
    if ((rc = kf_cli_store(cli)) == KF_ERR_NOT_FOUND)
        kf_err_clear(&cli->err);
    else if (rc != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((rc = kf_perm_test(cli->dir, cli->store, container, &pt, &cli->err)) != KF_OK) {
        kf_perm_test_done(&pt);
        return kf_cli_fail(cli, rc);
    }
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < KF_PERM_N_CHECKS; i++)
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:b, s:s}", "operation",
                                            pt.checks[i].operation, "command", pt.checks[i].command,
                                            "may", pt.checks[i].may, "why", pt.checks[i].why));
        r = kf_cli_print_json(json_pack("{s:s, s:s, s:s?, s:o}", "container", container,
                                        "principal", pt.subject, "judged_on", pt.sample_dn,
                                        "operations", arr));
        kf_perm_test_done(&pt);
        return r;
    }
    printf("%s in %s%s%s:\n", pt.subject, container, pt.sample_dn != NULL ? ", judged on " : "",
           pt.sample_dn != NULL ? pt.sample_dn : "");
    t = kf_table_new(hdr);
    for (size_t i = 0; t != NULL && i < KF_PERM_N_CHECKS; i++) {
        const char *row[] = {pt.checks[i].operation, pt.checks[i].command,
                             pt.checks[i].may ? "yes" : "no", pt.checks[i].why};
        if (kf_table_add(t, row) != 0)
            break;
    }
    kf_perm_test_done(&pt);
    if (t == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    kf_table_print(t, stdout);
    kf_table_free(t);
    return 0;
}
