/* options.c - a command's option table at work: getopt_long's array, the
 * synopsis and the help text are all derived from it (cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const struct kf_command *
kf_command_find(int argc, char *const *argv, int *words)
{
    for (size_t i = 0; i < kf_n_commands; i++) {
        const char *name = kf_commands[i].name, *sp = strchr(name, ' ');
        size_t n1 = sp ? (size_t)(sp - name) : strlen(name);
        if (sp == NULL && argc >= 1 && strcmp(argv[0], name) == 0) {
            *words = 1; /* a one-word command: "sync" */
            return &kf_commands[i];
        }
        if (sp != NULL && argc >= 2 && strlen(argv[0]) == n1 && strncmp(argv[0], name, n1) == 0 &&
            strcmp(argv[1], sp + 1) == 0) {
            *words = 2;
            return &kf_commands[i];
        }
    }
    return NULL;
}

/* Append A, B and C to BUF (USED bytes so far); what does not fit ends
 * the buffer with "..." rather than being cut silently. */
static void
append(char *buf, size_t size, size_t *used, const char *a, const char *b, const char *c)
{
    int w;

    if (*used >= size)
        return;
    w = snprintf(buf + *used, size - *used, "%s%s%s", a, b, c);
    if (w < 0 || (size_t)w >= size - *used) {
        if (size >= 4)
            memcpy(buf + size - 4, "...", 4);
        *used = size;
        return;
    }
    *used += (size_t)w;
}

/* "--site NAME", "--force" */
static void
opt_text(const struct kf_opt *o, char *buf, size_t size)
{
    snprintf(buf, size, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

const char *
kf_cli_synopsis(const struct kf_command *cmd, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    if (cmd->operands != NULL)
        append(buf, size, &used, " ", cmd->operands, "");
    for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++) {
        const struct kf_opt *o = &cmd->opts[i];
        char text[128];
        opt_text(o, text, sizeof(text));
        if (o->required != NULL)
            append(buf, size, &used, " ", text, "");
        else
            append(buf, size, &used, " [", text,
                   o->kind == KF_OPT_LIST ? "]..." : "]");
    }
    return buf;
}

/* OPTS as an indented two-column list: "  --site NAME   help", each
 * further line of a help text under the first. */
static void
print_opts(FILE *fp, const struct kf_opt *opts)
{
    int width = 0;

    for (size_t i = 0; opts[i].name != NULL; i++) {
        char text[128];
        opt_text(&opts[i], text, sizeof(text));
        if ((int)strlen(text) > width)
            width = (int)strlen(text);
    }
    for (size_t i = 0; opts[i].name != NULL; i++) {
        const char *line = opts[i].help, *nl;
        char text[128];
        opt_text(&opts[i], text, sizeof(text));
        fprintf(fp, "  %-*s", width, text);
        while ((nl = strchr(line, '\n')) != NULL) {
            fprintf(fp, "  %.*s\n%*s", (int)(nl - line), line, width + 2, "");
            line = nl + 1;
        }
        fprintf(fp, "  %s\n", line);
    }
}

void
kf_cli_help(const struct kf_command *cmd)
{
    char synopsis[1024];

    printf("Usage: krbfleet %s%s\n\n%s.\n", cmd->name,
           kf_cli_synopsis(cmd, synopsis, sizeof(synopsis)), cmd->summary);
    if (cmd->opts != NULL && cmd->opts[0].name != NULL) {
        printf("\nOptions:\n");
        print_opts(stdout, cmd->opts);
    }
    if (cmd->help != NULL)
        printf("\n%s", cmd->help);
    printf("\nGlobal options: --store PATH|URL, --config PATH, --json, --help, --version.\n");
}

void
kf_cli_print_global_opts(FILE *fp)
{
    print_opts(fp, kf_global_opts);
}

/* "--site NAME, --account NAME" for a message: what CMD takes. */
static void
opt_list(const struct kf_command *cmd, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++) {
        char text[128];
        opt_text(&cmd->opts[i], text, sizeof(text));
        append(buf, size, &used, used ? ", " : "", text, "");
    }
    if (used == 0)
        snprintf(buf, size, "no options of its own");
}

/* Whether --NAME (WORD, up to a '=') is an option of some command. */
static bool
known_elsewhere(const char *word)
{
    size_t len;

    if (strncmp(word, "--", 2) != 0)
        return false;
    word += 2;
    len = strcspn(word, "=");
    for (size_t i = 0; i < kf_n_commands; i++)
        for (const struct kf_opt *o = kf_commands[i].opts; o != NULL && o->name != NULL; o++)
            if (strlen(o->name) == len && strncmp(o->name, word, len) == 0)
                return true;
    return false;
}

