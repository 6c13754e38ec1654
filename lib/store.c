/* store.c - the store: schema, migrations, topology, audit; on SQLite or
 * PostgreSQL (db.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "mem.h"
#include "names.h"

struct kf_store {
    struct kf_db *db;
    char *path; /* the file, or the URL (never with a password) */
    bool in_tx;
    char *user;
    char *principal;
    char *command;
    char *server_principal; /* PostgreSQL's GSSAPI principal of the session */
    int migrated_from;      /* the schema version before this open migrated; -1 */
    bool created;      /* this open created the file */
    char warning[512]; /* kf_store_warning(), "" when none */
};

int
kf_store_schema_current(void)
{
    return KF_DB_SCHEMA_VERSION;
}

static kf_status
db_err(struct kf_store *st, struct kf_err *err, const char *what)
{
    return kf_err_set(err, KF_ERR_STORE, "store %s: %s: %s", st->path, what,
                      st->db->ops->errmsg(st->db));
}

/* Run SQL with arguments described by TYPES: 's' a string (NULL binds SQL
 * NULL), 'i' an int64_t, 'n' an int (0 binds NULL). Returns the statement,
 * its rows ready to read, or NULL with ERR set. */
static struct kf_db_stmt *
prep(struct kf_store *st, struct kf_err *err, const char *sql, const char *types, ...)
{
    struct kf_db_param params[16];
    struct kf_db_stmt *stmt;
    struct kf_err local = {0};
    va_list ap;
    int n = 0;

    va_start(ap, types);
    for (; types[n] != '\0' && n < (int)(sizeof(params) / sizeof(params[0])); n++) {
        struct kf_db_param *p = &params[n];
        memset(p, 0, sizeof(*p));
        if (types[n] == 's') {
            p->is_text = true;
            p->text = va_arg(ap, const char *);
        } else if (types[n] == 'i') {
            p->num = va_arg(ap, int64_t);
        } else {
            p->num = va_arg(ap, int);
            p->is_null = p->num == 0;
        }
    }
    va_end(ap);
    stmt = st->db->ops->query(st->db, sql, n, params, &local);
    if (stmt == NULL)
        kf_err_set(err, local.code ? local.code : KF_ERR_STORE, "store %s: %s", st->path,
                   local.msg);
    return stmt;
}

static const char *
col_text(struct kf_db_stmt *stmt, int i)
{
    return kf_db_text(stmt, i);
}

static int64_t
col_int(struct kf_db_stmt *stmt, int i)
{
    const char *v = kf_db_text(stmt, i);
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* Finish STMT (no rows expected). */
static kf_status
run(struct kf_store *st, struct kf_db_stmt *stmt, struct kf_err *err)
{
    (void)st;
    if (stmt == NULL)
        return err ? err->code : KF_ERR_STORE;
    kf_db_finalize(stmt);
    return KF_OK;
}

/* Finish STMT, returning how many rows it changed in *N. */
static kf_status
run_changes(struct kf_store *st, struct kf_db_stmt *stmt, int64_t *n, struct kf_err *err)
{
    (void)st;
    *n = 0;
    if (stmt == NULL)
        return err ? err->code : KF_ERR_STORE;
    *n = kf_db_changes(stmt);
    kf_db_finalize(stmt);
    return KF_OK;
}

/* Run a query expected to return at most one integer; *OUT = -1 if none. */
static kf_status
query_int(struct kf_store *st, struct kf_db_stmt *stmt, int64_t *out, struct kf_err *err)
{
    int rc;

    *out = -1;
    if (stmt == NULL)
        return err ? err->code : KF_ERR_STORE;
    rc = kf_db_step(stmt);
    if (rc == 1)
        *out = col_int(stmt, 0);
    kf_db_finalize(stmt);
    if (rc < 0)
        return db_err(st, err, "read");
    return KF_OK;
}

static kf_status
exec_sql(struct kf_store *st, const char *sql, struct kf_err *err)
{
    struct kf_err local = {0};

    if (st->db->ops->exec(st->db, sql, &local) != KF_OK)
        return kf_err_set(err, KF_ERR_STORE, "store %s: %s", st->path, local.msg);
    return KF_OK;
}

int
kf_store_schema_version(struct kf_store *st)
{
    int v;

    if (st->db->ops->version(st->db, &v, NULL) != KF_OK)
        return -1;
    return v;
}

bool
kf_store_is_pg(const struct kf_store *st)
{
    return st->db->ops->kind == KF_DB_PG;
}

const char *
kf_store_where(const struct kf_store *st)
{
    return st->path;
}

/* Bring the schema forward, one transaction per version (each also takes
 * the writers' lock, so two hosts migrating run one after the other and
 * the second finds nothing left to do). */
static kf_status
migrate(struct kf_store *st, int *from, struct kf_err *err)
{
    const struct kf_db_ops *ops = st->db->ops;
    int version = kf_store_schema_version(st);

    if (from != NULL)
        *from = version;
    if (version < 0)
        return db_err(st, err, "reading the schema version");
    for (;;) {
        char bump[64];
        kf_status rc;

        if ((rc = ops->begin(st->db, NULL)) != KF_OK)
            return db_err(st, err, "starting a migration");
        if ((version = kf_store_schema_version(st)) < 0 || version >= ops->n_migrations) {
            exec_sql(st, "ROLLBACK", NULL);
            return version < 0 ? db_err(st, err, "reading the schema version") : KF_OK;
        }
        ops->version_sql(version + 1, bump, sizeof(bump));
        if ((rc = exec_sql(st, ops->migrations[version], err)) != KF_OK ||
            (rc = exec_sql(st, bump, err)) != KF_OK ||
            (rc = exec_sql(st, "COMMIT", err)) != KF_OK) {
            exec_sql(st, "ROLLBACK", NULL);
            return kf_err_prefix(err, "migrating to schema %d", version + 1);
        }
    }
}

/* The schema the store has, against what this build knows: newer is
 * refused; older is migrated on SQLite, and on PostgreSQL only by
 * `krbfleet store migrate` (MIGRATE), an empty database being no store. */
static kf_status
check_schema(struct kf_store *st, enum kf_store_intent intent, struct kf_err *err)
{
    int version = kf_store_schema_version(st);

    if (version < 0)
        return db_err(st, err, "reading the schema version");
    if (version > KF_DB_SCHEMA_VERSION)
        return kf_err_set(err, KF_ERR_STORE,
                          "store %s has schema version %d, newer than this krbfleet knows (%d); "
                          "use a newer krbfleet",
                          st->path, version, KF_DB_SCHEMA_VERSION);
    if (version == KF_DB_SCHEMA_VERSION)
        return KF_OK;
    if (!kf_store_is_pg(st) || intent == KF_STORE_FOR_MIGRATING)
        return migrate(st, &st->migrated_from, err);
    if (version == 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "the database %s holds no krbfleet store; create it with `krbfleet "
                          "--store '%s' store migrate`",
                          st->path, st->path);
    return kf_err_set(err, KF_ERR_STORE,
                      "store %s has schema version %d, older than this krbfleet's (%d); bring "
                      "it forward with `krbfleet --store '%s' store migrate` (PostgreSQL stores "
                      "are never migrated by other commands)",
                      st->path, version, KF_DB_SCHEMA_VERSION, st->path);
}

/* Create the file with mode 0600 (and a missing parent directory with
 * 0700) so SQLite never creates it with the umask's mode. */
static kf_status
create_file(const char *path, bool *existed, struct kf_err *err)
{
    _cleanup_free_ char *copy = strdup(path);
    int fd;

    if (copy == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        const char *dir = dirname(copy);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return kf_err_set(err, KF_ERR_IO, "cannot create the store directory %s: %s", dir,
                              strerror(errno));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        if (errno == EEXIST) {
            *existed = true; /* made by someone else meanwhile */
            return KF_OK;
        }
        return kf_err_set(err, KF_ERR_IO, "cannot create the store %s: %s", path,
                          strerror(errno));
    }
    close(fd);
    return KF_OK;
}

/* "alice (uid 1000)" for messages. */
static void
describe_uid(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char pwbuf[1024];

    if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
        snprintf(buf, size, "%s (uid %u)", res->pw_name, (unsigned)uid);
    else
        snprintf(buf, size, "uid %u", (unsigned)uid);
}

/* Look at what is at PATH before SQLite opens it, so that each problem
 * gets a message naming the path, what is wrong and the fix. *EXISTS is
 * false when nothing is there (allowed when writing: it will be created);
 * *PERM holds the permission bits of an existing file. */
static kf_status
check_path(const char *path, enum kf_store_intent intent, bool *exists, mode_t *perm,
           struct kf_err *err)
{
    _cleanup_free_ char *copy = strdup(path);
    char me[128], owner[128];
    const char *dir;
    struct stat sb;

    *exists = false;
    if (copy == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    describe_uid(getuid(), me, sizeof(me));
    if (lstat(path, &sb) != 0) {
        int e = errno;
        if (e == ENOENT && intent == KF_STORE_FOR_WRITING)
            return KF_OK;
        if (e == ENOENT)
            return kf_err_set(err, KF_ERR_NOT_FOUND, "there is no store at %s", path);
        if (e == EACCES)
            return kf_err_set(err, KF_ERR_PERMISSION,
                              "cannot reach the store %s: a directory on its path is not open "
                              "to %s; run krbfleet as the store's owner (e.g. with sudo)",
                              path, me);
        return kf_err_set(err, KF_ERR_IO, "cannot reach the store %s: %s", path, strerror(e));
    }
    if (S_ISLNK(sb.st_mode))
        return kf_err_set(err, KF_ERR_STORE,
                          "the store %s is a symbolic link; krbfleet does not follow links to "
                          "its store: name the file itself",
                          path);
    if (S_ISDIR(sb.st_mode))
        return kf_err_set(err, KF_ERR_STORE,
                          "the store %s is a directory, not a store file; name a file, e.g. "
                          "%s/krbfleet.db",
                          path, strcmp(path, "/") == 0 ? "" : path);
    if (!S_ISREG(sb.st_mode))
        return kf_err_set(err, KF_ERR_STORE,
                          "the store %s is not a regular file; name the store file itself", path);
    *exists = true;
    *perm = sb.st_mode & 07777;
    describe_uid(sb.st_uid, owner, sizeof(owner));
    if (access(path, R_OK) != 0)
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "the store %s (mode %04o, owner %s) is not readable by %s; run "
                          "krbfleet as its owner (e.g. with sudo)",
                          path, (unsigned)*perm, owner, me);
    if (intent == KF_STORE_FOR_READING)
        return KF_OK;
    if (access(path, W_OK) != 0) {
        if (errno == EROFS)
            return kf_err_set(err, KF_ERR_PERMISSION,
                              "the store %s is on a read-only file system; commands that only "
                              "read work, commands that change something need it writable",
                              path);
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "the store %s (mode %04o, owner %s) is read-only for %s; commands that "
                          "only read work, this one changes the store: run it as the owner, or "
                          "make the store writable (`chmod u+w %s`)",
                          path, (unsigned)*perm, owner, me, path);
    }
    dir = dirname(copy);
    if (access(dir, W_OK | X_OK) != 0)
        return kf_err_set(err, KF_ERR_PERMISSION,
                          "the store's directory %s is not writable by %s, and SQLite writes "
                          "its journal there when the store %s changes; run krbfleet as the "
                          "directory's owner",
                          dir, me, path);
    return KF_OK;
}

