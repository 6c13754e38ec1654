/* test_store.c - the store: creation, migrations, name rules, audit. The
 * tests of what the store does run on SQLite, and on PostgreSQL too when
 * $KRBFLEET_TEST_PG_URL names a scratch database (tests/unit/with-pg.sh):
 * its public schema is emptied before each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"
#include "strv.h"

/* The model's strings are mutable; tests point them at literals. */
#define W(s) ((char *)(uintptr_t)(s))

struct fixture {
    char dir[64];
    char path[128];
    const char *url; /* PostgreSQL: the store is this, not PATH */
    struct kf_store *st;
};

static int setup(void **state);

/* Run SQL on the scratch PostgreSQL database, directly; the first column
 * of the first row into OUT (may be NULL). */
static void pg_query(const char *url, const char *sql, char *out, size_t size);

/* Run SQL on the scratch PostgreSQL database, directly. */
static void
pg_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", url, PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void
pg_query(const char *url, const char *sql, char *out, size_t size)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", url, PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
}

static void
pg_reset(const char *url)
{
    pg_sql(url, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                "CREATE SCHEMA public");
}

static int
setup_pg(void **state)
{
    struct fixture *f;

    if (setup(state) != 0)
        return -1;
    f = *state;
    f->url = getenv("KRBFLEET_TEST_PG_URL");
    pg_reset(f->url);
    return 0;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/kf-test-store.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/sub/krbfleet.db", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    kf_store_free(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct kf_store *
open_store(struct fixture *f)
{
    struct kf_err err = {0};

    if (f->url != NULL
            ? kf_store_open_as(f->url, KF_STORE_FOR_MIGRATING, NULL, &f->st, &err) != KF_OK
            : kf_store_open(f->path, &f->st, &err) != KF_OK)
        fail_msg("open: %s", err.msg);
    kf_store_set_actor(f->st, "tester", NULL, "unit test");
    return f->st;
}

static void
test_created_private_and_migrated(void **state)
{
    struct fixture *f = *state;
    struct stat sb;

    open_store(f);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(kf_store_schema_version(f->st), kf_store_schema_current());
    /* opening again is a no-op migration */
    kf_store_free(f->st);
    f->st = NULL;
    open_store(f);
    assert_int_equal(kf_store_schema_version(f->st), kf_store_schema_current());
}

static void
test_migrates_empty_file(void **state)
{
    struct fixture *f = *state;
    FILE *fp;

    snprintf(f->path, sizeof(f->path), "%s/empty.db", f->dir);
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    fclose(fp);
    open_store(f);
    assert_int_equal(kf_store_schema_version(f->st), kf_store_schema_current());
}

static void
test_refuses_newer_schema(void **state)
{
    struct fixture *f = *state;
    struct kf_err err = {0};
    sqlite3 *db;

    snprintf(f->path, sizeof(f->path), "%s/newer.db", f->dir);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(kf_store_open(f->path, &f->st, &err), KF_ERR_STORE);
    assert_non_null(strstr(err.msg, "newer than this krbfleet knows"));
}

static void
add_basics(struct kf_store *st)
{
    struct kf_pool pool = {.fqdn = W("web.a.test")};
    char *webs[] = {W("lb.a.test")};
    struct kf_server srv = {.fqdn = W("fe01.a.test"), .address = W("192.0.2.1")};

    pool.web_fqdns = webs;
    pool.n_web_fqdns = 1;
    assert_int_equal(kf_store_site_add(st, "alpha", NULL), KF_OK);
    assert_int_equal(kf_store_pool_add(st, "alpha", &pool, NULL), KF_OK);
    assert_int_equal(kf_store_server_add(st, "web.a.test", &srv, NULL), KF_OK);
}

static void
test_name_rules(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_err err = {0};
    struct kf_pool p2 = {.fqdn = W("lb.a.test")};
    struct kf_pool p3 = {.fqdn = W("fe01.a.test")};
    struct kf_pool p4 = {.fqdn = W("web.b.test")};
    char *webs[] = {W("web.a.test")};
    struct kf_server own = {.fqdn = W("web.a.test")};
    struct kf_server other = {.fqdn = W("web.b.test")};
    struct kf_server dup = {.fqdn = W("fe01.a.test")};
    struct kf_server lb = {.fqdn = W("lb.a.test")};

    add_basics(st);
    assert_int_equal(kf_store_site_add(st, "ALPHA", &err), KF_ERR_EXISTS);
    assert_int_equal(kf_store_site_add(st, "beta", NULL), KF_OK);
    assert_int_equal(kf_store_pool_add(st, "nosuch", &p4, &err), KF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "site \"nosuch\" does not exist"));
    /* a pool FQDN may not be another pool's web FQDN, nor a server's */
    assert_int_equal(kf_store_pool_add(st, "beta", &p2, &err), KF_ERR_EXISTS);
    assert_non_null(strstr(err.msg, "a web FQDN of pool \"web.a.test\""));
    assert_int_equal(kf_store_pool_add(st, "beta", &p3, &err), KF_ERR_EXISTS);
    /* a web FQDN may not be another pool's FQDN */
    p4.web_fqdns = webs;
    p4.n_web_fqdns = 1;
    assert_int_equal(kf_store_pool_add(st, "beta", &p4, &err), KF_ERR_EXISTS);
    assert_non_null(strstr(err.msg, "the FQDN of pool \"web.a.test\""));
    p4.n_web_fqdns = 0;
    assert_int_equal(kf_store_pool_add(st, "beta", &p4, NULL), KF_OK);
    /* a server may be named like its own pool, not like another */
    assert_int_equal(kf_store_server_add(st, "web.a.test", &own, NULL), KF_OK);
    assert_int_equal(kf_store_server_add(st, "web.a.test", &other, &err), KF_ERR_EXISTS);
    assert_int_equal(kf_store_server_add(st, "web.b.test", &dup, &err), KF_ERR_EXISTS);
    assert_int_equal(kf_store_server_add(st, "web.a.test", &lb, &err), KF_ERR_EXISTS);
    assert_int_equal(kf_store_server_add(st, "nosuch.test", &lb, &err), KF_ERR_NOT_FOUND);
}

