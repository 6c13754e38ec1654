/* cmd_topology.c - site, pool, server, topology import/export, service list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "fileout.h"
#include "mem.h"
#include "names.h"
#include "strv.h"
#include "table.h"
#include "topology.h"

KF_DEFINE_CLEANUP(struct kf_topology, kf_topology_free)
KF_DEFINE_CLEANUP(struct kf_table, kf_table_free)

/* Run FN inside one transaction with an audit record; print nothing. */
static kf_status
commit_change(struct kf_cli *cli, const char *object, const char *detail)
{
    kf_status rc = kf_store_audit(cli->store, object, detail, &cli->err);

    if (rc == KF_OK)
        rc = kf_store_commit(cli->store, &cli->err);
    return rc;
}

static int
fail_rollback(struct kf_cli *cli, kf_status rc)
{
    if (cli->store != NULL)
        kf_store_rollback(cli->store);
    return kf_cli_fail(cli, rc);
}

/* Load the store's topology into *TOPO. */
static kf_status
load(struct kf_cli *cli, struct kf_topology **topo)
{
    kf_status rc = kf_cli_store(cli);

    if (rc == KF_OK)
        rc = kf_store_topology_load(cli->store, topo, &cli->err);
    return rc;
}

static const struct kf_site *
find_site(const struct kf_topology *topo, const char *name)
{
    for (size_t i = 0; i < topo->n_sites; i++)
        if (strcasecmp(topo->sites[i].name, name) == 0)
            return &topo->sites[i];
    return NULL;
}

static const struct kf_pool *
find_pool(const struct kf_topology *topo, const char *fqdn, const struct kf_site **site)
{
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++)
            if (strcmp(topo->sites[i].pools[j].fqdn, fqdn) == 0) {
                if (site != NULL)
                    *site = &topo->sites[i];
                return &topo->sites[i].pools[j];
            }
    return NULL;
}

static size_t
site_servers(const struct kf_site *site)
{
    size_t n = 0;

    for (size_t j = 0; j < site->n_pools; j++)
        n += site->pools[j].n_servers;
    return n;
}

/* ---- site ------------------------------------------------------------- */

