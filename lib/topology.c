/* topology.c - the topology model and its JSON document (jansson). */
#include "topology.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "mem.h"
#include "names.h"

/* Grow *ARR (of *N elements of SIZE bytes) by one zeroed element; returns
 * the new element or NULL. Pointers to earlier elements stay valid only
 * until the next growth of the same array. */
static void *
grow(void **arr, size_t *n, size_t size)
{
    char *p;

    if (*n >= ((size_t)-1) / size - 1)
        return NULL;
    p = realloc(*arr, (*n + 1) * size);
    if (p == NULL)
        return NULL;
    *arr = p;
    memset(p + *n * size, 0, size);
    return p + (*n)++ * size;
}

struct kf_topology *
kf_topology_new(void)
{
    return calloc(1, sizeof(struct kf_topology));
}

static void
pool_done(struct kf_pool *pool)
{
    free(pool->fqdn);
    free(pool->probe_url);
    for (size_t i = 0; i < pool->n_web_fqdns; i++)
        free(pool->web_fqdns[i]);
    free(pool->web_fqdns);
    for (size_t i = 0; i < pool->n_servers; i++) {
        free(pool->servers[i].fqdn);
        free(pool->servers[i].address);
    }
    free(pool->servers);
}

void
kf_topology_free(struct kf_topology *topo)
{
    if (topo == NULL)
        return;
    for (size_t i = 0; i < topo->n_sites; i++) {
        struct kf_site *site = &topo->sites[i];
        for (size_t j = 0; j < site->n_pools; j++)
            pool_done(&site->pools[j]);
        free(site->pools);
        free(site->name);
    }
    free(topo->sites);
    free(topo);
}

struct kf_site *
kf_topology_add_site(struct kf_topology *topo, const char *name)
{
    char *copy = strdup(name);
    struct kf_site *site;

    if (copy == NULL)
        return NULL;
    site = grow((void **)&topo->sites, &topo->n_sites, sizeof(*site));
    if (site == NULL) {
        free(copy);
        return NULL;
    }
    site->name = copy;
    return site;
}

struct kf_pool *
kf_site_add_pool(struct kf_site *site, const char *fqdn, const char *probe_url)
{
    char *f = strdup(fqdn), *u = kf_strdup0(probe_url);
    struct kf_pool *pool = NULL;

    if (f != NULL && (u != NULL || probe_url == NULL))
        pool = grow((void **)&site->pools, &site->n_pools, sizeof(*pool));
    if (pool == NULL) {
        free(f);
        free(u);
        return NULL;
    }
    pool->fqdn = f;
    pool->probe_url = u;
    return pool;
}

int
kf_pool_add_web_fqdn(struct kf_pool *pool, const char *fqdn)
{
    char *f = strdup(fqdn);
    char **slot = NULL;

    if (f != NULL)
        slot = grow((void **)&pool->web_fqdns, &pool->n_web_fqdns, sizeof(*slot));
    if (slot == NULL) {
        free(f);
        return -1;
    }
    *slot = f;
    return 0;
}

struct kf_server *
kf_pool_add_server(struct kf_pool *pool, const char *fqdn, const char *address, int agent_port)
{
    char *f = strdup(fqdn), *a = kf_strdup0(address);
    struct kf_server *srv = NULL;

    if (f != NULL && (a != NULL || address == NULL))
        srv = grow((void **)&pool->servers, &pool->n_servers, sizeof(*srv));
    if (srv == NULL) {
        free(f);
        free(a);
        return NULL;
    }
    srv->fqdn = f;
    srv->address = a;
    srv->agent_port = agent_port;
    return srv;
}

size_t
kf_topology_count_servers(const struct kf_topology *topo)
{
    size_t n = 0;

    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++)
            n += topo->sites[i].pools[j].n_servers;
    return n;
}

/* ---- difference ------------------------------------------------------- */

void
kf_topo_diff_free(struct kf_topo_diff *diff)
{
    if (diff == NULL)
        return;
    for (size_t i = 0; i < diff->n; i++) {
        free(diff->changes[i].name);
        free(diff->changes[i].detail);
    }
    free(diff->changes);
    free(diff);
}

