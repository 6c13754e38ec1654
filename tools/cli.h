/* cli.h - what every krbfleet command shares: the global options, the
 * lazily opened configuration and store, output helpers and the command
 * handlers' signatures. */
#ifndef KF_CLI_H
#define KF_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "store.h"

struct kf_command;

struct kf_cli {
    const struct kf_command *cmd; /* the command being run */
    const char *store_opt;  /* --store */
    const char *config_opt; /* --config */
    bool json;              /* --json */
    char *command_line;     /* what was run, for the audit log */
    struct kf_config *cfg;  /* loaded by kf_cli_config() */
    struct kf_store *store; /* opened by kf_cli_store() */
    struct kf_dir *dir;     /* opened by kf_cli_dir() */
    struct kf_err err;
    char object[KF_ERR_MSG_MAX]; /* what a failure is about ("site:redmond"), or "" */
};

/* What a command does with the store (kf_cli_store). */
enum kf_cli_store_use {
    KF_READS = 0, /* it must exist: a missing store is an error, never created */
    KF_WRITES,    /* created on first use ("created store PATH"); must be writable */
    KF_MAY_READ,  /* doctor: read when it exists or was named; else none */
    KF_MIGRATES,  /* store migrate: writes, and brings a PostgreSQL schema forward */
};

struct kf_command {
    const char *name; /* "site add" */
    int (*run)(struct kf_cli *cli, const struct kf_command *cmd, int argc, char **argv);
    const char *args;    /* "NAME" */
    const char *summary; /* one line */
    const char *help;    /* paragraphs for `krbfleet help NAME`; may be NULL */
    enum kf_cli_store_use store;
};

/* Load the configuration once (--config, $KRBFLEET_CONFIG, default). */
kf_status kf_cli_config(struct kf_cli *cli);

/* Open the store once: --store, $KRBFLEET_STORE, [store] path, default,
 * as the command's `store` says (reading never creates it; a missing
 * store's message names the path and the settings that choose it).
 * Notes "created store PATH" and a too-open store's warning on stderr.
 * With KF_MAY_READ, cli->store stays NULL when the default store is
 * missing. */
kf_status kf_cli_store(struct kf_cli *cli);
/* The same, for USE instead of the command's own (a dry run reads). */
kf_status kf_cli_store_for(struct kf_cli *cli, enum kf_cli_store_use use);
/* Open another store, WHERE (a path or URL, as for --store), for INTENT;
 * a URL without a user connects as the ticket's principal. The caller
 * owns *OUT; errors in cli->err. */
kf_status kf_cli_store_at(struct kf_cli *cli, const char *where, enum kf_store_intent intent,
                          struct kf_store **out);

/* Connect to the directory once (one server for the whole command). */
kf_status kf_cli_dir(struct kf_cli *cli);

/* Output mode, set once by main(): with --json every command prints
 * exactly one JSON document on stdout (docs/json.md), on failure too. */
void kf_cli_set_json(bool on);

/* Name the object a failure is about, for the error document's "object"
 * ("site:redmond", "account:LAB\\kerbauth"); escaped like messages. */