/* "sqlite:PATH" or a path: the SQLite file. */
static const char *
sqlite_path(const char *where)
{
    return strncmp(where, "sqlite:", 7) == 0 ? where + 7 : where;
}

bool
kf_store_is_url(const char *where)
{
    return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

static kf_status
open_sqlite(const char *path, enum kf_store_intent intent, struct kf_store *st,
            struct kf_err *err)
{
    bool exists = false;
    mode_t perm = 0600;
    kf_status rc;

    if (path[0] == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "the store is named by an empty path");
    if ((rc = check_path(path, intent == KF_STORE_FOR_READING ? intent : KF_STORE_FOR_WRITING,
                         &exists, &perm, err)) != KF_OK)
        return rc;
    if (!exists && (rc = create_file(path, &exists, err)) != KF_OK)
        return rc;
    st->created = !exists;
    if ((perm & (S_IRWXG | S_IRWXO)) != 0)
        snprintf(st->warning, sizeof(st->warning),
                 "the store %s is mode %04o: other users may read the topology and the audit "
                 "log; run `chmod 600 %s`",
                 path, (unsigned)perm, path);
    return kf_db_sqlite_open(path, &st->db, err);
}

kf_status
kf_store_url_check(const char *url, bool *has_user, struct kf_err *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    kf_status rc = KF_OK;

    if (has_user != NULL)
        *has_user = false;
    if (opts == NULL) {
        /* libpq's message quotes the URL, which may hold a password */
        PQfreemem(msg);
        return kf_err_set(err, KF_ERR_INVALID,
                          "the store URL is not a valid PostgreSQL connection URL "
                          "(postgresql://[user@]host[:port]/dbname[?param=value...])");
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "password") == 0)
            rc = kf_err_set(err, KF_ERR_INVALID,
                            "the store URL contains a password, which would end up on command "
                            "lines and in the audit log; remove it and authenticate with your "
                            "Kerberos ticket (gss), ~/.pgpass or $PGPASSFILE instead");
        else if (strcmp(o->keyword, "user") == 0 && has_user != NULL)
            *has_user = true;
    }
    PQconninfoFree(opts);
    return rc;
}

static kf_status
open_pg(const char *url, const char *default_user, struct kf_store *st, struct kf_err *err)
{
    bool has_user;
    kf_status rc;

    if ((rc = kf_store_url_check(url, &has_user, err)) != KF_OK)
        return rc;
    if ((rc = kf_db_pg_open(url, has_user ? NULL : default_user, &st->db, err)) != KF_OK)
        return rc;
    st->server_principal = kf_db_pg_principal(st->db);
    return KF_OK;
}

kf_status
kf_store_open_as(const char *where, enum kf_store_intent intent, const char *default_user,
                 struct kf_store **out, struct kf_err *err)
{
    bool pg = kf_store_is_url(where);
    struct kf_store *st;
    kf_status rc;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->path = strdup(pg ? where : sqlite_path(where))) == NULL) {
        free(st);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    st->migrated_from = -1;
    rc = pg ? open_pg(where, default_user, st, err) : open_sqlite(st->path, intent, st, err);
    if (rc == KF_OK)
        rc = check_schema(st, intent, err);
    if (rc != KF_OK) {
        kf_store_free(st);
        return rc;
    }
    *out = st;
    return KF_OK;
}

