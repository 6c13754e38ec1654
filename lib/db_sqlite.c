/* db_sqlite.c - the store's SQLite backend (db.h). */
#include "db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sqlite_db {
    struct kf_db base;
    sqlite3 *db;
};

struct kf_db_stmt {
    const struct kf_db_ops *ops;
    struct sqlite_db *db;
    sqlite3_stmt *stmt;
    int last;      /* the last sqlite3_step result */
    bool stepped;  /* the first step ran at prepare time */
};

/* Forward migrations: entry i brings user_version i to i + 1. */
static const char *const sqlite_migrations[] = {
    /* 0 -> 1: topology and audit */
    "CREATE TABLE site ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  ord INTEGER NOT NULL);"
    "CREATE TABLE pool ("
    "  id INTEGER PRIMARY KEY,"
    "  site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,"
    "  fqdn TEXT NOT NULL UNIQUE,"
    "  probe_url TEXT,"
    "  ord INTEGER NOT NULL);"
    "CREATE INDEX pool_site ON pool(site_id);"
    "CREATE TABLE web_fqdn ("
    "  fqdn TEXT PRIMARY KEY,"
    "  pool_id INTEGER NOT NULL REFERENCES pool(id) ON DELETE CASCADE,"
    "  ord INTEGER NOT NULL);"
    "CREATE INDEX web_fqdn_pool ON web_fqdn(pool_id);"
    "CREATE TABLE server ("
    "  id INTEGER PRIMARY KEY,"
    "  pool_id INTEGER NOT NULL REFERENCES pool(id) ON DELETE CASCADE,"
    "  fqdn TEXT NOT NULL UNIQUE,"
    "  address TEXT,"
    "  agent_port INTEGER CHECK (agent_port IS NULL OR agent_port BETWEEN 1 AND 65535),"
    "  ord INTEGER NOT NULL);"
    "CREATE INDEX server_pool ON server(pool_id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  principal TEXT,"
    "  command TEXT NOT NULL,"
    "  object TEXT NOT NULL,"
    "  detail TEXT);",
    /* 1 -> 2: Kerberos accounts, assignments, SPNs krbfleet added, state */
    "CREATE TABLE account ("
    "  id INTEGER PRIMARY KEY,"
    "  domain TEXT NOT NULL,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  dn TEXT,"
    "  enctypes INTEGER NOT NULL,"
    "  adopted INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE assignment ("
    "  site_id INTEGER PRIMARY KEY REFERENCES site(id) ON DELETE CASCADE,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE RESTRICT);"
    "CREATE INDEX assignment_account ON assignment(account_id);"
    "CREATE TABLE owned_spn ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  spn TEXT NOT NULL COLLATE NOCASE,"
    "  PRIMARY KEY (account_id, spn));"
    "CREATE TABLE state ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);",
    /* 2 -> 3: rotation: keys given to servers, kvno history, lock, journal */
    "CREATE TABLE server_key ("
    "  server TEXT NOT NULL,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  kvno INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('staged', 'committed')),"
    "  time TEXT NOT NULL,"
    "  PRIMARY KEY (server, account_id, kvno));"
    "CREATE TABLE account_kvno ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  kvno INTEGER NOT NULL,"
    "  committed INTEGER NOT NULL,"
    "  PRIMARY KEY (account_id, kvno));"
    "CREATE TABLE rotation_lock ("
    "  account_id INTEGER PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,"
    "  holder TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  since TEXT NOT NULL);"
    "CREATE TABLE journal ("
    "  id INTEGER PRIMARY KEY,"
    "  run TEXT NOT NULL,"
    "  account TEXT NOT NULL,"
    "  time TEXT NOT NULL,"
    "  step TEXT NOT NULL,"
    "  detail TEXT);"
    "CREATE INDEX journal_run ON journal(run);",
    /* 3 -> 4: the admin accepted SPNs of other services on an account
     * (`account adopt --allow-foreign-spns`, eligibility.h) */
    "ALTER TABLE account ADD COLUMN allow_foreign_spns INTEGER NOT NULL DEFAULT 0;",
    /* 4 -> 5: the lock's holder is its PID and that process's start time,
     * so a reused PID is not taken for the holder (proc.h) */
    "ALTER TABLE rotation_lock ADD COLUMN pid_start INTEGER;",
    /* 5 -> 6: the ACEs `permission grant` wrote on a container, so that
     * `permission revoke` removes exactly those (ace: the ACE's bytes in
     * hex, as written) */
    "CREATE TABLE permission_ace ("
    "  container TEXT NOT NULL COLLATE NOCASE,"
    "  trustee_sid TEXT NOT NULL,"
    "  trustee TEXT NOT NULL,"
    "  ace TEXT NOT NULL,"
    "  time TEXT NOT NULL,"
    "  PRIMARY KEY (container, trustee_sid, ace));",
    /* 6 -> 7: encryption types `account set --enctypes` took away from an
     * account, and since when (Unix time): their keys stay in the keytabs
     * for grace, then rotation and sync prune them */
    "CREATE TABLE enctype_retired ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  enctype INTEGER NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  PRIMARY KEY (account_id, enctype));",
};


_Static_assert(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]) == KF_DB_SCHEMA_VERSION,
               "one SQLite migration per schema version");

