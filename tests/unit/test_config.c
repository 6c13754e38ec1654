/* test_config.c - the configuration file: defaults, every key, every way a
 * file can be wrong (with FILE:LINE in the message), durations, and which
 * file is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

/* A scratch directory with a krb5.conf whose default realm is EXAMPLE.COM. */
static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char krb5_conf[sizeof(tmpdir) + 32];

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
    static const char krb5[] = "[libdefaults]\n    default_realm = EXAMPLE.COM\n";

    (void)state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(krb5_conf, sizeof(krb5_conf), "%s/krb5.conf", tmpdir);
    write_file(krb5_conf, krb5, strlen(krb5));
    setenv("KRB5_CONFIG", krb5_conf, 1);
    unsetenv("KRBFLEET_CONFIG");
    return 0;
}

static int
teardown(void **state)
{
    char cmd[sizeof(tmpdir) + 16];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct kf_config *
parse_ok(const char *text)
{
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};

    if (kf_config_parse(text, strlen(text), "t.conf", &cfg, &err) != KF_OK)
        fail_msg("rejected:\n%s\n-> %s", text, err.msg);
    assert_non_null(cfg);
    return cfg;
}

/* TEXT must be refused with KF_ERR_CONFIG and a message containing WANT. */
static void
parse_bad(const char *text, size_t len, const char *want)
{
    struct kf_config *cfg = (struct kf_config *)&cfg; /* must be reset */
    struct kf_err err = {0};
    kf_status st = kf_config_parse(text, len, "t.conf", &cfg, &err);

    if (st == KF_OK)
        fail_msg("accepted:\n%s", text);
    assert_null(cfg);
    assert_int_equal(st, KF_ERR_CONFIG);
    assert_int_equal(err.code, KF_ERR_CONFIG);
    if (strstr(err.msg, want) == NULL)
        fail_msg("for:\n%s\nwanted \"%s\" in \"%s\"", text, want, err.msg);
}

static void
check_defaults(const struct kf_config *cfg)
{
    assert_string_equal(cfg->directory.backend, "ad");
    assert_null(cfg->directory.server);
    assert_null(cfg->directory.ldap_uri);
    assert_int_equal(cfg->directory.tls, KF_TLS_NO);
    assert_null(cfg->directory.ca_file);
    assert_int_equal(cfg->directory.password_method, KF_PW_LDAP);
    assert_int_equal(cfg->directory.timeout_s, 10);
    assert_string_equal(cfg->store.path, "/var/lib/krbfleet/krbfleet.db");
    assert_int_equal(cfg->agent.port, 7390);
    assert_null(cfg->agent.listen);
    assert_null(cfg->agent.principal);
    assert_null(cfg->agent.host_keytab);
    assert_null(cfg->agent.keytab);
    assert_null(cfg->agent.keytab_group);
    assert_null(cfg->agent.allow);
    assert_int_equal(cfg->agent.n_allow, 0);
    assert_int_equal(cfg->rotation.concurrency, 1024);
    assert_int_equal(cfg->rotation.grace_s, 36000);
    assert_int_equal(cfg->rotation.max_age_s, 30 * 86400);
    assert_null(cfg->status.prometheus_file);
    assert_null(cfg->permission.group);
    assert_null(cfg->probe.ca_file);
}

static void
test_defaults_without_file(void **state)
{
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};
    char missing[sizeof(tmpdir) + 32];

    (void)state;
    snprintf(missing, sizeof(missing), "%s/no-such.conf", tmpdir);
    assert_int_equal(kf_config_load_at(NULL, missing, &cfg, &err), KF_OK);
    assert_null(cfg->file);
    check_defaults(cfg);
    /* the domain comes from krb5.conf's default realm, lower-cased */
    assert_string_equal(cfg->directory.domain, "example.com");
    kf_config_free(cfg);
}

static void
test_defaults_without_realm(void **state)
{
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};
    char missing[sizeof(tmpdir) + 32];

    (void)state;
    snprintf(missing, sizeof(missing), "%s/no-such.conf", tmpdir);
    setenv("KRB5_CONFIG", missing, 1);
    assert_int_equal(kf_config_load_at(NULL, missing, &cfg, &err), KF_OK);
    setenv("KRB5_CONFIG", krb5_conf, 1);
    check_defaults(cfg);
    assert_null(cfg->directory.domain);
    kf_config_free(cfg);
}

