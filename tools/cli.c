/* cli.c - shared plumbing of the krbfleet commands. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <krb5.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

kf_status
kf_cli_config(struct kf_cli *cli)
{
    if (cli->cfg != NULL)
        return KF_OK;
    return kf_config_load(cli->config_opt, &cli->cfg, &cli->err);
}

kf_status
kf_cli_dir(struct kf_cli *cli)
{
    kf_status rc;

    if (cli->dir != NULL)
        return KF_OK;
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return rc;
    return kf_dir_open(cli->cfg, &cli->dir, &cli->err);
}

/* True when the cache holds a ticket of PRINC that is valid now: not
 * expired, not marked invalid (postdated), not a cache configuration entry. */
static bool
has_valid_ticket(krb5_context ctx, krb5_ccache cc, krb5_principal princ)
{
    krb5_cc_cursor cur;
    krb5_creds creds;
    krb5_timestamp now;
    bool valid = false;

    if (krb5_timeofday(ctx, &now) != 0 || krb5_cc_start_seq_get(ctx, cc, &cur) != 0)
        return false;
    while (!valid && krb5_cc_next_cred(ctx, cc, &cur, &creds) == 0) {
        /* krb5 times are 32-bit and wrap in 2106: compare by difference */
        int32_t left = (int32_t)((uint32_t)creds.times.endtime - (uint32_t)now);
        valid = !krb5_is_config_principal(ctx, creds.server) &&
                krb5_principal_compare(ctx, creds.client, princ) &&
                (creds.ticket_flags & TKT_FLG_INVALID) == 0 && left > 0;
        krb5_free_cred_contents(ctx, &creds);
    }
    krb5_cc_end_seq_get(ctx, cc, &cur);
    return valid;
}

/* The caller's Kerberos principal, when the ticket cache holds a valid,
 * unexpired ticket for it (a cache that merely names a principal, or whose
 * tickets expired, proves nothing); no KDC traffic. Returns a new string
 * or NULL. */
static char *
current_principal(void)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_principal princ = NULL;
    char *name = NULL, *out = NULL;

    if (krb5_init_context(&ctx) != 0)
        return NULL;
    if (krb5_cc_default(ctx, &cc) == 0 && krb5_cc_get_principal(ctx, cc, &princ) == 0 &&
        has_valid_ticket(ctx, cc, princ) && krb5_unparse_name(ctx, princ, &name) == 0)
        out = strdup(name);
    krb5_free_unparsed_name(ctx, name);
    krb5_free_principal(ctx, princ);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return out;
}

/* The store's path and the setting that chose it. */
static const char *
store_path(struct kf_cli *cli, char *source, size_t size)
{
    const char *env = getenv("KRBFLEET_STORE");

    if (cli->store_opt != NULL) {
        snprintf(source, size, "--store");
        return cli->store_opt;
    }
    if (env != NULL && *env != '\0') {
        snprintf(source, size, "$KRBFLEET_STORE");
        return env;
    }
    if (cli->cfg->file != NULL && strcmp(cli->cfg->store.path, KF_STORE_DEFAULT_PATH) != 0) {
        snprintf(source, size, "[store] path in %s", cli->cfg->file);
        return cli->cfg->store.path;
    }
    snprintf(source, size, "the default path");
    return cli->cfg->store.path;
}

kf_status
kf_cli_store(struct kf_cli *cli)
{
    return kf_cli_store_for(cli, cli->cmd != NULL ? cli->cmd->store : KF_READS);
}

