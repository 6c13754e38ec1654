/* cmd_audit.c - audit list. */
#include <stdio.h>

#include "cli.h"
#include "table.h"

KF_CMD(kf_cmd_audit_list)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const hdr[] = {"TIME", "USER", "PRINCIPAL", "COMMAND", "OBJECT", "DETAIL",
                                      NULL};
    struct kf_audit_entry *list = NULL;
    struct kf_table *t;
    size_t n = 0;
    kf_status rc;
    int c;

    while ((c = kf_cli_getopt(cmd, argc, argv, "", opts)) != -1)
        if (c == '?' || c == 'h')
            return c == 'h' ? 0 : 2;
    if (optind < argc)
        return kf_cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
    if ((rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_audit_list(cli->store, &list, &n, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:s?}", "id",
                                  (json_int_t)list[i].id, "time", list[i].time, "user",
                                  list[i].user, "principal", list[i].principal, "command",
                                  list[i].command, "object", list[i].object, "detail",
                                  list[i].detail);
            json_array_append_new(arr, e);
        }
        kf_audit_list_free(list, n);
        return kf_cli_print_json(json_pack("{s:o}", "audit", arr));
    }
    t = kf_table_new(hdr);
    for (size_t i = 0; t != NULL && i < n; i++) {
        const char *row[] = {list[i].time,    list[i].user,   list[i].principal,
                             list[i].command, list[i].object, list[i].detail};
        if (kf_table_add(t, row) != 0)
            break;
    }
    kf_audit_list_free(list, n);
    if (t == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    kf_table_print(t, stdout);
    kf_table_free(t);
    return 0;
}