static void
test_parse_empty(void **state)
{
    struct kf_config *cfg;

    (void)state;
    cfg = parse_ok("");
    check_defaults(cfg);
    assert_string_equal(cfg->file, "t.conf");
    assert_null(cfg->directory.domain); /* parse alone does not ask krb5 */
    kf_config_free(cfg);

    cfg = parse_ok("; only comments\n# here\n\n   \n[store]\n");
    check_defaults(cfg);
    kf_config_free(cfg);
}

static void
test_every_key(void **state)
{
    static const char text[] = "; everything\n"
                               "[directory]\n"
                               "backend = mit\n"
                               "domain = Contoso.COM\n"
                               "server = DC01.contoso.com\n"
                               "ldap_uri = ldaps://dc01.contoso.com ldaps://dc02.contoso.com:636\n"
                               "tls = ldaps\n"
                               "ca_file = /etc/ssl/certs/contoso-ca.pem\n"
                               "password_method = kpasswd\n"
                               "timeout = 30s\n"
                               "\n"
                               "[store]\n"
                               "path = /srv/krbfleet/fleet.db\n"
                               "\n"
                               "[agent]\n"
                               "port = 7391\n"
                               "listen = 192.0.2.11:7391\n"
                               "principal = host/fe01.contoso.com\n"
                               "host-keytab = /etc/krb5.keytab\n"
                               "keytab = /etc/apache2/http.keytab\n"
                               "keytab-group = www-data\n"
                               "allow = admin@CONTOSO.COM\n"
                               "allow = @krbfleet-admins\n"
                               "\n"
                               "[rotation]\n"
                               "concurrency = 4096\n"
                               "grace = 2d\n"
                               "max_age = 7d\n"
                               "\n"
                               "[probe]\n"
                               "ca_file = /etc/ssl/certs/web-ca.pem\n"
                               "\n"
                               "[status]\n"
                               "prometheus_file = /var/lib/node_exporter/krbfleet.prom\n"
                               "\n"
                               "[permission]\n"
                               "group = CONTOSO\\Web Fleet Admins\n";
    struct kf_config *cfg;

    (void)state;
    cfg = parse_ok(text);
    assert_string_equal(cfg->directory.backend, "mit");
    assert_string_equal(cfg->directory.domain, "contoso.com");
    assert_string_equal(cfg->directory.server, "dc01.contoso.com");
    assert_string_equal(cfg->directory.ldap_uri,
                        "ldaps://dc01.contoso.com ldaps://dc02.contoso.com:636");
    assert_int_equal(cfg->directory.tls, KF_TLS_LDAPS);
    assert_string_equal(cfg->directory.ca_file, "/etc/ssl/certs/contoso-ca.pem");
    assert_int_equal(cfg->directory.password_method, KF_PW_KPASSWD);
    assert_int_equal(cfg->directory.timeout_s, 30);
    assert_string_equal(cfg->store.path, "/srv/krbfleet/fleet.db");
    assert_int_equal(cfg->agent.port, 7391);
    assert_string_equal(cfg->agent.listen, "192.0.2.11:7391");
    assert_string_equal(cfg->agent.principal, "host/fe01.contoso.com");
    assert_string_equal(cfg->agent.host_keytab, "/etc/krb5.keytab");
    assert_string_equal(cfg->agent.keytab, "/etc/apache2/http.keytab");
    assert_string_equal(cfg->agent.keytab_group, "www-data");
    assert_int_equal(cfg->agent.n_allow, 2);
    assert_string_equal(cfg->agent.allow[0], "admin@CONTOSO.COM");
    assert_string_equal(cfg->agent.allow[1], "@krbfleet-admins");
    assert_int_equal(cfg->rotation.concurrency, 4096);
    assert_int_equal(cfg->rotation.grace_s, 2 * 86400);
    assert_int_equal(cfg->rotation.max_age_s, 7 * 86400);
    assert_string_equal(cfg->probe.ca_file, "/etc/ssl/certs/web-ca.pem");
    assert_string_equal(cfg->status.prometheus_file, "/var/lib/node_exporter/krbfleet.prom");
    assert_string_equal(cfg->permission.group, "CONTOSO\\Web Fleet Admins");
    kf_config_free(cfg);
}