kf_status
kf_cli_store_for(struct kf_cli *cli, enum kf_cli_store_use use)
{
    const char *path, *warning;
    struct passwd *pw;
    _cleanup_free_ char *principal = NULL;
    char user[256], source[KF_ERR_MSG_MAX / 2];
    kf_status rc;

    if (cli->store != NULL)
        return KF_OK;
    /* The configuration is read even when the store is named elsewhere: a
     * broken file the admin named is reported, not ignored. */
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return rc;
    path = store_path(cli, source, sizeof(source));
    rc = kf_store_open_for(path, use == KF_WRITES ? KF_STORE_FOR_WRITING : KF_STORE_FOR_READING,
                           &cli->store, &cli->err);
    if (rc == KF_ERR_NOT_FOUND && use == KF_MAY_READ &&
        strcmp(source, "the default path") == 0) {
        kf_err_clear(&cli->err); /* a client machine: no store, none made */
        return KF_OK;
    }
    if (rc == KF_ERR_NOT_FOUND)
        return kf_err_set(&cli->err, rc,
                          "there is no store at %s (chosen by %s); a command that only reads "
                          "never creates one. The store is --store PATH, else $KRBFLEET_STORE, "
                          "else [store] path in the configuration file, else %s; a command "
                          "that changes something (e.g. `krbfleet topology import FILE`) "
                          "creates it",
                          path, source, KF_STORE_DEFAULT_PATH);
    if (rc != KF_OK)
        return rc;
    if (kf_store_created(cli->store))
        fprintf(stderr, "krbfleet: created store %s\n", path);
    if ((warning = kf_store_warning(cli->store)) != NULL)
        fprintf(stderr, "krbfleet: warning: %s\n", warning);
    pw = getpwuid(getuid());
    if (pw != NULL && getenv("SUDO_USER") != NULL && getuid() == 0)
        snprintf(user, sizeof(user), "%s (sudo by %s)", pw->pw_name, getenv("SUDO_USER"));
    else
        snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "unknown");
    principal = current_principal();
    if (kf_store_set_actor(cli->store, user, principal, cli->command_line) != KF_OK)
        return kf_err_set(&cli->err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

int
kf_cli_fail(struct kf_cli *cli, kf_status rc)
{
    const char *msg = cli->err.code == rc && cli->err.msg[0] ? cli->err.msg : kf_strerror(rc);

    fprintf(stderr, "krbfleet: %s\n", msg);
    return kf_status_exit_code(rc);
}

int
kf_cli_usage(const struct kf_command *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "krbfleet %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nUsage: krbfleet %s %s\nTry 'krbfleet help %s'.\n", cmd->name, cmd->args,
            cmd->name);
    return 2;
}

void
kf_cli_help(const struct kf_command *cmd)
{
    printf("Usage: krbfleet %s %s\n\n%s.\n", cmd->name, cmd->args, cmd->summary);
    if (cmd->help != NULL)
        printf("\n%s", cmd->help);
    printf("\nGlobal options: --store PATH, --config PATH, --json, --help, --version.\n");
}

int
kf_cli_getopt(const struct kf_command *cmd, int argc, char **argv, const char *shortopts,
              const struct option *longopts)
{
    int idx = 0, c;

    opterr = 0;
    c = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (c == '?') {
        if (optopt != 0)
            kf_cli_usage(cmd, "option '-%c' is unknown or needs a value", optopt);
        else
            kf_cli_usage(cmd, "option '%s' is unknown or needs a value", argv[optind - 1]);
        return '?';
    }
    if (c == ':') {
        kf_cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        return '?';
    }
    if (c == 'h') {
        kf_cli_help(cmd);
        return 'h';
    }
    return c;
}

int
kf_cli_print_json(json_t *root)
{
    int rc = 0;

    if (root == NULL || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "krbfleet: out of memory writing JSON\n");
        rc = 1;
    } else {
        fputc('\n', stdout);
    }
    json_decref(root);
    return rc;
}

kf_status
kf_cli_read_file(const char *path, size_t max, char **data, size_t *len, struct kf_err *err)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    const char *name = fd == STDIN_FILENO ? "standard input" : path;
    size_t cap = 65536, n = 0;
    char *buf = NULL;
    kf_status rc = KF_OK;

    *data = NULL;
    *len = 0;
    if (fd < 0)
        return kf_err_set(err, KF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    buf = malloc(cap + 1);
    while (buf != NULL) {
        ssize_t r;
        if (n == cap) {
            char *bigger;
            if (cap > max) {
                rc = kf_err_set(err, KF_ERR_INVALID, "%s is larger than %zu MiB; refused", name,
                                max >> 20);
                break;
            }
            cap *= 2;
            bigger = realloc(buf, cap + 1);
            if (bigger == NULL)
                break;
            buf = bigger;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = kf_err_set(err, KF_ERR_IO, "cannot read %s: %s", name, strerror(errno));
            break;
        }
        if (r == 0) {
            if (n > max) {
                rc = kf_err_set(err, KF_ERR_INVALID, "%s is larger than %zu MiB; refused", name,
                                max >> 20);
                break;
            }
            buf[n] = '\0';
            *data = buf;
            *len = n;
            buf = NULL;
            break;
        }
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (buf == NULL && *data == NULL && rc == KF_OK)
        rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory reading %s", name);
    free(buf);
    return rc;
}
