/* kf-agent-probe - drive one krbfleetd through the client API, for tests.
 *
 *   kf-agent-probe ADDRESS PORT FQDN COMMAND [ARG]...
 *
 *   status                     the keytab's entries, file, clock
 *   stage KVNO ACCOUNT PRINCIPAL...
 *                              keys from the password on stdin (aes256 and
 *                              aes128, salt from the KDC for ACCOUNT$)
 *   stage-random KVNO PRINCIPAL...   random keys (a wrong key)
 *   withdraw KVNO | prune KVNO
 *   export                     entries with a SHA-256-free key fingerprint
 *                              (first 4 bytes of the key, hex)
 *   check SPN [PRINCIPAL]      a fresh service ticket for SPN, checked
 *   commit KVNO ACCOUNT GRACE PRINCIPAL... [-- SERVER...]
 *                              COMMIT: ACCOUNT's KVNO is the directory's
 *   repeat N                   N x (connect + status), prints timings
 *
 * Credentials: KRB5CCNAME. Prints "timing connect_ms=X op_ms=Y protocol=N"
 * on stderr (N: the connection's protocol version).
 * Exit 0 ok, 1 the call failed (message on stderr), 2 usage.
 */
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent_client.h"
#include "names.h"

static double
ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
fail(const struct kf_err *err)
{
    fprintf(stderr, "kf-agent-probe: %s (%s)\n", err->msg, kf_strerror(err->code));
    return 1;
}

static int
usage(void)
{
    fprintf(stderr, "usage: kf-agent-probe ADDRESS PORT FQDN status|stage|stage-random|"
                    "withdraw|prune|export|check|commit|repeat [ARG]...\n");
    return 2;
}

static int
parse_u32(const char *s, uint32_t *out)
{
    long long v;

    if (kf_uint_parse(s, 0xffffffffLL, &v) != KF_OK)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Keys of PASSWORD for PRINCS at aes256 and aes128, salted as the KDC
 * says for ACCOUNT$. */
static int
derive(const char *account, const char *password, char **princs, int n, struct kf_keyset *ks)
{
    static const krb5_enctype enctypes[] = {ENCTYPE_AES256_CTS_HMAC_SHA1_96,
                                            ENCTYPE_AES128_CTS_HMAC_SHA1_96};
    krb5_context ctx;
    krb5_principal acct = NULL;
    char name[300];
    int rc = 0;

    if (krb5_init_context(&ctx) != 0)
        return -1;
    snprintf(name, sizeof(name), "%s$", account);
    if (krb5_parse_name(ctx, name, &acct) != 0) {
        krb5_free_context(ctx);
        return -1;
    }
    for (size_t e = 0; e < 2 && rc == 0; e++) {
        krb5_get_init_creds_opt *opt = NULL;
        krb5_enctype et = enctypes[e], got = 0;
        krb5_data salt = {0}, params = {0}, pw;
        krb5_keyblock kb;
        krb5_error_code ret;

        krb5_get_init_creds_opt_alloc(ctx, &opt);
        krb5_get_init_creds_opt_set_etype_list(opt, &et, 1);
        ret = krb5_get_etype_info(ctx, acct, opt, &got, &salt, &params);
        krb5_get_init_creds_opt_free(ctx, opt);
        if (ret != 0 || got != et) {
            const char *m = krb5_get_error_message(ctx, ret);
            fprintf(stderr, "kf-agent-probe: etype-info for %s: %s\n", name, ret ? m : "enctype");
            krb5_free_error_message(ctx, m);
            rc = -1;
            break;
        }
        pw.data = (char *)(uintptr_t)password;
        pw.length = (unsigned)strlen(password);
        ret = krb5_c_string_to_key_with_params(ctx, et, &pw, &salt,
                                               params.length ? &params : NULL, &kb);
        krb5_free_data_contents(ctx, &salt);
        krb5_free_data_contents(ctx, &params);
        if (ret != 0) {
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct kf_key_entry ent = {0};
            ent.principal = princs[i];
            ent.enctype = et;
            ent.key_len = kb.length;
            memcpy(ent.key, kb.contents, kb.length);
            if (kf_keyset_add(ks, &ent) != 0)
                rc = -1;
            explicit_bzero(ent.key, sizeof(ent.key));
        }
        krb5_free_keyblock_contents(ctx, &kb);
    }
    krb5_free_principal(ctx, acct);
    krb5_free_context(ctx);
    return rc;
}

static void
print_entries(const char *tag, const struct kf_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        const struct kf_key_entry *e = &ks->v[i];
        printf("%s %s kvno %u enctype %d", tag, e->principal, (unsigned)e->kvno, (int)e->enctype);
        if (e->key_len >= 4)
            printf(" key %02x%02x%02x%02x.. (%zu bytes)", e->key[0], e->key[1], e->key[2],
                   e->key[3], e->key_len);
        printf("\n");
    }
}