static void
test_remove_children(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_topology *topo = NULL;
    struct kf_err err = {0};

    add_basics(st);
    assert_int_equal(kf_store_site_remove(st, "alpha", false, &err), KF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "--force"));
    assert_int_equal(kf_store_pool_remove(st, "web.a.test", false, &err), KF_ERR_CONFLICT);
    assert_int_equal(kf_store_site_remove(st, "alpha", true, NULL), KF_OK);
    assert_int_equal(kf_store_topology_load(st, &topo, NULL), KF_OK);
    assert_int_equal(topo->n_sites, 0);
    kf_topology_free(topo);
    assert_int_equal(kf_store_server_remove(st, "fe01.a.test", &err), KF_ERR_NOT_FOUND);
}

static void
test_replace_is_ordered_and_checked(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_topology *in = kf_topology_new(), *out = NULL;
    struct kf_err err = {0};
    struct kf_site *s1, *s2;
    /* (pointers to elements stay valid only until their array grows) */
    struct kf_pool *p;

    add_basics(st);
    s2 = kf_topology_add_site(in, "zeta");
    kf_site_add_pool(s2, "z.test", NULL);
    s1 = kf_topology_add_site(in, "Alpha");
    p = kf_site_add_pool(s1, "web2.a.test", "https://web2.a.test/");
    kf_pool_add_server(p, "fe09.a.test", NULL, 7391);
    assert_int_equal(kf_store_begin(st, NULL), KF_OK);
    assert_int_equal(kf_store_topology_replace(st, in, &err), KF_OK);
    assert_int_equal(kf_store_commit(st, NULL), KF_OK);
    assert_int_equal(kf_store_topology_load(st, &out, NULL), KF_OK);
    assert_int_equal(out->n_sites, 2);
    assert_string_equal(out->sites[0].name, "zeta");
    assert_string_equal(out->sites[1].name, "Alpha");
    assert_int_equal(out->sites[1].n_pools, 1);
    assert_int_equal(out->sites[1].pools[0].servers[0].agent_port, 7391);
    kf_topology_free(out);

    /* a duplicate inside the document names its path, and nothing changes */
    p = kf_site_add_pool(&in->sites[0], "web2.a.test", NULL); /* s2 moved with the array */
    assert_int_equal(kf_store_begin(st, NULL), KF_OK);
    assert_int_equal(kf_store_topology_replace(st, in, &err), KF_ERR_EXISTS);
    kf_store_rollback(st);
    assert_non_null(strstr(err.msg, "sites[1].pools[0]"));
    assert_int_equal(kf_store_topology_load(st, &out, NULL), KF_OK);
    assert_int_equal(out->sites[0].n_pools, 1);
    kf_topology_free(out);
    kf_topology_free(in);
}

static void
test_audit(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_audit_entry *list = NULL;
    size_t n = 0;

    kf_store_set_actor(st, "alice", "alice@LAB.TEST", "site add x");
    assert_int_equal(kf_store_audit(st, "site:x", NULL, NULL), KF_OK);
    assert_int_equal(kf_store_audit_list(st, NULL, &list, &n, NULL), KF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].user, "alice");
    assert_string_equal(list[0].principal, "alice@LAB.TEST");
    assert_string_equal(list[0].command, "site add x");
    assert_string_equal(list[0].object, "site:x");
    assert_int_equal(strlen(list[0].time), 20);
    kf_audit_list_free(list, n);
}