static void
test_other_values(void **state)
{
    struct kf_config *cfg;

    (void)state;
    cfg = parse_ok("[directory]\ntls = starttls\npassword_method = ldap\nbackend = ad\n"
                   "server = 192.0.2.1\nldap_uri = LDAP://dc01\n");
    assert_int_equal(cfg->directory.tls, KF_TLS_STARTTLS);
    assert_int_equal(cfg->directory.password_method, KF_PW_LDAP);
    assert_string_equal(cfg->directory.backend, "ad");
    assert_string_equal(cfg->directory.server, "192.0.2.1");
    kf_config_free(cfg);

    cfg = parse_ok("[directory]\ntls = no\nserver = 2001:db8::1\n"
                   "[agent]\nlisten = [2001:db8::11]:7390\nport = 1\n"
                   "[rotation]\nconcurrency = 1\ngrace = 0s\n");
    assert_int_equal(cfg->directory.tls, KF_TLS_NO);
    assert_string_equal(cfg->directory.server, "2001:db8::1");
    assert_string_equal(cfg->agent.listen, "[2001:db8::11]:7390");
    assert_int_equal(cfg->agent.port, 1);
    assert_int_equal(cfg->rotation.concurrency, 1);
    assert_int_equal(cfg->rotation.grace_s, 0);
    kf_config_free(cfg);

    cfg = parse_ok("[agent]\nlisten = fe01.contoso.com:65535\n");
    assert_string_equal(cfg->agent.listen, "fe01.contoso.com:65535");
    kf_config_free(cfg);
}

/* What inih accepts around a value: white space, ':' for '=', inline ';'
 * comments after white space, CRLF line ends, a UTF-8 BOM. */
static void
test_syntax_accepted(void **state)
{
    struct kf_config *cfg;

    (void)state;
    cfg = parse_ok("\xef\xbb\xbf[store]\r\n"
                   "   path=/a;b    ; the store\r\n"
                   "[agent] ; agent keys\r\n"
                   "port: 8000\r\n");
    assert_string_equal(cfg->store.path, "/a;b");
    assert_int_equal(cfg->agent.port, 8000);
    kf_config_free(cfg);

    /* indentation is fine where inih cannot take it for a continuation */
    cfg = parse_ok("  [rotation]\n\tgrace = 1h\n");
    assert_int_equal(cfg->rotation.grace_s, 3600);
    kf_config_free(cfg);

    /* the same section twice is fine; its keys still count once */
    cfg = parse_ok("[agent]\nallow = a\n[store]\npath = /x\n[agent]\nallow = b\nport = 1\n");
    assert_int_equal(cfg->agent.n_allow, 2);
    kf_config_free(cfg);
}

struct bad_case {
    const char *text;
    const char *want;
};