int
main(int argc, char **argv)
{
    _cleanup_(kf_agent_freep) struct kf_agent *a = NULL;
    struct kf_err err = {0};
    const char *cmd;
    double t0, t1, t2;
    int port;

    if (argc < 5)
        return usage();
    if (kf_port_parse(argv[2], &port, NULL) != KF_OK)
        return usage();
    cmd = argv[4];
    if (strcmp(cmd, "repeat") == 0) {
        long long n;
        double total_c = 0, total_o = 0;
        if (argc != 6 || kf_uint_parse(argv[5], 100000, &n) != KF_OK || n == 0)
            return usage();
        for (long long i = 0; i < n; i++) {
            struct kf_agent_status *st = NULL;
            t0 = ms();
            if (kf_agent_connect(argv[1], port, argv[3], 10, &a, &err) != KF_OK)
                return fail(&err);
            t1 = ms();
            if (kf_agent_status(a, &st, &err) != KF_OK)
                return fail(&err);
            t2 = ms();
            kf_agent_status_free(st);
            kf_agent_free(a);
            a = NULL;
            total_c += t1 - t0;
            total_o += t2 - t1;
        }
        printf("repeat %lld connect_ms_avg %.3f status_ms_avg %.3f\n", n, total_c / (double)n,
               total_o / (double)n);
        return 0;
    }

    t0 = ms();
    if (kf_agent_connect(argv[1], port, argv[3], 10, &a, &err) != KF_OK)
        return fail(&err);
    t1 = ms();
    printf("connected %s as %s (agent %s)\n", kf_agent_address(a), kf_agent_client_principal(a),
           kf_agent_version(a));

    if (strcmp(cmd, "status") == 0 && argc == 5) {
        struct kf_agent_status *st = NULL;
        if (kf_agent_status(a, &st, &err) != KF_OK)
            return fail(&err);
        printf("agent %s principal %s version %s skew_ms %lld\n", argv[3], st->principal,
               st->version, (long long)st->skew_ms);
        printf("keytab %s exists %s mode %04o uid %u gid %u group %s entries %zu\n", st->keytab,
               st->file.exists ? "yes" : "no", (unsigned)st->file.mode, (unsigned)st->file.uid,
               (unsigned)st->file.gid, st->group, st->entries->n);
        print_entries("entry", st->entries);
        for (size_t i = 0; st->committed != NULL && i < st->committed->n; i++)
            for (size_t k = 0; k < st->committed->v[i].n_commits; k++)
                printf("committed %s kvno %u at %lld\n", st->committed->v[i].account,
                       (unsigned)st->committed->v[i].commits[k].kvno,
                       (long long)st->committed->v[i].commits[k].at);
        kf_agent_status_free(st);
    } else if ((strcmp(cmd, "stage") == 0 && argc >= 8) ||
               (strcmp(cmd, "stage-random") == 0 && argc >= 7)) {
        struct kf_keyset *ks = kf_keyset_new();
        uint32_t kvno;
        size_t n = 0;
        int rc;

        if (ks == NULL || parse_u32(argv[5], &kvno) != 0)
            return usage();
        if (strcmp(cmd, "stage") == 0) {
            char pw[1024];
            if (fgets(pw, sizeof(pw), stdin) == NULL)
                return usage();
            pw[strcspn(pw, "\n")] = '\0';
            rc = derive(argv[6], pw, argv + 7, argc - 7, ks);
            explicit_bzero(pw, sizeof(pw));
        } else {
            rc = 0;
            for (int i = 6; i < argc && rc == 0; i++) {
                struct kf_key_entry e = {0};
                e.principal = argv[i];
                e.enctype = ENCTYPE_AES256_CTS_HMAC_SHA1_96;
                e.key_len = 32;
                if (getrandom(e.key, 32, 0) != 32 || kf_keyset_add(ks, &e) != 0)
                    rc = -1;
                explicit_bzero(e.key, sizeof(e.key));
            }
        }
        if (rc != 0) {
            kf_keyset_free(ks);
            fprintf(stderr, "kf-agent-probe: cannot make keys\n");
            return 1;
        }
        t1 = ms();
        rc = kf_agent_stage(a, kvno, ks, &n, &err);
        kf_keyset_free(ks);
        if (rc != KF_OK)
            return fail(&err);
        printf("staged kvno %u; keytab has %zu entries\n", (unsigned)kvno, n);
    } else if ((strcmp(cmd, "withdraw") == 0 || strcmp(cmd, "prune") == 0) && argc == 6) {
        uint32_t kvno;
        size_t n = 0;
        if (parse_u32(argv[5], &kvno) != 0)
            return usage();
        if ((cmd[0] == 'w' ? kf_agent_withdraw(a, kvno, &n, &err)
                           : kf_agent_prune(a, kvno, &n, &err)) != KF_OK)
            return fail(&err);
        printf("%s %u removed %zu\n", cmd, (unsigned)kvno, n);
    } else if (strcmp(cmd, "commit") == 0 && argc >= 9) {
        uint32_t kvno, grace;
        size_t kept = 0;
        int sep = argc;
        for (int i = 8; i < argc; i++)
            if (strcmp(argv[i], "--") == 0 && sep == argc)
                sep = i;
        if (parse_u32(argv[5], &kvno) != 0 || parse_u32(argv[7], &grace) != 0 || sep == 8)
            return usage();
        if (kf_agent_commit(a, argv[6], kvno, grace, getenv("KF_PROBE_MEMBERS_GROUP"), argv + 8, (size_t)(sep - 8),
                            argv + (sep < argc ? sep + 1 : argc),
                            (size_t)(sep < argc ? argc - sep - 1 : 0), &kept, &err) != KF_OK)
            return fail(&err);
        printf("committed kvno %u of %s; %zu committed kvnos kept\n", (unsigned)kvno, argv[6],
               kept);
    } else if (strcmp(cmd, "export") == 0 && argc == 5) {
        struct kf_keyset *ks = NULL;
        if (kf_agent_export(a, &ks, &err) != KF_OK)
            return fail(&err);
        printf("exported %zu\n", ks->n);
        print_entries("export", ks);
        kf_keyset_free(ks);
    } else if (strcmp(cmd, "check") == 0 && (argc == 6 || argc == 7)) {
        struct kf_keytab_check r;
        uint8_t *tok = NULL;
        size_t len = 0;
        uint32_t tkvno = 0;
        if (kf_agent_ticket_token(argv[5], NULL, &tok, &len, &tkvno, &err) != KF_OK)
            return fail(&err);
        t1 = ms();
        if (kf_agent_check(a, argc == 7 ? argv[6] : NULL, tok, len, &r, &err) != KF_OK) {
            free(tok);
            return fail(&err);
        }
        free(tok);
        if (r.accepted)
            printf("accepted kvno %u ticket_kvno %u enctype %d server %s client %s "
                   "(kdc ticket kvno %u)\n",
                   (unsigned)r.kvno, (unsigned)r.ticket_kvno, (int)r.enctype, r.server, r.client,
                   (unsigned)tkvno);
        else
            printf("not accepted: %s (kdc ticket kvno %u)\n", r.reason, (unsigned)tkvno);
        kf_keytab_check_done(&r);
    } else {
        return usage();
    }
    t2 = ms();
    fprintf(stderr, "timing connect_ms=%.3f op_ms=%.3f protocol=%u\n", t1 - t0, t2 - t1,
            kf_agent_proto_version(a));
    return 0;
}