static size_t
audit_count(struct kf_store *st, const char *since, const char *object)
{
    struct kf_audit_filter filter = {since, object};
    struct kf_audit_entry *list = NULL;
    size_t n = 0;

    assert_int_equal(kf_store_audit_list(st, &filter, &list, &n, NULL), KF_OK);
    kf_audit_list_free(list, n);
    return n;
}

static void
test_audit_filter(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    char since[KF_AUDIT_TIME_LEN];

    kf_store_set_actor(st, "alice", NULL, "x");
    assert_int_equal(kf_store_audit(st, "site:redmond", NULL, NULL), KF_OK);
    assert_int_equal(kf_store_audit(st, "pool:web.redmond.example.com", NULL, NULL), KF_OK);
    assert_int_equal(kf_store_audit(st, "assignment:redmond", NULL, NULL), KF_OK);
    assert_int_equal(kf_store_audit(st, "topology", NULL, NULL), KF_OK);
    assert_int_equal(audit_count(st, NULL, NULL), 4);
    assert_int_equal(audit_count(st, NULL, "site:redmond"), 1);
    assert_int_equal(audit_count(st, NULL, "SITE:Redmond"), 1); /* case-insensitive */
    assert_int_equal(audit_count(st, NULL, "redmond"), 2);      /* the name, any kind */
    assert_int_equal(audit_count(st, NULL, "site"), 1);         /* the kind */
    assert_int_equal(audit_count(st, NULL, "topology"), 1);
    assert_int_equal(audit_count(st, NULL, "dublin"), 0);
    assert_int_equal(audit_count(st, NULL, "%"), 0); /* no pattern characters */
    assert_int_equal(audit_count(st, "2000-01-01T00:00:00Z", NULL), 4);
    assert_int_equal(audit_count(st, "2999-01-01T00:00:00Z", "redmond"), 0);
    assert_int_equal(kf_audit_since("1h", time(NULL), since, NULL), KF_OK);
    assert_int_equal(audit_count(st, since, "redmond"), 2);
}

static void
test_audit_since(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } cases[] = {
        {"2026-12-07", "2026-12-07T00:00:00Z"},
        {"2026-12-07T14:30", "2026-12-07T14:30:00Z"},
        {"2026-12-07 14:30:05", "2026-12-07T14:30:05Z"},
        {"2026-12-07T14:30:05Z", "2026-12-07T14:30:05Z"},
        {"2024-02-29", "2024-02-29T00:00:00Z"},
        {"90m", "2026-12-07T10:30:00Z"}, /* from the NOW below, 12:00 */
        {"2d", "2026-12-05T12:00:00Z"},
        {"2026-02-29", NULL},
        {"2026-13-01", NULL},
        {"2026-12-07T24:00", NULL},
        {"2026-12-7", NULL},
        {"2026/12/07", NULL},
        {"yesterday", NULL},
        {"", NULL},
        {"-1h", NULL},
        {"2026-12-07T14:30:5", NULL},
        {"2026-12-07ZZ", NULL},
    };
    const time_t now = 1796644800; /* 2026-12-07T12:00:00Z */
    char out[KF_AUDIT_TIME_LEN];
    struct kf_err err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kf_status rc = kf_audit_since(cases[i].in, now, out, &err);
        if (cases[i].want == NULL) {
            if (rc != KF_ERR_INVALID)
                fail_msg("accepted \"%s\"", cases[i].in);
            assert_non_null(strstr(err.msg, "is neither a UTC date"));
        } else {
            if (rc != KF_OK)
                fail_msg("refused \"%s\": %s", cases[i].in, err.msg);
            assert_string_equal(out, cases[i].want);
        }
    }
}

