/* kf-dir-probe - drive each kf_dir operation from the command line, for the
 * directory integration tests (built only with the tests).
 *
 * usage: kf-dir-probe [-c CONFIG] COMMAND [ARG]...
 *   info                        the server, realm, domain, NetBIOS name, base DN
 *   get NAME                    the account's DN, SPNs, kvno, enctypes, flags, uSNChanged
 *   traits NAME                 what decides whether it may carry web keys (eligibility.h)
 *   create NAME [CONTAINER] [--enctypes BITS]
 *   delete NAME
 *   spn-add NAME SPN...         one write adding SPNs
 *   spn-del NAME SPN...         one write removing SPNs
 *   spn-mod NAME [+SPN|-SPN]... one write doing both (no SPN: nothing to do)
 *   spn-mod-dn DN [+SPN|-SPN]... the same on any object, by DN
 *   owner SPN                   who holds SPN
 *   set-password NAME           the new password is the first line of stdin
 *
 * Results go to stdout as "key=value" lines, then "reads=N writes=N" (the
 * connection's request counters) and "open_ms=N op_ms=N". On failure one
 * line "kf-dir-probe: <kind>: <message>" goes to stderr and the exit status
 * is the negated kf_status (3 not found, 4 exists, 5 conflict, 6 config,
 * 10 credentials, 11 permission, 20 directory, ...); 64 for a bad command line.
 */
#include "config.h"
#include "directory.h"
#include "mem.h"
#include "password.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 64

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
usage(void)
{
    fprintf(stderr, "usage: kf-dir-probe [-c CONFIG] COMMAND [ARG]...\n"
                    "  info | get NAME | traits NAME | create NAME [CONTAINER] [--enctypes BITS] | delete NAME\n"
                    "  spn-add NAME SPN... | spn-del NAME SPN... | spn-mod NAME [+SPN|-SPN]...\n"
                    "  spn-mod-dn DN [+SPN|-SPN]... | owner SPN | set-password NAME (stdin)\n");
    return EXIT_USAGE;
}

static int
fail(kf_status st, const struct kf_err *err)
{
    fprintf(stderr, "kf-dir-probe: %s: %s\n", kf_strerror(st), err->msg);
    return st < 0 && st >= -99 ? -st : 99;
}

static void
print_account(const struct kf_dir_account *a)
{
    printf("name=%s\ndn=%s\n", a->name, a->dn);
    for (size_t i = 0; i < a->n_spns; i++)
        printf("spn=%s\n", a->spns[i]);
    printf("n_spns=%zu\nkvno=%d\nenctypes=%u\ndisabled=%s\nexpired=%s\nusn_changed=%lld\n",
           a->n_spns, a->kvno, a->enctypes, a->disabled ? "yes" : "no", a->expired ? "yes" : "no",
           (long long)a->usn_changed);
}

static void
print_traits(const struct kf_dir_traits *t)
{
    char sid[KF_SID_STR_MAX];

    printf("dn=%s\n", t->dn);
    for (size_t i = 0; i < t->n_object_classes; i++)
        printf("class=%s\n", t->object_classes[i]);
    printf("uac=%lld\nprimary_group=%lld\nrbcd=%s\n", (long long)t->uac,
           (long long)t->primary_group, t->rbcd ? "yes" : "no");
    for (size_t i = 0; i < t->n_delegate_to; i++)
        printf("delegate_to=%s\n", t->delegate_to[i]);
    for (size_t i = 0; i < t->n_groups; i++) {
        kf_sid_format(&t->groups[i], sid, sizeof(sid));
        printf("group=%s\n", sid);
    }
    for (size_t i = 0; i < t->n_spns; i++)
        printf("spn=%s\n", t->spns[i]);
}

/* The password from stdin: one line, at most KF_PASSWORD_MAX bytes. The
 * buffer is wiped by the caller (kf_free_secret_str). */
static char *
read_password(void)
{
    size_t cap = KF_PASSWORD_MAX + 2, n = 0;
    char *buf = calloc(1, cap + 1);

    if (buf == NULL)
        return NULL;
    while (n < cap) {
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(buf, '\n', n) != NULL)
            break;
    }
    char *nl = memchr(buf, '\n', n);
    if (nl != NULL)
        n = (size_t)(nl - buf);
    explicit_bzero(buf + n, cap + 1 - n);
    if (n == 0 || n > KF_PASSWORD_MAX) {
        kf_free_secret(buf, cap + 1);
        return NULL;
    }
    return buf;
}

