/* cli.h - what every krbfleet command shares: the global options, the
 * lazily opened configuration and store, output helpers and the command
 * handlers' signatures. */
#ifndef KF_CLI_H
#define KF_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "directory.h"
#include "errors.h"
#include "progress.h"
#include "store.h"

struct kf_command;

/* A repeatable option's values, in the order given. */
struct kf_strlist {
    char **v;
    size_t n;
};

/* A command line as its command's option table parsed it (kf_cli_parse).
 * One field per option name: the same option means the same thing in
 * every command that takes it. Values point into argv. */
struct kf_args {
    char **operands; /* the operands, as many as the command allows */
    int n_operands;
    const char *account, *address, *agent_port, *concurrency, *container, *enctypes, *from,
        *group, *if_older_than, *object, *pool, *probe_url, *prometheus_file, *report, *since,
        *site, *to;
    bool all, allow_foreign_spns, default_probe_url, delete_from_directory, dry_run, force,
        no_web_fqdns, prometheus, reclaim, take_over, webserver;
    struct kf_strlist web_fqdns;
    struct kf_strlist sites; /* account new --site: repeatable there */
};

/* What completes a value: names the store holds (krbfleet __complete). */
enum kf_names {
    KF_NAMES_NONE = 0, /* a new name, a number, a DN: nothing to offer */
    KF_NAMES_SITE,
    KF_NAMES_POOL,
    KF_NAMES_SERVER,
    KF_NAMES_ACCOUNT,
    KF_NAMES_FILE, /* the shell's file names */
};

enum kf_opt_kind {
    KF_OPT_FLAG,  /* --force: a bool */
    KF_OPT_VALUE, /* --site NAME: a string; given twice, the last counts */
    KF_OPT_LIST,  /* --web-fqdn FQDN...: a kf_strlist, repeatable */
};

/* One option of one command: everything getopt, the synopsis, `krbfleet
 * help CMD`, completion and the man page check know of it. */
struct kf_opt {
    const char *name;     /* "site" for --site */
    const char *arg;      /* "NAME"; NULL for a flag */
    const char *help;     /* for `krbfleet help CMD`; '\n' starts an indented line */
    size_t target;        /* offsetof(struct kf_args, its field) */
    enum kf_opt_kind kind;
    enum kf_names names;  /* what completes its value */
    const char *required; /* NULL: optional; "": required; else required, and why */
};

/* The field of struct kf_args an option sets, checked against its kind's
 * type at compile time (a mismatch is a compile error). */
#define KF_TARGET(field, type)                                                                      \
    (offsetof(struct kf_args, field) + 0 * sizeof(_Generic(((struct kf_args *)0)->field, type : 1)))
#define KF_FLAG(n, field, h, ...)                                                                   \
    {.name = n, .help = h, .target = KF_TARGET(field, bool), .kind = KF_OPT_FLAG, __VA_ARGS__}
#define KF_VALUE(n, a, field, h, ...)                                                               \
    {.name = n, .arg = a, .help = h, .target = KF_TARGET(field, const char *),                   \
     .kind = KF_OPT_VALUE, __VA_ARGS__}
#define KF_LIST(n, a, field, h, ...)                                                                \
    {.name = n, .arg = a, .help = h, .target = KF_TARGET(field, struct kf_strlist),              \
     .kind = KF_OPT_LIST, __VA_ARGS__}