static void
test_accounts_and_assignments(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_account *acct = NULL, *list = NULL;
    struct kf_err err = {0};
    char *value = NULL, **spns = NULL;
    bool changed = false;
    size_t n = 0;

    add_basics(st);
    assert_int_equal(kf_store_site_add(st, "beta", NULL), KF_OK);
    assert_int_equal(kf_store_state_set(st, KF_STATE_ENABLE_NEEDED, NULL, NULL), KF_OK);
    assert_int_equal(kf_store_account_add(st, "LAB", "kerbauth", "CN=kerbauth,CN=Computers", 24,
                                          false, NULL),
                     KF_OK);
    assert_int_equal(kf_store_account_add(st, "LAB", "KERBAUTH", NULL, 24, false, &err),
                     KF_ERR_EXISTS);
    assert_int_equal(kf_store_account_add(st, "OTHER", "x", NULL, 24, false, &err),
                     KF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "one domain per store"));
    assert_int_equal(kf_store_account_get(st, "nosuch", &acct, &err), KF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "krbfleet account new"));
    /* foreign SPNs are refused until the admin accepts them (eligibility.h) */
    assert_int_equal(kf_store_account_get(st, "kerbauth", &acct, NULL), KF_OK);
    assert_false(acct->allow_foreign_spns);
    kf_account_free(acct);
    assert_int_equal(kf_store_account_set_foreign_spns(st, "kerbauth", true, NULL), KF_OK);
    assert_int_equal(kf_store_account_get(st, "kerbauth", &acct, NULL), KF_OK);
    assert_true(acct->allow_foreign_spns);
    kf_account_free(acct);
    assert_int_equal(kf_store_account_set_foreign_spns(st, "kerbauth", false, NULL), KF_OK);
    acct = NULL;

    /* new refuses a second one, set refuses a first one */
    assert_int_equal(kf_store_assignment_set(st, "beta", "kerbauth", false, NULL, &err),
                     KF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "krbfleet assignment new --site beta"));
    assert_int_equal(kf_store_assignment_set(st, "alpha", "kerbauth", true, &changed, NULL), KF_OK);
    assert_true(changed);
    assert_int_equal(kf_store_assignment_set(st, "ALPHA", "kerbauth", true, NULL, &err), KF_ERR_EXISTS);
    /* set to the account it has: no change, no pending enable */
    assert_int_equal(kf_store_state_set(st, KF_STATE_ENABLE_NEEDED, "0", NULL), KF_OK);
    assert_int_equal(kf_store_assignment_set(st, "alpha", "kerbauth", false, &changed, NULL), KF_OK);
    assert_false(changed);
    assert_int_equal(kf_store_state_get(st, KF_STATE_ENABLE_NEEDED, &value, NULL), KF_OK);
    assert_string_equal(value, "0");
    free(value);
    assert_int_equal(kf_store_assignment_set(st, "beta", "kerbauth", true, NULL, NULL), KF_OK);
    assert_int_equal(kf_store_assignment_set(st, "gamma", "kerbauth", true, NULL, &err),
                     KF_ERR_NOT_FOUND);
    assert_int_equal(kf_store_state_get(st, KF_STATE_ENABLE_NEEDED, &value, NULL), KF_OK);
    assert_string_equal(value, "1");
    free(value);

    assert_int_equal(kf_store_account_get(st, "KerbAuth", &acct, NULL), KF_OK);
    assert_string_equal(acct->domain, "LAB");
    assert_int_equal(acct->enctypes, 24);
    assert_int_equal(acct->n_sites, 2);
    assert_string_equal(acct->sites[0], "alpha");
    kf_account_free(acct);
    assert_int_equal(kf_store_account_list(st, &list, &n, NULL), KF_OK);
    assert_int_equal(n, 1);
    kf_account_list_free(list, n);

    assert_int_equal(kf_store_account_remove(st, "kerbauth", &err), KF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "alpha, beta"));

    /* owned SPNs */
    assert_int_equal(kf_store_owned_spn_add(st, "kerbauth", "HTTP/web.a.test", NULL), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "kerbauth", "http/WEB.a.test", NULL), KF_OK);
    assert_int_equal(kf_store_owned_spns(st, "kerbauth", &spns, &n, NULL), KF_OK);
    assert_int_equal(n, 1);
    kf_strv_free(spns, n);
    assert_int_equal(kf_store_owned_spn_remove(st, "kerbauth", "HTTP/web.a.test", NULL), KF_OK);
    assert_int_equal(kf_store_owned_spns(st, "kerbauth", &spns, &n, NULL), KF_OK);
    assert_int_equal(n, 0);
    kf_strv_free(spns, n);

    /* removing a site drops its assignment */
    assert_int_equal(kf_store_assignment_remove(st, "beta", NULL), KF_OK);
    assert_int_equal(kf_store_assignment_remove(st, "beta", &err), KF_ERR_NOT_FOUND);
    assert_int_equal(kf_store_site_remove(st, "alpha", true, NULL), KF_OK);
    assert_int_equal(kf_store_account_remove(st, "kerbauth", NULL), KF_OK);
}

static bool
never_alive(const struct kf_lock_holder *h)
{
    (void)h;
    return false;
}

static bool
always_alive(const struct kf_lock_holder *h)
{
    (void)h;
    return true;
}

/* alive only as the process adm1/200 that started at tick 5000 */
static bool
alive_if_started_5000(const struct kf_lock_holder *h)
{
    return strcmp(h->host, "adm1") == 0 && h->pid == 200 && h->start == 5000;
}

#define HOLDER(u, h, p, s) (&(struct kf_lock_holder){.user = (u), .host = (h), .pid = (p), .start = (s)})