static const struct bad_case bad_values[] = {
    {"[directory]\nbackend = samba\n", "t.conf:2: bad value for 'backend' in section [directory]"},
    {"[directory]\nbackend = AD\n", "t.conf:2: bad value for 'backend'"},
    {"\n[directory]\ndomain = not a domain\n", "t.conf:3: bad value for 'domain'"},
    {"[directory]\ndomain = -bad.example\n", "t.conf:2: bad value for 'domain'"},
    {"[directory]\nserver = bad_host!\n", "t.conf:2: bad value for 'server'"},
    {"[directory]\nldap_uri = http://dc01\n", "t.conf:2: bad value for 'ldap_uri'"},
    {"[directory]\nldap_uri = ldap://a  dc02\n", "t.conf:2: bad value for 'ldap_uri'"},
    {"[directory]\ntls = yes\n", "t.conf:2: bad value for 'tls' in section [directory]: 'yes' is "
                                 "not no, starttls or ldaps"},
    {"[directory]\ntls = LDAPS\n", "t.conf:2: bad value for 'tls'"},
    {"[directory]\npassword_method = samr\n", "t.conf:2: bad value for 'password_method'"},
    {"[directory]\ntimeout = 10\n", "t.conf:2: bad value for 'timeout'"},
    {"[directory]\ntimeout = 0s\n", "t.conf:2: bad value for 'timeout'"},
    {"[directory]\ntimeout = 2h\n", "t.conf:2: bad value for 'timeout'"},
    {"[directory]\nca_file = ca.pem\n", "t.conf:2: bad value for 'ca_file' in section [directory]"},
    {"[store]\npath = krbfleet.db\n", "t.conf:2: bad value for 'path' in section [store]"},
    {"[store]\nurl = /var/lib/krbfleet.db\n",
     "t.conf:2: bad value for 'url' in section [store]: '/var/lib/krbfleet.db' is not a "
     "PostgreSQL URL (postgresql://host/dbname)"},
    {"[store]\nurl = postgresql://alice:pw@db/krbfleet\n",
     "t.conf:2: bad value for 'url' in section [store]: the store URL contains a password"},
    {"[store]\npath = /srv/k.db\n\nurl = postgresql://db/krbfleet\n",
     "t.conf:4: [store] sets both path (line 2) and url (line 4)"},
    {"[agent]\nport = 0\n", "t.conf:2: bad value for 'port' in section [agent]"},
    {"[agent]\nport = 65536\n", "t.conf:2: bad value for 'port'"},
    {"[agent]\nport = 7390x\n", "t.conf:2: bad value for 'port'"},
    {"[agent]\nport = -1\n", "t.conf:2: bad value for 'port'"},
    {"[agent]\nlisten = 192.0.2.1\n", "t.conf:2: bad value for 'listen'"},
    {"[agent]\nlisten = 192.0.2.1:0\n", "t.conf:2: bad value for 'listen'"},
    {"[agent]\nlisten = 2001:db8::1:7390\n", "t.conf:2: bad value for 'listen'"},
    {"[agent]\nlisten = :7390\n", "t.conf:2: bad value for 'listen'"},
    {"[agent]\nprincipal = host/a b\n", "t.conf:2: bad value for 'principal'"},
    {"[agent]\nhost-keytab = krb5.keytab\n", "t.conf:2: bad value for 'host-keytab'"},
    {"[agent]\nkeytab = http.keytab\n", "t.conf:2: bad value for 'keytab'"},
    {"[agent]\nkeytab-group = www data\n", "t.conf:2: bad value for 'keytab-group'"},
    {"[agent]\nallow = a b\n", "t.conf:2: bad value for 'allow'"},
    {"[agent]\nallow = @\n", "t.conf:2: bad value for 'allow'"},
    {"[rotation]\nconcurrency = 0\n",
     "t.conf:2: bad value for 'concurrency' in section [rotation]"},
    {"[rotation]\nconcurrency = 4097\n", "t.conf:2: bad value for 'concurrency'"},
    {"[rotation]\nconcurrency = many\n", "t.conf:2: bad value for 'concurrency'"},
    {"[rotation]\ngrace = 10\n", "t.conf:2: bad value for 'grace' in section [rotation]: \"10\" "
                                 "is not a valid duration"},
    {"[rotation]\ngrace = 3651d\n", "t.conf:2: bad value for 'grace'"},
    {"[rotation]\nmax_age = 0s\n", "t.conf:2: bad value for 'max_age' in section [rotation]: "
                                    "'0s' is not a duration of at least 1s"},
    {"[rotation]\nmax_age = 30\n", "t.conf:2: bad value for 'max_age'"},
    {"[status]\nprometheus_file = krbfleet.prom\n",
     "t.conf:2: bad value for 'prometheus_file' in section [status]"},
    {"[probe]\nca_file = relative.pem\n", "t.conf:2: bad value for 'ca_file' in section [probe]"},
    /* empty values and control characters */
    {"[store]\npath =\n", "t.conf:2: empty value for 'path' in section [store]"},
    {"[store]\npath =   ; a comment\n", "t.conf:2: empty value for 'path'"},
    {"[agent]\nkeytab-group = a\vb\n", "t.conf:2: control character in the value of"},
    {"[permission]\ngroup =\n", "t.conf:2: empty value for 'group' in section [permission]"},
};

