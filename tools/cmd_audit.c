/* cmd_audit.c - audit list. */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "table.h"

KF_CMD(kf_cmd_audit_list)
{
    struct kf_audit_filter filter = {0};
    char since[KF_AUDIT_TIME_LEN];
    struct kf_err err = {0};
    static const char *const hdr[] = {"TIME", "USER", "PRINCIPAL", "COMMAND", "OBJECT", "DETAIL",
                                      NULL};
    struct kf_audit_entry *list = NULL;
    struct kf_table *t;
    size_t n = 0;
    kf_status rc;

    if (a->since != NULL) {
        if (kf_audit_since(a->since, time(NULL), since, &err) != KF_OK)
            return kf_cli_usage(cmd, "--since: %s", err.msg);
        filter.since = since;
    }
    if (a->object != NULL) {
        if (*a->object == '\0')
            return kf_cli_usage(cmd, "--object needs a name, e.g. site:redmond");
        filter.object = a->object;
    }
    if ((rc = kf_cli_store(cli)) != KF_OK ||
        (rc = kf_store_audit_list(cli->store, &filter, &list, &n, &cli->err)) != KF_OK)
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
