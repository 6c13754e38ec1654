/* krbfleet.c - the command-line tool: global options and the command table. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "cmdlets.h"
#include "mem.h"
#include "tickets.h"

static void
usage_all(FILE *fp)
{
    fprintf(fp, "Usage: krbfleet [--store PATH|URL] [--config PATH] [--json] COMMAND [ARGS]\n\n"
                "One Kerberos identity for a whole fleet of web servers, kept correct.\n\n"
                "Commands:\n");
    for (size_t i = 0; i < kf_n_commands; i++)
        fprintf(fp, "  %-17s %s\n", kf_commands[i].name, kf_commands[i].summary);
    fprintf(fp, "\nGlobal options:\n");
    kf_cli_print_global_opts(fp);
    fprintf(fp,
            "\nThe Lync Server cmdlets (New-CsKerberosAccount, ...) work as commands too:\n"
            "`krbfleet help cmdlets` lists them with the command each one runs.\n"
            "\nExit status: 0 ok, 1 failed (or a test found problems), 2 usage error.\n"
            "See krbfleet(1).\n");
}

/* Print every command of GROUP ("site": site add, site list, ...) on FP
 * (NULL: count only); returns how many. */
static int
list_group(FILE *fp, const char *group)
{
    size_t n = strlen(group);
    int found = 0;

    for (size_t i = 0; i < kf_n_commands; i++) {
        const struct kf_command *c = &kf_commands[i];
        char synopsis[1024];
        if (strncmp(c->name, group, n) == 0 && c->name[n] == ' ') {
            if (fp != NULL)
                fprintf(fp, "krbfleet %s%s\n    %s\n", c->name,
                        kf_cli_synopsis(c, synopsis, sizeof(synopsis)), c->summary);
            found++;
        }
    }
    return found;
}

static int
help_command(int argc, char **argv)
{
    const struct kf_command *cmd;
    int words;

    if (argc == 0) {
        usage_all(stdout);
        return 0;
    }
    if (strcmp(argv[0], "cmdlets") == 0) {
        kf_cmdlet_print_table(stdout);
        return 0;
    }
    if (kf_cmdlet_word(argv[0])) {
        const struct kf_cmdlet *c = kf_cmdlet_find(argv[0]);
        if (c == NULL)
            return kf_cli_usage_global("no cmdlet \"%s\"; `krbfleet help cmdlets` lists them",
                                       argv[0]);
        kf_cmdlet_print(stdout, c);
        printf("\nSee `krbfleet help %s` for what it does.\n", kf_cmdlet_command(c));
        return 0;
    }
    cmd = kf_command_find(argc, argv, &words);
    if (cmd == NULL) {
        /* "help site": every command of that group */
        if (list_group(stdout, argv[0]) > 0)
            return 0;
        return kf_cli_usage_global("no command \"%s\"; try 'krbfleet help'", argv[0]);
    }
    kf_cli_help(cmd);
    return 0;
}

/* Move the global options out of ARGV, wherever they stand (before "--"),
 * leaving the command words and the command's own options. */
static int
take_globals(struct kf_cli *cli, int *argc, char **argv, bool *help, bool *version)
{
    int out = 0;

    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *val = NULL;
        const char **dest = NULL;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            *version = true;
            continue;
        }
        if (strncmp(a, "--store", 7) == 0 && (a[7] == '\0' || a[7] == '='))
            dest = &cli->store_opt;
        else if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '='))
            dest = &cli->config_opt;
        if (dest == NULL) {
            argv[out++] = argv[i];
            continue;
        }
        val = strchr(a, '=');
        if (val != NULL) {
            val++;
        } else if (i + 1 < *argc) {
            val = argv[++i];
        } else {
            return kf_cli_usage_global("option '%s' needs a value", a);
        }
        if (*val == '\0') {
            return kf_cli_usage_global("option '%.8s' needs a non-empty value", a);
        }
        *dest = val;
    }
    *argc = out;
    return 0;
}

/* "site add redmond" for the audit log; no secrets ever reach argv. */
static char *
join_args(int argc, char **argv)
{
    size_t len = 1;
    char *s, *p;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s = p = malloc(len);
    if (s == NULL)
        return NULL;
    *p = '\0';
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, argv[i], n);
        p += n;
        *p = '\0';
    }
    return s;
}