/* Split "+SPN" / "-SPN" arguments into the two lists (pointers into ARGV). */
static int
split_changes(int argc, char **argv, const char **add, size_t *n_add, const char **del,
              size_t *n_del)
{
    *n_add = *n_del = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '+')
            add[(*n_add)++] = argv[i] + 1;
        else if (argv[i][0] == '-')
            del[(*n_del)++] = argv[i] + 1;
        else
            return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *config = NULL, *cmd;
    _cleanup_(kf_config_freep) struct kf_config *cfg = NULL;
    struct kf_dir *dir = NULL;
    struct kf_err err = {0};
    kf_status st;
    double t0, t1, t2;
    unsigned long reads, writes;
    int i = 1, rc = 0;

    signal(SIGPIPE, SIG_IGN); /* as krbfleet does: libldap writes without MSG_NOSIGNAL */
    if (argc > 2 && strcmp(argv[1], "-c") == 0) {
        config = argv[2];
        i = 3;
    }
    if (i >= argc)
        return usage();
    cmd = argv[i++];
    argc -= i;
    argv += i;

    st = kf_config_load(config, &cfg, &err);
    if (st != KF_OK)
        return fail(st, &err);
    t0 = now_ms();
    st = kf_dir_open(cfg, &dir, &err);
    t1 = now_ms();
    if (st != KF_OK) {
        printf("open_ms=%.1f\n", t1 - t0);
        return fail(st, &err);
    }

    if (strcmp(cmd, "info") == 0 && argc == 0) {
        printf("server=%s\nrealm=%s\ndomain=%s\nnetbios=%s\nbase_dn=%s\n", kf_dir_server(dir),
               kf_dir_realm(dir), kf_dir_domain(dir), kf_dir_netbios(dir), kf_dir_base_dn(dir));
        st = KF_OK;
    } else if (strcmp(cmd, "get") == 0 && argc == 1) {
        struct kf_dir_account *a = NULL;
        st = kf_dir_account_get(dir, argv[0], &a, &err);
        if (st == KF_OK)
            print_account(a);
        kf_dir_account_free(a);
    } else if (strcmp(cmd, "traits") == 0 && argc == 1) {
        struct kf_dir_traits *t = NULL;
        st = kf_dir_account_traits(dir, argv[0], &t, &err);
        if (st == KF_OK)
            print_traits(t);
        kf_dir_traits_free(t);
    } else if (strcmp(cmd, "create") == 0 && argc >= 1) {
        const char *container = NULL;
        unsigned enctypes = KF_ENCTYPES_DEFAULT;
        for (int k = 1; k < argc; k++) {
            if (strcmp(argv[k], "--enctypes") == 0 && k + 1 < argc) {
                char *end;
                unsigned long v = strtoul(argv[++k], &end, 0);
                if (*end != '\0' || v > 0xffff) {
                    rc = usage();
                    goto out;
                }
                enctypes = (unsigned)v;
            } else if (container == NULL) {
                container = argv[k];
            } else {
                rc = usage();
                goto out;
            }
        }
        st = kf_dir_account_create(dir, argv[0], container, enctypes, &err);
    } else if (strcmp(cmd, "delete") == 0 && argc == 1) {
        st = kf_dir_account_delete(dir, argv[0], &err);
    } else if ((strcmp(cmd, "spn-add") == 0 || strcmp(cmd, "spn-del") == 0) && argc >= 2) {
        const char *const *list = (const char *const *)(argv + 1);
        size_t n = (size_t)argc - 1;
        if (cmd[4] == 'a')
            st = kf_dir_spn_modify(dir, argv[0], list, n, NULL, 0, &err);
        else
            st = kf_dir_spn_modify(dir, argv[0], NULL, 0, list, n, &err);
    } else if ((strcmp(cmd, "spn-mod") == 0 || strcmp(cmd, "spn-mod-dn") == 0) && argc >= 1) {
        _cleanup_free_ const char **add = calloc((size_t)argc, sizeof(char *));
        _cleanup_free_ const char **del = calloc((size_t)argc, sizeof(char *));
        size_t n_add, n_del;
        if (add == NULL || del == NULL) {
            st = kf_err_set(&err, KF_ERR_NOMEM, "out of memory");
        } else if (split_changes(argc - 1, argv + 1, add, &n_add, del, &n_del) != 0) {
            rc = usage();
            goto out;
        } else if (cmd[7] == '-') {
            st = kf_dir_spn_modify_dn(dir, argv[0], add, n_add, del, n_del, &err);
        } else {
            st = kf_dir_spn_modify(dir, argv[0], add, n_add, del, n_del, &err);
        }
    } else if (strcmp(cmd, "owner") == 0 && argc == 1) {
        struct kf_dir_owner *o = NULL;
        st = kf_dir_spn_owner(dir, argv[0], &o, &err);
        if (st == KF_OK && o == NULL)
            printf("owner=none\n");
        else if (st == KF_OK)
            printf("owner_dn=%s\nowner_name=%s\n", o->dn, o->name != NULL ? o->name : "");
        kf_dir_owner_free(o);
    } else if (strcmp(cmd, "set-password") == 0 && argc == 1) {
        char *pw = read_password();
        if (pw == NULL)
            st = kf_err_set(&err, KF_ERR_INVALID,
                            "no password on stdin (one line, 1..%d characters)", KF_PASSWORD_MAX);
        else
            st = kf_dir_set_password(dir, argv[0], pw, &err);
        kf_free_secret_str(pw);
    } else {
        rc = usage();
        goto out;
    }
    t2 = now_ms();
    kf_dir_counters(dir, &reads, &writes);
    printf("reads=%lu writes=%lu\nopen_ms=%.1f op_ms=%.1f\n", reads, writes, t1 - t0, t2 - t1);
    if (st != KF_OK)
        rc = fail(st, &err);
out:
    kf_dir_free(dir);
    return rc;
}