kf_status
kf_store_open_for(const char *where, enum kf_store_intent intent, struct kf_store **out,
                  struct kf_err *err)
{
    return kf_store_open_as(where, intent, NULL, out, err);
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static kf_status column_strv(struct kf_store *st, struct kf_db_stmt *stmt, const char *what,
                             char ***out, size_t *n, struct kf_err *err);

kf_status
kf_store_schema_columns(struct kf_store *st, char ***out, size_t *n, struct kf_err *err)
{
    static const char sqlite_sql[] =
        "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p "
        "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
    static const char pg_sql[] =
        "SELECT table_name || '.' || column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name <> 'krbfleet_schema'";
    kf_status rc = column_strv(st, prep(st, err, kf_store_is_pg(st) ? pg_sql : sqlite_sql, ""),
                               "reading the schema", out, n, err);

    if (rc == KF_OK && *n > 1)
        qsort(*out, *n, sizeof(**out), compare_strings);
    return rc;
}

int
kf_store_migrated_from(const struct kf_store *st)
{
    return st->migrated_from;
}

kf_status
kf_store_open(const char *path, struct kf_store **out, struct kf_err *err)
{
    return kf_store_open_for(path, KF_STORE_FOR_WRITING, out, err);
}

bool
kf_store_created(const struct kf_store *st)
{
    return st->created;
}

const char *
kf_store_warning(const struct kf_store *st)
{
    return st->warning[0] != '\0' ? st->warning : NULL;
}

void
kf_store_free(struct kf_store *st)
{
    if (st == NULL)
        return;
    if (st->in_tx)
        kf_store_rollback(st);
    if (st->db != NULL)
        st->db->ops->close(st->db);
    free(st->path);
    free(st->server_principal);
    free(st->user);
    free(st->principal);
    free(st->command);
    free(st);
}

kf_status
kf_store_set_actor(struct kf_store *st, const char *user, const char *principal,
                   const char *command)
{
    free(st->user);
    free(st->principal);
    free(st->command);
    st->user = kf_strdup0(user ? user : "unknown");
    st->principal = kf_strdup0(principal);
    st->command = kf_strdup0(command ? command : "");
    if (st->user == NULL || st->command == NULL || (principal && st->principal == NULL))
        return KF_ERR_NOMEM;
    return KF_OK;
}

kf_status
kf_store_begin(struct kf_store *st, struct kf_err *err)
{
    struct kf_err local = {0};
    kf_status rc = st->db->ops->begin(st->db, &local);

    if (rc != KF_OK)
        return kf_err_set(err, KF_ERR_STORE, "store %s: %s", st->path, local.msg);
    if (rc == KF_OK)
        st->in_tx = true;
    return rc;
}

kf_status
kf_store_commit(struct kf_store *st, struct kf_err *err)
{
    kf_status rc = exec_sql(st, "COMMIT", err);

    if (rc == KF_OK)
        st->in_tx = false;
    else
        kf_store_rollback(st);
    return rc;
}

void
kf_store_rollback(struct kf_store *st)
{
    if (st->in_tx)
        exec_sql(st, "ROLLBACK", NULL);
    st->in_tx = false;
}

/* ---- reading the topology --------------------------------------------- */

kf_status
kf_store_topology_load(struct kf_store *st, struct kf_topology **out, struct kf_err *err)
{
    /* One ordered join; each row is a site, pool, web FQDN or server. */
    static const char sql[] =
        "SELECT 0, s.id, s.name, NULL, CAST(NULL AS INTEGER), NULL, s.ord, -1, -1, -1 "
        "FROM site s "
        "UNION ALL "
        "SELECT 1, s.id, p.fqdn, p.probe_url, NULL, NULL, s.ord, p.ord, -1, -1 "
        "  FROM pool p JOIN site s ON s.id = p.site_id "
        "UNION ALL "
        "SELECT 2, s.id, w.fqdn, NULL, NULL, NULL, s.ord, p.ord, 0, w.ord "
        "  FROM web_fqdn w JOIN pool p ON p.id = w.pool_id JOIN site s ON s.id = p.site_id "
        "UNION ALL "
        "SELECT 3, s.id, v.fqdn, v.address, v.agent_port, NULL, s.ord, p.ord, 1, v.ord "
        "  FROM server v JOIN pool p ON p.id = v.pool_id JOIN site s ON s.id = p.site_id "
        "ORDER BY 7, 8, 9, 10";
    struct kf_topology *topo = kf_topology_new();
    struct kf_site *site = NULL;
    struct kf_pool *pool = NULL;
    struct kf_db_stmt *stmt;
    kf_status rc = KF_OK;
    int step;

    *out = NULL;
    if (topo == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    stmt = prep(st, err, sql, "");
    if (stmt == NULL) {
        kf_topology_free(topo);
        return KF_ERR_STORE;
    }
    while (rc == KF_OK && (step = kf_db_step(stmt)) == 1) {
        int kind = (int)col_int(stmt, 0);
        const char *name = col_text(stmt, 2), *extra = col_text(stmt, 3);
        bool ok = true;

        if (kind == 0) {
            ok = (site = kf_topology_add_site(topo, name)) != NULL;
            pool = NULL;
        } else if (kind == 1 && site != NULL) {
            ok = (pool = kf_site_add_pool(site, name, extra)) != NULL;
        } else if (kind == 2 && pool != NULL) {
            ok = kf_pool_add_web_fqdn(pool, name) == 0;
        } else if (kind == 3 && pool != NULL) {
            ok = kf_pool_add_server(pool, name, extra, (int)col_int(stmt, 4)) != NULL;
        } else {
            rc = kf_err_set(err, KF_ERR_STORE, "store %s: inconsistent topology rows", st->path);
        }
        if (!ok)
            rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if (rc == KF_OK && step != 0)
        rc = db_err(st, err, "reading the topology");
    kf_db_finalize(stmt);
    if (rc != KF_OK) {
        kf_topology_free(topo);
        return rc;
    }
    *out = topo;
    return KF_OK;
}

/* ---- writing the topology --------------------------------------------- */

static kf_status mark_enable_needed(struct kf_store *st, struct kf_err *err);

static kf_status
site_id(struct kf_store *st, const char *name, int64_t *id, struct kf_err *err)
{
    kf_status rc = query_int(st, prep(st, err, "SELECT id FROM site WHERE lower(name) = lower(?)", "s", name),
                             id, err);
    if (rc == KF_OK && *id < 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "site \"%s\" does not exist (see `krbfleet site list`)", name);
    return rc;
}

static kf_status
pool_id(struct kf_store *st, const char *fqdn, int64_t *id, struct kf_err *err)
{
    kf_status rc = query_int(st, prep(st, err, "SELECT id FROM pool WHERE fqdn = ?", "s", fqdn),
                             id, err);
    if (rc == KF_OK && *id < 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "pool \"%s\" does not exist (see `krbfleet pool list`)", fqdn);
    return rc;
}

/* Which object already uses NAME, other than a server of pool OWN_POOL
 * when NAME is that pool's FQDN? Writes a description to WHAT (empty when
 * the name is free). KIND says what is being added, for the rules. */
enum name_kind { NAME_POOL, NAME_WEB, NAME_SERVER };

static kf_status
name_user(struct kf_store *st, const char *name, enum name_kind kind, int64_t own_pool,
          char *what, size_t what_size, struct kf_err *err)
{
    static const char sql[] =
        "SELECT 'pool', p.fqdn, p.id FROM pool p WHERE p.fqdn = ?1 "
        "UNION ALL SELECT 'web', p.fqdn, p.id FROM web_fqdn w JOIN pool p ON p.id = w.pool_id "
        "  WHERE w.fqdn = ?1 "
        "UNION ALL SELECT 'server', p.fqdn, p.id FROM server v JOIN pool p ON p.id = v.pool_id "
        "  WHERE v.fqdn = ?1";
    struct kf_db_stmt *stmt = prep(st, err, sql, "s", name);
    int step;

    what[0] = '\0';
    if (stmt == NULL)
        return KF_ERR_STORE;
    while ((step = kf_db_step(stmt)) == 1) {
        const char *type = col_text(stmt, 0), *pool = col_text(stmt, 1);
        int64_t pid = col_int(stmt, 2);

        /* The one allowed overlap: a server named like its own pool. */
        if (kind == NAME_SERVER && strcmp(type, "pool") == 0 && pid == own_pool)
            continue;
        if (kind == NAME_POOL && strcmp(type, "server") == 0 && pid == own_pool)
            continue;
        if (strcmp(type, "pool") == 0)
            snprintf(what, what_size, "the FQDN of pool \"%s\"", pool);
        else if (strcmp(type, "web") == 0)
            snprintf(what, what_size, "a web FQDN of pool \"%s\"", pool);
        else
            snprintf(what, what_size, "the FQDN of a server of pool \"%s\"", pool);
        break;
    }
    kf_db_finalize(stmt);
    if (step != 1 && step != 0)
        return db_err(st, err, "checking names");
    return KF_OK;
}

static kf_status
name_free(struct kf_store *st, const char *name, enum name_kind kind, int64_t own_pool,
          struct kf_err *err)
{
    char what[KF_FQDN_MAX + 64];
    kf_status rc = name_user(st, name, kind, own_pool, what, sizeof(what), err);

    if (rc != KF_OK)
        return rc;
    if (what[0] != '\0')
        return kf_err_set(err, KF_ERR_EXISTS, "\"%s\" is already %s", name, what);
    return KF_OK;
}

/* The next position among siblings: SQL takes the parent's id (PARENT),
 * or no parameter when PARENT < 0. */
static int64_t
next_ord(struct kf_store *st, const char *sql, int64_t parent)
{
    int64_t v;
    struct kf_db_stmt *stmt = parent < 0 ? prep(st, NULL, sql, "") : prep(st, NULL, sql, "i", parent);

    if (query_int(st, stmt, &v, NULL) != KF_OK || v < 0)
        return 0;
    return v;
}

static kf_status
insert_site(struct kf_store *st, const char *name, int64_t ord, int64_t *idp, struct kf_err *err)
{
    int64_t id;
    kf_status rc;

    if ((rc = query_int(st, prep(st, err, "SELECT id FROM site WHERE lower(name) = lower(?)", "s", name), &id,
                        err)) != KF_OK)
        return rc;
    if (id >= 0)
        return kf_err_set(err, KF_ERR_EXISTS, "site \"%s\" exists already", name);
    return query_int(st,
                     prep(st, err, "INSERT INTO site(name, ord) VALUES (?, ?) RETURNING id", "si",
                          name, ord),
                     idp != NULL ? idp : &id, err);
}

static kf_status
insert_pool(struct kf_store *st, int64_t site, const struct kf_pool *pool, int64_t ord,
            int64_t *idp, struct kf_err *err)
{
    int64_t id;
    kf_status rc;

    if ((rc = name_free(st, pool->fqdn, NAME_POOL, -1, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < pool->n_web_fqdns; i++) {
        if (strcmp(pool->web_fqdns[i], pool->fqdn) == 0)
            return kf_err_set(err, KF_ERR_INVALID,
                              "web FQDN \"%s\" is the pool's own FQDN; list only extra names",
                              pool->fqdn);
        for (size_t j = 0; j < i; j++)
            if (strcmp(pool->web_fqdns[i], pool->web_fqdns[j]) == 0)
                return kf_err_set(err, KF_ERR_INVALID, "web FQDN \"%s\" is listed twice",
                                  pool->web_fqdns[i]);
        if ((rc = name_free(st, pool->web_fqdns[i], NAME_WEB, -1, err)) != KF_OK)
            return rc;
    }
    if ((rc = query_int(st,
                        prep(st, err,
                             "INSERT INTO pool(site_id, fqdn, probe_url, ord) VALUES (?,?,?,?) "
                             "RETURNING id",
                             "issi", site, pool->fqdn, pool->probe_url, ord),
                        &id, err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < pool->n_web_fqdns; i++)
        if ((rc = run(st,
                      prep(st, err, "INSERT INTO web_fqdn(fqdn, pool_id, ord) VALUES (?,?,?)",
                           "sii", pool->web_fqdns[i], id, (int64_t)i),
                      err)) != KF_OK)
            return rc;
    if (idp != NULL)
        *idp = id;
    return mark_enable_needed(st, err);
}

static kf_status
insert_server(struct kf_store *st, int64_t pool, const struct kf_server *srv, int64_t ord,
              struct kf_err *err)
{
    kf_status rc;

    if ((rc = name_free(st, srv->fqdn, NAME_SERVER, pool, err)) != KF_OK)
        return rc;
    return run(st,
               prep(st, err,
                    "INSERT INTO server(pool_id, fqdn, address, agent_port, ord) "
                    "VALUES (?,?,?,?,?)",
                    "issni", pool, srv->fqdn, srv->address, srv->agent_port, ord),
               err);
}

kf_status
kf_store_site_add(struct kf_store *st, const char *name, struct kf_err *err)
{
    return insert_site(st, name, next_ord(st, "SELECT max(ord) + 1 FROM site", -1), NULL,
                       err);
}

kf_status
kf_store_pool_add(struct kf_store *st, const char *site, const struct kf_pool *pool,
                  struct kf_err *err)
{
    int64_t sid;
    kf_status rc;

    if ((rc = site_id(st, site, &sid, err)) != KF_OK)
        return rc;
    return insert_pool(st, sid, pool,
                       next_ord(st, "SELECT max(ord) + 1 FROM pool WHERE site_id = ?", sid), NULL,
                       err);
}

kf_status
kf_store_server_add(struct kf_store *st, const char *pool_fqdn, const struct kf_server *srv,
                    struct kf_err *err)
{
    int64_t pid;
    kf_status rc;

    if ((rc = pool_id(st, pool_fqdn, &pid, err)) != KF_OK)
        return rc;
    return insert_server(st, pid, srv,
                         next_ord(st, "SELECT max(ord) + 1 FROM server WHERE pool_id = ?", pid),
                         err);
}

kf_status
kf_store_site_remove(struct kf_store *st, const char *name, bool force, struct kf_err *err)
{
    int64_t sid, pools;
    kf_status rc;

    if ((rc = site_id(st, name, &sid, err)) != KF_OK ||
        (rc = query_int(st, prep(st, err, "SELECT count(*) FROM pool WHERE site_id = ?", "i", sid),
                        &pools, err)) != KF_OK)
        return rc;
    if (pools > 0 && !force)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "site \"%s\" still has %lld pool(s); remove them first, or add --force "
                          "to remove the site with its pools and servers",
                          name, (long long)pools);
    if ((rc = run(st, prep(st, err, "DELETE FROM site WHERE id = ?", "i", sid), err)) != KF_OK)
        return rc;
    return pools > 0 ? mark_enable_needed(st, err) : KF_OK;
}

kf_status
kf_store_pool_remove(struct kf_store *st, const char *fqdn, bool force, struct kf_err *err)
{
    int64_t pid, servers;
    kf_status rc;

    if ((rc = pool_id(st, fqdn, &pid, err)) != KF_OK ||
        (rc = query_int(st,
                        prep(st, err, "SELECT count(*) FROM server WHERE pool_id = ?", "i", pid),
                        &servers, err)) != KF_OK)
        return rc;
    if (servers > 0 && !force)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "pool \"%s\" still has %lld server(s); remove them first, or add "
                          "--force to remove the pool with its servers",
                          fqdn, (long long)servers);
    if ((rc = run(st, prep(st, err, "DELETE FROM pool WHERE id = ?", "i", pid), err)) != KF_OK)
        return rc;
    return mark_enable_needed(st, err);
}

kf_status
kf_store_pool_update(struct kf_store *st, const char *fqdn, const char *const *webs, size_t n_webs,
                     bool set_webs, const char *probe_url, bool set_probe, struct kf_err *err)
{
    int64_t pid;
    kf_status rc;

    if ((rc = pool_id(st, fqdn, &pid, err)) != KF_OK)
        return rc;
    if (set_probe &&
        (rc = run(st, prep(st, err, "UPDATE pool SET probe_url = ? WHERE id = ?", "si", probe_url,
                           pid),
                  err)) != KF_OK)
        return rc;
    if (!set_webs)
        return KF_OK;
    if ((rc = run(st, prep(st, err, "DELETE FROM web_fqdn WHERE pool_id = ?", "i", pid), err)) !=
        KF_OK)
        return rc;
    for (size_t i = 0; i < n_webs; i++) {
        if (strcmp(webs[i], fqdn) == 0)
            return kf_err_set(err, KF_ERR_INVALID,
                              "web FQDN \"%s\" is the pool's own FQDN; list only extra names",
                              fqdn);
        for (size_t j = 0; j < i; j++)
            if (strcmp(webs[i], webs[j]) == 0)
                return kf_err_set(err, KF_ERR_INVALID, "web FQDN \"%s\" is listed twice",
                                  webs[i]);
        if ((rc = name_free(st, webs[i], NAME_WEB, -1, err)) != KF_OK ||
            (rc = run(st,
                      prep(st, err, "INSERT INTO web_fqdn(fqdn, pool_id, ord) VALUES (?,?,?)",
                           "sii", webs[i], pid, (int64_t)i),
                      err)) != KF_OK)
            return rc;
    }
    return mark_enable_needed(st, err);
}

kf_status
kf_store_server_remove(struct kf_store *st, const char *fqdn, struct kf_err *err)
{
    int64_t n;
    kf_status rc = run_changes(st, prep(st, err, "DELETE FROM server WHERE fqdn = ?", "s", fqdn),
                               &n, err);

    if (rc == KF_OK && n == 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "server \"%s\" does not exist (see `krbfleet server list`)", fqdn);
    return rc;
}

static bool
topo_has_site(const struct kf_topology *topo, const char *name)
{
    for (size_t i = 0; i < topo->n_sites; i++)
        if (strcasecmp(topo->sites[i].name, name) == 0)
            return true;
    return false;
}

static bool
topo_has_pool(const struct kf_topology *topo, const char *fqdn)
{
    for (size_t i = 0; i < topo->n_sites; i++)
        for (size_t j = 0; j < topo->sites[i].n_pools; j++)
            if (strcmp(topo->sites[i].pools[j].fqdn, fqdn) == 0)
                return true;
    return false;
}

kf_status
kf_store_topology_losses(struct kf_store *st, const struct kf_topology *topo, char ***lost,
                         size_t *n_lost, struct kf_err *err)
{
    static const char assigned[] =
        "SELECT s.name, a.domain, a.name FROM site s JOIN assignment x ON x.site_id = s.id "
        "JOIN account a ON a.id = x.account_id ORDER BY s.ord";
    static const char published[] =
        "SELECT p.fqdn, s.name, o.spn, a.domain, a.name FROM pool p "
        "JOIN site s ON s.id = p.site_id JOIN owned_spn o ON lower(o.spn) = lower('HTTP/' || p.fqdn) "
        "JOIN account a ON a.id = o.account_id ORDER BY s.ord, p.ord";
    char **v = NULL;
    size_t n = 0;
    struct kf_db_stmt *stmt;
    int step, nomem = 0;

    *lost = NULL;
    *n_lost = 0;
    if ((stmt = prep(st, err, assigned, "")) == NULL)
        return KF_ERR_STORE;
    while (!nomem && (step = kf_db_step(stmt)) == 1)
        if (!topo_has_site(topo, col_text(stmt, 0)))
            nomem = kf_strv_pushf(&v, &n,
                                  "site %s, assigned to account %s\\%s", col_text(stmt, 0),
                                  col_text(stmt, 1), col_text(stmt, 2));
    kf_db_finalize(stmt);
    if (!nomem && step != 0) {
        kf_strv_free(v, n);
        return db_err(st, err, "reading the assignments");
    }
    if (!nomem) {
        if ((stmt = prep(st, err, published, "")) == NULL) {
            kf_strv_free(v, n);
            return KF_ERR_STORE;
        }
        while (!nomem && (step = kf_db_step(stmt)) == 1)
            if (!topo_has_pool(topo, col_text(stmt, 0)))
                nomem = kf_strv_pushf(&v, &n,
                                      "pool %s of site %s, whose SPN %s is published on "
                                      "account %s\\%s",
                                      col_text(stmt, 0), col_text(stmt, 1), col_text(stmt, 2),
                                      col_text(stmt, 3), col_text(stmt, 4));
        kf_db_finalize(stmt);
    }
    if (nomem) {
        kf_strv_free(v, n);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if (step != 0) {
        kf_strv_free(v, n);
        return db_err(st, err, "reading the published SPNs");
    }
    *lost = v;
    *n_lost = n;
    return KF_OK;
}

kf_status
kf_store_topology_replace(struct kf_store *st, const struct kf_topology *topo,
                          struct kf_err *err)
{
    kf_status rc;

    /* Sites keep their rows (and so whatever refers to them) when their
     * name remains; pools and servers are written anew in document order. */
    if ((rc = exec_sql(st, "DELETE FROM pool; UPDATE site SET ord = -1 - ord;", err)) != KF_OK)
        return rc;
    for (size_t i = 0; i < topo->n_sites; i++) {
        const struct kf_site *site = &topo->sites[i];
        int64_t sid;

        if ((rc = query_int(st, prep(st, err, "SELECT id FROM site WHERE lower(name) = lower(?)", "s", site->name),
                            &sid, err)) != KF_OK)
            return rc;
        if (sid >= 0) {
            int64_t ord;
            if ((rc = query_int(st, prep(st, err, "SELECT ord FROM site WHERE id = ?", "i", sid),
                                &ord, err)) != KF_OK)
                return rc;
            if (ord >= 0)
                return kf_err_set(err, KF_ERR_EXISTS, "sites[%zu].name: site \"%s\" is listed twice",
                                  i, site->name);
            rc = run(st, prep(st, err, "UPDATE site SET name = ?, ord = ? WHERE id = ?", "sii",
                              site->name, (int64_t)i, sid),
                     err);
        } else {
            rc = insert_site(st, site->name, (int64_t)i, &sid, err);
        }
        if (rc != KF_OK)
            return kf_err_prefix(err, "sites[%zu]", i);
        for (size_t j = 0; j < site->n_pools; j++) {
            const struct kf_pool *pool = &site->pools[j];
            int64_t pid;

            if ((rc = insert_pool(st, sid, pool, (int64_t)j, &pid, err)) != KF_OK)
                return kf_err_prefix(err, "sites[%zu].pools[%zu]", i, j);
            for (size_t k = 0; k < pool->n_servers; k++)
                if ((rc = insert_server(st, pid, &pool->servers[k], (int64_t)k, err)) != KF_OK)
                    return kf_err_prefix(err, "sites[%zu].pools[%zu].servers[%zu]", i, j, k);
        }
    }
    if ((rc = exec_sql(st, "DELETE FROM site WHERE ord < 0", err)) != KF_OK)
        return rc;
    return mark_enable_needed(st, err);
}

/* ---- audit ------------------------------------------------------------ */

kf_status
kf_store_audit(struct kf_store *st, const char *object, const char *detail, struct kf_err *err)
{
    char now[32];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return run(st,
               prep(st, err,
                    "INSERT INTO audit(time, \"user\", principal, command, object, detail) "
                    "VALUES (?,?,?,?,?,?)",
                    "ssssss", now, st->user ? st->user : "unknown",
                    st->server_principal ? st->server_principal : st->principal,
                    st->command ? st->command : "", object, detail),
               err);
}

/* N decimal digits at S as a number, or -1. */
static int
digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

kf_status
kf_audit_since(const char *since, time_t now, char out[KF_AUDIT_TIME_LEN], struct kf_err *err)
{
    struct tm tm = {0}, back;
    long long secs;
    size_t len = strlen(since);
    time_t t;

    if (kf_duration_parse(since, &secs, NULL) == KF_OK) {
        t = now - (time_t)secs;
        goto format;
    }
    if (len > 0 && since[len - 1] == 'Z')
        len--;
    if ((len != 10 && len != 16 && len != 19) || since[4] != '-' || since[7] != '-' ||
        (len > 10 && ((since[10] != 'T' && since[10] != ' ') || since[13] != ':')) ||
        (len == 19 && since[16] != ':'))
        goto bad;
    tm.tm_year = digits(since, 4) - 1900;
    tm.tm_mon = digits(since + 5, 2) - 1;
    tm.tm_mday = digits(since + 8, 2);
    if (len > 10) {
        tm.tm_hour = digits(since + 11, 2);
        tm.tm_min = digits(since + 14, 2);
    }
    if (len == 19)
        tm.tm_sec = digits(since + 17, 2);
    if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
        tm.tm_sec < 0)
        goto bad;
    back = tm;
    t = timegm(&tm);
    /* timegm normalises 02-30 into March: a date that moved was not a date */
    if (t == (time_t)-1 || tm.tm_mday != back.tm_mday || tm.tm_mon != back.tm_mon ||
        tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
        goto bad;
format:
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, KF_AUDIT_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) != KF_AUDIT_TIME_LEN - 1)
        goto bad;
    return KF_OK;
bad:
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.64s\" is neither a UTC date (2026-12-07, 2026-12-07T14:30 or "
                      "2026-12-07T14:30:00) nor a duration back from now (90m, 12h, 7d)",
                      since);
}

void
kf_audit_list_free(struct kf_audit_entry *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].time);
        free(list[i].user);
        free(list[i].principal);
        free(list[i].command);
        free(list[i].object);
        free(list[i].detail);
    }
    free(list);
}

