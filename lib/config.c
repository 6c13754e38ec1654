/* config.c - the configuration file: libinih for the syntax, a key table for
 * the meaning.
 *
 * libinih is driven through ini_parse_stream() with our own line reader, so
 * that we (not inih) decide what a line is:
 *  - inih reads into a fixed buffer (ini_max_line, 200 bytes in Debian's
 *    build) and silently parses the rest of a longer line as a new line; the
 *    reader refuses such a line instead.
 *  - inih's handler gets no line number in the default build; the reader
 *    counts lines, one reader call per line.
 *  - inih never reports a "[section]" header that has no keys; the reader
 *    checks header lines itself.
 *  - inih treats an indented line after a key as a continuation of that
 *    key's value (Python configparser style); the handler recognises that
 *    case (the value is the whole trimmed line) and refuses it.
 *  - inih keeps parsing after an error; the reader stops at our first error
 *    and the earlier of ours and inih's own syntax error is reported.
 */
#include "config.h"

#include "names.h"
#include "store.h"
#include "suggest.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <krb5.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BACKEND "ad"
#define DEFAULT_STORE_PATH "/var/lib/krbfleet/krbfleet.db"
#define DEFAULT_TIMEOUT_S 10
#define DEFAULT_PORT 7390
#define DEFAULT_CONCURRENCY 1024
#define DEFAULT_GRACE_S (10 * 3600)
#define DEFAULT_MAX_AGE_S (30 * 86400)
#define CONCURRENCY_MAX 4096
#define TIMEOUT_MAX_S 3600
#define SHOWN_MAX 80 /* bytes of a user's string quoted in a message */

enum value_kind {
    V_BACKEND,         /* ad | mit */
    V_DOMAIN,          /* DNS name, lower-cased */
    V_SERVER,          /* DNS name or address */
    V_LDAP_URI,        /* ldap[s|i]:// URIs */
    V_TLS,             /* no | starttls | ldaps */
    V_PASSWORD_METHOD, /* ldap | kpasswd */
    V_TIMEOUT,         /* duration, 1s..1h */
    V_PATH,            /* absolute path */
    V_STORE_URL,       /* postgresql:// URL without a password */
    V_PORT,            /* 1-65535 */
    V_LISTEN,          /* HOST:PORT */
    V_WORD,            /* no white space */
    V_ALLOW,           /* PRINCIPAL or @GROUP, repeatable */
    V_CONCURRENCY,     /* 1..4096 */
    V_GRACE,           /* duration */
    V_MAX_AGE,         /* duration, at least 1s */
    V_TRUSTEE,         /* 'DOMAIN\\name', name@REALM or name; spaces allowed */
};

struct key_def {
    const char *section;
    const char *name;
    enum value_kind kind;
    size_t offset; /* of the char * field, for string kinds */
};

#define FIELD(member) offsetof(struct kf_config, member)

