/* cli.c - shared plumbing of the krbfleet commands. */
#include "cli.h"

#include <ctype.h>
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

#include "clientcred.h"
#include "escape.h"
#include "mem.h"
#include "tickets.h"

/* A progress line is on the terminal and has no newline yet. */
static bool progress_open;

/* Before anything else is written to stderr or stdout: wipe an open
 * progress line, so a message starts on a clean line. */
static void
progress_close(void)
{
    if (progress_open) {
        fputs("\r\033[K", stderr);
        progress_open = false;
    }
}

static bool json_mode;    /* --json */
static bool json_printed; /* the one document is out */

void
kf_cli_set_json(bool on)
{
    json_mode = on;
}

kf_status
kf_cli_config(struct kf_cli *cli)
{
    const char *tickets = getenv("KRBFLEET_TICKET_CACHE");
    kf_status rc;

    if (cli->cfg != NULL)
        return KF_OK;
    rc = kf_config_load(cli->config_opt, &cli->cfg, &cli->err);
    if (rc != KF_OK)
        return rc;
    /* the agents' tickets: read at the first connection, written at exit */
    return kf_tickets_use(tickets != NULL && tickets[0] != '\0' ? tickets
                                                               : cli->cfg->rotation.ticket_cache,
                          &cli->err);
}

static kf_status set_actor(struct kf_cli *cli);

kf_status
kf_cli_dir(struct kf_cli *cli)
{
    kf_status rc;

    if (cli->dir != NULL)
        return KF_OK;
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return rc;
    if (cli->cfg->directory.client_keytab != NULL) {
        char realm[256] = "";
        bool got;
        for (size_t i = 0; cli->cfg->directory.domain != NULL &&
                           cli->cfg->directory.domain[i] != '\0' && i + 1 < sizeof(realm);
             i++)
            realm[i] = (char)toupper((unsigned char)cli->cfg->directory.domain[i]);
        rc = kf_client_login(cli->cfg->directory.client_keytab,
                             cli->cfg->directory.client_principal, realm[0] ? realm : NULL,
                             &got, &cli->err);
        if (rc != KF_OK)
            return rc;
        /* the store's actor is the keytab's principal from now on */
        if (got && cli->store != NULL && (rc = set_actor(cli)) != KF_OK)
            return rc;
    }
    return kf_dir_open(cli->cfg, &cli->dir, &cli->err);
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
        kf_krb5_has_valid_ticket(ctx, cc, princ) && krb5_unparse_name(ctx, princ, &name) == 0)
        out = strdup(name);
    krb5_free_unparsed_name(ctx, name);
    krb5_free_principal(ctx, princ);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return out;
}

const char *
kf_cli_store_path(struct kf_cli *cli, char *source, size_t size)
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
    if (cli->cfg->store.url != NULL) {
        snprintf(source, size, "[store] url in %s", cli->cfg->file);
        return cli->cfg->store.url;
    }
    if (cli->cfg->file != NULL && strcmp(cli->cfg->store.path, KF_STORE_DEFAULT_PATH) != 0) {
        snprintf(source, size, "[store] path in %s", cli->cfg->file);
        return cli->cfg->store.path;
    }
    snprintf(source, size, "the default path");
    return cli->cfg->store.path;
}

/* Who runs this command, for the store's audit log: the local user and the
 * Kerberos principal of the cache. */
static kf_status
set_actor(struct kf_cli *cli)
{
    struct passwd *pw = getpwuid(getuid());
    _cleanup_free_ char *principal = NULL;
    char user[256];

    if (pw != NULL && getenv("SUDO_USER") != NULL && getuid() == 0)
        snprintf(user, sizeof(user), "%s (sudo by %s)", pw->pw_name, getenv("SUDO_USER"));
    else
        snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "unknown");
    principal = current_principal();
    if (kf_store_set_actor(cli->store, user, principal, cli->command_line) != KF_OK)
        return kf_err_set(&cli->err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
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
    _cleanup_free_ char *principal = NULL;
    char source[KF_ERR_MSG_MAX / 2];
    enum kf_store_intent intent = use == KF_WRITES     ? KF_STORE_FOR_WRITING
                                  : use == KF_MIGRATES ? KF_STORE_FOR_MIGRATING
                                                       : KF_STORE_FOR_READING;
    kf_status rc;

    if (cli->store != NULL)
        return KF_OK;
    /* The configuration is read even when the store is named elsewhere: a
     * broken file the admin named is reported, not ignored. */
    if ((rc = kf_cli_config(cli)) != KF_OK)
        return rc;
    path = kf_cli_store_path(cli, source, sizeof(source));
    if (kf_store_is_url(path)) {
        /* the URL names no user: the full principal name of the ticket */
        if (kf_store_url_check(path, NULL, &cli->err) != KF_OK)
            return kf_err_prefix(&cli->err, "%s", source);
        principal = current_principal();
    }
    rc = kf_store_open_as(path, intent, principal, &cli->store, &cli->err);
    if (rc == KF_ERR_NOT_FOUND && use == KF_MAY_READ &&
        strcmp(source, "the default path") == 0) {
        kf_err_clear(&cli->err); /* a client machine: no store, none made */
        return KF_OK;
    }
    if (rc == KF_ERR_NOT_FOUND && !kf_store_is_url(path))
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
        kf_cli_note("created store %s", path);
    if ((warning = kf_store_warning(cli->store)) != NULL)
        kf_cli_warn("%s", warning);
    return set_actor(cli);
}