static sqlite3 *
handle(struct kf_db *db)
{
    return ((struct sqlite_db *)db)->db;
}

static const char *
sl_errmsg(struct kf_db *db)
{
    return sqlite3_errmsg(handle(db));
}

static kf_status
sl_exec(struct kf_db *db, const char *sql, struct kf_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(handle(db), sql, NULL, NULL, &msg) != SQLITE_OK) {
        kf_err_set(err, KF_ERR_STORE, "%s", msg ? msg : "error");
        sqlite3_free(msg);
        return KF_ERR_STORE;
    }
    return KF_OK;
}

static struct kf_db_stmt *
sl_query(struct kf_db *db, const char *sql, int n, const struct kf_db_param *params,
         struct kf_err *err)
{
    struct kf_db_stmt *s = calloc(1, sizeof(*s));
    int rc = SQLITE_OK;

    if (s == NULL) {
        kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->ops = db->ops;
    s->db = (struct sqlite_db *)db;
    if (sqlite3_prepare_v2(handle(db), sql, -1, &s->stmt, NULL) != SQLITE_OK) {
        kf_err_set(err, KF_ERR_STORE, "prepare: %s", sqlite3_errmsg(handle(db)));
        free(s);
        return NULL;
    }
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        const struct kf_db_param *p = &params[i];
        if (p->is_text ? p->text == NULL : p->is_null)
            rc = sqlite3_bind_null(s->stmt, i + 1);
        else if (p->is_text)
            rc = sqlite3_bind_text(s->stmt, i + 1, p->text, -1, SQLITE_TRANSIENT);
        else
            rc = sqlite3_bind_int64(s->stmt, i + 1, p->num);
    }
    if (rc == SQLITE_OK) {
        s->last = sqlite3_step(s->stmt);
        s->stepped = true;
        if (s->last == SQLITE_ROW || s->last == SQLITE_DONE)
            return s;
    }
    kf_err_set(err, KF_ERR_STORE, "%s", sqlite3_errmsg(handle(db)));
    sqlite3_finalize(s->stmt);
    free(s);
    return NULL;
}

static int
sl_step(struct kf_db_stmt *s)
{
    if (s->stepped)
        s->stepped = false;
    else if (s->last == SQLITE_ROW)
        s->last = sqlite3_step(s->stmt);
    return s->last == SQLITE_ROW ? 1 : s->last == SQLITE_DONE ? 0 : -1;
}

static const char *
sl_text(struct kf_db_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s->stmt, i);
}

static int64_t
sl_changes(struct kf_db_stmt *s)
{
    return sqlite3_changes64(s->db->db);
}

static void
sl_finalize(struct kf_db_stmt *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->stmt);
    free(s);
}

static kf_status
sl_version(struct kf_db *db, int *version, struct kf_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *version = -1;
    if (sqlite3_prepare_v2(handle(db), "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return kf_err_set(err, KF_ERR_STORE, "%s", sqlite3_errmsg(handle(db)));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return kf_err_set(err, KF_ERR_STORE, "%s", sqlite3_errmsg(handle(db)));
    return KF_OK;
}

static void
sl_version_sql(int version, char *buf, size_t size)
{
    snprintf(buf, size, "PRAGMA user_version = %d", version);
}

static kf_status
sl_begin(struct kf_db *db, struct kf_err *err)
{
    /* IMMEDIATE: the write lock now, so writers run one after the other */
    return sl_exec(db, "BEGIN IMMEDIATE", err);
}

static void
sl_close(struct kf_db *db)
{
    if (db == NULL)
        return;
    sqlite3_close(handle(db));
    free(db);
}

static const struct kf_db_ops sqlite_ops = {
    .kind = KF_DB_SQLITE,
    .exec = sl_exec,
    .query = sl_query,
    .step = sl_step,
    .text = sl_text,
    .changes = sl_changes,
    .finalize = sl_finalize,
    .errmsg = sl_errmsg,
    .version = sl_version,
    .version_sql = sl_version_sql,
    .begin = sl_begin,
    .migrations = sqlite_migrations,
    .n_migrations = KF_DB_SCHEMA_VERSION,
    .close = sl_close,
};

kf_status
kf_db_sqlite_open(const char *path, struct kf_db **out, struct kf_err *err)
{
    struct sqlite_db *d = calloc(1, sizeof(*d));
    kf_status rc;

    *out = NULL;
    if (d == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    d->base.ops = &sqlite_ops;
    /* Writable if possible, else SQLite opens it read-only by itself. */
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK) {
        rc = kf_err_set(err, KF_ERR_STORE, "cannot open the store %s: %s", path,
                        d->db ? sqlite3_errmsg(d->db) : "out of memory");
        sl_close(&d->base);
        return rc;
    }
    sqlite3_busy_timeout(d->db, 5000);
    sqlite3_extended_result_codes(d->db, 1);
    if ((rc = sl_exec(&d->base, "PRAGMA foreign_keys = ON", err)) != KF_OK ||
        (rc = sl_exec(&d->base, "PRAGMA secure_delete = ON", err)) != KF_OK) {
        sl_close(&d->base);
        return kf_err_prefix(err, "store %s", path);
    }
    *out = &d->base;
    return KF_OK;
}