static void
test_rotation_state(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_err err = {0};
    int kvno;
    int64_t when;

    assert_int_equal(kf_store_account_add(st, "LAB", "kerbauth", NULL, 24, false, NULL), KF_OK);
    /* the lock: refused while its holder lives, taken over when it died */
    assert_int_equal(
        kf_store_lock_take(st, "kerbauth", HOLDER("alice", "adm1", 100, 1), always_alive, NULL),
        KF_OK);
    assert_int_equal(
        kf_store_lock_take(st, "kerbauth", HOLDER("bob", "adm1", 200, 5000), always_alive, &err),
        KF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "being rotated by alice on adm1 (pid 100)"));
    assert_int_equal(
        kf_store_lock_take(st, "kerbauth", HOLDER("bob", "adm1", 200, 5000), never_alive, NULL),
        KF_OK);
    assert_int_equal(kf_store_lock_release(st, "kerbauth", 100, NULL), KF_OK); /* not ours */
    assert_int_equal(
        kf_store_lock_take(st, "kerbauth", HOLDER("carol", "adm1", 300, 7), always_alive, &err),
        KF_ERR_CONFLICT);
    /* the holder is judged by PID *and* start time as recorded */
    assert_int_equal(kf_store_lock_take(st, "kerbauth", HOLDER("carol", "adm1", 300, 7),
                                        alive_if_started_5000, &err),
                     KF_ERR_CONFLICT);
    assert_int_equal(kf_store_lock_release(st, "kerbauth", 200, NULL), KF_OK);
    assert_int_equal(
        kf_store_lock_take(st, "kerbauth", HOLDER("carol", "adm1", 300, 7), always_alive, NULL),
        KF_OK);
    /* carol (pid 300, started at tick 7) is gone for this judge: taken over */
    assert_int_equal(kf_store_lock_take(st, "kerbauth", HOLDER("dave", "adm1", 400, 9),
                                        alive_if_started_5000, NULL),
                     KF_OK);
    assert_int_equal(kf_store_lock_take(st, "nosuch", HOLDER("x", "h", 1, 0), NULL, &err),
                     KF_ERR_NOT_FOUND);

    /* keys given to servers */
    assert_int_equal(kf_store_server_kvno(st, "fe01.a.test", "kerbauth", &kvno, NULL), KF_OK);
    assert_int_equal(kvno, -1);
    assert_int_equal(kf_store_server_key_set(st, "fe01.a.test", "kerbauth", 3, "staged", NULL),
                     KF_OK);
    assert_int_equal(kf_store_server_kvno(st, "fe01.a.test", "kerbauth", &kvno, NULL), KF_OK);
    assert_int_equal(kvno, -1);
    assert_int_equal(kf_store_server_key_set(st, "fe01.a.test", "kerbauth", 3, "committed", NULL),
                     KF_OK);
    assert_int_equal(kf_store_server_key_set(st, "fe01.a.test", "kerbauth", 2, "committed", NULL),
                     KF_OK);
    assert_int_equal(kf_store_server_kvno(st, "fe01.a.test", "kerbauth", &kvno, NULL), KF_OK);
    assert_int_equal(kvno, 3);
    assert_int_equal(kf_store_server_key_set(st, "fe01.a.test", "kerbauth", 3, NULL, NULL), KF_OK);
    assert_int_equal(kf_store_server_kvno(st, "fe01.a.test", "kerbauth", &kvno, NULL), KF_OK);
    assert_int_equal(kvno, 2);

    /* kvno history and the journal */
    assert_int_equal(kf_store_kvno_committed(st, "kerbauth", 3, 1700000000, NULL), KF_OK);
    assert_int_equal(kf_store_kvno_committed_at(st, "kerbauth", 3, &when, NULL), KF_OK);
    assert_int_equal(when, 1700000000);
    assert_int_equal(kf_store_kvno_committed_at(st, "kerbauth", 4, &when, NULL), KF_OK);
    assert_int_equal(when, -1);
    assert_int_equal(kf_store_journal(st, "run1", "kerbauth", "plan", "4 servers", NULL), KF_OK);
}

/* Encryption types taken away (`account set --enctypes`): each bit keeps
 * the time it was first retired, comes back when restored, and is
 * prunable only from that time plus grace. */
