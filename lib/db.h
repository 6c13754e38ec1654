/* db.h - what the store needs of a SQL database, with two backends:
 * SQLite (a file; db_sqlite.c) and PostgreSQL (through libpq; db_pg.c).
 *
 * Only lib/store.c uses this. Statements are written once in the SQL both
 * dialects share, with `?` or `?N` for parameters (the PostgreSQL backend
 * turns them into `$N`); what differs (the schema's migrations, the schema
 * version's home, how a writer excludes other writers) is behind the ops.
 * A statement runs when prepared; its rows are then read one by one.
 */
#ifndef KF_DB_H
#define KF_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

enum kf_db_kind { KF_DB_SQLITE, KF_DB_PG };

/* One parameter: TEXT (NULL binds SQL NULL) when IS_TEXT, else NUM
 * (IS_NULL binds SQL NULL). */
struct kf_db_param {
    bool is_text;
    bool is_null;
    const char *text;
    int64_t num;
};

struct kf_db;
struct kf_db_stmt;

struct kf_db_ops {
    enum kf_db_kind kind;
    /* Run SQL without parameters (may hold several statements). */
    kf_status (*exec)(struct kf_db *db, const char *sql, struct kf_err *err);
    /* Prepare and run SQL with N parameters; NULL with ERR set on failure. */
    struct kf_db_stmt *(*query)(struct kf_db *db, const char *sql, int n,
                                const struct kf_db_param *params, struct kf_err *err);
    /* The next row: 1, or 0 when there is none left, -1 on an error. */
    int (*step)(struct kf_db_stmt *stmt);
    /* Column I of the current row: NULL for SQL NULL. */
    const char *(*text)(struct kf_db_stmt *stmt, int i);
    /* Rows changed by the statement (INSERT, UPDATE, DELETE). */
    int64_t (*changes)(struct kf_db_stmt *stmt);
    void (*finalize)(struct kf_db_stmt *stmt);
    /* The database's last error message (no trailing newline). */
    const char *(*errmsg)(struct kf_db *db);
    /* The schema version (0: no krbfleet schema), and the SQL that sets
     * it to VERSION inside a migration's transaction (into BUF). */
    kf_status (*version)(struct kf_db *db, int *version, struct kf_err *err);
    void (*version_sql)(int version, char *buf, size_t size);
    /* Begin a writing transaction that excludes every other writer of
     * the same store until it ends. */
    kf_status (*begin)(struct kf_db *db, struct kf_err *err);
    /* The forward migrations of this dialect: entry i takes the schema
     * from version i to i + 1 (the same numbers in both dialects). */
    const char *const *migrations;
    int n_migrations;
    void (*close)(struct kf_db *db);
};

/* Every backend's connection and statement start with its ops. */
struct kf_db {
    const struct kf_db_ops *ops;
};
struct kf_db_stmt_head {
    const struct kf_db_ops *ops;
};

static inline int
kf_db_step(struct kf_db_stmt *s)
{
    return ((struct kf_db_stmt_head *)(void *)s)->ops->step(s);
}

static inline const char *
kf_db_text(struct kf_db_stmt *s, int i)
{
    return ((struct kf_db_stmt_head *)(void *)s)->ops->text(s, i);
}

static inline int64_t
kf_db_changes(struct kf_db_stmt *s)
{
    return ((struct kf_db_stmt_head *)(void *)s)->ops->changes(s);
}

static inline void
kf_db_finalize(struct kf_db_stmt *s)
{
    if (s != NULL)
        ((struct kf_db_stmt_head *)(void *)s)->ops->finalize(s);
}

/* Open the SQLite file PATH (it exists: store.c checked and created it). */
kf_status kf_db_sqlite_open(const char *path, struct kf_db **out, struct kf_err *err);

/* Open the PostgreSQL database of connection URL (postgresql://...),
 * connecting as USER when the URL names none and USER is not NULL. */
kf_status kf_db_pg_open(const char *url, const char *user, struct kf_db **out,
                        struct kf_err *err);
/* The principal the server authenticated this session with GSSAPI, as
 * the server saw it (a new string), or NULL. */
char *kf_db_pg_principal(struct kf_db *db);

/* The schema of both dialects has this many versions. */
#define KF_DB_SCHEMA_VERSION 7

#endif