/* [store] url: a PostgreSQL store instead of the file. */
static void
test_store_url(void **state)
{
    struct kf_config *cfg;

    (void)state;
    cfg = parse_ok("[store]\nurl = postgresql://db.example.com/krbfleet?sslmode=verify-full\n");
    assert_string_equal(cfg->store.url, "postgresql://db.example.com/krbfleet?sslmode=verify-full");
    assert_string_equal(cfg->store.path, "/var/lib/krbfleet/krbfleet.db");
    kf_config_free(cfg);
    cfg = parse_ok("[store]\npath = /srv/k.db\n");
    assert_null(cfg->store.url);
    kf_config_free(cfg);
}

static void
test_bad_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
        parse_bad(bad_values[i].text, strlen(bad_values[i].text), bad_values[i].want);
}

static const struct bad_case bad_structure[] = {
    /* the message of the example in docs/design.md ("Configuration and command
     * line"), word for word */
    {"[store]\n; 2\n; 3\n; 4\n; 5\n; 6\nfoo = bar\n",
     "t.conf:7: unknown key 'foo' in section [store]"},
    {"[bogus]\n", "t.conf:1: unknown section [bogus]"},
    {"[store]\npath = /x\n[Store]\npath = /y\n", "t.conf:3: unknown section [Store]"},
    {"[ store ]\n", "t.conf:1: unknown section [ store ]"},
    {"[store] extra\n", "t.conf:1: unexpected text 'extra' after the section header"},
    {"[store\npath = /x\n", "t.conf:1: section header without a closing ']'"},
    {"[store]\npath /x\n", "t.conf:2: expected KEY = VALUE"},
    {"path = /x\n", "t.conf:1: key 'path' outside any section"},
    {"[agent]\nhost_keytab = /k\n", "t.conf:2: unknown key 'host_keytab' in section [agent]; "
                                    "did you mean 'host-keytab'?"},
    {"[directory]\nca-file = /k\n", "did you mean 'ca_file'?"},
    {"[directory]\nport = 1\n", "t.conf:2: unknown key 'port' in section [directory]; 'port' "
                                "belongs in section [agent]"},
    {"[store]\nPATH = /x\n", "t.conf:2: unknown key 'PATH' in section [store]; did you mean "
                             "'path'?"},
    /* a typo gets the nearest key of the section; nothing near, no guess */
    {"[directory]\ntimout = 5s\n", "t.conf:2: unknown key 'timout' in section [directory]; "
                                   "did you mean 'timeout'?"},
    {"[rotation]\nconcurency = 4\n", "did you mean 'concurrency'?"},
    {"[agent]\nalow = a@X\n", "t.conf:2: unknown key 'alow' in section [agent]; did you mean "
                              "'allow'?"},
    {"[stor]\n", "t.conf:1: unknown section [stor]; the sections are [directory], [store], "
                 "[agent], [rotation], [probe], [status] or [permission]; did you mean [store]?"},
    {"[Store]\n", "did you mean [store]?"},
    /* duplicates */
    {"[store]\npath = /x\n\npath = /y\n",
     "t.conf:4: duplicate key 'path' in section [store] (first set on line 2)"},
    {"[agent]\nport = 1\n[store]\n[agent]\nport = 1\n", "t.conf:5: duplicate key 'port'"},
    {"[directory]\ntls = no\ntls = ldaps\n", "t.conf:3: duplicate key 'tls'"},
    {"[directory]\ndomain = a.example\ndomain = b.example\n", "t.conf:3: duplicate key 'domain'"},
    /* inih's continuation lines are refused */
    {"[agent]\nallow = a\n  b\n", "t.conf:3: indented line continues the value of 'allow'"},
    {"[store]\npath = /x\n  port = 1\n", "t.conf:3: indented line continues the value of 'path'"},
    {"[agent]\nallow = a\n  allow = b\n", "t.conf:3: indented line continues"},
    {"[agent]\nport = 1\n  [rotation]\ngrace = 1h\n", "t.conf:3: indented line continues"},
    /* the first error wins: inih's syntax error (line 2) before ours (line 3) */
    {"[store]\nnonsense\nfoo = 1\n", "t.conf:2: expected KEY = VALUE"},
    {"[store]\nfoo = 1\nnonsense\n", "t.conf:2: unknown key 'foo'"},
    /* unknown names are quoted safely */
    {"[store]\nfo\x01o = 1\n", "unknown key 'fo?o'"},
};