static void
test_enctypes_retired(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_account *a = NULL;
    struct kf_err err = {0};
    unsigned bits = 99;

    assert_int_equal(kf_store_account_add(st, "LAB", "kerbauth", NULL, 28, false, NULL), KF_OK);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", INT64_MAX, &bits, &err), KF_OK);
    assert_int_equal(bits, 0);
    assert_int_equal(kf_store_account_set_enctypes(st, "kerbauth", 24, &err), KF_OK);
    assert_int_equal(kf_store_enctypes_retire(st, "kerbauth", 4, 0, 1000, &err), KF_OK);
    /* retired again later: the first time counts */
    assert_int_equal(kf_store_enctypes_retire(st, "kerbauth", 4 | 8, 0, 2000, &err), KF_OK);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", 999, &bits, &err), KF_OK);
    assert_int_equal(bits, 0);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", 1000, &bits, &err), KF_OK);
    assert_int_equal(bits, 4);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", 2000, &bits, &err), KF_OK);
    assert_int_equal(bits, 12);
    /* aes128 comes back: no longer retired */
    assert_int_equal(kf_store_enctypes_retire(st, "kerbauth", 0, 8, 3000, &err), KF_OK);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", INT64_MAX, &bits, &err), KF_OK);
    assert_int_equal(bits, 4);
    assert_int_equal(kf_store_enctypes_forget(st, "kerbauth", 4, &err), KF_OK);
    assert_int_equal(kf_store_enctypes_retired(st, "kerbauth", INT64_MAX, &bits, &err), KF_OK);
    assert_int_equal(bits, 0);
    assert_int_equal(kf_store_account_get(st, "kerbauth", &a, &err), KF_OK);
    assert_int_equal(a->enctypes, 24);
    kf_account_free(a);
    assert_int_equal(kf_store_enctypes_retire(st, "nosuch", 4, 0, 1, &err), KF_ERR_NOT_FOUND);
}

/* The ACEs `permission grant` wrote: recorded once, listed per container
 * (any case) and trustee, forgotten together. */
static void
test_permission_aces(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_err err = {0};
    char **v = NULL;
    size_t n = 0;
    const char *ou = "OU=Web,DC=lab,DC=test", *g = "S-1-5-21-1-2-3-1106";

    assert_int_equal(kf_store_permission_ace_add(st, ou, g, "LAB\\web", "0500aa", &err), KF_OK);
    assert_int_equal(kf_store_permission_ace_add(st, ou, g, "LAB\\web", "0500bb", &err), KF_OK);
    assert_int_equal(kf_store_permission_ace_add(st, ou, g, "LAB\\web", "0500aa", &err), KF_OK);
    assert_int_equal(kf_store_permission_ace_add(st, ou, "S-1-5-21-1-2-3-9", "x", "01", &err),
                     KF_OK);
    assert_int_equal(kf_store_permission_aces(st, "ou=web,dc=lab,dc=test", g, &v, &n, &err), KF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "0500aa");
    assert_string_equal(v[1], "0500bb");
    kf_strv_free(v, n);
    assert_int_equal(kf_store_permission_aces_remove(st, ou, g, &err), KF_OK);
    assert_int_equal(kf_store_permission_aces(st, ou, g, &v, &n, &err), KF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kf_store_permission_aces(st, ou, "S-1-5-21-1-2-3-9", &v, &n, &err), KF_OK);
    assert_int_equal(n, 1);
    kf_strv_free(v, n);
}

/* Listings sort bytes (C collation), whatever the database's locale: the
 * scratch PostgreSQL database sorts en-US by default. */
static void
test_c_order(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_err err = {0};
    char **v = NULL;
    size_t n = 0;

    assert_int_equal(kf_store_account_add(st, "LAB", "webb", NULL, 24, false, &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/web.b", &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/Web.c", &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/x_a", &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/web.a", &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/x9", &err), KF_OK);
    /* the same SPN in another case is the same SPN */
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "http/WEB.A", &err), KF_OK);
    /* case-insensitively, then bytes: '9' before '_' (en-US puts '_' first) */
    assert_int_equal(kf_store_owned_spns(st, "WebB", &v, &n, &err), KF_OK);
    assert_int_equal(n, 5);
    assert_string_equal(v[0], "HTTP/web.a");
    assert_string_equal(v[1], "HTTP/web.b");
    assert_string_equal(v[2], "HTTP/Web.c");
    assert_string_equal(v[3], "HTTP/x9");
    assert_string_equal(v[4], "HTTP/x_a");
    kf_strv_free(v, n);
}

/* Each writing transaction excludes every other writer until it ends. */
static void
test_writers_exclude(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f);
    struct kf_err err = {0};
    char held[16];

    assert_int_equal(kf_store_begin(st, &err), KF_OK);
    pg_query(f->url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
             held, sizeof(held));
    assert_string_equal(held, "1");
    assert_int_equal(kf_store_site_add(st, "alpha", &err), KF_OK);
    assert_int_equal(kf_store_commit(st, &err), KF_OK);
    pg_query(f->url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", held,
             sizeof(held));
    assert_string_equal(held, "0");
}

/* An empty database is no store: only `store migrate` makes one. */
static void
test_pg_empty_is_missing(void **state)
{
    struct fixture *f = *state;
    struct kf_err err = {0};

    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_READING, NULL, &f->st, &err),
                     KF_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "store migrate"));
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_WRITING, NULL, &f->st, &err),
                     KF_ERR_NOT_FOUND);
    assert_null(f->st);
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_MIGRATING, NULL, &f->st, &err), KF_OK);
    assert_int_equal(kf_store_migrated_from(f->st), 0);
    assert_int_equal(kf_store_schema_version(f->st), kf_store_schema_current());
}

