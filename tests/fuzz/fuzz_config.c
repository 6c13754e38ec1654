/* fuzz_config.c - kf_config_parse and kf_duration_parse on arbitrary bytes.
 *
 * Besides the sanitizers' findings, a parse that succeeds must give a
 * configuration within its documented bounds, and one that fails must say
 * where ("NAME:LINE: ...", or a size complaint). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void
check_string(const char *s)
{
    if (s == NULL)
        return;
    check(s[0] != '\0');
    for (; *s != '\0'; s++)
        check((unsigned char)*s >= 0x20 && *s != 0x7f);
}

static void
check_config(const struct kf_config *cfg)
{
    check(cfg->file != NULL && strcmp(cfg->file, "fuzz.conf") == 0);
    check(strcmp(cfg->directory.backend, "ad") == 0 || strcmp(cfg->directory.backend, "mit") == 0);
    check_string(cfg->directory.domain);
    check_string(cfg->directory.server);
    check_string(cfg->directory.ldap_uri);
    check(cfg->directory.tls == KF_TLS_NO || cfg->directory.tls == KF_TLS_STARTTLS ||
          cfg->directory.tls == KF_TLS_LDAPS);
    check(cfg->directory.ca_file == NULL || cfg->directory.ca_file[0] == '/');
    check(cfg->directory.password_method == KF_PW_LDAP ||
          cfg->directory.password_method == KF_PW_KPASSWD);
    check(cfg->directory.timeout_s >= 1 && cfg->directory.timeout_s <= 3600);
    check(cfg->store.path != NULL && cfg->store.path[0] == '/');
    check_string(cfg->store.path);
    check(cfg->agent.port >= 1 && cfg->agent.port <= 65535);
    check_string(cfg->agent.listen);
    check_string(cfg->agent.principal);
    check(cfg->agent.host_keytab == NULL || cfg->agent.host_keytab[0] == '/');
    check(cfg->agent.keytab == NULL || cfg->agent.keytab[0] == '/');
    check_string(cfg->agent.keytab_group);
    check(cfg->agent.n_allow <= KF_CONFIG_ALLOW_MAX);
    check((cfg->agent.n_allow == 0) == (cfg->agent.allow == NULL));
    for (size_t i = 0; i < cfg->agent.n_allow; i++)
        check_string(cfg->agent.allow[i]);
    check(cfg->rotation.concurrency >= 1 && cfg->rotation.concurrency <= 4096);
    check(cfg->rotation.grace_s >= 0 && cfg->rotation.grace_s <= KF_DURATION_MAX);
    check(cfg->probe.ca_file == NULL || cfg->probe.ca_file[0] == '/');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kf_config *cfg = NULL;
    struct kf_err err = {0};
    kf_status st;

    /* The text is not NUL-terminated: ASan sees any read past SIZE. */
    st = kf_config_parse((const char *)data, size, "fuzz.conf", &cfg, &err);
    if (st == KF_OK) {
        check(cfg != NULL);
        check_config(cfg);
    } else {
        check(cfg == NULL);
        check(st == KF_ERR_CONFIG || st == KF_ERR_NOMEM);
        check(err.code == st);
        check(strncmp(err.msg, "fuzz.conf:", 10) == 0);
    }
    kf_config_free(cfg);

    /* Durations, from the first line of short inputs. */
    if (size < 64) {
        char s[64];
        long long secs = -1;

        memcpy(s, data, size);
        s[size] = '\0';
        s[strcspn(s, "\n")] = '\0';
        if (kf_duration_parse(s, &secs, NULL) == KF_OK)
            check(secs >= 0 && secs <= KF_DURATION_MAX);
        else
            check(secs == -1);
    }
    return 0;
}