static void
test_bad_structure(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_structure) / sizeof(bad_structure[0]); i++)
        parse_bad(bad_structure[i].text, strlen(bad_structure[i].text), bad_structure[i].want);
}

/* A name near no known one gets no guess. */
static void
test_no_wild_guess(void **state)
{
    static const char *const far[] = {"[store]\nfoo = 1\n", "[directory]\nxyz = 1\n",
                                      "[bogus]\n", "[agent]\nkeytabgroupname = x\n"};
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        assert_int_equal(kf_config_parse(far[i], strlen(far[i]), "t.conf", &cfg, &err),
                         KF_ERR_CONFIG);
        if (strstr(err.msg, "did you mean") != NULL)
            fail_msg("for:\n%s\nguessed: %s", far[i], err.msg);
    }
}

static void
test_repeated_allow(void **state)
{
    struct kf_config *cfg;
    char text[64 + 32 * 1100];
    size_t n;

    (void)state;
    cfg = parse_ok("[agent]\nallow = a@X\nallow = @g1\nallow = b@X ; comment\nallow = a@X\n");
    assert_int_equal(cfg->agent.n_allow, 4);
    assert_string_equal(cfg->agent.allow[0], "a@X");
    assert_string_equal(cfg->agent.allow[1], "@g1");
    assert_string_equal(cfg->agent.allow[2], "b@X");
    assert_string_equal(cfg->agent.allow[3], "a@X");
    kf_config_free(cfg);

    /* bounded: KF_CONFIG_ALLOW_MAX lines, not one more */
    n = (size_t)snprintf(text, sizeof(text), "[agent]\n");
    for (int i = 0; i < KF_CONFIG_ALLOW_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "allow = p%d@X\n", i);
    cfg = parse_ok(text);
    assert_int_equal(cfg->agent.n_allow, KF_CONFIG_ALLOW_MAX);
    kf_config_free(cfg);
    snprintf(text + n, sizeof(text) - n, "allow = one-more@X\n");
    parse_bad(text, strlen(text), "t.conf:1026: more than 1024 'allow' lines");
}

struct duration_case {
    const char *in;
    long long want; /* -1: must be rejected */
};

static const struct duration_case durations[] = {
    {"10h", 36000},
    {"90s", 90},
    {"5m", 300},
    {"2d", 172800},
    {"0s", 0},
    {"007m", 420},
    {"3650d", 3650LL * 86400},
    {"315360000s", 315360000},
    {"", -1},
    {"10", -1},
    {"h", -1},
    {"-1h", -1},
    {"+1h", -1},
    {"10x", -1},
    {"10H", -1},
    {"10 h", -1},
    {" 10h", -1},
    {"10h ", -1},
    {"10hh", -1},
    {"1.5h", -1},
    {"3651d", -1},
    {"315360001s", -1},
    {"99999999999999999999d", -1},
    {"9223372036854775807s", -1},
    {"18446744073709551617s", -1},
};

static void
test_durations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        long long got = -42;
        struct kf_err err = {0};
        kf_status st = kf_duration_parse(durations[i].in, &got, &err);

        if (durations[i].want < 0) {
            if (st == KF_OK)
                fail_msg("accepted \"%s\" as %lld", durations[i].in, got);
            assert_int_equal(st, KF_ERR_INVALID);
            assert_int_equal(got, -42);
            assert_non_null(strstr(err.msg, "is not a valid duration"));
        } else {
            if (st != KF_OK)
                fail_msg("rejected \"%s\": %s", durations[i].in, err.msg);
            assert_int_equal(got, durations[i].want);
        }
    }
    assert_int_equal(kf_duration_parse(NULL, NULL, NULL), KF_ERR_INVALID);
}

/* inih's line buffer is ini_max_line bytes (200 in Debian's build): a
 * longer line must be an error, not a value cut short and the rest parsed
 * as another line. */