/* The agents' tickets back to krbfleet's cache ([rotation] ticket_cache);
 * what went wrong there is a warning, never the command's failure. */
static void
save_tickets(void)
{
    struct kf_tickets_report r;
    struct kf_err err = {0};

    if (kf_tickets_save(&r, &err) != KF_OK)
        kf_cli_warn("%s", err.msg);
    if (r.warning[0] != '\0')
        kf_cli_warn("%s", r.warning);
}

/* As many open files as the hard limit allows: a rotation keeps one
 * connection per server open from stage to prune. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    struct kf_cli cli = {0};
    _cleanup_(kf_cmdlet_call_done) struct kf_cmdlet_call cmdlet = {0};
    const struct kf_command *cmd;
    bool help = false, version = false;
    int words = 0, rc, cargc;
    char **cargv;

    setlocale(LC_CTYPE, "");
    /* A peer that closes its socket (a dying DC or agent) must give an
     * error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    argc--;
    argv++;
    /* Hidden: what the bash completion and the man page check ask. */
    if (argc >= 1 && strcmp(argv[0], "__complete") == 0)
        return kf_cli_complete(argc - 1, argv + 1);
    if (argc == 1 && strcmp(argv[0], "__options") == 0)
        return kf_cli_dump_options();
    /* --json first, wherever it stands: even an error in the global
     * options is then one JSON document. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            kf_cli_set_json(true);
    if ((rc = take_globals(&cli, &argc, argv, &help, &version)) != 0)
        return rc;
    if (version) {
        if (cli.json)
            return kf_cli_print_json(json_pack("{s:s}", "version", KF_VERSION));
        printf("krbfleet %s\n", KF_VERSION);
        return 0;
    }
    if (argc == 0 && !help && cli.json)
        return kf_cli_usage_global("no command given; try 'krbfleet help'");
    if (argc == 0) {
        usage_all(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    if (strcmp(argv[0], "help") == 0)
        return help_command(argc - 1, argv + 1);
    /* A Lync cmdlet becomes the krbfleet command it stands for. */
    if (kf_cmdlet_word(argv[0])) {
        if (help)
            return help_command(argc, argv);
        rc = kf_cmdlet_translate(argc, (const char *const *)argv, &cmdlet, &cli.err);
        if (rc == KF_ERR_USAGE)
            return kf_cli_usage_global("%s", cli.err.msg);
        if (rc != KF_OK)
            return kf_cli_fail(&cli, (kf_status)rc);
        argc = cmdlet.argc;
        argv = cmdlet.argv;
    }
    cmd = kf_command_find(argc, argv, &words);
    if (cmd == NULL) {
        if (help)
            return help_command(argc, argv);
        /* "krbfleet site" or "krbfleet site frob": the group's commands */
        if (argc == 1 && list_group(NULL, argv[0]) > 0) {
            kf_cli_usage_global("\"%s\" needs a subcommand, one of:", argv[0]);
            list_group(stderr, argv[0]);
            return 2;
        }
        kf_cli_usage_global("unknown command \"%s%s%s\"; try 'krbfleet help'", argv[0],
                            argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
        if (list_group(NULL, argv[0]) > 0) { /* argv[0] names a group: safe to show */
            fprintf(stderr, "The \"%s\" commands are:\n", argv[0]);
            list_group(stderr, argv[0]);
        }
        return 2;
    }
    if (help) {
        kf_cli_help(cmd);
        return 0;
    }
    cli.cmd = cmd;
    cli.command_line = join_args(argc, argv);
    if (cli.command_line == NULL) {
        fprintf(stderr, "krbfleet: out of memory\n");
        return 1;
    }
    /* The command sees argv[0] = its name, then its own arguments. */
    cargc = argc - words + 1;
    cargv = argv + words - 1;
    rc = kf_cli_parse(&cli, cmd, cargc, cargv);
    if (rc < 0) {
        rc = cmd->run(&cli, cmd, &cli.args);
        save_tickets();
    }
    kf_cli_args_done(&cli.args);
    kf_dir_free(cli.dir);
    kf_store_free(cli.store);
    kf_config_free(cli.cfg);
    free(cli.command_line);
    return rc;
}