/* OBJECT ("site:redmond") matches FILTER when FILTER is all of it, its
 * name after ':' or its kind before, in any case. */
static bool
audit_object_matches(const char *object, const char *filter)
{
    const char *colon = strchr(object, ':');
    size_t len = strlen(filter);

    if (strcasecmp(object, filter) == 0)
        return true;
    if (colon == NULL)
        return false;
    return strcasecmp(colon + 1, filter) == 0 ||
           ((size_t)(colon - object) == len && strncasecmp(object, filter, len) == 0);
}

kf_status
kf_store_audit_list(struct kf_store *st, const struct kf_audit_filter *filter,
                    struct kf_audit_entry **out, size_t *n, struct kf_err *err)
{
    static const char sql[] =
        "SELECT id, time, \"user\", principal, command, object, detail FROM audit ORDER BY id";
    static const char sql_since[] =
        "SELECT id, time, \"user\", principal, command, object, detail FROM audit "
        "WHERE time >= ? ORDER BY id";
    const char *since = filter ? filter->since : NULL;
    const char *object = filter ? filter->object : NULL;
    struct kf_db_stmt *stmt = since ? prep(st, err, sql_since, "s", since) : prep(st, err, sql, "");
    struct kf_audit_entry *list = NULL;
    size_t count = 0;
    int step;