/* Append a change; the strings are copied (DETAIL formatted). -1: no memory. */
static int __attribute__((format(printf, 5, 6)))
diff_add(struct kf_topo_diff *d, enum kf_topo_op op, const char *kind, const char *name,
         const char *fmt, ...)
{
    struct kf_topo_change *c = grow((void **)&d->changes, &d->n, sizeof(*c));
    va_list ap;
    int r;

    if (c == NULL)
        return -1;
    c->op = op;
    c->kind = kind;
    c->name = strdup(name);
    va_start(ap, fmt);
    r = vasprintf(&c->detail, fmt, ap);
    va_end(ap);
    if (r < 0)
        c->detail = NULL;
    return c->name != NULL && c->detail != NULL ? 0 : -1;
}

static const struct kf_site *
site_named(const struct kf_topology *t, const char *name)
{
    for (size_t i = 0; i < t->n_sites; i++)
        if (strcasecmp(t->sites[i].name, name) == 0)
            return &t->sites[i];
    return NULL;
}

static const struct kf_pool *
pool_named(const struct kf_topology *t, const char *fqdn, const struct kf_site **site)
{
    for (size_t i = 0; i < t->n_sites; i++)
        for (size_t j = 0; j < t->sites[i].n_pools; j++)
            if (strcmp(t->sites[i].pools[j].fqdn, fqdn) == 0) {
                *site = &t->sites[i];
                return &t->sites[i].pools[j];
            }
    return NULL;
}

static const struct kf_server *
server_named(const struct kf_topology *t, const char *fqdn, const struct kf_pool **pool)
{
    for (size_t i = 0; i < t->n_sites; i++)
        for (size_t j = 0; j < t->sites[i].n_pools; j++)
            for (size_t k = 0; k < t->sites[i].pools[j].n_servers; k++)
                if (strcmp(t->sites[i].pools[j].servers[k].fqdn, fqdn) == 0) {
                    *pool = &t->sites[i].pools[j];
                    return &t->sites[i].pools[j].servers[k];
                }
    return NULL;
}

static bool
has_web(const struct kf_pool *p, const char *fqdn)
{
    for (size_t i = 0; i < p->n_web_fqdns; i++)
        if (strcmp(p->web_fqdns[i], fqdn) == 0)
            return true;
    return false;
}

/* Sites, pools and servers of A missing from B, as OP. */
static int
diff_missing(struct kf_topo_diff *d, const struct kf_topology *a, const struct kf_topology *b,
             enum kf_topo_op op)
{
    const struct kf_site *os;
    const struct kf_pool *op_;
    int r = 0;

    for (size_t i = 0; r == 0 && i < a->n_sites; i++)
        if (site_named(b, a->sites[i].name) == NULL)
            r = diff_add(d, op, "site", a->sites[i].name, "%zu pool(s)", a->sites[i].n_pools);
    for (size_t i = 0; r == 0 && i < a->n_sites; i++)
        for (size_t j = 0; r == 0 && j < a->sites[i].n_pools; j++) {
            const struct kf_pool *p = &a->sites[i].pools[j];
            const struct kf_pool *q = pool_named(b, p->fqdn, &os);
            if (q == NULL)
                r = diff_add(d, op, "pool", p->fqdn, "site %s", a->sites[i].name);
            for (size_t k = 0; r == 0 && k < p->n_web_fqdns; k++)
                if (q == NULL || !has_web(q, p->web_fqdns[k]))
                    r = diff_add(d, op, "web FQDN", p->web_fqdns[k], "pool %s", p->fqdn);
        }
    for (size_t i = 0; r == 0 && i < a->n_sites; i++)
        for (size_t j = 0; r == 0 && j < a->sites[i].n_pools; j++)
            for (size_t k = 0; r == 0 && k < a->sites[i].pools[j].n_servers; k++) {
                const struct kf_server *v = &a->sites[i].pools[j].servers[k];
                if (server_named(b, v->fqdn, &op_) == NULL)
                    r = diff_add(d, op, "server", v->fqdn, "pool %s", a->sites[i].pools[j].fqdn);
            }
    return r;
}

static const char *
or_default(const char *s)
{
    return s != NULL ? s : "(default)";
}