/* An older schema is brought forward by `store migrate` alone; a newer
 * one is refused. */
static void
test_pg_versions(void **state)
{
    struct fixture *f = *state;
    struct kf_err err = {0};
    char version[16];

    open_store(f);
    kf_store_free(f->st);
    f->st = NULL;
    /* back to the version before the last migration (a new migration
     * changes these two lines and the version below) */
    pg_sql(f->url, "DROP TABLE enctype_retired; UPDATE krbfleet_schema SET version = 6");
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_WRITING, NULL, &f->st, &err),
                     KF_ERR_STORE);
    assert_non_null(strstr(err.msg, "older than this krbfleet's"));
    assert_non_null(strstr(err.msg, "store migrate"));
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_READING, NULL, &f->st, &err),
                     KF_ERR_STORE);
    pg_query(f->url, "SELECT version FROM krbfleet_schema", version, sizeof(version));
    assert_string_equal(version, "6");
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_MIGRATING, NULL, &f->st, &err), KF_OK);
    assert_int_equal(kf_store_migrated_from(f->st), 6);
    kf_store_free(f->st);
    f->st = NULL;
    pg_sql(f->url, "UPDATE krbfleet_schema SET version = 999");
    assert_int_equal(kf_store_open_as(f->url, KF_STORE_FOR_MIGRATING, NULL, &f->st, &err),
                     KF_ERR_STORE);
    assert_non_null(strstr(err.msg, "newer than this krbfleet knows"));
}

/* One logical schema: the same tables and columns on both backends. */
static void
test_pg_schema_matches_sqlite(void **state)
{
    struct fixture *f = *state;
    struct kf_store *lite = NULL;
    struct kf_err err = {0};
    char **a = NULL, **b = NULL;
    size_t na = 0, nb = 0;

    open_store(f);
    assert_int_equal(kf_store_open(f->path, &lite, &err), KF_OK);
    assert_int_equal(kf_store_schema_columns(lite, &a, &na, &err), KF_OK);
    assert_int_equal(kf_store_schema_columns(f->st, &b, &nb, &err), KF_OK);
    assert_true(na > 40);
    for (size_t i = 0; i < na && i < nb; i++)
        assert_string_equal(a[i], b[i]);
    assert_int_equal(na, nb);
    kf_strv_free(a, na);
    kf_strv_free(b, nb);
    kf_store_free(lite);
}

/* A URL with a password is refused without repeating it. */
static void
test_url_checks(void **state)
{
    struct kf_err err = {0};
    bool user = false;
    (void)state;

    assert_true(kf_store_is_url("postgresql://db.example.com/krbfleet"));
    assert_true(kf_store_is_url("postgres://db/krbfleet"));
    assert_false(kf_store_is_url("sqlite:/var/lib/krbfleet/krbfleet.db"));
    assert_false(kf_store_is_url("/var/lib/krbfleet/krbfleet.db"));
    assert_int_equal(kf_store_url_check("postgresql://alice:s3cret@db/krbfleet", &user, &err),
                     KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "contains a password"));
    assert_null(strstr(err.msg, "s3cret"));
    assert_int_equal(kf_store_url_check("postgresql://db/krbfleet?password=s3cret", NULL, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_store_url_check("postgresql://db/krbfleet?nosuch=1", NULL, &err),
                     KF_ERR_INVALID);
    assert_int_equal(kf_store_url_check("postgresql://db/krbfleet", &user, &err), KF_OK);
    assert_false(user);
    assert_int_equal(kf_store_url_check("postgresql://timer%40LAB.TEST@db/krbfleet?sslmode=verify-full",
                                        &user, &err), KF_OK);
    assert_true(user);
}

/* store copy: every table, ids kept; never into a store holding rows
 * unless replacing; a store copied back is the same. */