KF_CMD(kf_cmd_site_add)
{
    char object[128];
    kf_status rc;

    kf_cli_object(cli, "site:%s", a->operands[0]);
    if (kf_site_name_check(a->operands[0], &cli->err) != KF_OK)
        return kf_cli_bad_arg(cli);
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "site:%s", a->operands[0]);
    if ((rc = kf_store_site_add(cli->store, a->operands[0], &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("added site %s", a->operands[0]);
    return kf_cli_emit(cli, kf_cli_change_doc("added", object));
}

KF_CMD(kf_cmd_site_list)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    _cleanup_(kf_table_freep) struct kf_table *t = NULL;
    static const char *const hdr[] = {"SITE", "POOLS", "SERVERS", NULL};
    kf_status rc;

    if ((rc = load(cli, &topo)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < topo->n_sites; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", topo->sites[i].name,
                                                 "pools", (json_int_t)topo->sites[i].n_pools,
                                                 "servers",
                                                 (json_int_t)site_servers(&topo->sites[i])));
        return kf_cli_print_json(json_pack("{s:o}", "sites", arr));
    }
    if ((t = kf_table_new(hdr)) == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    for (size_t i = 0; i < topo->n_sites; i++) {
        char pools[24], servers[24];
        snprintf(pools, sizeof(pools), "%zu", topo->sites[i].n_pools);
        snprintf(servers, sizeof(servers), "%zu", site_servers(&topo->sites[i]));
        const char *row[] = {topo->sites[i].name, pools, servers};
        if (kf_table_add(t, row) != 0)
            return kf_cli_fail(cli, KF_ERR_NOMEM);
    }
    kf_table_print(t, stdout);
    return 0;
}

/* Say and record that POOL went with its servers (INDENT before each line). */
static void
removed_pool(json_t *doc, const struct kf_pool *pool, const char *indent)
{
    char object[KF_FQDN_MAX + 8];

    if (indent[0] != '\0') {
        kf_cli_say("%sand its pool %s", indent, pool->fqdn);
        snprintf(object, sizeof(object), "pool:%s", pool->fqdn);
        kf_cli_change_add(doc, "removed", object);
    }
    for (size_t k = 0; k < pool->n_servers; k++) {
        kf_cli_say("%s  and its server %s", indent, pool->servers[k].fqdn);
        snprintf(object, sizeof(object), "server:%s", pool->servers[k].fqdn);
        kf_cli_change_add(doc, "removed", object);
    }
}

KF_CMD(kf_cmd_site_remove)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    json_t *doc;
    const struct kf_site *site;
    char object[128];
    bool force = a->force;
    kf_status rc;

    kf_cli_object(cli, "site:%s", a->operands[0]);
    if ((rc = load(cli, &topo)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "site:%s", a->operands[0]);
    if ((rc = kf_store_site_remove(cli->store, a->operands[0], force, &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    site = find_site(topo, a->operands[0]);
    snprintf(object, sizeof(object), "site:%s", site ? site->name : a->operands[0]);
    doc = kf_cli_change_doc("removed", object);
    kf_cli_say("removed site %s", site ? site->name : a->operands[0]);
    for (size_t j = 0; site && j < site->n_pools; j++)
        removed_pool(doc, &site->pools[j], "  ");
    return kf_cli_emit(cli, doc);
}

/* ---- pool ------------------------------------------------------------- */

KF_CMD(kf_cmd_pool_add)
{
    _cleanup_(kf_topology_freep) struct kf_topology *scratch = kf_topology_new();
    struct kf_site *holder;
    struct kf_pool *pool;
    const char *site = a->site, *url = a->probe_url;
    char fqdn[KF_FQDN_MAX + 1], object[KF_FQDN_MAX + 8];
    kf_status rc;

    if (scratch == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    kf_cli_object(cli, "pool:%s", a->operands[0]);
    holder = kf_topology_add_site(scratch, site);
    if (holder == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    if (kf_fqdn_normalize(a->operands[0], fqdn, sizeof(fqdn), &cli->err) != KF_OK ||
        (url != NULL && kf_url_check(url, &cli->err) != KF_OK))
        return kf_cli_bad_arg(cli);
    if ((pool = kf_site_add_pool(holder, fqdn, url)) == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    for (size_t i = 0; i < a->web_fqdns.n; i++) {
        char web[KF_FQDN_MAX + 1];
        if (kf_fqdn_normalize(a->web_fqdns.v[i], web, sizeof(web), &cli->err) != KF_OK)
            return kf_err_prefix(&cli->err, "--web-fqdn"), kf_cli_bad_arg(cli);
        if (kf_pool_add_web_fqdn(pool, web) != 0)
            return kf_cli_fail(cli, KF_ERR_NOMEM);
    }
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "pool:%s", fqdn);
    if ((rc = kf_store_pool_add(cli->store, site, pool, &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("added pool %s to site %s", fqdn, site);
    return kf_cli_emit(cli, kf_cli_change_doc("added", object));
}

KF_CMD(kf_cmd_pool_set)
{
    _cleanup_free_ char **webs = calloc(a->web_fqdns.n + 1, sizeof(char *));
    _cleanup_free_ char *buf = malloc((a->web_fqdns.n + 1) * (KF_FQDN_MAX + 1));
    const char *url = a->probe_url;
    char fqdn[KF_FQDN_MAX + 1], object[KF_FQDN_MAX + 8];
    bool set_webs = a->web_fqdns.n > 0, no_webs = a->no_web_fqdns;
    bool set_probe = url != NULL, default_probe = a->default_probe_url;
    size_t n_webs = 0;
    kf_status rc;

    if (webs == NULL || buf == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    for (size_t i = 0; i < a->web_fqdns.n; i++) {
        char *slot = buf + n_webs * (KF_FQDN_MAX + 1);
        if (kf_fqdn_normalize(a->web_fqdns.v[i], slot, KF_FQDN_MAX + 1, &cli->err) != KF_OK)
            return kf_err_prefix(&cli->err, "--web-fqdn"), kf_cli_bad_arg(cli);
        webs[n_webs++] = slot;
    }
    if (no_webs && set_webs)
        return kf_cli_usage(cmd, "--web-fqdn and --no-web-fqdns exclude each other");
    if (default_probe && set_probe)
        return kf_cli_usage(cmd, "--probe-url and --default-probe-url exclude each other");
    if (!set_webs && !no_webs && !set_probe && !default_probe)
        return kf_cli_usage(cmd, "nothing to change: give --web-fqdn, --no-web-fqdns, --probe-url "
                                 "or --default-probe-url");
    kf_cli_object(cli, "pool:%s", a->operands[0]);
    if (kf_fqdn_normalize(a->operands[0], fqdn, sizeof(fqdn), &cli->err) != KF_OK ||
        (url != NULL && kf_url_check(url, &cli->err) != KF_OK))
        return kf_cli_bad_arg(cli);
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "pool:%s", fqdn);
    kf_cli_object(cli, "%s", object);
    if ((rc = kf_store_pool_update(cli->store, fqdn, (const char *const *)webs, n_webs,
                                   set_webs || no_webs, url, set_probe || default_probe,
                                   &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("changed pool %s%s", fqdn,
               set_webs || no_webs ? "; publish its SPNs with `krbfleet topology enable`" : "");
    return kf_cli_emit(cli, kf_cli_change_doc("changed", object));
}

static json_t *
web_fqdns_json(const struct kf_pool *pool)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < pool->n_web_fqdns; i++)
        json_array_append_new(arr, json_string(pool->web_fqdns[i]));
    return arr;
}

KF_CMD(kf_cmd_pool_list)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    _cleanup_(kf_table_freep) struct kf_table *t = NULL;
    static const char *const hdr[] = {"POOL", "SITE", "SERVERS", "WEB FQDNS", "PROBE URL", NULL};
    json_t *arr;
    kf_status rc;

    if ((rc = load(cli, &topo)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((t = kf_table_new(hdr)) == NULL || (arr = json_array()) == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    for (size_t i = 0; i < topo->n_sites; i++) {
        const struct kf_site *site = &topo->sites[i];
        for (size_t j = 0; j < site->n_pools; j++) {
            const struct kf_pool *p = &site->pools[j];
            char servers[24], webs[1024] = "", url[KF_FQDN_MAX + 16];
            /* probe_url null: the default, https://FQDN/ */
            json_t *jp = json_pack("{s:s, s:s, s:o, s:s?, s:I}", "fqdn", p->fqdn, "site",
                                   site->name, "web_fqdns", web_fqdns_json(p), "probe_url",
                                   p->probe_url, "servers", (json_int_t)p->n_servers);
            json_array_append_new(arr, jp);
            snprintf(servers, sizeof(servers), "%zu", p->n_servers);
            for (size_t k = 0; k < p->n_web_fqdns; k++) {
                size_t used = strlen(webs);
                snprintf(webs + used, sizeof(webs) - used, "%s%s", k ? "," : "", p->web_fqdns[k]);
            }
            snprintf(url, sizeof(url), "https://%s/", p->fqdn);
            const char *row[] = {p->fqdn, site->name, servers, webs[0] ? webs : NULL,
                                 p->probe_url ? p->probe_url : url};
            if (kf_table_add(t, row) != 0) {
                json_decref(arr);
                return kf_cli_fail(cli, KF_ERR_NOMEM);
            }
        }
    }
    if (cli->json)
        return kf_cli_print_json(json_pack("{s:o}", "pools", arr));
    json_decref(arr);
    kf_table_print(t, stdout);
    return 0;
}

KF_CMD(kf_cmd_pool_remove)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    const struct kf_pool *pool;
    char fqdn[KF_FQDN_MAX + 1], object[KF_FQDN_MAX + 8];
    bool force = a->force;
    json_t *doc;
    kf_status rc;

    kf_cli_object(cli, "pool:%s", a->operands[0]);
    if (kf_fqdn_normalize(a->operands[0], fqdn, sizeof(fqdn), &cli->err) != KF_OK)
        return kf_cli_bad_arg(cli);
    if ((rc = load(cli, &topo)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "pool:%s", fqdn);
    if ((rc = kf_store_pool_remove(cli->store, fqdn, force, &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("removed pool %s", fqdn);
    doc = kf_cli_change_doc("removed", object);
    pool = find_pool(topo, fqdn, NULL);
    if (pool != NULL)
        removed_pool(doc, pool, "");
    return kf_cli_emit(cli, doc);
}

/* ---- server ----------------------------------------------------------- */

KF_CMD(kf_cmd_server_add)
{
    const char *pool_arg = a->pool, *addr_arg = a->address, *port_arg = a->agent_port;
    char fqdn[KF_FQDN_MAX + 1], pool[KF_FQDN_MAX + 1], addr[64], object[KF_FQDN_MAX + 8];
    struct kf_server srv = {0};
    kf_status rc;

    kf_cli_object(cli, "server:%s", a->operands[0]);
    if (kf_fqdn_normalize(a->operands[0], fqdn, sizeof(fqdn), &cli->err) != KF_OK ||
        kf_fqdn_normalize(pool_arg, pool, sizeof(pool), &cli->err) != KF_OK ||
        (addr_arg && kf_address_normalize(addr_arg, addr, sizeof(addr), &cli->err) != KF_OK) ||
        (port_arg && kf_port_parse(port_arg, &srv.agent_port, &cli->err) != KF_OK))
        return kf_cli_bad_arg(cli);
    srv.fqdn = fqdn;
    srv.address = addr_arg ? addr : NULL;
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "server:%s", fqdn);
    if ((rc = kf_store_server_add(cli->store, pool, &srv, &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("added server %s to pool %s", fqdn, pool);
    return kf_cli_emit(cli, kf_cli_change_doc("added", object));
}

/* One row per server, for `server list` and `service list`. */
static int
list_servers(struct kf_cli *cli, bool services)
{
    static const char *const hdr_srv[] = {"SERVER", "POOL", "SITE", "ADDRESS", "AGENT PORT",
                                          NULL};
    static const char *const hdr_svc[] = {"IDENTITY", "SERVER", "POOL", "SITE", NULL};
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    _cleanup_(kf_table_freep) struct kf_table *t = NULL;
    json_t *arr;
    kf_status rc;

    if ((rc = load(cli, &topo)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((t = kf_table_new(services ? hdr_svc : hdr_srv)) == NULL || (arr = json_array()) == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++) {
            const struct kf_pool *p = &topo->sites[i].pools[j];
            const char *site = topo->sites[i].name;
            for (size_t k = 0; k < p->n_servers; k++) {
                const struct kf_server *s = &p->servers[k];
                char port[16], identity[KF_FQDN_MAX + 16];
                json_t *js;
                int bad;
                snprintf(port, sizeof(port), "%d", s->agent_port);
                snprintf(identity, sizeof(identity), "WebServer:%s", p->fqdn);
                if (services) {
                    const char *row[] = {identity, s->fqdn, p->fqdn, site};
                    js = json_pack("{s:s, s:s, s:s, s:s}", "identity", identity, "server",
                                   s->fqdn, "pool", p->fqdn, "site", site);
                    bad = kf_table_add(t, row);
                } else {
                    const char *row[] = {s->fqdn, p->fqdn, site, s->address,
                                         s->agent_port ? port : NULL};
                    /* null: resolve the FQDN / the [agent] port */
                    js = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "fqdn", s->fqdn, "pool", p->fqdn,
                                   "site", site, "address", s->address, "agent_port",
                                   s->agent_port ? json_integer(s->agent_port) : json_null());
                    bad = kf_table_add(t, row);
                }
                if (bad || json_array_append_new(arr, js) != 0) {
                    json_decref(arr);
                    return kf_cli_fail(cli, KF_ERR_NOMEM);
                }
            }
        }
    if (cli->json)
        return kf_cli_print_json(json_pack("{s:o}", services ? "services" : "servers", arr));
    json_decref(arr);
    kf_table_print(t, stdout);
    return 0;
}

KF_CMD(kf_cmd_server_list)
{
    return list_servers(cli, false);
}

KF_CMD(kf_cmd_service_list)
{
    (void)a; /* --webserver: the only kind of service there is */
    return list_servers(cli, true);
}

KF_CMD(kf_cmd_server_remove)
{
    char fqdn[KF_FQDN_MAX + 1], object[KF_FQDN_MAX + 8];
    kf_status rc;

    kf_cli_object(cli, "server:%s", a->operands[0]);
    if (kf_fqdn_normalize(a->operands[0], fqdn, sizeof(fqdn), &cli->err) != KF_OK)
        return kf_cli_bad_arg(cli);
    if ((rc = kf_cli_store(cli)) != KF_OK || (rc = kf_store_begin(cli->store, &cli->err)) != KF_OK)
        return kf_cli_fail(cli, rc);
    snprintf(object, sizeof(object), "server:%s", fqdn);
    if ((rc = kf_store_server_remove(cli->store, fqdn, &cli->err)) != KF_OK ||
        (rc = commit_change(cli, object, NULL)) != KF_OK)
        return fail_rollback(cli, rc);
    kf_cli_say("removed server %s", fqdn);
    return kf_cli_emit(cli, kf_cli_change_doc("removed", object));
}

/* ---- topology import / export ----------------------------------------- */

KF_DEFINE_CLEANUP(struct kf_topo_diff, kf_topo_diff_free)

static void
print_diff(const struct kf_topo_diff *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct kf_topo_change *c = &d->changes[i];
        if (c->op == KF_TOPO_CHANGED)
            kf_cli_say("%c %s %s: %s", (char)c->op, c->kind, c->name, c->detail);
        else
            kf_cli_say("%c %s %s (%s)", (char)c->op, c->kind, c->name, c->detail);
    }
}

/* What an import does (or would do, DRY_RUN) as JSON: the difference as
 * changes ("site:NAME", "web_fqdn:NAME", ...), the counts of the new
 * topology, and what in use it removes (--force) or would remove. */
static json_t *
import_json(const struct kf_topo_diff *d, const struct kf_topology *topo, size_t n_pools,
            char **lost, size_t n_lost, bool dry_run)
{
    json_t *doc = json_pack("{s:b, s:[], s:I, s:I, s:I, s:[]}", "dry_run", dry_run, "changes",
                            "sites", (json_int_t)topo->n_sites, "pools", (json_int_t)n_pools,
                            "servers", (json_int_t)kf_topology_count_servers(topo), "in_use");
    json_t *changes = doc ? json_object_get(doc, "changes") : NULL;
    json_t *in_use = doc ? json_object_get(doc, "in_use") : NULL;

    for (size_t i = 0; changes && i < d->n; i++) {
        const struct kf_topo_change *c = &d->changes[i];
        char object[KF_FQDN_MAX + 32];
        snprintf(object, sizeof(object), "%s:%s",
                 strcmp(c->kind, "web FQDN") == 0 ? "web_fqdn" : c->kind, c->name);
        json_array_append_new(changes, json_pack("{s:s, s:s, s:s?}", "action",
                                                  c->op == KF_TOPO_ADDED     ? "added"
                                                  : c->op == KF_TOPO_REMOVED ? "removed"
                                                                             : "changed",
                                                  "object", object, "detail", c->detail));
    }
    for (size_t i = 0; in_use && i < n_lost; i++)
        json_array_append_new(in_use, json_string(lost[i]));
    return doc;
}

KF_CMD(kf_cmd_topology_import)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL, *old = NULL;
    _cleanup_(kf_topo_diff_freep) struct kf_topo_diff *diff = NULL;
    _cleanup_free_ char *data = NULL;
    char **lost = NULL;
    char detail[160];
    bool force = a->force, dry_run = a->dry_run;
    size_t len, n_pools = 0, n_lost = 0;
    json_t *doc;
    kf_status rc;

    kf_cli_object(cli, "file:%s", a->operands[0]);
    if ((rc = kf_cli_read_file(a->operands[0], KF_TOPOLOGY_MAX_BYTES, &data, &len, &cli->err)) !=
        KF_OK)
        return kf_cli_fail(cli, rc);
    if ((rc = kf_topology_from_json(data, len, &topo, &cli->err)) != KF_OK) {
        kf_err_prefix(&cli->err, "%s", a->operands[0]);
        return kf_cli_fail(cli, rc);
    }
    for (size_t i = 0; i < topo->n_sites; i++)
        n_pools += topo->sites[i].n_pools;
    snprintf(detail, sizeof(detail), "%zu sites, %zu pools, %zu servers%s", topo->n_sites,
             n_pools, kf_topology_count_servers(topo), force ? " (--force)" : "");
    /* A dry run changes nothing, not even by creating the store. */
    rc = dry_run ? kf_cli_store_for(cli, KF_READS) : kf_cli_store(cli);
    if (rc == KF_ERR_NOT_FOUND && dry_run) {
        kf_err_clear(&cli->err);
        old = kf_topology_new();
        rc = old != NULL ? KF_OK : kf_err_set(&cli->err, KF_ERR_NOMEM, "out of memory");
    } else if (rc == KF_OK && (rc = kf_store_begin(cli->store, &cli->err)) == KF_OK &&
               (rc = kf_store_topology_load(cli->store, &old, &cli->err)) == KF_OK) {
        rc = kf_store_topology_losses(cli->store, topo, &lost, &n_lost, &cli->err);
    }
    if (rc == KF_OK)
        rc = kf_topology_diff(old, topo, &diff, &cli->err);
    if (rc != KF_OK) {
        kf_strv_free(lost, n_lost);
        return fail_rollback(cli, rc);
    }
    if (dry_run) {
        doc = import_json(diff, topo, n_pools, lost, n_lost, true);
        print_diff(diff);
        for (size_t i = 0; i < n_lost; i++)
            kf_cli_say("! would remove %s%s", lost[i], force ? "" : " - refused without --force");
        kf_cli_say("dry run: %zu change(s) to %s; nothing was changed", diff->n,
                   cli->store != NULL ? "the store" : "a new store");
        kf_strv_free(lost, n_lost);
        if (cli->store != NULL)
            kf_store_rollback(cli->store);
        return kf_cli_emit(cli, doc);
    }
    if (n_lost > 0 && !force) {
        for (size_t i = 0; i < n_lost; i++) {
            _cleanup_free_ char *safe = kf_escape_dup(lost[i]);
            fprintf(stderr, "  would remove %s\n", safe ? safe : "(out of memory)");
        }
        kf_strv_free(lost, n_lost);
        kf_err_set(&cli->err, KF_ERR_CONFLICT,
                   "%s would remove %zu thing(s) in use (listed above); nothing was changed. "
                   "Keep them in the document; or take them out of use first (`krbfleet "
                   "assignment remove --site NAME`, then `krbfleet topology enable`); or "
                   "import with --force",
                   a->operands[0], n_lost);
        return fail_rollback(cli, KF_ERR_CONFLICT);
    }
    if ((rc = kf_store_topology_replace(cli->store, topo, &cli->err)) != KF_OK) {
        kf_strv_free(lost, n_lost);
        kf_err_prefix(&cli->err, "%s", a->operands[0]);
        return fail_rollback(cli, rc);
    }
    if ((rc = commit_change(cli, "topology", detail)) != KF_OK) {
        kf_strv_free(lost, n_lost);
        return fail_rollback(cli, rc);
    }
    doc = import_json(diff, topo, n_pools, lost, n_lost, false);
    for (size_t i = 0; i < n_lost; i++)
        kf_cli_say("removed (--force) %s", lost[i]);
    kf_strv_free(lost, n_lost);
    kf_cli_say("imported %s", detail);
    if (n_lost > 0)
        kf_cli_say("run `krbfleet topology enable` to withdraw the SPNs of what was removed");
    return kf_cli_emit(cli, doc);
}

KF_CMD(kf_cmd_topology_export)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    _cleanup_free_ char *text = NULL;
    char object[4200];
    kf_status rc;

    if ((rc = load(cli, &topo)) != KF_OK)
        return kf_cli_fail(cli, rc);
    if ((text = kf_topology_to_json(topo)) == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    /* A file is replaced whole (a backup is never half written) and a link
     * at its name is replaced, not followed. */
    if (a->n_operands > 0 && strcmp(a->operands[0], "-") != 0) {
        if ((rc = kf_file_replace(a->operands[0], text, strlen(text), 0644,
                                  "the topology document", &cli->err)) != KF_OK)
            return kf_cli_fail(cli, rc);
        snprintf(object, sizeof(object), "file:%s", a->operands[0]);
        return kf_cli_emit(cli, kf_cli_change_doc("written", object));
    }
    /* the document itself is the output, --json or not */
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        kf_err_set(&cli->err, KF_ERR_IO, "cannot write standard output: %s", strerror(errno));
        return kf_cli_fail(cli, KF_ERR_IO);
    }
    return 0;
}