static const struct key_def keys[] = {
    {"directory", "backend", V_BACKEND, FIELD(directory.backend)},
    {"directory", "domain", V_DOMAIN, FIELD(directory.domain)},
    {"directory", "server", V_SERVER, FIELD(directory.server)},
    {"directory", "ldap_uri", V_LDAP_URI, FIELD(directory.ldap_uri)},
    {"directory", "tls", V_TLS, 0},
    {"directory", "ca_file", V_PATH, FIELD(directory.ca_file)},
    {"directory", "password_method", V_PASSWORD_METHOD, 0},
    {"directory", "timeout", V_TIMEOUT, 0},
    {"directory", "client_keytab", V_PATH, FIELD(directory.client_keytab)},
    {"directory", "client_principal", V_WORD, FIELD(directory.client_principal)},
    {"store", "path", V_PATH, FIELD(store.path)},
    {"store", "url", V_STORE_URL, FIELD(store.url)},
    {"agent", "port", V_PORT, 0},
    {"agent", "listen", V_LISTEN, FIELD(agent.listen)},
    {"agent", "principal", V_WORD, FIELD(agent.principal)},
    {"agent", "host-keytab", V_PATH, FIELD(agent.host_keytab)},
    {"agent", "keytab", V_PATH, FIELD(agent.keytab)},
    {"agent", "keytab-group", V_WORD, FIELD(agent.keytab_group)},
    {"agent", "allow", V_ALLOW, 0},
    {"rotation", "concurrency", V_CONCURRENCY, 0},
    {"rotation", "ticket_cache", V_PATH, FIELD(rotation.ticket_cache)},
    {"rotation", "grace", V_GRACE, 0},
    {"rotation", "max_age", V_MAX_AGE, 0},
    {"probe", "ca_file", V_PATH, FIELD(probe.ca_file)},
    {"status", "prometheus_file", V_PATH, FIELD(status.prometheus_file)},
    {"permission", "group", V_TRUSTEE, FIELD(permission.group)},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {"directory", "store",  "agent",     "rotation",
                                       "probe",     "status", "permission"};
#define SECTIONS_TEXT "[directory], [store], [agent], [rotation], [probe], [status] or [permission]"

/* State of one parse, shared by the line reader and the key handler. */
struct parse_ctx {
    const char *text; /* the whole input */
    size_t len;
    size_t pos;       /* start of the next line */
    const char *name; /* file name for messages */
    int lineno;       /* number of the line last handed to inih */
    const char *line; /* that line in TEXT, without its '\n' */
    size_t line_len;
    struct kf_config *cfg;
    int seen_line[N_KEYS]; /* line a key was first set on, 0: not yet */
    struct kf_err *err;
    kf_status status; /* our first error, KF_OK: none */
    int err_line;     /* its line */
};

/* Copy the LEN bytes at S (or fewer, up to a NUL) into BUF (SHOWN_MAX
 * bytes) for quoting in a message: at most SHOWN_MAX - 4 bytes,
 * non-printable bytes as '?', "..." when cut. */
static const char *
shown_n(const char *s, size_t len, char *buf)
{
    size_t i;

    for (i = 0; i < len && s[i] != '\0' && i < SHOWN_MAX - 4; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < len && s[i] != '\0') {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static const char *
shown(const char *s, char *buf)
{
    return shown_n(s, SIZE_MAX, buf);
}

/* Record the first error of the parse as "NAME:LINE: message". Returns 0,
 * inih's "handler failed". */
static int fail(struct parse_ctx *c, kf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parse_ctx *c, kf_status code, const char *fmt, ...)
{
    char detail[KF_ERR_MSG_MAX];
    va_list ap;

    if (c->status != KF_OK)
        return 0;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    c->status = code;
    c->err_line = c->lineno;
    kf_err_set(c->err, code, "%s:%d: %s", c->name, c->lineno, detail);
    return 0;
}

static int
fail_nomem(struct parse_ctx *c)
{
    return fail(c, KF_ERR_NOMEM, "out of memory");
}

/* Trim white space (isspace, as inih does) from both ends of [*S, *END). */
static void
trim(const char **s, const char **end)
{
    while (*s < *end && isspace((unsigned char)**s))
        (*s)++;
    while (*end > *s && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

/* The current line without a leading UTF-8 BOM on line 1 (inih skips it). */
static const char *
line_start(const struct parse_ctx *c)
{
    if (c->lineno == 1 && c->line_len >= 3 && memcmp(c->line, "\xef\xbb\xbf", 3) == 0)
        return c->line + 3;
    return c->line;
}

static bool
section_known(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strlen(sections[i]) == len && memcmp(sections[i], s, len) == 0)
            return true;
    return false;
}

/* A "[name]" line: the name must be one of ours and nothing but a comment
 * may follow. inih finds the name as we do here (up to the first ']', or an
 * inline ';' comment after white space, which makes it a syntax error that
 * inih reports). Returns false after recording an error. */
static bool
check_section_line(struct parse_ctx *c)
{
    const char *s = line_start(c), *end = c->line + c->line_len, *q, *rest;
    char buf[SHOWN_MAX];
    bool was_space = false;

    trim(&s, &end);
    if (s == end || *s != '[')
        return true;
    for (q = s + 1; q < end && *q != ']' && !(was_space && *q == ';'); q++)
        was_space = isspace((unsigned char)*q);
    if (q == end || *q != ']')
        return true; /* inih: no ']' on a section line */
    for (rest = q + 1; rest < end && isspace((unsigned char)*rest); rest++)
        ;
    if (rest < end && *rest != ';' && *rest != '#') {
        fail(c, KF_ERR_CONFIG, "unexpected text '%s' after the section header",
             shown_n(rest, (size_t)(end - rest), buf));
        return false;
    }
    if (!section_known(s + 1, (size_t)(q - s - 1))) {
        const char *near = kf_suggest(shown_n(s + 1, (size_t)(q - s - 1), buf), sections,
                                      sizeof(sections) / sizeof(sections[0]));
        char hint[64] = "";
        if (near != NULL)
            snprintf(hint, sizeof(hint), "; did you mean [%s]?", near);
        fail(c, KF_ERR_CONFIG, "unknown section [%s]; the sections are " SECTIONS_TEXT "%s", buf,
             hint);
        return false;
    }
    return true;
}

/* inih's line reader (an fgets): hand over one whole line, with its '\n',
 * or stop parsing (NULL) at the end, after an error, or on a line that does
 * not fit in inih's NUM-byte buffer. */
static char *
read_line(char *buf, int num, void *stream)
{
    struct parse_ctx *c = stream;
    const char *p, *nl;
    size_t left, n, take;

    if (c->status != KF_OK || c->pos >= c->len)
        return NULL;
    p = c->text + c->pos;
    left = c->len - c->pos;
    nl = memchr(p, '\n', left);
    n = nl != NULL ? (size_t)(nl - p) : left;
    take = n + (nl != NULL);
    c->pos += take;
    c->lineno++;
    c->line = p;
    c->line_len = n;
    /* room for the line, "\n" and the terminator */
    if (num < 3 || n > (size_t)num - 2) {
        fail(c, KF_ERR_CONFIG, "line longer than %d characters, the most a configuration line "
                               "may have",
             num < 3 ? 0 : num - 2);
        return NULL;
    }
    if (memchr(p, '\0', n) != NULL) {
        fail(c, KF_ERR_CONFIG, "NUL byte in the line; this is not a text file");
        return NULL;
    }
    memcpy(buf, p, take);
    buf[take] = '\0';
    if (!check_section_line(c))
        return NULL;
    return buf;
}

/* inih calls the handler for an indented line that follows a key with
 * that key's name and the whole trimmed line as the value; for a real
 * "key = value" line the value is shorter than the line. */
static bool
is_continuation(const struct parse_ctx *c, const char *value)
{
    const char *s = line_start(c), *end = c->line + c->line_len;

    trim(&s, &end);
    return strlen(value) == (size_t)(end - s);
}

static const struct key_def *
find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* The known key of SECTION nearest to NAME (a typo), or NULL. */
static const char *
nearest_key(const char *section, const char *name)
{
    const char *names[N_KEYS];
    size_t n = 0;

    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0)
            names[n++] = keys[i].name;
    return kf_suggest(name, names, n);
}

/* "unknown key" with a hint: the other spelling ('_' <-> '-'), the
 * section the key belongs to, or the nearest key of this section. */
static int
unknown_key(struct parse_ctx *c, const char *section, const char *name)
{
    char alt[SHOWN_MAX], buf[SHOWN_MAX], hint[2 * SHOWN_MAX] = "";
    const char *near;
    size_t i;

    for (i = 0; name[i] != '\0' && i < sizeof(alt) - 1; i++)
        alt[i] = name[i] == '_' ? '-' : name[i] == '-' ? '_' : name[i];
    alt[i] = '\0';
    if (name[i] == '\0' && strcmp(alt, name) != 0 && find_key(section, alt) != NULL) {
        snprintf(hint, sizeof(hint), "; did you mean '%s'?", alt);
    } else {
        for (i = 0; i < N_KEYS; i++) {
            if (strcmp(keys[i].name, name) == 0) {
                snprintf(hint, sizeof(hint), "; '%s' belongs in section [%s]", keys[i].name,
                         keys[i].section);
                break;
            }
        }
        if (i == N_KEYS && (near = nearest_key(section, name)) != NULL)
            snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);
    }
    return fail(c, KF_ERR_CONFIG, "unknown key '%s' in section [%s]%s", shown(name, buf), section,
                hint);
}

static int
bad_value(struct parse_ctx *c, const struct key_def *k, const char *detail)
{
    return fail(c, KF_ERR_CONFIG, "bad value for '%s' in section [%s]: %s", k->name, k->section,
                detail);
}

static int
set_string(struct parse_ctx *c, const struct key_def *k, const char *value)
{
    char **slot = (char **)(void *)((char *)c->cfg + k->offset);
    char *copy = strdup(value);

    if (copy == NULL)
        return fail_nomem(c);
    free(*slot);
    *slot = copy;
    return 1;
}

static bool
has_space(const char *s)
{
    for (; *s != '\0'; s++)
        if (isspace((unsigned char)*s))
            return true;
    return false;
}

/* Space-separated ldap://, ldaps:// or ldapi:// URIs, as ldap_initialize()
 * takes them. */
static bool
ldap_uris_ok(const char *s)
{
    static const char *const schemes[] = {"ldap://", "ldaps://", "ldapi://"};

    while (*s != '\0') {
        size_t n = strcspn(s, " "), i;

        for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
            if (n >= strlen(schemes[i]) && strncasecmp(s, schemes[i], strlen(schemes[i])) == 0)
                break;
        if (i == sizeof(schemes) / sizeof(schemes[0]))
            return false;
        s += n;
        while (*s == ' ')
            s++;
    }
    return true;
}

/* HOST:PORT where HOST is an address, a DNS name or [IPv6]. */
static bool
listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    char host[KF_FQDN_MAX + 3], norm[KF_FQDN_MAX + 1];
    size_t n;
    int port;

    if (colon == NULL || kf_port_parse(colon + 1, &port, NULL) != KF_OK)
        return false;
    n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, s, n);
    host[n] = '\0';
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return false;
        host[n - 1] = '\0';
        return strchr(host + 1, ':') != NULL &&
               kf_address_normalize(host + 1, NULL, 0, NULL) == KF_OK;
    }
    if (strchr(host, ':') != NULL)
        return false; /* IPv6 needs brackets */
    return kf_address_normalize(host, NULL, 0, NULL) == KF_OK ||
           kf_fqdn_normalize(host, norm, sizeof(norm), NULL) == KF_OK;
}