static void
test_long_line(void **state)
{
    char text[1024];
    struct kf_config *cfg;
    size_t n;

    (void)state;
    /* "path = /" + 190 'a' = 198 characters: the longest accepted */
    n = (size_t)snprintf(text, sizeof(text), "[store]\npath = /");
    memset(text + n, 'a', 190);
    n += 190;
    memcpy(text + n, "\n", 2);
    cfg = parse_ok(text);
    assert_int_equal(strlen(cfg->store.path), 191);
    kf_config_free(cfg);

    /* one more, with or without a final newline */
    memcpy(text + n, "a\n", 3);
    parse_bad(text, strlen(text), "t.conf:2: line longer than 198 characters");
    parse_bad(text, strlen(text) - 1, "t.conf:2: line longer than 198 characters");

    /* the cut-off tail would have been a valid line for inih */
    n = (size_t)snprintf(text, sizeof(text), "[store]\n; ");
    memset(text + n, 'x', 196);
    n += 196;
    snprintf(text + n, sizeof(text) - n, "path = /evil\n");
    parse_bad(text, strlen(text), "t.conf:2: line longer than");
}

static void
test_nul_and_size(void **state)
{
    static const char nul[] = "[store]\npath = /x\0y\n";
    char *big;
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};

    (void)state;
    parse_bad(nul, sizeof(nul) - 1, "t.conf:2: NUL byte");

    /* exactly the limit: fine (comments); one byte more: refused */
    big = malloc(KF_CONFIG_MAX_SIZE + 1);
    assert_non_null(big);
    memset(big, '\n', KF_CONFIG_MAX_SIZE + 1);
    big[0] = '#';
    assert_int_equal(kf_config_parse(big, KF_CONFIG_MAX_SIZE, "t.conf", &cfg, &err), KF_OK);
    kf_config_free(cfg);
    parse_bad(big, KF_CONFIG_MAX_SIZE + 1, "larger than");
    free(big);

    /* the text need not be NUL-terminated: only LEN bytes are read */
    assert_int_equal(kf_config_parse("[store]\npath = /abc", 17, NULL, &cfg, &err), KF_OK);
    assert_null(cfg->file);
    assert_string_equal(cfg->store.path, "/a");
    kf_config_free(cfg);
    assert_int_equal(kf_config_parse(NULL, 0, NULL, &cfg, &err), KF_OK);
    kf_config_free(cfg);
    kf_config_free(NULL);
}

static void
test_which_file(void **state)
{
    static const char text[] = "[store]\npath = /from/file.db\n";
    char path[sizeof(tmpdir) + 32], missing[sizeof(tmpdir) + 32], other[sizeof(tmpdir) + 32];
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/krbfleet.conf", tmpdir);
    snprintf(other, sizeof(other), "%s/other.conf", tmpdir);
    snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);
    write_file(path, text, strlen(text));
    write_file(other, "", 0);

    /* explicit path */
    assert_int_equal(kf_config_load_at(path, missing, &cfg, &err), KF_OK);
    assert_string_equal(cfg->file, path);
    assert_string_equal(cfg->store.path, "/from/file.db");
    assert_string_equal(cfg->directory.domain, "example.com");
    kf_config_free(cfg);

    /* a missing explicit file is an error */
    cfg = (struct kf_config *)&cfg;
    assert_int_equal(kf_config_load_at(missing, path, &cfg, &err), KF_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "No such file"));

    /* the default file, when present, is read */
    assert_int_equal(kf_config_load_at(NULL, path, &cfg, &err), KF_OK);
    assert_string_equal(cfg->file, path);
    kf_config_free(cfg);

    /* $KRBFLEET_CONFIG wins over the default ... */
    setenv("KRBFLEET_CONFIG", other, 1);
    assert_int_equal(kf_config_load_at(NULL, path, &cfg, &err), KF_OK);
    assert_string_equal(cfg->file, other);
    kf_config_free(cfg);
    /* ... and a path argument wins over $KRBFLEET_CONFIG */
    assert_int_equal(kf_config_load_at(path, missing, &cfg, &err), KF_OK);
    assert_string_equal(cfg->file, path);
    kf_config_free(cfg);

    /* a missing file named by $KRBFLEET_CONFIG is an error ... */
    setenv("KRBFLEET_CONFIG", missing, 1);
    assert_int_equal(kf_config_load_at(NULL, path, &cfg, &err), KF_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, missing));
    /* ... a missing default file is not */
    unsetenv("KRBFLEET_CONFIG");
    assert_int_equal(kf_config_load_at(NULL, missing, &cfg, &err), KF_OK);
    assert_null(cfg->file);
    check_defaults(cfg);
    kf_config_free(cfg);
    /* an empty $KRBFLEET_CONFIG counts as unset */
    setenv("KRBFLEET_CONFIG", "", 1);
    assert_int_equal(kf_config_load_at(NULL, missing, &cfg, &err), KF_OK);
    assert_null(cfg->file);
    kf_config_free(cfg);
    unsetenv("KRBFLEET_CONFIG");

    /* kf_config_load uses /etc/krbfleet/krbfleet.conf, unless named */
    setenv("KRBFLEET_CONFIG", path, 1);
    assert_int_equal(kf_config_load(NULL, &cfg, &err), KF_OK);
    assert_string_equal(cfg->file, path);
    kf_config_free(cfg);
    unsetenv("KRBFLEET_CONFIG");

    unlink(path);
    unlink(other);
}