    *out = NULL;
    *n = 0;
    if (stmt == NULL)
        return KF_ERR_STORE;
    while ((step = kf_db_step(stmt)) == 1) {
        struct kf_audit_entry *e, *bigger;
        if (object != NULL && !audit_object_matches(col_text(stmt, 5), object))
            continue;
        bigger = realloc(list, (count + 1) * sizeof(*list));
        if (bigger == NULL)
            break;
        list = bigger;
        e = &list[count++];
        e->id = col_int(stmt, 0);
        e->time = kf_strdup0(col_text(stmt, 1));
        e->user = kf_strdup0(col_text(stmt, 2));
        e->principal = kf_strdup0(col_text(stmt, 3));
        e->command = kf_strdup0(col_text(stmt, 4));
        e->object = kf_strdup0(col_text(stmt, 5));
        e->detail = kf_strdup0(col_text(stmt, 6));
        if (!e->time || !e->user || !e->command || !e->object)
            break;
    }
    kf_db_finalize(stmt);
    if (step != 0) {
        kf_audit_list_free(list, count);
        if (step == 1)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        return db_err(st, err, "reading the audit log");
    }
    *out = list;
    *n = count;
    return KF_OK;
}

/* ---- state ------------------------------------------------------------ */

kf_status
kf_store_state_get(struct kf_store *st, const char *key, char **value, struct kf_err *err)
{
    struct kf_db_stmt *stmt = prep(st, err, "SELECT value FROM state WHERE key = ?", "s", key);
    int step;

    *value = NULL;
    if (stmt == NULL)
        return KF_ERR_STORE;
    step = kf_db_step(stmt);
    if (step == 1 && (*value = strdup(col_text(stmt, 0))) == NULL) {
        kf_db_finalize(stmt);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    kf_db_finalize(stmt);
    if (step != 1 && step != 0)
        return db_err(st, err, "reading state");
    return KF_OK;
}

kf_status
kf_store_state_set(struct kf_store *st, const char *key, const char *value, struct kf_err *err)
{
    if (value == NULL)
        return run(st, prep(st, err, "DELETE FROM state WHERE key = ?", "s", key), err);
    return run(st,
               prep(st, err, "INSERT INTO state(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", "ss", key,
                    value),
               err);
}

static kf_status
mark_enable_needed(struct kf_store *st, struct kf_err *err)
{
    return kf_store_state_set(st, KF_STATE_ENABLE_NEEDED, "1", err);
}

/* ---- accounts --------------------------------------------------------- */

static void
account_done(struct kf_account *a)
{
    free(a->domain);
    free(a->name);
    free(a->dn);
    free(a->created);
    kf_strv_free(a->sites, a->n_sites);
}

void
kf_account_free(struct kf_account *acct)
{
    if (acct == NULL)
        return;
    account_done(acct);
    free(acct);
}

void
kf_account_list_free(struct kf_account *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        account_done(&list[i]);
    free(list);
}

/* Read accounts (all, or the one named NAME) with their sites. */
static kf_status
accounts_read(struct kf_store *st, const char *name, struct kf_account **out, size_t *n,
              struct kf_err *err)
{
    static const char sql_all[] =
        "SELECT a.id, a.domain, a.name, a.dn, a.enctypes, a.adopted, a.created, s.name, "
        "a.allow_foreign_spns FROM account a LEFT JOIN assignment g ON g.account_id = a.id "
        "LEFT JOIN site s ON s.id = g.site_id ORDER BY lower(a.name), a.name, s.ord";
    static const char sql_one[] =
        "SELECT a.id, a.domain, a.name, a.dn, a.enctypes, a.adopted, a.created, s.name, "
        "a.allow_foreign_spns FROM account a LEFT JOIN assignment g ON g.account_id = a.id "
        "LEFT JOIN site s ON s.id = g.site_id WHERE lower(a.name) = lower(?) ORDER BY s.ord";
    struct kf_db_stmt *stmt = name ? prep(st, err, sql_one, "s", name) : prep(st, err, sql_all, "");
    struct kf_account *list = NULL, *cur = NULL;
    size_t count = 0;
    bool nomem = false;
    int step;

    *out = NULL;
    *n = 0;
    if (stmt == NULL)
        return KF_ERR_STORE;
    while (!nomem && (step = kf_db_step(stmt)) == 1) {
        int64_t id = col_int(stmt, 0);
        if (cur == NULL || cur->id != id) {
            struct kf_account *bigger = realloc(list, (count + 1) * sizeof(*list));
            if (bigger == NULL) {
                nomem = true;
                break;
            }
            list = bigger;
            cur = &list[count++];
            memset(cur, 0, sizeof(*cur));
            cur->id = id;
            cur->domain = kf_strdup0(col_text(stmt, 1));
            cur->name = kf_strdup0(col_text(stmt, 2));
            cur->dn = kf_strdup0(col_text(stmt, 3));
            cur->enctypes = (unsigned)col_int(stmt, 4);
            cur->adopted = (int)col_int(stmt, 5) != 0;
            cur->created = kf_strdup0(col_text(stmt, 6));
            cur->allow_foreign_spns = (int)col_int(stmt, 8) != 0;
            nomem = !cur->domain || !cur->name || !cur->created;
        }
        if (!nomem && col_text(stmt, 7) != NULL)
            nomem = kf_strv_push(&cur->sites, &cur->n_sites, col_text(stmt, 7)) != 0;
    }
    kf_db_finalize(stmt);
    if (nomem || step != 0) {
        kf_account_list_free(list, count);
        return nomem ? kf_err_set(err, KF_ERR_NOMEM, "out of memory")
                     : db_err(st, err, "reading accounts");
    }
    *out = list;
    *n = count;
    return KF_OK;
}

kf_status
kf_store_account_list(struct kf_store *st, struct kf_account **out, size_t *n,
                      struct kf_err *err)
{
    return accounts_read(st, NULL, out, n, err);
}

kf_status
kf_store_account_get(struct kf_store *st, const char *name, struct kf_account **out,
                     struct kf_err *err)
{
    size_t n;
    kf_status rc = accounts_read(st, name, out, &n, err);

    if (rc == KF_OK && n == 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND,
                          "account \"%s\" is not managed by krbfleet (see `krbfleet account "
                          "list`; create it with `krbfleet account new` or take over an existing "
                          "one with `krbfleet account adopt`)",
                          name);
    return rc;
}

kf_status
kf_store_account_add(struct kf_store *st, const char *domain, const char *name, const char *dn,
                     unsigned enctypes, bool adopted, struct kf_err *err)
{
    char now[32];
    struct timespec ts;
    struct tm tm;
    int64_t id, other;
    kf_status rc;

    if ((rc = query_int(st, prep(st, err, "SELECT id FROM account WHERE lower(name) = lower(?)", "s", name), &id,
                        err)) != KF_OK)
        return rc;
    if (id >= 0)
        return kf_err_set(err, KF_ERR_EXISTS, "account \"%s\" is already managed by krbfleet",
                          name);
    if ((rc = query_int(st,
                        prep(st, err,
                             "SELECT count(*) FROM account WHERE lower(domain) <> lower(?)", "s",
                             domain),
                        &other, err)) != KF_OK)
        return rc;
    if (other > 0)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "this store manages accounts of another domain; one domain per store "
                          "(use another --store for domain %s)",
                          domain);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return run(st,
               prep(st, err,
                    "INSERT INTO account(domain, name, dn, enctypes, adopted, created) "
                    "VALUES (?,?,?,?,?,?)",
                    "sssiis", domain, name, dn, (int64_t)enctypes, (int64_t)adopted, now),
               err);
}

