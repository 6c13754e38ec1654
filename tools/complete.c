/* complete.c - the hidden `krbfleet __complete WORDS...` behind the bash
 * completion (tools/completion/krbfleet.bash), and `krbfleet __options`
 * behind the man page check. Both read the one command table
 * (commands.c), so an option can never be missing from completion. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmdlets.h"
#include "mem.h"
#include "topology.h"

/* What the words before the one being completed say. */
struct ctx {
    struct kf_cli cli;  /* --store and --config as given, for the store's names */
    char **words;       /* the words that are not global options */
    int n;
    const char *cur;    /* the word being completed, maybe "" */
};

/* Print CAND when it starts with PREFIX and is fit for a terminal and a
 * shell's word list (no control character, no newline). */
static void
offer(const char *prefix, const char *cand)
{
    if (strncmp(cand, prefix, strlen(prefix)) != 0)
        return;
    for (const char *p = cand; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return;
    printf("%s\n", cand);
}

/* Print NAME with HEAD before it ("--site=" NAME) when HEAD NAME starts
 * with CUR. */
static void
offer_with(const char *cur, const char *head, const char *name)
{
    char buf[1024];

    if ((size_t)snprintf(buf, sizeof(buf), "%s%s", head, name) < sizeof(buf))
        offer(cur, buf);
}

/* The store, if there is one, opened for reading only; NULL otherwise. */
static struct kf_store *
open_store(struct ctx *c)
{
    struct kf_store *st = NULL;
    char source[256];
    const char *path;

    if (kf_cli_config(&c->cli) != KF_OK)
        return NULL;
    path = kf_cli_store_path(&c->cli, source, sizeof(source));
    /* A PostgreSQL store is a network connection, authenticated with a
     * Kerberos ticket: not for a key press. */
    if (kf_store_is_url(path))
        return NULL;
    if (strncmp(path, "sqlite:", 7) == 0)
        path += 7;
    /* reading never creates a store: a missing one is KF_ERR_NOT_FOUND */
    if (access(path, F_OK) != 0 ||
        kf_store_open_for(path, KF_STORE_FOR_READING, &st, &c->cli.err) != KF_OK)
        return NULL;
    return st;
}

KF_DEFINE_CLEANUP(struct kf_topology, kf_topology_free)

/* The store's names of KIND that start with CUR, HEAD before each. */
static void
offer_names(struct ctx *c, enum kf_names kind, const char *head, const char *cur)
{
    _cleanup_(kf_topology_freep) struct kf_topology *topo = NULL;
    struct kf_store *st;
    struct kf_account *list = NULL;
    size_t n = 0;

    if (kind == KF_NAMES_NONE || kind == KF_NAMES_FILE || (st = open_store(c)) == NULL)
        return;
    if (kind == KF_NAMES_ACCOUNT) {
        if (kf_store_account_list(st, &list, &n, &c->cli.err) == KF_OK)
            for (size_t i = 0; i < n; i++)
                offer_with(cur, head, list[i].name);
        kf_account_list_free(list, n);
    } else if (kf_store_topology_load(st, &topo, &c->cli.err) == KF_OK) {
        for (size_t i = 0; i < topo->n_sites; i++) {
            const struct kf_site *s = &topo->sites[i];
            if (kind == KF_NAMES_SITE)
                offer_with(cur, head, s->name);
            for (size_t j = 0; j < s->n_pools; j++) {
                if (kind == KF_NAMES_POOL)
                    offer_with(cur, head, s->pools[j].fqdn);
                for (size_t k = 0; kind == KF_NAMES_SERVER && k < s->pools[j].n_servers; k++)
                    offer_with(cur, head, s->pools[j].servers[k].fqdn);
            }
        }
    }
    kf_store_free(st);
}

/* The first words of the commands ("site", "sync", ...) and "help". */
static void
offer_commands(const char *cur)
{
    offer(cur, "help");
    for (size_t i = 0; i < kf_n_commands; i++) {
        const char *name = kf_commands[i].name;
        size_t len = strcspn(name, " ");
        bool seen = false;
        char word[64];
        for (size_t k = 0; k < i && !seen; k++)
            seen = strncmp(kf_commands[k].name, name, len) == 0 &&
                   (kf_commands[k].name[len] == ' ' || kf_commands[k].name[len] == '\0');
        if (!seen && len < sizeof(word)) {
            memcpy(word, name, len);
            word[len] = '\0';
            offer(cur, word);
        }
    }
}

/* The subcommands of GROUP ("add", "list", ... of "site"). */
static void
offer_subcommands(const char *group, const char *cur)
{
    size_t len = strlen(group);

    for (size_t i = 0; i < kf_n_commands; i++)
        if (strncmp(kf_commands[i].name, group, len) == 0 && kf_commands[i].name[len] == ' ')
            offer(cur, kf_commands[i].name + len + 1);
}

static void
offer_options(const struct kf_opt *opts, const char *cur)
{
    for (size_t i = 0; opts != NULL && opts[i].name != NULL; i++)
        offer_with(cur, "--", opts[i].name);
}

/* CMD's option WORD names ("--site", "--site=x", an unambiguous
 * abbreviation as getopt_long takes it), or NULL. */
static const struct kf_opt *
find_opt(const struct kf_opt *opts, const char *word)
{
    const struct kf_opt *hit = NULL;
    bool ambiguous = false;
    size_t len;

    if (opts == NULL || strncmp(word, "--", 2) != 0)
        return NULL;
    word += 2;
    len = strcspn(word, "=");
    for (size_t i = 0; opts[i].name != NULL; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, word, len) == 0)
            return &opts[i];
        if (len > 0 && strncmp(opts[i].name, word, len) == 0) {
            ambiguous = hit != NULL;
            hit = &opts[i];
        }
    }
    return ambiguous ? NULL : hit; /* an abbreviation counts when it names one option */
}