static void
test_file_errors(void **state)
{
    char path[sizeof(tmpdir) + 32];
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};
    char *big;

    (void)state;
    /* a directory is not a configuration file, even as the default */
    assert_int_equal(kf_config_load_at(tmpdir, NULL, &cfg, &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(kf_config_load_at(NULL, tmpdir, &cfg, &err), KF_ERR_CONFIG);

    /* content errors name the path as given */
    snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
    write_file(path, "[store]\n\nfoo = 1\n", 17);
    assert_int_equal(kf_config_load_at(path, NULL, &cfg, &err), KF_ERR_CONFIG);
    assert_null(cfg);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "bad.conf:3: unknown key 'foo' in section [store]"));

    /* larger than 1 MiB: refused before parsing */
    big = malloc(KF_CONFIG_MAX_SIZE + 1);
    assert_non_null(big);
    memset(big, '\n', KF_CONFIG_MAX_SIZE + 1);
    write_file(path, big, KF_CONFIG_MAX_SIZE + 1);
    assert_int_equal(kf_config_load_at(path, NULL, &cfg, &err), KF_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "larger than"));
    write_file(path, big, KF_CONFIG_MAX_SIZE);
    assert_int_equal(kf_config_load_at(path, NULL, &cfg, &err), KF_OK);
    kf_config_free(cfg);
    free(big);

    /* unreadable (unless we are root, who reads anything) */
    if (geteuid() != 0) {
        write_file(path, "", 0);
        chmod(path, 0);
        assert_int_equal(kf_config_load_at(path, NULL, &cfg, &err), KF_ERR_PERMISSION);
    }
    unlink(path);
}

/* The example configurations the packages ship as conffiles parse, and
 * every key they set has the value the comments promise. */
static void
test_shipped_examples(void **state)
{
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};

    (void)state;
    assert_int_equal(kf_config_load_at(KF_SOURCE_ROOT "/tools/krbfleet.conf", NULL, &cfg, &err),
                     KF_OK);
    assert_string_equal(cfg->store.path, "/var/lib/krbfleet/krbfleet.db");
    assert_int_equal(cfg->agent.port, 7390);
    assert_int_equal(cfg->rotation.grace_s, 36000);
    assert_null(cfg->agent.listen);
    kf_config_free(cfg);

    assert_int_equal(
        kf_config_load_at(KF_SOURCE_ROOT "/daemon/krbfleetd.conf", NULL, &cfg, &err), KF_OK);
    assert_string_equal(cfg->agent.listen, "0.0.0.0:7390");
    assert_string_equal(cfg->agent.host_keytab, "/etc/krb5.keytab");
    assert_string_equal(cfg->agent.keytab, "/etc/krbfleet/http.keytab");
    assert_string_equal(cfg->agent.keytab_group, "www-data");
    assert_int_equal(cfg->agent.n_allow, 0); /* the admin must name who may manage it */
    kf_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_without_file),
        cmocka_unit_test(test_defaults_without_realm),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_store_url),
        cmocka_unit_test(test_other_values),
        cmocka_unit_test(test_syntax_accepted),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_structure),
        cmocka_unit_test(test_no_wild_guess),
        cmocka_unit_test(test_repeated_allow),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_nul_and_size),
        cmocka_unit_test(test_which_file),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_shipped_examples),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
