/* cmd_store.c - store migrate. */
#include <stdio.h>

#include "cli.h"

KF_CMD(kf_cmd_store_migrate)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int from, to, c;
    kf_status rc;

    while ((c = kf_cli_getopt(cmd, argc, argv, "", opts)) != -1)
        if (c == '?' || c == 'h')
            return c == 'h' ? 0 : 2;
    if (optind < argc)
        return kf_cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
    if ((rc = kf_cli_store_for(cli, KF_MIGRATES)) != KF_OK)
        return kf_cli_fail(cli, rc);
    from = kf_store_migrated_from(cli->store);
    to = kf_store_schema_version(cli->store);
    if (from < 0)
        printf("store %s: schema version %d, current; nothing to do\n",
               kf_store_where(cli->store), to);
    else
        printf("store %s: schema version %d -> %d\n", kf_store_where(cli->store), from, to);
    return 0;
}