static int
add_allow(struct parse_ctx *c, const char *value)
{
    struct kf_config *cfg = c->cfg;
    char **grown, *copy;

    if (cfg->agent.n_allow >= KF_CONFIG_ALLOW_MAX)
        return fail(c, KF_ERR_CONFIG, "more than %d 'allow' lines in section [agent]",
                    KF_CONFIG_ALLOW_MAX);
    grown = realloc(cfg->agent.allow, (cfg->agent.n_allow + 1) * sizeof(*grown));
    if (grown == NULL)
        return fail_nomem(c);
    cfg->agent.allow = grown;
    copy = strdup(value);
    if (copy == NULL)
        return fail_nomem(c);
    cfg->agent.allow[cfg->agent.n_allow++] = copy;
    return 1;
}

/* What a value of each kind looks like, for "'X' is not ..." */
static const char *const expected_what[] = {
    [V_BACKEND] = "ad or mit",
    [V_DOMAIN] = "a DNS domain name",
    [V_SERVER] = "a DNS name or an IP address",
    [V_LDAP_URI] = "ldap://, ldaps:// or ldapi:// URIs separated by spaces",
    [V_TLS] = "no, starttls or ldaps",
    [V_PASSWORD_METHOD] = "ldap or kpasswd",
    [V_TIMEOUT] = "a duration from 1s to 1h",
    [V_PATH] = "an absolute path",
    [V_STORE_URL] = "a PostgreSQL URL (postgresql://host/dbname)",
    [V_PORT] = "a port 1-65535",
    [V_LISTEN] = "ADDRESS:PORT, HOST:PORT or [IPv6]:PORT",
    [V_WORD] = "a name without spaces",
    [V_ALLOW] = "a principal or @GROUP, without spaces",
    [V_CONCURRENCY] = "a number from 1 to 4096",
    [V_GRACE] = "a duration",
    [V_MAX_AGE] = "a duration of at least 1s",
    [V_TRUSTEE] = "a group as 'DOMAIN\\name', name@REALM or name",
};