void kf_cli_object(struct kf_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "krbfleet: MESSAGE" for the failure in cli->err (or RC) on stderr
 * and, with --json and no document printed yet, {"error": {...}} on stdout;
 * return the exit code (2 for usage errors, else 1). */
int kf_cli_fail(struct kf_cli *cli, kf_status rc);

/* A command-line value failed its syntax check (cli->err says why): a
 * usage error, exit 2, as the contract says for malformed arguments. */
int kf_cli_bad_arg(struct kf_cli *cli);

/* Print a usage error for CMD (and the error document with --json) and
 * return 2. */
int kf_cli_usage(const struct kf_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A usage error not tied to one command (unknown command, a global
 * option without its value); returns 2. */
int kf_cli_usage_global(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The error object {"code", "message", "object"} for RC and cli->err. */
json_t *kf_cli_error_json(const struct kf_cli *cli, kf_status rc);

/* For people only: print one line (a newline is added), escaped, on
 * stdout; nothing with --json. */
void kf_cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "krbfleet: ..." on stderr, escaped: a note that is not an error. */
void kf_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "krbfleet: warning: ..." on stderr, escaped. */
void kf_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Where a long operation reports how far it is: a line on stderr that
 * rewrites itself ("stage    412/1000 servers, waiting for fe07..."), only
 * when stderr is a terminal and not with --json; else a sink nobody
 * listens to. Its warnings are always printed (kf_cli_warn). */
struct kf_progress_sink kf_cli_progress(const struct kf_cli *cli);

/* Finish a command that succeeded: with --json print DOC (taken), else
 * drop it. Returns the exit code (0, or 1 when DOC is NULL). */
int kf_cli_emit(struct kf_cli *cli, json_t *doc);

/* Finish a command whose result document DOC (taken) stands on success and
 * failure: RC != KF_OK adds "error" to it; with --json print it. The
 * one-line message goes to stderr either way. Returns the exit code. */
int kf_cli_result(struct kf_cli *cli, json_t *doc, kf_status rc);

/* Enctypes as JSON: ["aes256-cts-hmac-sha1-96", ...] (RFC 3962 / 4757
 * names), to go with the numeric msDS-SupportedEncryptionTypes mask. */
json_t *kf_cli_enctypes_json(unsigned mask);

/* A kvno (or other count) that may be unknown: null when negative. */
json_t *kf_cli_int_or_null(long long v);

/* A duration for people: "12d 3h", "5h 2m", "40s", into BUF. */
const char *kf_cli_age(int64_t s, char buf[32]);

/* {"changes": [{"action": ACTION, "object": OBJECT}]}: what a command that
 * changes the store or the directory did. Append more with
 * kf_cli_change_add(). */
json_t *kf_cli_change_doc(const char *action, const char *object);
void kf_cli_change_add(json_t *doc, const char *action, const char *object);

/* A rotation's result (cmd_password.c), for `password set` and the
 * rotation `account set --enctypes` runs: as a JSON document (new), or as
 * the table of servers and a closing line on stdout. */
struct kf_rotate_result;
json_t *kf_cli_rotation_json(const struct kf_rotate_result *r, bool dry_run, kf_status rc);
void kf_cli_rotation_print(const struct kf_rotate_result *r, bool dry_run, kf_status rc);
/* WANT servers in flight, or fewer when the open-file limit allows no more
 * (each holds an agent connection and a login's); warns then. */
int kf_cli_fd_bound(int want);

/* Print CMD's full help on stdout. */
void kf_cli_help(const struct kf_command *cmd);

/* Parse CMD's options. Returns the option character, -1 at the end, or
 * '?' after printing a usage error (the caller returns 2), or 'h' after
 * printing help (the caller returns 0). */
int kf_cli_getopt(const struct kf_command *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts);

/* Print ROOT (taken) as one JSON document on stdout; returns 0 or 1. */
int kf_cli_print_json(json_t *root);

/* Read a whole file (or stdin for "-") of at most MAX bytes. */
kf_status kf_cli_read_file(const char *path, size_t max, char **data, size_t *len,
                           struct kf_err *err);

/* Commands (tools/cmd_*.c). */
#define KF_CMD(fn) int fn(struct kf_cli *cli, const struct kf_command *cmd, int argc, char **argv)
KF_CMD(kf_cmd_site_add);
KF_CMD(kf_cmd_site_list);
KF_CMD(kf_cmd_site_remove);
KF_CMD(kf_cmd_pool_add);
KF_CMD(kf_cmd_pool_list);
KF_CMD(kf_cmd_pool_set);
KF_CMD(kf_cmd_pool_remove);
KF_CMD(kf_cmd_server_add);
KF_CMD(kf_cmd_server_list);
KF_CMD(kf_cmd_server_remove);
KF_CMD(kf_cmd_topology_import);
KF_CMD(kf_cmd_topology_export);
KF_CMD(kf_cmd_service_list);
KF_CMD(kf_cmd_audit_list);
KF_CMD(kf_cmd_store_migrate);
KF_CMD(kf_cmd_store_copy);
KF_CMD(kf_cmd_account_new);
KF_CMD(kf_cmd_account_adopt);
KF_CMD(kf_cmd_account_list);
KF_CMD(kf_cmd_account_show);
KF_CMD(kf_cmd_account_remove);
KF_CMD(kf_cmd_account_set);
KF_CMD(kf_cmd_assignment_new);
KF_CMD(kf_cmd_assignment_set);
KF_CMD(kf_cmd_assignment_get);
KF_CMD(kf_cmd_assignment_remove);
KF_CMD(kf_cmd_spn_list);
KF_CMD(kf_cmd_topology_enable);
KF_CMD(kf_cmd_topology_test);
KF_CMD(kf_cmd_password_set);
KF_CMD(kf_cmd_assignment_test);
KF_CMD(kf_cmd_doctor);
KF_CMD(kf_cmd_sync);
KF_CMD(kf_cmd_status);
KF_CMD(kf_cmd_permission_grant);
KF_CMD(kf_cmd_permission_revoke);
KF_CMD(kf_cmd_permission_list);
KF_CMD(kf_cmd_permission_test);

#endif