static void
test_copy(void **state)
{
    struct fixture *f = *state;
    struct kf_store *st = open_store(f), *lite = NULL, *back = NULL;
    struct kf_store_count counts[KF_STORE_COPY_TABLES];
    struct kf_err err = {0};
    char path[160], path2[160];
    char **a = NULL, **b = NULL;
    size_t na = 0, nb = 0;

    add_basics(st);
    assert_int_equal(kf_store_account_add(st, "LAB", "webb", NULL, 24, false, &err), KF_OK);
    assert_int_equal(kf_store_assignment_set(st, "alpha", "webb", true, NULL, &err), KF_OK);
    assert_int_equal(kf_store_owned_spn_add(st, "webb", "HTTP/web.a.test", &err), KF_OK);
    assert_int_equal(kf_store_journal(st, "r1", "webb", "plan", NULL, &err), KF_OK);
    assert_int_equal(kf_store_audit(st, "site:alpha", "detail", &err), KF_OK);
    snprintf(path, sizeof(path), "%s/copy.db", f->dir);
    assert_int_equal(kf_store_open(path, &lite, &err), KF_OK);
    assert_int_equal(kf_store_copy(st, lite, false, counts, &err), KF_OK);
    assert_string_equal(counts[0].table, "site");
    assert_int_equal(counts[0].rows, 1);
    assert_int_equal(counts[1].rows, 1); /* pool */
    assert_int_equal(counts[3].rows, 1); /* server */
    assert_int_equal(counts[5].rows, 1); /* assignment */
    /* a target holding rows: refused, unchanged; REPLACE: replaced */
    assert_int_equal(kf_store_copy(st, lite, false, counts, &err), KF_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "not empty"));
    assert_int_equal(kf_store_site_add(st, "beta", &err), KF_OK);
    assert_int_equal(kf_store_copy(st, lite, true, counts, &err), KF_OK);
    assert_int_equal(counts[0].rows, 2);
    /* and back into another: the same store */
    snprintf(path2, sizeof(path2), "%s/back.db", f->dir);
    assert_int_equal(kf_store_open(path2, &back, &err), KF_OK);
    assert_int_equal(kf_store_copy(lite, back, false, counts, &err), KF_OK);
    {
        struct kf_account *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        assert_int_equal(kf_store_account_list(st, &x, &nx, &err), KF_OK);
        assert_int_equal(kf_store_account_list(back, &y, &ny, &err), KF_OK);
        assert_int_equal(nx, 1);
        assert_int_equal(ny, 1);
        assert_int_equal(x[0].id, y[0].id);
        assert_string_equal(x[0].created, y[0].created);
        assert_int_equal(y[0].n_sites, 1);
        kf_account_list_free(x, nx);
        kf_account_list_free(y, ny);
    }
    assert_int_equal(kf_store_owned_spns(back, "webb", &a, &na, &err), KF_OK);
    assert_int_equal(na, 1);
    kf_strv_free(a, na);
    assert_int_equal(kf_store_schema_columns(st, &a, &na, &err), KF_OK);
    assert_int_equal(kf_store_schema_columns(back, &b, &nb, &err), KF_OK);
    assert_int_equal(na, nb);
    kf_strv_free(a, na);
    kf_strv_free(b, nb);
    /* a new row gets the next id */
    assert_int_equal(kf_store_site_add(back, "gamma", &err), KF_OK);
    kf_store_free(lite);
    kf_store_free(back);
}

/* "sqlite:PATH" is PATH. */
static void
test_sqlite_prefix(void **state)
{
    struct fixture *f = *state;
    char where[160];
    struct kf_err err = {0};

    snprintf(where, sizeof(where), "sqlite:%s", f->path);
    assert_int_equal(kf_store_open(where, &f->st, &err), KF_OK);
    assert_false(kf_store_is_pg(f->st));
    assert_string_equal(kf_store_where(f->st), f->path);
    assert_int_equal(access(f->path, F_OK), 0);
}

int
main(void)
{
    /* what the store does: on each backend */
#define COMMON(setup_fn)                                                                   \
    cmocka_unit_test_setup_teardown(test_name_rules, setup_fn, teardown),                   \
        cmocka_unit_test_setup_teardown(test_remove_children, setup_fn, teardown),          \
        cmocka_unit_test_setup_teardown(test_replace_is_ordered_and_checked, setup_fn,      \
                                        teardown),                                          \
        cmocka_unit_test_setup_teardown(test_audit, setup_fn, teardown),                    \
        cmocka_unit_test_setup_teardown(test_audit_filter, setup_fn, teardown),             \
        cmocka_unit_test_setup_teardown(test_accounts_and_assignments, setup_fn, teardown), \
        cmocka_unit_test_setup_teardown(test_rotation_state, setup_fn, teardown),           \
        cmocka_unit_test_setup_teardown(test_permission_aces, setup_fn, teardown),          \
        cmocka_unit_test_setup_teardown(test_c_order, setup_fn, teardown),                  \
        cmocka_unit_test_setup_teardown(test_enctypes_retired, setup_fn, teardown),         \
        cmocka_unit_test_setup_teardown(test_copy, setup_fn, teardown)
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test_setup_teardown(test_created_private_and_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_prefix, setup, teardown),
        cmocka_unit_test(test_audit_since),
        cmocka_unit_test(test_url_checks),
        COMMON(setup),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_empty_is_missing, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_pg_versions, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_pg_schema_matches_sqlite, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_writers_exclude, setup_pg, teardown),
        COMMON(setup_pg),
    };
    const char *url = getenv("KRBFLEET_TEST_PG_URL");

    if (url == NULL || *url == '\0')
        return cmocka_run_group_tests_name("store on SQLite", sqlite_tests, NULL, NULL);
    return cmocka_run_group_tests_name("store on PostgreSQL", pg_tests, NULL, NULL);
}