/* getopt_long's '?': an unknown option, one of another command, or a
 * flag given a value. */
static int
unknown_option(const struct kf_command *cmd, const char *word)
{
    char list[1024];

    if (optopt >= 256 && cmd->opts[optopt - 256].arg == NULL)
        return kf_cli_usage(cmd, "option '--%s' takes no value", cmd->opts[optopt - 256].name);
    opt_list(cmd, list, sizeof(list));
    if (optopt > 0 && optopt < 256)
        return kf_cli_usage(cmd, "option '-%c' is unknown; `krbfleet %s` takes %s", optopt,
                            cmd->name, list);
    if (known_elsewhere(word))
        return kf_cli_usage(cmd, "option '%.*s' is not for this command; `krbfleet %s` takes %s",
                            (int)strcspn(word, "="), word, cmd->name, list);
    return kf_cli_usage(cmd, "option '%.*s' is unknown; `krbfleet %s` takes %s",
                        (int)strcspn(word, "="), word, cmd->name, list);
}

/* Store the option O (its value VALUE) where its table entry says. */
static int
set_target(struct kf_args *a, const struct kf_opt *o, char *value, int argc)
{
    void *field = (char *)a + o->target;

    if (o->kind == KF_OPT_FLAG) {
        *(bool *)field = true;
    } else if (o->kind == KF_OPT_VALUE) {
        *(const char **)field = value;
    } else {
        struct kf_strlist *l = field;
        /* never more values than words on the command line */
        if (l->v == NULL && (l->v = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
            return -1;
        l->v[l->n++] = value;
    }
    return 0;
}

/* getopt_long's array from CMD's table (a new array, or NULL). */
static struct option *
longopts_of(const struct kf_command *cmd)
{
    size_t n = 0;
    struct option *lo;

    while (cmd->opts != NULL && cmd->opts[n].name != NULL)
        n++;
    if ((lo = calloc(n + 2, sizeof(*lo))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        lo[i] = (struct option){cmd->opts[i].name,
                                cmd->opts[i].arg ? required_argument : no_argument, NULL,
                                256 + (int)i};
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    return lo;
}

/* The operands' count and the required options, after parsing. */
static int
check_args(const struct kf_command *cmd, const struct kf_args *a)
{
    if (a->n_operands < cmd->min_operands)
        return kf_cli_usage(cmd, "%s", cmd->missing ? cmd->missing : "missing argument");
    if (a->n_operands > cmd->max_operands)
        return kf_cli_usage(cmd, "unexpected argument \"%s\"", a->operands[cmd->max_operands]);
    for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++) {
        const struct kf_opt *o = &cmd->opts[i];
        const char *v = o->kind == KF_OPT_VALUE ? *(const char *const *)((const char *)a + o->target)
                                                : "";
        if (o->required == NULL || (v != NULL && v[0] != '\0'))
            continue;
        if (o->required[0] == '\0')
            return kf_cli_usage(cmd, "--%s is required", o->name);
        return kf_cli_usage(cmd, "--%s %s is required (%s)", o->name, o->arg, o->required);
    }
    return -1;
}

int
kf_cli_parse(struct kf_cli *cli, const struct kf_command *cmd, int argc, char **argv)
{
    struct kf_args *a = &cli->args;
    struct option *lo = longopts_of(cmd);
    int c, idx = 0, rc = -1;

    if (lo == NULL)
        return kf_cli_fail(cli, KF_ERR_NOMEM);
    opterr = 0;
    optind = 0;
    /* a leading ':' in the short options: a missing value is ':', not '?' */
    while (rc < 0 && (c = getopt_long(argc, argv, ":", lo, &idx)) != -1) {
        if (c == 'h') {
            kf_cli_help(cmd);
            rc = 0;
        } else if (c == ':') {
            rc = kf_cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        } else if (c == '?') {
            rc = unknown_option(cmd, argv[optind - 1]);
        } else if (set_target(a, &cmd->opts[c - 256], optarg, argc) != 0) {
            rc = kf_cli_fail(cli, KF_ERR_NOMEM);
        }
    }
    free(lo);
    if (rc >= 0)
        return rc;
    a->operands = argv + optind;
    a->n_operands = argc - optind;
    return check_args(cmd, a);
}

void
kf_cli_args_done(struct kf_args *a)
{
    free(a->web_fqdns.v);
    free(a->sites.v);
    a->web_fqdns = (struct kf_strlist){0};
    a->sites = (struct kf_strlist){0};
}