/* Complete for command CMD, whose arguments are WORDS[0..N). */
static void
complete_command(struct ctx *c, const struct kf_command *cmd, char **words, int n)
{
    const char *cur = c->cur, *eq = strchr(cur, '=');
    const struct kf_opt *o;
    int operands = 0;

    /* "--site=re": the value after the '=' */
    if (strncmp(cur, "--", 2) == 0 && eq != NULL) {
        if ((o = find_opt(cmd->opts, cur)) != NULL && o->arg != NULL) {
            char head[128];
            snprintf(head, sizeof(head), "%.*s", (int)(eq - cur + 1), cur);
            offer_names(c, o->names, head, cur);
        }
        return;
    }
    /* "--site re" (or "--site = re", as bash splits it without bash-completion) */
    if (n >= 1 && (o = find_opt(cmd->opts, words[n - 1])) != NULL && o->arg != NULL &&
        strchr(words[n - 1], '=') == NULL) {
        offer_names(c, o->names, "", cur);
        return;
    }
    if (n >= 2 && strcmp(words[n - 1], "=") == 0 && (o = find_opt(cmd->opts, words[n - 2])) &&
        o->arg != NULL) {
        offer_names(c, o->names, "", cur);
        return;
    }
    if (cur[0] == '-') {
        offer_options(cmd->opts, cur);
        offer_options(kf_global_opts, cur);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(words[i], "--") == 0) {
            operands += n - i - 1;
            break;
        }
        if (words[i][0] != '-' || words[i][1] == '\0')
            operands++;
        else if ((o = find_opt(cmd->opts, words[i])) != NULL && o->arg != NULL &&
                 strchr(words[i], '=') == NULL)
            i++; /* its value */
    }
    if (operands < cmd->max_operands)
        offer_names(c, cmd->operand_names, "", cur);
}

/* Take the global options out of ARGV[0..ARGC-1) (the last word is the one
 * being completed) into C. Returns false when the word being completed is
 * the value of one (a file name: the shell's own completion). */
static bool
take_globals(struct ctx *c, int argc, char **argv)
{
    for (int i = 0; i < argc - 1; i++) {
        const char *a = argv[i];
        const char **dest = NULL;
        if (strcmp(a, "--store") == 0 || strncmp(a, "--store=", 8) == 0)
            dest = &c->cli.store_opt;
        else if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0)
            dest = &c->cli.config_opt;
        else if (strcmp(a, "--json") == 0)
            continue;
        if (dest == NULL) {
            c->words[c->n++] = argv[i];
            continue;
        }
        if (strchr(a, '=') != NULL)
            *dest = strchr(a, '=') + 1;
        else if (i + 1 < argc - 1)
            *dest = argv[++i];
        else
            return false;
    }
    return true;
}

static void
complete(struct ctx *c, int argc, char **argv)
{
    const struct kf_command *cmd;
    int words = 0;

    c->cur = argc > 0 ? argv[argc - 1] : "";
    if (!take_globals(c, argc, argv) || strncmp(c->cur, "--store=", 8) == 0 ||
        strncmp(c->cur, "--config=", 9) == 0)
        return;
    if (c->n == 0) {
        if (c->cur[0] == '-')
            offer_options(kf_global_opts, c->cur);
        else
            offer_commands(c->cur);
        return;
    }
    if (strcmp(c->words[0], "help") == 0) {
        if (c->n == 1) {
            offer_commands(c->cur);
            offer(c->cur, "cmdlets"); /* `krbfleet help cmdlets` */
        }
        else if (c->n == 2)
            offer_subcommands(c->words[1], c->cur);
        return;
    }
    cmd = kf_command_find(c->n, c->words, &words);
    if (cmd != NULL)
        complete_command(c, cmd, c->words + words, c->n - words);
    else if (c->n == 1)
        offer_subcommands(c->words[0], c->cur);
}

int
kf_cli_complete(int argc, char **argv)
{
    struct ctx c = {0};
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    /* nothing on stderr, whatever a library might say */
    if (null < 0 || dup2(null, STDERR_FILENO) < 0)
        return 0;
    close(null);
    if ((c.words = calloc((size_t)argc + 1, sizeof(char *))) != NULL)
        complete(&c, argc, argv);
    free(c.words);
    kf_config_free(c.cli.cfg);
    fflush(stdout);
    return 0;
}

static void
dump_cmdlet_option(const char *cmdlet, const char *command, const char *option, bool value,
                   void *ctx)
{
    (void)ctx;
    printf("cmdlet\t%s\t%s\t%s\t%s\n", cmdlet, command, option, value ? "value" : "flag");
}

int
kf_cli_dump_options(void)
{
    for (size_t i = 0; i < kf_n_commands; i++) {
        const struct kf_command *cmd = &kf_commands[i];
        printf("command\t%s\n", cmd->name);
        for (const struct kf_opt *o = cmd->opts; o != NULL && o->name != NULL; o++)
            printf("option\t%s\t--%s\t%s\n", cmd->name, o->name, o->arg ? "value" : "flag");
    }
    for (const struct kf_opt *o = kf_global_opts; o->name != NULL; o++)
        printf("global\t--%s\t%s\n", o->name, o->arg ? "value" : "flag");
    kf_cmdlet_foreach_option(dump_cmdlet_option, NULL);
    return fflush(stdout) == 0 ? 0 : 1;
}