kf_status
kf_cli_store_at(struct kf_cli *cli, const char *where, enum kf_store_intent intent,
                struct kf_store **out)
{
    _cleanup_free_ char *principal = NULL;
    kf_status rc;

    if (kf_store_is_url(where)) {
        if ((rc = kf_store_url_check(where, NULL, &cli->err)) != KF_OK)
            return rc;
        principal = current_principal();
    }
    if ((rc = kf_store_open_as(where, intent, principal, out, &cli->err)) != KF_OK)
        return rc;
    if (kf_store_created(*out))
        kf_cli_note("created store %s", kf_store_where(*out));
    return KF_OK;
}

void
kf_cli_object(struct kf_cli *cli, const char *fmt, ...)
{
    struct kf_err text; /* formatted and escaped as every message is */
    va_list ap;

    va_start(ap, fmt);
    kf_err_setv(&text, KF_ERR_INVALID, fmt, ap);
    va_end(ap);
    memcpy(cli->object, text.msg, sizeof(cli->object));
}

static json_t *
error_json(const char *code, const char *msg, const char *object)
{
    return json_pack("{s:s, s:s, s:s?}", "code", code, "message", msg, "object",
                     object != NULL && object[0] != '\0' ? object : NULL);
}

/* With --json and nothing printed yet: {"error": {...}} on stdout. */
static void
error_doc(const char *code, const char *msg, const char *object)
{
    if (json_mode && !json_printed)
        kf_cli_print_json(json_pack("{s:o}", "error", error_json(code, msg, object)));
}

/* The message for RC: cli->err's when it is about RC, escaped. */
static const char *
fail_message(const struct kf_cli *cli, kf_status rc, char *buf, size_t size)
{
    const char *msg = cli->err.code == rc && cli->err.msg[0] ? cli->err.msg : kf_strerror(rc);

    kf_escape(msg, buf, size);
    return buf;
}

json_t *
kf_cli_error_json(const struct kf_cli *cli, kf_status rc)
{
    char msg[KF_ERR_MSG_MAX + 8];

    return error_json(kf_status_name(rc), fail_message(cli, rc, msg, sizeof(msg)), cli->object);
}

int
kf_cli_fail(struct kf_cli *cli, kf_status rc)
{
    char msg[KF_ERR_MSG_MAX + 8];

    fail_message(cli, rc, msg, sizeof(msg));
    progress_close();
    fprintf(stderr, "krbfleet: %s\n", msg);
    error_doc(kf_status_name(rc), msg, cli->object);
    return kf_status_exit_code(rc);
}

int
kf_cli_bad_arg(struct kf_cli *cli)
{
    if (cli->err.code == KF_ERR_INVALID)
        cli->err.code = KF_ERR_USAGE;
    return kf_cli_fail(cli, cli->err.code);
}

int
kf_cli_usage(const struct kf_command *cmd, const char *fmt, ...)
{
    struct kf_err e; /* formatted and escaped as every message is */
    char synopsis[1024];
    va_list ap;

    va_start(ap, fmt);
    kf_err_setv(&e, KF_ERR_USAGE, fmt, ap);
    va_end(ap);
    fprintf(stderr, "krbfleet %s: %s\nUsage: krbfleet %s%s\nTry 'krbfleet help %s'.\n", cmd->name,
            e.msg, cmd->name, kf_cli_synopsis(cmd, synopsis, sizeof(synopsis)), cmd->name);
    error_doc("usage", e.msg, NULL);
    return 2;
}

int
kf_cli_usage_global(const char *fmt, ...)
{
    struct kf_err e;
    va_list ap;

    va_start(ap, fmt);
    kf_err_setv(&e, KF_ERR_USAGE, fmt, ap);
    va_end(ap);
    progress_close();
    fprintf(stderr, "krbfleet: %s\n", e.msg);
    error_doc("usage", e.msg, NULL);
    return 2;
}

