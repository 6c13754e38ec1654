/* cmd_store.c - store migrate, store copy. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

KF_CMD(kf_cmd_store_migrate)
{
    int from, to;
    kf_status rc;

    if ((rc = kf_cli_store_for(cli, KF_MIGRATES)) != KF_OK)
        return kf_cli_fail(cli, rc);
    from = kf_store_migrated_from(cli->store);
    to = kf_store_schema_version(cli->store);
    if (cli->json)
        return kf_cli_print_json(json_pack("{s:s, s:o, s:i}", "store", kf_store_where(cli->store),
                                           "from", from < 0 ? json_null() : json_integer(from),
                                           "to", to));
    if (from < 0)
        printf("store %s: schema version %d, current; nothing to do\n",
               kf_store_where(cli->store), to);
    else
        printf("store %s: schema version %d -> %d\n", kf_store_where(cli->store), from, to);
    return 0;
}

KF_CMD(kf_cmd_store_copy)
{
    struct kf_store_count counts[KF_STORE_COPY_TABLES];
    _cleanup_(kf_store_freep) struct kf_store *from = NULL;
    _cleanup_(kf_store_freep) struct kf_store *to = NULL;
    const char *src = a->from, *dst = a->to;
    bool force = a->force;
    kf_status rc;

    if (src == NULL || dst == NULL || *src == '\0' || *dst == '\0')
        return kf_cli_usage(cmd, "name both stores: --from PATH|URL --to PATH|URL");
    if (cli->store_opt != NULL)
        return kf_cli_usage(cmd, "store copy names its stores with --from and --to, not --store");
    if (strcmp(src, dst) == 0)
        return kf_cli_usage(cmd, "--from and --to name the same store");
    if ((rc = kf_cli_config(cli)) != KF_OK ||
        (rc = kf_cli_store_at(cli, src, KF_STORE_FOR_READING, &from)) != KF_OK ||
        (rc = kf_cli_store_at(cli, dst, KF_STORE_FOR_MIGRATING, &to)) != KF_OK ||
        (rc = kf_store_copy(from, to, force, counts, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        json_t *tables = json_object();
        for (size_t i = 0; i < KF_STORE_COPY_TABLES; i++)
            json_object_set_new(tables, counts[i].table, json_integer(counts[i].rows));
        return kf_cli_print_json(json_pack("{s:s, s:s, s:o}", "from", kf_store_where(from),
                                           "to", kf_store_where(to), "rows", tables));
    }
    printf("copied store %s to %s\n", kf_store_where(from), kf_store_where(to));
    for (size_t i = 0; i < KF_STORE_COPY_TABLES; i++)
        printf("  %-15s %lld\n", counts[i].table, (long long)counts[i].rows);
    return 0;
}