struct kf_cli {
    const struct kf_command *cmd; /* the command being run */
    const char *store_opt;  /* --store */
    const char *config_opt; /* --config */
    bool json;              /* --json */
    char *command_line;     /* what was run, for the audit log */
    struct kf_config *cfg;  /* loaded by kf_cli_config() */
    struct kf_store *store; /* opened by kf_cli_store() */
    struct kf_dir *dir;     /* opened by kf_cli_dir() */
    struct kf_args args;    /* the command's options and operands */
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

/* One command: the one table of tools/commands.c holds them all. */
struct kf_command {
    const char *name; /* "site add" */
    int (*run)(struct kf_cli *cli, const struct kf_command *cmd, const struct kf_args *a);
    const char *summary; /* one line */
    const char *help;    /* paragraphs for `krbfleet help NAME`; may be NULL */
    enum kf_cli_store_use store;
    const struct kf_opt *opts; /* up to the first without a name; may be NULL */
    const char *operands;      /* the synopsis of the operands: "NAME", "[FILE]"; or NULL */
    int min_operands, max_operands;
    enum kf_names operand_names; /* what completes an operand */
    const char *missing;         /* the usage error for a missing operand; NULL: generic */
};

/* The table (tools/commands.c) and the global options. */
extern const struct kf_command kf_commands[];
extern const size_t kf_n_commands;
extern const struct kf_opt kf_global_opts[];

/* The command named by the first one or two words of ARGV, or NULL;
 * *WORDS says how many words its name took. */
const struct kf_command *kf_command_find(int argc, char *const *argv, int *words);

/* " NAME [--force]": CMD's synopsis, derived from its table, in BUF;
 * each part starts with a space ("" for a command without arguments). */
const char *kf_cli_synopsis(const struct kf_command *cmd, char *buf, size_t size);

struct kf_fleet_status;
/* Write RES in Prometheus' text format to FILE (a temporary file beside
 * it, renamed; mode 0644), as `status` does with [status] prometheus_file
 * (cmd_status.c). The directory must be open. */
kf_status kf_cli_metrics_write(struct kf_cli *cli, const struct kf_fleet_status *res,
                               const char *file);

/* Load the configuration once (--config, $KRBFLEET_CONFIG, default). */
kf_status kf_cli_config(struct kf_cli *cli);

/* Open the store once: --store, $KRBFLEET_STORE, [store] path, default,
 * as the command's `store` says (reading never creates it; a missing
 * store's message names the path and the settings that choose it).
 * Notes "created store PATH" and a too-open store's warning on stderr.
 * With KF_MAY_READ, cli->store stays NULL when the default store is
 * missing. */
kf_status kf_cli_store(struct kf_cli *cli);
/* The store's path (--store, $KRBFLEET_STORE, [store] path, default) and
 * the setting that chose it, in SOURCE; the configuration is loaded. */
const char *kf_cli_store_path(struct kf_cli *cli, char *source, size_t size);

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

/* Print CMD's full help on stdout: synopsis, summary, options, text. */
void kf_cli_help(const struct kf_command *cmd);

/* The global options (kf_global_opts) as `krbfleet --help` lists them. */
void kf_cli_print_global_opts(FILE *fp);

/* Parse ARGV (ARGV[0] the command's name) by CMD's option table into
 * cli->args: getopt_long's array is built from the table, required
 * options and the operand count are checked. Returns -1 to go on, else
 * the exit code after printing (2: a usage error, 0: --help). */
int kf_cli_parse(struct kf_cli *cli, const struct kf_command *cmd, int argc, char **argv);

/* Free what kf_cli_parse() allocated. */
void kf_cli_args_done(struct kf_args *a);

/* Print ROOT (taken) as one JSON document on stdout; returns 0 or 1. */
int kf_cli_print_json(json_t *root);

/* Read a whole file (or stdin for "-") of at most MAX bytes. */
kf_status kf_cli_read_file(const char *path, size_t max, char **data, size_t *len,
                           struct kf_err *err);

/* krbfleet __complete WORDS...: print the candidates for the last of WORDS
 * (the words after "krbfleet"), one a line: commands, subcommands, the
 * command's options from its table, names from the store for the values
 * and operands that take them. Opens only an existing store, for reading;
 * never prompts, never gets tickets; silent on stderr, exit status 0
 * whatever happens (complete.c). */
int kf_cli_complete(int argc, char **argv);

/* krbfleet __options: every command's options as the table has them, and
 * the options each Lync cmdlet maps onto, tab-separated, for the man page
 * check (tests/integration/check_man_options.py). */
int kf_cli_dump_options(void);

/* Commands (tools/cmd_*.c). */
#define KF_CMD(fn) int fn(struct kf_cli *cli, const struct kf_command *cmd, const struct kf_args *a)
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