/* Print FMT's text, escaped, and a newline on FP. */
static void print_escaped(FILE *fp, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
print_escaped(FILE *fp, const char *prefix, const char *fmt, va_list ap)
{
    char text[4096];
    _cleanup_free_ char *safe = NULL;
    int n = vsnprintf(text, sizeof(text), fmt, ap);

    progress_close();
    safe = kf_escape_dup(text);
    fprintf(fp, "%s%s%s\n", prefix, safe ? safe : "(out of memory)",
            n >= (int)sizeof(text) ? "..." : "");
}

void
kf_cli_say(const char *fmt, ...)
{
    va_list ap;

    if (json_mode)
        return;
    va_start(ap, fmt);
    print_escaped(stdout, "", fmt, ap);
    va_end(ap);
}

void
kf_cli_note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_escaped(stderr, "krbfleet: ", fmt, ap);
    va_end(ap);
}

void
kf_cli_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_escaped(stderr, "krbfleet: warning: ", fmt, ap);
    va_end(ap);
}

static void
progress_line(const struct kf_progress *p, void *ctx)
{
    char pending[160] = "";

    (void)ctx;
    if (p->pending != NULL && p->done < p->total)
        kf_escape(p->pending, pending, sizeof(pending));
    /* \r and "erase to the end of the line": each report replaces the last */
    fprintf(stderr, "\r\033[K%-9s %zu/%zu %s%s%s", p->phase, p->done, p->total, p->unit,
            pending[0] ? ", waiting for " : "", pending);
    progress_open = p->done < p->total;
    if (!progress_open)
        fputc('\n', stderr);
    fflush(stderr);
}

static void
warning_line(const char *msg, void *ctx)
{
    (void)ctx;
    kf_cli_warn("%s", msg);
}

struct kf_progress_sink
kf_cli_progress(const struct kf_cli *cli)
{
    struct kf_progress_sink none = {.warn = warning_line},
                            line = {.fn = progress_line, .warn = warning_line};

    return cli->json || !isatty(STDERR_FILENO) ? none : line;
}

int
kf_cli_emit(struct kf_cli *cli, json_t *doc)
{
    (void)cli;
    if (doc == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    if (json_mode)
        return kf_cli_print_json(doc);
    json_decref(doc);
    return 0;
}

int
kf_cli_result(struct kf_cli *cli, json_t *doc, kf_status rc)
{
    char msg[KF_ERR_MSG_MAX + 8];

    if (doc == NULL && rc == KF_OK)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    if (doc != NULL && rc != KF_OK)
        json_object_set_new(doc, "error", kf_cli_error_json(cli, rc));
    if (json_mode && doc != NULL)
        kf_cli_print_json(doc);
    else
        json_decref(doc);
    if (rc == KF_OK)
        return 0;
    progress_close();
    fprintf(stderr, "krbfleet: %s\n", fail_message(cli, rc, msg, sizeof(msg)));
    error_doc(kf_status_name(rc), msg, cli->object);
    return kf_status_exit_code(rc);
}

json_t *
kf_cli_enctypes_json(unsigned mask)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {KF_ENCTYPE_AES256, "aes256-cts-hmac-sha1-96"},
        {KF_ENCTYPE_AES128, "aes128-cts-hmac-sha1-96"},
        {KF_ENCTYPE_RC4_HMAC, "rc4-hmac"},
        {KF_ENCTYPE_DES_CBC_MD5, "des-cbc-md5"},
        {KF_ENCTYPE_DES_CBC_CRC, "des-cbc-crc"},
    };
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (mask & names[i].bit)
            json_array_append_new(arr, json_string(names[i].name));
    return arr;
}

json_t *
kf_cli_int_or_null(long long v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

json_t *
kf_cli_change_doc(const char *action, const char *object)
{
    json_t *doc = json_pack("{s:[]}", "changes");

    if (doc != NULL && action != NULL)
        kf_cli_change_add(doc, action, object);
    return doc;
}

void
kf_cli_change_add(json_t *doc, const char *action, const char *object)
{
    json_t *changes = doc ? json_object_get(doc, "changes") : NULL;

    if (changes != NULL)
        json_array_append_new(changes,
                              json_pack("{s:s, s:s}", "action", action, "object", object));
}

int
kf_cli_print_json(json_t *root)
{
    int rc = 0;

    if (json_printed) { /* one document per run, whatever happens */
        json_decref(root);
        return 0;
    }
    json_printed = true;
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

const char *
kf_cli_age(int64_t s, char buf[32])
{
    if (s >= 86400 && s % 86400 / 3600 == 0)
        snprintf(buf, 32, "%lldd", (long long)(s / 86400));
    else if (s >= 86400)
        snprintf(buf, 32, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, 32, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, 32, "%llds", (long long)s);
    return buf;
}