static bool
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Pools and servers in both FROM and TO whose attributes differ. */
static int
diff_changed(struct kf_topo_diff *d, const struct kf_topology *from, const struct kf_topology *to)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < to->n_sites; i++)
        for (size_t j = 0; r == 0 && j < to->sites[i].n_pools; j++) {
            const struct kf_pool *p = &to->sites[i].pools[j], *q;
            const struct kf_site *qs;
            if ((q = pool_named(from, p->fqdn, &qs)) == NULL)
                continue;
            if (strcasecmp(qs->name, to->sites[i].name) != 0)
                r = diff_add(d, KF_TOPO_CHANGED, "pool", p->fqdn, "site %s -> %s", qs->name,
                             to->sites[i].name);
            if (r == 0 && !same_str(q->probe_url, p->probe_url))
                r = diff_add(d, KF_TOPO_CHANGED, "pool", p->fqdn, "probe URL %s -> %s",
                             or_default(q->probe_url), or_default(p->probe_url));
        }
    for (size_t i = 0; r == 0 && i < to->n_sites; i++)
        for (size_t j = 0; r == 0 && j < to->sites[i].n_pools; j++)
            for (size_t k = 0; r == 0 && k < to->sites[i].pools[j].n_servers; k++) {
                const struct kf_pool *p = &to->sites[i].pools[j], *qp;
                const struct kf_server *v = &p->servers[k], *w;
                char a[16], b[16];
                if ((w = server_named(from, v->fqdn, &qp)) == NULL)
                    continue;
                if (strcmp(qp->fqdn, p->fqdn) != 0)
                    r = diff_add(d, KF_TOPO_CHANGED, "server", v->fqdn, "pool %s -> %s", qp->fqdn,
                                 p->fqdn);
                if (r == 0 && !same_str(w->address, v->address))
                    r = diff_add(d, KF_TOPO_CHANGED, "server", v->fqdn, "address %s -> %s",
                                 or_default(w->address), or_default(v->address));
                snprintf(a, sizeof(a), "%d", w->agent_port);
                snprintf(b, sizeof(b), "%d", v->agent_port);
                if (r == 0 && w->agent_port != v->agent_port)
                    r = diff_add(d, KF_TOPO_CHANGED, "server", v->fqdn, "agent port %s -> %s",
                                 w->agent_port ? a : "(default)", v->agent_port ? b : "(default)");
            }
    return r;
}

kf_status
kf_topology_diff(const struct kf_topology *from, const struct kf_topology *to,
                 struct kf_topo_diff **out, struct kf_err *err)
{
    struct kf_topo_diff *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL || diff_missing(d, to, from, KF_TOPO_ADDED) != 0 ||
        diff_missing(d, from, to, KF_TOPO_REMOVED) != 0 || diff_changed(d, from, to) != 0) {
        kf_topo_diff_free(d);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    *out = d;
    return KF_OK;
}

/* ---- parsing ---------------------------------------------------------- */

#define PATH_MAX_LEN 128

static kf_status
path_err(struct kf_err *err, const char *path, kf_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static kf_status
path_err(struct kf_err *err, const char *path, kf_status code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kf_err_setv(err, code, fmt, ap);
    va_end(ap);
    if (path[0] != '\0')
        kf_err_prefix(err, "%s", path);
    return code;
}

/* Every key of OBJ must be one of ALLOWED (NULL-terminated). */
static kf_status
check_keys(json_t *obj, const char *path, const char *const *allowed, struct kf_err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        size_t i;
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return path_err(err, path, KF_ERR_INVALID, "unknown key \"%.*s\"",
                            (int)strnlen(key, 64), key);
    }
    return KF_OK;
}

/* Fetch OBJ[KEY] as a string: required or optional (NULL when absent). */
static kf_status
get_string(json_t *obj, const char *path, const char *key, int required, const char **out,
           struct kf_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL) {
        if (required)
            return path_err(err, path, KF_ERR_INVALID, "missing \"%s\"", key);
        return KF_OK;
    }
    if (!json_is_string(v))
        return path_err(err, path, KF_ERR_INVALID, "\"%s\" must be a string", key);
    *out = json_string_value(v);
    return KF_OK;
}

/* Fetch OBJ[KEY] as an array; absent means empty (*OUT = NULL). */
static kf_status
get_array(json_t *obj, const char *path, const char *key, json_t **out, struct kf_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL)
        return KF_OK;
    if (!json_is_array(v))
        return path_err(err, path, KF_ERR_INVALID, "\"%s\" must be an array", key);
    *out = v;
    return KF_OK;
}