static int
bad_expected(struct parse_ctx *c, const struct key_def *k, const char *value)
{
    char buf[SHOWN_MAX], detail[2 * SHOWN_MAX + 64];

    snprintf(detail, sizeof(detail), "'%s' is not %s", shown(value, buf), expected_what[k->kind]);
    return bad_value(c, k, detail);
}

/* Check VALUE for key K and store it. Returns inih's 1 (ok) or 0. */
static int
set_value(struct parse_ctx *c, const struct key_def *k, const char *value)
{
    struct kf_config *cfg = c->cfg;
    struct kf_err sub = {0};
    char norm[KF_FQDN_MAX + 1];
    long long n;

    switch (k->kind) {
    case V_BACKEND:
        if (strcmp(value, "ad") != 0 && strcmp(value, "mit") != 0)
            goto expected;
        return set_string(c, k, value);
    case V_DOMAIN:
        if (kf_fqdn_normalize(value, norm, sizeof(norm), &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        return set_string(c, k, norm);
    case V_SERVER:
        if (kf_address_normalize(value, NULL, 0, NULL) == KF_OK)
            return set_string(c, k, value);
        if (kf_fqdn_normalize(value, norm, sizeof(norm), NULL) == KF_OK)
            return set_string(c, k, norm);
        goto expected;
    case V_LDAP_URI:
        if (!ldap_uris_ok(value))
            goto expected;
        return set_string(c, k, value);
    case V_STORE_URL:
        if (!kf_store_is_url(value) || has_space(value))
            goto expected;
        if (kf_store_url_check(value, NULL, &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        return set_string(c, k, value);
    case V_TLS:
        if (strcmp(value, "no") == 0)
            cfg->directory.tls = KF_TLS_NO;
        else if (strcmp(value, "starttls") == 0)
            cfg->directory.tls = KF_TLS_STARTTLS;
        else if (strcmp(value, "ldaps") == 0)
            cfg->directory.tls = KF_TLS_LDAPS;
        else
            goto expected;
        return 1;
    case V_PASSWORD_METHOD:
        if (strcmp(value, "ldap") == 0)
            cfg->directory.password_method = KF_PW_LDAP;
        else if (strcmp(value, "kpasswd") == 0)
            cfg->directory.password_method = KF_PW_KPASSWD;
        else
            goto expected;
        return 1;
    case V_TIMEOUT:
        if (kf_duration_parse(value, &n, &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        if (n < 1 || n > TIMEOUT_MAX_S)
            goto expected;
        cfg->directory.timeout_s = n;
        return 1;
    case V_PATH:
        if (value[0] != '/' || strlen(value) >= PATH_MAX)
            goto expected;
        return set_string(c, k, value);
    case V_PORT:
        if (kf_port_parse(value, &cfg->agent.port, &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        return 1;
    case V_LISTEN:
        if (!listen_ok(value))
            goto expected;
        return set_string(c, k, value);
    case V_WORD:
        if (has_space(value))
            goto expected;
        return set_string(c, k, value);
    case V_ALLOW:
        if (has_space(value) || strcmp(value, "@") == 0)
            goto expected;
        return add_allow(c, value);
    case V_CONCURRENCY:
        if (kf_uint_parse(value, CONCURRENCY_MAX, &n) != KF_OK || n < 1)
            goto expected;
        cfg->rotation.concurrency = (int)n;
        return 1;
    case V_GRACE:
        if (kf_duration_parse(value, &cfg->rotation.grace_s, &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        return 1;
    case V_MAX_AGE:
        if (kf_duration_parse(value, &n, &sub) != KF_OK)
            return bad_value(c, k, sub.msg);
        if (n < 1)
            goto expected;
        cfg->rotation.max_age_s = n;
        return 1;
    case V_TRUSTEE: /* resolved in the directory when used */
        return set_string(c, k, value);
    }
    return fail(c, KF_ERR_UNEXPECTED, "no rule for key '%s'", k->name);

expected:
    return bad_expected(c, k, value);
}

/* inih's handler: one call per "key = value" line. */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse_ctx *c = user;
    const struct key_def *k;
    char buf[SHOWN_MAX];

    if (c->status != KF_OK)
        return 0;
    /* a section start, from inih builds that report them */
    if (name == NULL)
        return 1;
    /* a key without '=', from inih builds that allow it */
    if (value == NULL)
        return fail(c, KF_ERR_CONFIG, "'%s' has no value; write KEY = VALUE", shown(name, buf));
    if (is_continuation(c, value))
        return fail(c, KF_ERR_CONFIG,
                    "indented line continues the value of '%s'; continuation lines are not "
                    "supported (remove the indentation)",
                    shown(name, buf));
    if (section[0] == '\0')
        return fail(c, KF_ERR_CONFIG, "key '%s' outside any section; put it under " SECTIONS_TEXT,
                    shown(name, buf));
    if (!section_known(section, strlen(section)))
        return fail(c, KF_ERR_CONFIG, "unknown section [%s]", shown(section, buf));
    k = find_key(section, name);
    if (k == NULL)
        return unknown_key(c, section, name);
    if (c->seen_line[k - keys] != 0 && k->kind != V_ALLOW)
        return fail(c, KF_ERR_CONFIG, "duplicate key '%s' in section [%s] (first set on line %d)",
                    k->name, k->section, c->seen_line[k - keys]);
    if (c->seen_line[k - keys] == 0)
        c->seen_line[k - keys] = c->lineno;
    if (value[0] == '\0')
        return fail(c, KF_ERR_CONFIG,
                    "empty value for '%s' in section [%s]; remove the line to use the default",
                    k->name, k->section);
    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(c, KF_ERR_CONFIG, "control character in the value of '%s'", k->name);
    return set_value(c, k, value);
}

/* [store] names one store: a path or a URL, not both. */
static kf_status
one_store(struct parse_ctx *c)
{
    int path = c->seen_line[find_key("store", "path") - keys];
    int url = c->seen_line[find_key("store", "url") - keys];

    if (path == 0 || url == 0)
        return KF_OK;
    return kf_err_set(c->err, KF_ERR_CONFIG,
                      "%s:%d: [store] sets both path (line %d) and url (line %d); a store is a "
                      "SQLite file or a PostgreSQL database: keep one of them",
                      c->name, url > path ? url : path, path, url);
}

/* Report inih's own syntax error on line LINENO. */
static kf_status
syntax_error(struct parse_ctx *c, int lineno)
{
    const char *s = c->text, *end = c->text + c->len, *nl;

    for (int i = 1; i < lineno && s < end; i++) {
        nl = memchr(s, '\n', (size_t)(end - s));
        s = nl != NULL ? nl + 1 : end;
    }
    nl = memchr(s, '\n', (size_t)(end - s));
    if (nl != NULL)
        end = nl;
    trim(&s, &end);
    c->status = KF_OK;
    c->lineno = lineno;
    if (s < end && *s == '[')
        fail(c, KF_ERR_CONFIG, "section header without a closing ']'");
    else
        fail(c, KF_ERR_CONFIG, "expected KEY = VALUE, a [section] or a comment");
    return c->status;
}

static kf_status
config_new(const char *file, struct kf_config **out, struct kf_err *err)
{
    struct kf_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    cfg->directory.backend = strdup(DEFAULT_BACKEND);
    cfg->store.path = strdup(DEFAULT_STORE_PATH);
    cfg->file = kf_strdup0(file);
    if (cfg->directory.backend == NULL || cfg->store.path == NULL ||
        (file != NULL && cfg->file == NULL)) {
        kf_config_free(cfg);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    cfg->directory.tls = KF_TLS_NO;
    cfg->directory.password_method = KF_PW_LDAP;
    cfg->directory.timeout_s = DEFAULT_TIMEOUT_S;
    cfg->agent.port = DEFAULT_PORT;
    cfg->rotation.concurrency = DEFAULT_CONCURRENCY;
    cfg->rotation.grace_s = DEFAULT_GRACE_S;
    cfg->rotation.max_age_s = DEFAULT_MAX_AGE_S;
    *out = cfg;
    return KF_OK;
}

void
kf_config_free(struct kf_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->file);
    free(cfg->directory.backend);
    free(cfg->directory.domain);
    free(cfg->directory.server);
    free(cfg->directory.ldap_uri);
    free(cfg->directory.ca_file);
    free(cfg->store.path);
    free(cfg->store.url);
    free(cfg->status.prometheus_file);
    free(cfg->rotation.ticket_cache);
    free(cfg->permission.group);
    free(cfg->directory.client_keytab);
    free(cfg->directory.client_principal);
    free(cfg->agent.listen);
    free(cfg->agent.principal);
    free(cfg->agent.host_keytab);
    free(cfg->agent.keytab);
    free(cfg->agent.keytab_group);
    for (size_t i = 0; i < cfg->agent.n_allow; i++)
        free(cfg->agent.allow[i]);
    free(cfg->agent.allow);
    free(cfg->probe.ca_file);
    free(cfg);
}

kf_status
kf_config_parse(const char *text, size_t len, const char *name, struct kf_config **out,
                struct kf_err *err)
{
    _cleanup_(kf_config_freep) struct kf_config *cfg = NULL;
    struct parse_ctx c = {0};
    kf_status st;
    int rc;

    *out = NULL;
    c.name = name != NULL ? name : "<config>";
    if (text == NULL && len > 0)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "%s: no text to parse", c.name);
    if (len > KF_CONFIG_MAX_SIZE)
        return kf_err_set(err, KF_ERR_CONFIG, "%s: larger than %d bytes; refusing to read it",
                          c.name, KF_CONFIG_MAX_SIZE);
    st = config_new(name, &cfg, err);
    if (st != KF_OK)
        return st;
    c.text = text != NULL ? text : "";
    c.len = len;
    c.cfg = cfg;
    c.err = err;
    rc = ini_parse_stream(read_line, &c, on_key, &c);
    if (rc == -2)
        return kf_err_set(err, KF_ERR_NOMEM, "%s: out of memory", c.name);
    if (rc > 0 && (c.status == KF_OK || rc < c.err_line))
        return syntax_error(&c, rc);
    if (c.status != KF_OK)
        return c.status;
    if (rc != 0)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "%s: the configuration parser stopped at line "
                          "%d for no reason it gave", c.name, rc);
    if ((st = one_store(&c)) != KF_OK)
        return st;
    *out = cfg;
    cfg = NULL;
    return KF_OK;
}

/* Read PATH whole into *BUF (NUL-terminated, length *LEN). Sets *MISSING
 * when the file does not exist (and then reports an error only if NAMED). */
static kf_status
read_file(const char *path, bool named, char **buf, size_t *len, bool *missing, struct kf_err *err)
{
    _cleanup_free_ char *data = NULL;
    size_t cap, used = 0;
    struct stat st;
    int fd, e;

    *missing = false;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            *missing = true;
            if (!named)
                return KF_OK;
        }
        return kf_err_set(err,
                          e == EACCES ? KF_ERR_PERMISSION
                          : *missing  ? KF_ERR_CONFIG
                                      : KF_ERR_IO,
                          "cannot open configuration file %s: %s", path, strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return kf_err_set(err, KF_ERR_IO, "cannot stat configuration file %s: %s", path,
                          strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kf_err_set(err, KF_ERR_CONFIG, "configuration file %s is not a regular file", path);
    }
    if (st.st_size > KF_CONFIG_MAX_SIZE)
        goto too_large;
    cap = (size_t)st.st_size + 2; /* +1 to see growth, +1 for the NUL */
    data = malloc(cap);
    if (data == NULL) {
        close(fd);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        ssize_t r;

        if (used == cap - 1) {
            char *grown;

            if (used > KF_CONFIG_MAX_SIZE)
                goto too_large;
            cap = cap * 2 < KF_CONFIG_MAX_SIZE + 2 ? cap * 2 : KF_CONFIG_MAX_SIZE + 2;
            grown = realloc(data, cap);
            if (grown == NULL) {
                close(fd);
                return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            }
            data = grown;
        }
        r = read(fd, data + used, cap - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            return kf_err_set(err, KF_ERR_IO, "cannot read configuration file %s: %s", path,
                              strerror(e));
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    if (used > KF_CONFIG_MAX_SIZE)
        return kf_err_set(err, KF_ERR_CONFIG,
                          "configuration file %s is larger than %d bytes; refusing to read it",
                          path, KF_CONFIG_MAX_SIZE);
    data[used] = '\0';
    *len = used;
    *buf = data;
    data = NULL;
    return KF_OK;

too_large:
    close(fd);
    return kf_err_set(err, KF_ERR_CONFIG,
                      "configuration file %s is larger than %d bytes; refusing to read it", path,
                      KF_CONFIG_MAX_SIZE);
}

/* Fill directory.domain from krb5.conf's default realm, lower-cased, when
 * the file did not set it. Leaves it NULL if krb5 knows no realm or the
 * realm is not a DNS name. */
static kf_status
resolve_domain(struct kf_config *cfg, struct kf_err *err)
{
    krb5_context ctx = NULL;
    char *realm = NULL, norm[KF_FQDN_MAX + 1];
    kf_status st = KF_OK;

    if (cfg->directory.domain != NULL)
        return KF_OK;
    if (krb5_init_context(&ctx) != 0)
        return KF_OK;
    if (krb5_get_default_realm(ctx, &realm) == 0) {
        if (kf_fqdn_normalize(realm, norm, sizeof(norm), NULL) == KF_OK) {
            cfg->directory.domain = strdup(norm);
            if (cfg->directory.domain == NULL)
                st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
        krb5_free_default_realm(ctx, realm);
    }
    krb5_free_context(ctx);
    return st;
}

kf_status
kf_config_load_at(const char *path, const char *default_path, struct kf_config **out,
                  struct kf_err *err)
{
    _cleanup_(kf_config_freep) struct kf_config *cfg = NULL;
    _cleanup_free_ char *text = NULL;
    bool named = true, missing;
    size_t len = 0;
    kf_status st;

    *out = NULL;
    if (path == NULL) {
        const char *env = secure_getenv(KF_CONFIG_ENV);

        if (env != NULL && env[0] != '\0') {
            path = env;
        } else {
            path = default_path;
            named = false;
        }
    }
    st = read_file(path, named, &text, &len, &missing, err);
    if (st != KF_OK)
        return st;
    if (missing)
        st = config_new(NULL, &cfg, err);
    else
        st = kf_config_parse(text, len, path, &cfg, err);
    if (st != KF_OK)
        return st;
    st = resolve_domain(cfg, err);
    if (st != KF_OK)
        return st;
    *out = cfg;
    cfg = NULL;
    return KF_OK;
}

kf_status
kf_config_load(const char *path, struct kf_config **out, struct kf_err *err)
{
    return kf_config_load_at(path, KF_CONFIG_DEFAULT_PATH, out, err);
}

kf_status
kf_duration_parse(const char *s, long long *seconds, struct kf_err *err)
{
    const char *p = s;
    long long v = 0, unit;

    if (s == NULL || !isdigit((unsigned char)*p))
        goto bad;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > KF_DURATION_MAX)
            goto bad;
    }
    switch (*p) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        goto bad;
    }
    if (p[1] != '\0' || v > KF_DURATION_MAX / unit)
        goto bad;
    *seconds = v * unit;
    return KF_OK;

bad:
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.*s\" is not a valid duration (a whole number followed by s, m, h or "
                      "d, at most 3650d; e.g. 90s or 10h)",
                      s != NULL ? (int)strnlen(s, 40) : 0, s != NULL ? s : "");
}