kf_status
kf_store_account_set_dn(struct kf_store *st, const char *name, const char *dn,
                        struct kf_err *err)
{
    return run(st, prep(st, err, "UPDATE account SET dn = ? WHERE lower(name) = lower(?)", "ss", dn, name), err);
}

kf_status
kf_store_account_set_foreign_spns(struct kf_store *st, const char *name, bool allow,
                                  struct kf_err *err)
{
    return run(st,
               prep(st, err, "UPDATE account SET allow_foreign_spns = ? WHERE lower(name) = lower(?)", "is",
                    (int64_t)allow, name),
               err);
}

kf_status
kf_store_account_remove(struct kf_store *st, const char *name, struct kf_err *err)
{
    struct kf_account *acct = NULL;
    kf_status rc = kf_store_account_get(st, name, &acct, err);

    if (rc != KF_OK)
        return rc;
    if (acct->n_sites > 0) {
        char sites[512] = "";
        for (size_t i = 0; i < acct->n_sites; i++) {
            size_t used = strlen(sites);
            snprintf(sites + used, sizeof(sites) - used, "%s%s", i ? ", " : "", acct->sites[i]);
        }
        rc = kf_err_set(err, KF_ERR_CONFLICT,
                        "account \"%s\" is assigned to site(s) %s; remove those assignments "
                        "first (`krbfleet assignment remove --site NAME`)",
                        name, sites);
        kf_account_free(acct);
        return rc;
    }
    kf_account_free(acct);
    return run(st, prep(st, err, "DELETE FROM account WHERE lower(name) = lower(?)", "s", name), err);
}

kf_status
kf_store_assignment_set(struct kf_store *st, const char *site, const char *account, bool create,
                        bool *changed, struct kf_err *err)
{
    struct kf_account *acct = NULL;
    int64_t sid, current;
    kf_status rc;

    if (changed != NULL)
        *changed = false;
    if ((rc = site_id(st, site, &sid, err)) != KF_OK ||
        (rc = kf_store_account_get(st, account, &acct, err)) != KF_OK)
        return rc;
    rc = query_int(st, prep(st, err, "SELECT account_id FROM assignment WHERE site_id = ?", "i", sid),
                   &current, err);
    if (rc == KF_OK && create && current >= 0)
        rc = kf_err_set(err, KF_ERR_EXISTS,
                        "site \"%s\" already has a Kerberos account assignment; change it with "
                        "`krbfleet assignment set --site %s --account %s`",
                        site, site, account);
    else if (rc == KF_OK && !create && current < 0)
        rc = kf_err_set(err, KF_ERR_NOT_FOUND,
                        "site \"%s\" has no Kerberos account assignment yet; create it with "
                        "`krbfleet assignment new --site %s --account %s`",
                        site, site, account);
    if (rc == KF_OK && current == acct->id) {
        kf_account_free(acct); /* `assignment set` to the account it has */
        return KF_OK;
    }
    if (rc == KF_OK)
        rc = run(st,
                 prep(st, err, "INSERT INTO assignment(site_id, account_id) VALUES (?,?) ON CONFLICT(site_id) "
                      "DO UPDATE SET account_id = excluded.account_id",
                      "ii", sid, acct->id),
                 err);
    kf_account_free(acct);
    if (rc == KF_OK)
        rc = mark_enable_needed(st, err);
    if (rc == KF_OK && changed != NULL)
        *changed = true;
    return rc;
}

kf_status
kf_store_assignment_remove(struct kf_store *st, const char *site, struct kf_err *err)
{
    int64_t sid, n;
    kf_status rc;

    if ((rc = site_id(st, site, &sid, err)) != KF_OK ||
        (rc = run_changes(st, prep(st, err, "DELETE FROM assignment WHERE site_id = ?", "i", sid),
                          &n, err)) != KF_OK)
        return rc;
    if (n == 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "site \"%s\" has no Kerberos account assignment",
                          site);
    return mark_enable_needed(st, err);
}

/* The first column of every row of STMT (finalized here) as new strings
 * in *OUT (kf_strv_free); WHAT names the read in an error. */
static kf_status
column_strv(struct kf_store *st, struct kf_db_stmt *stmt, const char *what, char ***out, size_t *n,
            struct kf_err *err)
{
    char **v = NULL;
    size_t count = 0;
    int step;

    *out = NULL;
    *n = 0;
    if (stmt == NULL)
        return KF_ERR_STORE;
    while ((step = kf_db_step(stmt)) == 1)
        if (kf_strv_push(&v, &count, col_text(stmt, 0)) != 0)
            break;
    kf_db_finalize(stmt);
    if (step != 0) {
        kf_strv_free(v, count);
        return step == 1 ? kf_err_set(err, KF_ERR_NOMEM, "out of memory")
                                  : db_err(st, err, what);
    }
    *out = v;
    *n = count;
    return KF_OK;
}

kf_status
kf_store_owned_spns(struct kf_store *st, const char *account, char ***out, size_t *n,
                    struct kf_err *err)
{
    struct kf_db_stmt *stmt = prep(st, err,
                              "SELECT o.spn FROM owned_spn o JOIN account a ON a.id = o.account_id "
                              "WHERE lower(a.name) = lower(?) ORDER BY lower(o.spn), o.spn",
                              "s", account);
    return column_strv(st, stmt, "reading SPNs", out, n, err);
}

kf_status
kf_store_owned_spn_add(struct kf_store *st, const char *account, const char *spn,
                       struct kf_err *err)
{
    return run(st,
               prep(st, err,
                    "INSERT INTO owned_spn(account_id, spn) "
                    "SELECT id, ? FROM account WHERE lower(name) = lower(?) "
                    "ON CONFLICT DO NOTHING",
                    "ss", spn, account),
               err);
}

kf_status
kf_store_owned_spn_remove(struct kf_store *st, const char *account, const char *spn,
                          struct kf_err *err)
{
    return run(st,
               prep(st, err,
                    "DELETE FROM owned_spn WHERE lower(spn) = lower(?) AND account_id = "
                    "(SELECT id FROM account WHERE lower(name) = lower(?))",
                    "ss", spn, account),
               err);
}

/* ---- rotation state ----------------------------------------------------- */

static void
utc_now(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "YYYY-MM-DDTHH:MM:SSZ" (utc_now) as Unix time, or -1. */
static int64_t
utc_parse(const char *text)
{
    struct tm tm = {0};

    if (text == NULL || strlen(text) != KF_AUDIT_TIME_LEN - 1 || text[4] != '-' ||
        text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
        text[19] != 'Z')
        return -1;
    tm.tm_year = digits(text, 4) - 1900;
    tm.tm_mon = digits(text + 5, 2) - 1;
    tm.tm_mday = digits(text + 8, 2);
    tm.tm_hour = digits(text + 11, 2);
    tm.tm_min = digits(text + 14, 2);
    tm.tm_sec = digits(text + 17, 2);
    if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
        tm.tm_sec < 0)
        return -1;
    return (int64_t)timegm(&tm);
}