static kf_status
parse_server(json_t *js, const char *path, struct kf_pool *pool, struct kf_err *err)
{
    static const char *const keys[] = {"fqdn", "address", "agent_port", NULL};
    char sub[PATH_MAX_LEN + 16], fqdn[KF_FQDN_MAX + 1], addr[64];
    const char *s_fqdn, *s_addr;
    json_t *jport;
    int port = 0;
    kf_status st;

    if (!json_is_object(js))
        return path_err(err, path, KF_ERR_INVALID, "a server must be an object");
    if ((st = check_keys(js, path, keys, err)) != KF_OK ||
        (st = get_string(js, path, "fqdn", 1, &s_fqdn, err)) != KF_OK ||
        (st = get_string(js, path, "address", 0, &s_addr, err)) != KF_OK)
        return st;
    snprintf(sub, sizeof(sub), "%s.fqdn", path);
    if (kf_fqdn_normalize(s_fqdn, fqdn, sizeof(fqdn), err) != KF_OK)
        return kf_err_prefix(err, "%s", sub);
    if (s_addr != NULL) {
        snprintf(sub, sizeof(sub), "%s.address", path);
        if (kf_address_normalize(s_addr, addr, sizeof(addr), err) != KF_OK)
            return kf_err_prefix(err, "%s", sub);
    }
    jport = json_object_get(js, "agent_port");
    if (jport != NULL) {
        json_int_t v;
        snprintf(sub, sizeof(sub), "%s.agent_port", path);
        if (!json_is_integer(jport) || (v = json_integer_value(jport)) < 1 || v > 65535)
            return path_err(err, sub, KF_ERR_INVALID, "must be a port number 1-65535");
        port = (int)v;
    }
    if (kf_pool_add_server(pool, fqdn, s_addr ? addr : NULL, port) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

static kf_status
parse_pool(json_t *jp, const char *path, struct kf_site *site, struct kf_err *err)
{
    static const char *const keys[] = {"fqdn", "web_fqdns", "probe_url", "servers", NULL};
    char sub[PATH_MAX_LEN + 32], fqdn[KF_FQDN_MAX + 1];
    const char *s_fqdn, *s_url;
    json_t *jweb, *jservers, *v;
    struct kf_pool *pool;
    size_t i;
    kf_status st;

    if (!json_is_object(jp))
        return path_err(err, path, KF_ERR_INVALID, "a pool must be an object");
    if ((st = check_keys(jp, path, keys, err)) != KF_OK ||
        (st = get_string(jp, path, "fqdn", 1, &s_fqdn, err)) != KF_OK ||
        (st = get_string(jp, path, "probe_url", 0, &s_url, err)) != KF_OK ||
        (st = get_array(jp, path, "web_fqdns", &jweb, err)) != KF_OK ||
        (st = get_array(jp, path, "servers", &jservers, err)) != KF_OK)
        return st;
    snprintf(sub, sizeof(sub), "%s.fqdn", path);
    if (kf_fqdn_normalize(s_fqdn, fqdn, sizeof(fqdn), err) != KF_OK)
        return kf_err_prefix(err, "%s", sub);
    if (s_url != NULL && kf_url_check(s_url, err) != KF_OK)
        return kf_err_prefix(err, "%s.probe_url", path);
    pool = kf_site_add_pool(site, fqdn, s_url);
    if (pool == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    json_array_foreach(jweb, i, v) {
        char web[KF_FQDN_MAX + 1];
        snprintf(sub, sizeof(sub), "%s.web_fqdns[%zu]", path, i);
        if (!json_is_string(v))
            return path_err(err, sub, KF_ERR_INVALID, "must be a string");
        if (kf_fqdn_normalize(json_string_value(v), web, sizeof(web), err) != KF_OK)
            return kf_err_prefix(err, "%s", sub);
        if (kf_pool_add_web_fqdn(pool, web) != 0)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(jservers, i, v) {
        snprintf(sub, sizeof(sub), "%s.servers[%zu]", path, i);
        if ((st = parse_server(v, sub, pool, err)) != KF_OK)
            return st;
    }
    return KF_OK;
}

static kf_status
parse_site(json_t *js, const char *path, struct kf_topology *topo, struct kf_err *err)
{
    static const char *const keys[] = {"name", "pools", NULL};
    char sub[PATH_MAX_LEN];
    const char *name;
    json_t *jpools, *v;
    struct kf_site *site;
    size_t i;
    kf_status st;

    if (!json_is_object(js))
        return path_err(err, path, KF_ERR_INVALID, "a site must be an object");
    if ((st = check_keys(js, path, keys, err)) != KF_OK ||
        (st = get_string(js, path, "name", 1, &name, err)) != KF_OK ||
        (st = get_array(js, path, "pools", &jpools, err)) != KF_OK)
        return st;
    if (kf_site_name_check(name, err) != KF_OK)
        return kf_err_prefix(err, "%s.name", path);
    site = kf_topology_add_site(topo, name);
    if (site == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    json_array_foreach(jpools, i, v) {
        snprintf(sub, sizeof(sub), "%s.pools[%zu]", path, i);
        if ((st = parse_pool(v, sub, site, err)) != KF_OK)
            return st;
    }
    return KF_OK;
}

/* Where jansson's message says the problem is ("'x'" after " near "), or
 * "the end of the document". */
static const char *
near_text(const char *text)
{
    const char *near = strstr(text, " near ");

    if (near == NULL || strcmp(near, " near end of file") == 0)
        return "at the end of the document";
    return near + 1;
}

/* Jansson's message without its " near ..." part, in WHAT. */
static void
head_text(const char *text, char *what, size_t size)
{
    const char *near = strstr(text, " near ");
    int n = near != NULL ? (int)(near - text) : (int)strlen(text);

    snprintf(what, size, "%.*s", n, text);
}

/* True if TEXT (LEN bytes) is nothing but JSON white space. */
static bool
blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || text[i] == '\0')
            return false;
    return true;
}

/* Why jansson refused the document TEXT (LEN bytes), in our words: what is
 * wrong and where, never the library's flag names (JSON_ALLOW_NUL). */
static kf_status
json_problem(const json_error_t *e, const char *text, size_t len, struct kf_err *err)
{
    char head[JSON_ERROR_TEXT_LENGTH];
    kf_status code = KF_ERR_INVALID;
    const char *near = near_text(e->text);

    head_text(e->text, head, sizeof(head));
    switch (json_error_code(e)) {
    case json_error_out_of_memory:
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory reading the document");
    case json_error_stack_overflow:
        return kf_err_set(err, code, "line %d, column %d: arrays or objects nested too deeply",
                          e->line, e->column);
    case json_error_invalid_utf8:
        return kf_err_set(err, code, "line %d, column %d: the document is not UTF-8 (%s); save "
                          "it as UTF-8", e->line, e->column, head);
    case json_error_premature_end_of_input:
        if (blank(text, len))
            return kf_err_set(err, code, "the document is empty; it must be an object with "
                                         "\"sites\"");
        return kf_err_set(err, code, "line %d, column %d: the document ends too early (%s); is "
                          "a closing bracket or quote missing?", e->line, e->column, head);
    case json_error_end_of_input_expected:
        return kf_err_set(err, code, "line %d, column %d: text after the end of the document "
                          "(%s)", e->line, e->column, near);
    case json_error_null_character:
        return kf_err_set(err, code, "line %d, column %d: a string holds \\u0000 (a NUL "
                          "character); no name or URL may contain one", e->line, e->column);
    case json_error_duplicate_key:
        return kf_err_set(err, code, "line %d, column %d: the same key appears twice in one "
                          "object (%s)", e->line, e->column, near);
    case json_error_numeric_overflow:
        return kf_err_set(err, code, "line %d, column %d: a number is too large", e->line,
                          e->column);
    default:
        if (strncmp(e->text, "control character ", 18) == 0)
            return kf_err_set(err, code, "line %d, column %d: a string holds a raw control "
                              "character (%s); no name or URL may contain one", e->line,
                              e->column, head + 18);
        return kf_err_set(err, code, "line %d, column %d: not valid JSON: %s", e->line, e->column,
                          e->text);
    }
}

kf_status
kf_topology_from_json(const char *text, size_t len, struct kf_topology **out, struct kf_err *err)
{
    static const char *const keys[] = {"sites", NULL};
    struct kf_topology *topo = NULL;
    json_error_t jerr;
    json_t *root, *jsites, *v;
    size_t i;
    kf_status st;

    *out = NULL;
    if (len > KF_TOPOLOGY_MAX_BYTES)
        return kf_err_set(err, KF_ERR_INVALID, "document is larger than %u MiB",
                          KF_TOPOLOGY_MAX_BYTES >> 20);
    /* A UTF-8 byte order mark, as some Windows editors write, is skipped;
     * export never writes one. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return json_problem(&jerr, text, len, err);
    if (!json_is_object(root)) {
        st = kf_err_set(err, KF_ERR_INVALID, "the document must be an object with \"sites\"");
        goto out;
    }
    if ((st = check_keys(root, "", keys, err)) != KF_OK)
        goto out;
    jsites = json_object_get(root, "sites");
    if (jsites == NULL || !json_is_array(jsites)) {
        st = kf_err_set(err, KF_ERR_INVALID, "\"sites\" must be an array");
        goto out;
    }
    topo = kf_topology_new();
    if (topo == NULL) {
        st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(jsites, i, v) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof(path), "sites[%zu]", i);
        if ((st = parse_site(v, path, topo, err)) != KF_OK)
            goto out;
    }
    *out = TAKE_PTR(topo);
    st = KF_OK;
out:
    kf_topology_free(topo);
    json_decref(root);
    return st;
}

/* ---- serialising ------------------------------------------------------ */

/* json_object_set_new that reports failure; takes VALUE in all cases. */
static int
put(json_t *obj, const char *key, json_t *value)
{
    return value == NULL || json_object_set_new(obj, key, value) != 0 ? -1 : 0;
}

static json_t *
server_to_json(const struct kf_server *srv)
{
    json_t *js = json_object();

    if (js == NULL || put(js, "fqdn", json_string(srv->fqdn)) != 0 ||
        (srv->address != NULL && put(js, "address", json_string(srv->address)) != 0) ||
        (srv->agent_port != 0 && put(js, "agent_port", json_integer(srv->agent_port)) != 0)) {
        json_decref(js);
        return NULL;
    }
    return js;
}

static json_t *
pool_to_json(const struct kf_pool *pool)
{
    json_t *jp = json_object(), *jservers = json_array(), *jweb = NULL;

    if (jp == NULL || jservers == NULL || put(jp, "fqdn", json_string(pool->fqdn)) != 0)
        goto fail;
    if (pool->n_web_fqdns > 0) {
        jweb = json_array();
        if (jweb == NULL)
            goto fail;
        for (size_t i = 0; i < pool->n_web_fqdns; i++)
            if (json_array_append_new(jweb, json_string(pool->web_fqdns[i])) != 0)
                goto fail;
        if (put(jp, "web_fqdns", TAKE_PTR(jweb)) != 0)
            goto fail;
    }
    if (pool->probe_url != NULL && put(jp, "probe_url", json_string(pool->probe_url)) != 0)
        goto fail;
    for (size_t i = 0; i < pool->n_servers; i++)
        if (json_array_append_new(jservers, server_to_json(&pool->servers[i])) != 0)
            goto fail;
    if (put(jp, "servers", TAKE_PTR(jservers)) != 0)
        goto fail;
    return jp;
fail:
    json_decref(jweb);
    json_decref(jservers);
    json_decref(jp);
    return NULL;
}

char *
kf_topology_to_json(const struct kf_topology *topo)
{
    json_t *root = json_object(), *jsites = json_array();
    char *text = NULL, *out = NULL;

    if (root == NULL || jsites == NULL)
        goto done;
    for (size_t i = 0; i < topo->n_sites; i++) {
        const struct kf_site *site = &topo->sites[i];
        json_t *js = json_object(), *jpools = json_array();
        int bad = js == NULL || jpools == NULL || put(js, "name", json_string(site->name)) != 0;
        for (size_t j = 0; !bad && j < site->n_pools; j++)
            bad = json_array_append_new(jpools, pool_to_json(&site->pools[j])) != 0;
        if (bad || put(js, "pools", TAKE_PTR(jpools)) != 0 ||
            json_array_append_new(jsites, TAKE_PTR(js)) != 0) {
            json_decref(jpools);
            json_decref(js);
            goto done;
        }
    }
    if (put(root, "sites", TAKE_PTR(jsites)) != 0)
        goto done;
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        size_t n = strlen(text);
        out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, text, n);
            out[n] = '\n';
            out[n + 1] = '\0';
        }
    }
done:
    free(text);
    json_decref(jsites);
    json_decref(root);
    return out;
}