static kf_status
account_id(struct kf_store *st, const char *name, int64_t *id, struct kf_err *err)
{
    kf_status rc = query_int(st, prep(st, err, "SELECT id FROM account WHERE lower(name) = lower(?)", "s", name),
                             id, err);
    if (rc == KF_OK && *id < 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "account \"%s\" is not managed by krbfleet",
                          name);
    return rc;
}

kf_status
kf_store_lock_take(struct kf_store *st, const char *account, const struct kf_lock_holder *me,
                   bool (*alive)(const struct kf_lock_holder *holder), struct kf_err *err)
{
    int64_t id;
    struct kf_db_stmt *stmt;
    char now[32];
    kf_status rc;
    int step;

    if ((rc = account_id(st, account, &id, err)) != KF_OK)
        return rc;
    stmt = prep(st, err,
                "SELECT holder, host, pid, since, pid_start FROM rotation_lock "
                "WHERE account_id = ?",
                "i", id);
    if (stmt == NULL)
        return KF_ERR_STORE;
    step = kf_db_step(stmt);
    if (step == 1) {
        struct kf_lock_holder h = {
            .user = col_text(stmt, 0),
            .host = col_text(stmt, 1),
            .pid = (long)col_int(stmt, 2),
            .start = (unsigned long long)col_int(stmt, 4),
        };
        if (alive == NULL || alive(&h)) {
            rc = kf_err_set(err, KF_ERR_CONFLICT,
                            "account %s is being rotated by %s on %s (pid %ld) since %s; wait "
                            "for it to finish%s",
                            account, h.user, h.host, h.pid, col_text(stmt, 3),
                            alive == NULL ? "" : " (a killed run's lock is freed automatically "
                                                 "on the same host)");
            kf_db_finalize(stmt);
            return rc;
        }
    }
    kf_db_finalize(stmt);
    if (step != 1 && step != 0)
        return db_err(st, err, "reading the lock");
    utc_now(now, sizeof(now));
    return run(st,
               prep(st, err,
                    "INSERT INTO rotation_lock(account_id, holder, host, pid, since, "
                    "pid_start) VALUES (?,?,?,?,?,?) ON CONFLICT(account_id) DO UPDATE SET "
                    "holder = excluded.holder, host = excluded.host, pid = excluded.pid, "
                    "since = excluded.since, pid_start = excluded.pid_start",
                    "issisi", id, me->user, me->host, (int64_t)me->pid, now,
                    (int64_t)me->start),
               err);
}

kf_status
kf_store_lock_release(struct kf_store *st, const char *account, long pid, struct kf_err *err)
{
    return run(st,
               prep(st, err,
                    "DELETE FROM rotation_lock WHERE pid = ? AND account_id = "
                    "(SELECT id FROM account WHERE lower(name) = lower(?))",
                    "is", (int64_t)pid, account),
               err);
}

kf_status
kf_store_journal(struct kf_store *st, const char *run_id, const char *account, const char *step,
                 const char *detail, struct kf_err *err)
{
    char now[32];

    utc_now(now, sizeof(now));
    return run(st,
               prep(st, err,
                    "INSERT INTO journal(run, account, time, step, detail) VALUES (?,?,?,?,?)",
                    "sssss", run_id, account, now, step, detail),
               err);
}

kf_status
kf_store_last_rotation(struct kf_store *st, const char *account, struct kf_rotation_run *out,
                       struct kf_err *err)
{
    /* A rotation run starts with "plan" (sync runs start with "sync"). */
    struct kf_db_stmt *stmt = prep(st, err,
                              "SELECT run, step, time, detail FROM journal WHERE run = "
                              "(SELECT run FROM journal WHERE account = ? AND step = 'plan' "
                              "ORDER BY id DESC LIMIT 1) ORDER BY id DESC LIMIT 1",
                              "s", account);
    int step;

    memset(out, 0, sizeof(*out));
    out->when = -1;
    if (stmt == NULL)
        return KF_ERR_STORE;
    step = kf_db_step(stmt);
    if (step == 1) {
        out->when = utc_parse(col_text(stmt, 2));
        out->run = kf_strdup0(col_text(stmt, 0));
        out->step = kf_strdup0(col_text(stmt, 1));
        out->time = kf_strdup0(col_text(stmt, 2));
        out->detail = kf_strdup0(col_text(stmt, 3));
        if (out->run == NULL || out->step == NULL || out->time == NULL ||
            (col_text(stmt, 3) != NULL && out->detail == NULL)) {
            kf_db_finalize(stmt);
            kf_store_rotation_run_done(out);
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
    }
    kf_db_finalize(stmt);
    if (step != 1 && step != 0)
        return db_err(st, err, "reading the rotation journal");
    return KF_OK;
}

void
kf_store_rotation_run_done(struct kf_rotation_run *r)
{
    if (r == NULL)
        return;
    free(r->run);
    free(r->step);
    free(r->time);
    free(r->detail);
    memset(r, 0, sizeof(*r));
    r->when = -1;
}

kf_status
kf_store_server_key_set(struct kf_store *st, const char *server, const char *account,
                        int kvno, const char *state, struct kf_err *err)
{
    int64_t id;
    char now[32];
    kf_status rc;

    if ((rc = account_id(st, account, &id, err)) != KF_OK)
        return rc;
    utc_now(now, sizeof(now));
    if (state == NULL)
        return run(st,
                   prep(st, err,
                        "DELETE FROM server_key WHERE server = ? AND account_id = ? AND kvno = ?",
                        "sii", server, id, (int64_t)kvno),
                   err);
    return run(st,
               prep(st, err,
                    "INSERT INTO server_key(server, account_id, kvno, state, time) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(server, account_id, kvno) DO UPDATE SET "
                    "state = excluded.state, time = excluded.time",
                    "siiss", server, id, (int64_t)kvno, state, now),
               err);
}

kf_status
kf_store_server_kvno(struct kf_store *st, const char *server, const char *account, int *kvno,
                     struct kf_err *err)
{
    int64_t v;
    kf_status rc = query_int(st,
                             prep(st, err,
                                  "SELECT max(k.kvno) FROM server_key k JOIN account a ON "
                                  "a.id = k.account_id WHERE k.server = ? AND lower(a.name) = lower(?) AND "
                                  "k.state = 'committed'",
                                  "ss", server, account),
                             &v, err);
    *kvno = rc == KF_OK && v > 0 ? (int)v : -1;
    return rc;
}

kf_status
kf_store_kvno_committed(struct kf_store *st, const char *account, int kvno, int64_t when,
                        struct kf_err *err)
{
    int64_t id;
    kf_status rc;

    if ((rc = account_id(st, account, &id, err)) != KF_OK)
        return rc;
    return run(st,
               prep(st, err,
                    "INSERT INTO account_kvno(account_id, kvno, committed) VALUES (?,?,?) "
                    "ON CONFLICT(account_id, kvno) DO UPDATE SET committed = excluded.committed",
                    "iii", id, (int64_t)kvno, when),
               err);
}

kf_status
kf_store_kvno_committed_at(struct kf_store *st, const char *account, int kvno, int64_t *when,
                           struct kf_err *err)
{
    return query_int(st,
                     prep(st, err,
                          "SELECT k.committed FROM account_kvno k JOIN account a ON "
                          "a.id = k.account_id WHERE lower(a.name) = lower(?) AND k.kvno = ?",
                          "si", account, (int64_t)kvno),
                     when, err);
}

kf_status
kf_store_kvno_prunable(struct kf_store *st, const char *account, int64_t cutoff, int *kvno,
                       struct kf_err *err)
{
    int64_t v;
    kf_status rc = query_int(st,
                             prep(st, err,
                                  "SELECT max(k.kvno) FROM account_kvno k JOIN account a ON "
                                  "a.id = k.account_id WHERE lower(a.name) = lower(?) AND k.committed <= ?",
                                  "si", account, cutoff),
                             &v, err);
    *kvno = rc == KF_OK && v > 0 ? (int)v : -1;
    return rc;
}

kf_status
kf_store_account_set_enctypes(struct kf_store *st, const char *name, unsigned enctypes,
                              struct kf_err *err)
{
    return run(st,
               prep(st, err, "UPDATE account SET enctypes = ? WHERE lower(name) = lower(?)", "is",
                    (int64_t)enctypes, name),
               err);
}

kf_status
kf_store_enctypes_retire(struct kf_store *st, const char *account, unsigned retired,
                         unsigned restored, int64_t when, struct kf_err *err)
{
    int64_t id;
    kf_status rc;

    if ((rc = account_id(st, account, &id, err)) != KF_OK)
        return rc;
    for (unsigned bit = 1; bit != 0 && bit <= (retired | restored); bit <<= 1) {
        if (retired & bit)
            rc = run(st,
                     prep(st, err,
                          "INSERT INTO enctype_retired(account_id, enctype, since) "
                          "VALUES (?,?,?) ON CONFLICT DO NOTHING",
                          "iii", id, (int64_t)bit, when),
                     err);
        else if (restored & bit)
            rc = run(st,
                     prep(st, err,
                          "DELETE FROM enctype_retired WHERE account_id = ? AND enctype = ?", "ii",
                          id, (int64_t)bit),
                     err);
        if (rc != KF_OK)
            return rc;
    }
    return KF_OK;
}

kf_status
kf_store_enctypes_retired(struct kf_store *st, const char *account, int64_t cutoff,
                          unsigned *bits, struct kf_err *err)
{
    int64_t v;
    kf_status rc = query_int(st,
                             prep(st, err,
                                  "SELECT coalesce(sum(r.enctype), 0) FROM enctype_retired r "
                                  "JOIN account a ON a.id = r.account_id WHERE lower(a.name) = lower(?) AND "
                                  "r.since <= ?",
                                  "si", account, cutoff),
                             &v, err);
    *bits = rc == KF_OK && v > 0 ? (unsigned)v : 0;
    return rc;
}

kf_status
kf_store_enctypes_forget(struct kf_store *st, const char *account, unsigned bits,
                         struct kf_err *err)
{
    return kf_store_enctypes_retire(st, account, 0, bits, 0, err);
}

/* ---- delegation ----------------------------------------------------------- */

kf_status
kf_store_permission_ace_add(struct kf_store *st, const char *container, const char *trustee_sid,
                            const char *trustee, const char *ace_hex, struct kf_err *err)
{
    char now[32];

    utc_now(now, sizeof(now));
    return run(st,
               prep(st, err,
                    "INSERT INTO permission_ace(container, trustee_sid, trustee, ace, "
                    "time) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    "sssss", container, trustee_sid, trustee, ace_hex, now),
               err);
}

kf_status
kf_store_permission_aces(struct kf_store *st, const char *container, const char *trustee_sid,
                         char ***out, size_t *n, struct kf_err *err)
{
    struct kf_db_stmt *stmt = prep(st, err,
                              "SELECT ace FROM permission_ace WHERE lower(container) = lower(?) AND "
                              "trustee_sid = ? ORDER BY ace",
                              "ss", container, trustee_sid);
    return column_strv(st, stmt, "reading granted ACEs", out, n, err);
}

kf_status
kf_store_permission_aces_remove(struct kf_store *st, const char *container,
                                const char *trustee_sid, struct kf_err *err)
{
    return run(st,
               prep(st, err, "DELETE FROM permission_ace WHERE lower(container) = lower(?) AND "
                    "trustee_sid = ?",
                    "ss", container, trustee_sid),
               err);
}

/* ---- copying a whole store ---------------------------------------------- */

/* Every table but the locks, parents before children; ID: it has an
 * identity column whose sequence follows the copied ids on PostgreSQL. */
static const struct copy_table {
    const char *name;
    const char *columns;
    int n_columns;
    bool id;
} copy_tables[KF_STORE_COPY_TABLES] = {
    {"site", "id, name, ord", 3, true},
    {"pool", "id, site_id, fqdn, probe_url, ord", 5, true},
    {"web_fqdn", "fqdn, pool_id, ord", 3, false},
    {"server", "id, pool_id, fqdn, address, agent_port, ord", 6, true},
    {"account", "id, domain, name, dn, enctypes, adopted, created, allow_foreign_spns", 8, true},
    {"assignment", "site_id, account_id", 2, false},
    {"owned_spn", "account_id, spn", 2, false},
    {"state", "key, value", 2, false},
    {"server_key", "server, account_id, kvno, state, time", 5, false},
    {"account_kvno", "account_id, kvno, committed", 3, false},
    {"journal", "id, run, account, time, step, detail", 6, true},
    {"audit", "id, time, \"user\", principal, command, object, detail", 7, true},
    {"permission_ace", "container, trustee_sid, trustee, ace, time", 5, false},
    {"enctype_retired", "account_id, enctype, since", 3, false},
};

const char *const kf_store_copy_skipped[] = {"rotation_lock", NULL};

static kf_status
count_rows(struct kf_store *st, const char *table, int64_t *n, struct kf_err *err)
{
    char sql[96];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return query_int(st, prep(st, err, sql, ""), n, err);
}

/* Copy the rows of one table. */
static kf_status
copy_rows(struct kf_store *from, struct kf_store *to, const struct copy_table *t, int64_t *rows,
          struct kf_err *err)
{
    char select[256], insert[384];
    size_t used;
    struct kf_db_stmt *src;
    kf_status rc = KF_OK;
    int step;

    *rows = 0;
    snprintf(select, sizeof(select), "SELECT %s FROM %s ORDER BY 1", t->columns, t->name);
    used = (size_t)snprintf(insert, sizeof(insert), "INSERT INTO %s(%s) VALUES (", t->name,
                            t->columns);
    for (int i = 0; i < t->n_columns && used < sizeof(insert); i++)
        used += (size_t)snprintf(insert + used, sizeof(insert) - used, "%s?", i ? ", " : "");
    if (used + 2 > sizeof(insert))
        return kf_err_set(err, KF_ERR_UNEXPECTED, "copying %s: statement too long", t->name);
    memcpy(insert + used, ")", 2);
    if ((src = prep(from, err, select, "")) == NULL)
        return KF_ERR_STORE;
    while (rc == KF_OK && (step = kf_db_step(src)) == 1) {
        struct kf_db_param params[8];
        struct kf_db_stmt *dst;
        struct kf_err local = {0};

        for (int i = 0; i < t->n_columns; i++)
            params[i] = (struct kf_db_param){.is_text = true, .text = col_text(src, i)};
        dst = to->db->ops->query(to->db, insert, t->n_columns, params, &local);
        if (dst == NULL)
            rc = kf_err_set(err, KF_ERR_STORE, "store %s: copying %s: %s", to->path, t->name,
                            local.msg);
        kf_db_finalize(dst);
        (*rows)++;
    }
    kf_db_finalize(src);
    if (rc == KF_OK && step < 0)
        return db_err(from, err, "reading for the copy");
    if (rc == KF_OK && t->id && kf_store_is_pg(to)) {
        char sql[192];
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('%s', 'id'), coalesce(max(id), 0) + 1, "
                 "false) FROM %s",
                 t->name, t->name);
        rc = run(to, prep(to, err, sql, ""), err);
    }
    return rc;
}

/* Does copy_tables name COLUMN ("table.column"), or skip its table? */
static bool
copy_covers(const char *column)
{
    const char *dot = strchr(column, '.');
    size_t tlen = dot ? (size_t)(dot - column) : strlen(column);

    for (const char *const *k = kf_store_copy_skipped; *k != NULL; k++)
        if (strlen(*k) == tlen && strncmp(*k, column, tlen) == 0)
            return true;
    if (dot == NULL)
        return false;
    for (int i = 0; i < KF_STORE_COPY_TABLES; i++) {
        const char *c = copy_tables[i].columns;
        size_t clen = strlen(dot + 1);
        if (strlen(copy_tables[i].name) != tlen || strncmp(copy_tables[i].name, column, tlen) != 0)
            continue;
        while (*c != '\0') {
            size_t n;
            while (*c == ' ' || *c == ',' || *c == '"')
                c++;
            n = strcspn(c, "\", ");
            if (n == clen && strncmp(c, dot + 1, n) == 0)
                return true;
            c += n;
        }
    }
    return false;
}

/* Every column of the schema is copied: a migration that adds one must
 * add it to copy_tables too, or a copy would silently lose it. */
static kf_status
copy_check_schema(struct kf_store *st, struct kf_err *err)
{
    char **cols = NULL;
    size_t n = 0;
    kf_status rc = kf_store_schema_columns(st, &cols, &n, err);

    for (size_t i = 0; rc == KF_OK && i < n; i++)
        if (!copy_covers(cols[i]))
            rc = kf_err_set(err, KF_ERR_UNEXPECTED,
                            "store copy does not know the column %s of the schema", cols[i]);
    kf_strv_free(cols, n);
    return rc;
}

kf_status
kf_store_copy(struct kf_store *from, struct kf_store *to, bool replace,
              struct kf_store_count counts[KF_STORE_COPY_TABLES], struct kf_err *err)
{
    int64_t total = 0;
    kf_status rc;

    if ((rc = copy_check_schema(from, err)) != KF_OK)
        return rc;
    if ((rc = kf_store_begin(to, err)) != KF_OK)
        return rc;
    for (int i = 0; i < KF_STORE_COPY_TABLES; i++) {
        int64_t n;
        if ((rc = count_rows(to, copy_tables[i].name, &n, err)) != KF_OK)
            goto out;
        total += n;
    }
    if (total > 0 && !replace) {
        rc = kf_err_set(err, KF_ERR_CONFLICT,
                        "the target store %s is not empty (%lld rows); a copy never merges: "
                        "name an empty one, or add --force to replace its contents",
                        to->path, (long long)total);
        goto out;
    }
    /* children before parents; the locks go too: they belonged to runs
     * against what is being replaced */
    if (total > 0) {
        for (int i = KF_STORE_COPY_TABLES - 1; rc == KF_OK && i >= 0; i--) {
            char sql[64];
            snprintf(sql, sizeof(sql), "DELETE FROM %s", copy_tables[i].name);
            rc = exec_sql(to, sql, err);
        }
        if (rc == KF_OK)
            rc = exec_sql(to, "DELETE FROM rotation_lock", err);
    }
    for (int i = 0; rc == KF_OK && i < KF_STORE_COPY_TABLES; i++) {
        counts[i].table = copy_tables[i].name;
        rc = copy_rows(from, to, &copy_tables[i], &counts[i].rows, err);
    }
    if (rc == KF_OK)
        return kf_store_commit(to, err);
out:
    kf_store_rollback(to);
    return rc;
}
