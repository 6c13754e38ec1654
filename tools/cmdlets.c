/* cmdlets.c - the Lync Server cmdlets translated onto krbfleet commands
 * (see cmdlets.h). */
#include "cmdlets.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum param_kind {
    P_OPTION,  /* -Name VALUE  -> --option VALUE */
    P_OPERAND, /* -Name VALUE  -> VALUE, the command's operand */
    P_SITE,    /* -Identity site:NAME -> --option name (lower case) */
    P_SWITCH,  /* -Name        -> --option */
    P_NOTHING, /* -Verbose: accepted, changes nothing */
};

struct kf_cmdlet_param {
    const char *name; /* "UserAccount" */
    enum param_kind kind;
    const char *option; /* "--account"; NULL for an operand or nothing */
    const char *value;  /* what the value looks like: "'DOMAIN\name'" */
    bool required;
    bool positional; /* also taken from a word that names no parameter */
};

#define PARAMS_MAX 6

struct kf_cmdlet {
    const char *name;                          /* "New-CsKerberosAccountAssignment" */
    const char *command;                       /* "assignment new" */
    const char *note;                          /* printed under the table line; may be NULL */
    struct kf_cmdlet_param params[PARAMS_MAX]; /* up to the first name NULL */
};

/* One cmdlet per entry reads best as a table. */
/* clang-format off */
#define ACCOUNT_VALUE "'DOMAIN\\name'"
#define IDENTITY(req) {"Identity", P_SITE, "--site", "site:NAME", req, true}
#define WHATIF {"WhatIf", P_SWITCH, "--dry-run", NULL, false, false}

static const struct kf_cmdlet cmdlets[] = {
    {"New-CsKerberosAccount", "account new", NULL,
     {{"UserAccount", P_OPERAND, NULL, ACCOUNT_VALUE, true, false},
      {"ContainerDN", P_OPTION, "--container", "DN", false, false}}},
    {"New-CsKerberosAccountAssignment", "assignment new", NULL,
     {{"UserAccount", P_OPTION, "--account", ACCOUNT_VALUE, true, false}, IDENTITY(true)}},
    {"Set-CsKerberosAccountAssignment", "assignment set", NULL,
     {{"UserAccount", P_OPTION, "--account", ACCOUNT_VALUE, true, false}, IDENTITY(true)}},
    {"Get-CsKerberosAccountAssignment", "assignment get", NULL, {IDENTITY(false)}},
    {"Remove-CsKerberosAccountAssignment", "assignment remove", NULL, {IDENTITY(true)}},
    {"Set-CsKerberosAccountPassword", "password set",
     "-UserAccount: a new password for every server of its sites; -FromComputer\n"
     "and -ToComputer: copy the keys of one server to another",
     {{"UserAccount", P_OPTION, "--account", ACCOUNT_VALUE, false, false},
      {"FromComputer", P_OPTION, "--from", "SERVER", false, false},
      {"ToComputer", P_OPTION, "--to", "SERVER", false, false},
      WHATIF}},
    {"Test-CsKerberosAccountAssignment", "assignment test", NULL,
     {IDENTITY(true), {"Report", P_OPTION, "--report", "FILE.html", false, false}}},
    {"Test-CsTopology", "topology test", NULL, {{0}}},
    {"Enable-CsTopology", "topology enable", NULL, {WHATIF}},
    {"Get-CsService", "service list", NULL,
     {{"WebServer", P_SWITCH, "--webserver", NULL, false, false}}},
    {"Grant-CsSetupPermission", "permission grant",
     "the trustee is [permission] group of the configuration (required)",
     {{"ComputerOU", P_OPTION, "--container", "DN", true, false}}},
};

/* clang-format on */

#define N_CMDLETS (sizeof(cmdlets) / sizeof(cmdlets[0]))

/* Accepted by every cmdlet, as PowerShell's common parameters are. */
static const struct kf_cmdlet_param common_params[] = {
    {"Verbose", P_NOTHING, NULL, NULL, false, false},
};

#define N_COMMON (sizeof(common_params) / sizeof(common_params[0]))
#define ALL_MAX (PARAMS_MAX + N_COMMON)

/* PowerShell's parameter sets, for the cmdlets that have them: the
 * parameters given must all come from one set, and that set's parameters
 * must all be given. Parameters of no set go with any. */
#define SET_PARAMS_MAX 3
static const struct {
    const char *cmdlet;
    const char *sets[2][SET_PARAMS_MAX]; /* each up to the first NULL */
} param_sets[] = {
    {"Set-CsKerberosAccountPassword", {{"UserAccount"}, {"FromComputer", "ToComputer"}}},
};

#define N_PARAM_SETS (sizeof(param_sets) / sizeof(param_sets[0]))

/* The cmdlet's parameters, then the common ones, in P; returns how many. */
static size_t
all_params(const struct kf_cmdlet *c, const struct kf_cmdlet_param **p)
{
    size_t n = 0;

    for (size_t i = 0; i < PARAMS_MAX && c->params[i].name != NULL; i++)
        p[n++] = &c->params[i];
    for (size_t i = 0; i < N_COMMON; i++)
        p[n++] = &common_params[i];
    return n;
}

static bool
is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

bool
kf_cmdlet_word(const char *word)
{
    const char *dash = strchr(word, '-');
    size_t i;

    if (dash == NULL || dash == word || strncasecmp(dash + 1, "cs", 2) != 0 || !is_alpha(dash[3]))
        return false;
    for (i = 0; word + i < dash; i++)
        if (!is_alpha(word[i]))
            return false;
    for (i = 3; dash[i] != '\0'; i++)
        if (!is_alpha(dash[i]))
            return false;
    return true;
}

const struct kf_cmdlet *
kf_cmdlet_find(const char *word)
{
    for (size_t i = 0; i < N_CMDLETS; i++)
        if (strcasecmp(word, cmdlets[i].name) == 0)
            return &cmdlets[i];
    return NULL;
}

const char *
kf_cmdlet_command(const struct kf_cmdlet *c)
{
    return c->command;
}

/* A word that names a parameter: "-Name", "-Name:value" (never a value such
 * as "-" or "--x"). */
static bool
is_param_word(const char *a)
{
    return a[0] == '-' && is_alpha(a[1]);
}

/* "-UserAccount, -ContainerDN, -Verbose" for messages. */
static void
param_list(const struct kf_cmdlet *c, char *buf, size_t size)
{
    const struct kf_cmdlet_param *p[ALL_MAX];
    size_t n = all_params(c, p), used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s-%s", i ? ", " : "", p[i]->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int
kf_cmdlet_match(const char *const *names, size_t n, const char *word, size_t len)
{
    int hit = -1;

    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], word, len) == 0)
            return (int)i;
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) > len && strncasecmp(names[i], word, len) == 0) {
            if (hit >= 0)
                return -2;
            hit = (int)i;
        }
    }
    return hit;
}

/* The parameter of C that WORD (LEN bytes, without its '-') names. */
static kf_status
match_param(const struct kf_cmdlet *c, const char *word, size_t len,
            const struct kf_cmdlet_param **out, struct kf_err *err)
{
    const struct kf_cmdlet_param *p[ALL_MAX];
    const char *names[ALL_MAX];
    size_t n = all_params(c, p), used = 0;
    char list[256];
    int k;

    for (size_t i = 0; i < n; i++)
        names[i] = p[i]->name;
    if ((k = kf_cmdlet_match(names, n, word, len)) >= 0) {
        *out = p[k];
        return KF_OK;
    }
    if (k == -1) {
        param_list(c, list, sizeof(list));
        return kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%.*s is unknown; it takes %s", c->name,
                          (int)len, word, list);
    }
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        if (strncasecmp(names[i], word, len) == 0) {
            int w =
                snprintf(list + used, sizeof(list) - used, "%s-%s", used ? " or " : "", names[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
    }
    return kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%.*s is ambiguous: %s", c->name, (int)len,
                      word, list);
}

/* Which set of SETS parameter NAME belongs to: 0, 1, or -1 for none. */
static int
set_of(const char *const (*sets)[SET_PARAMS_MAX], const char *name)
{
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < SET_PARAMS_MAX && sets[s][i] != NULL; i++)
            if (strcmp(sets[s][i], name) == 0)
                return s;
    return -1;
}

/* "-FromComputer and -ToComputer" */
static void
set_text(const char *const *set, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < SET_PARAMS_MAX && set[i] != NULL && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s-%s", i ? " and " : "", set[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* The parameters given (GIVEN, in P's order) against C's parameter sets. */
static kf_status
check_sets(const struct kf_cmdlet *c, const struct kf_cmdlet_param *const *p, size_t n,
           const bool *given, struct kf_err *err)
{
    const char *const(*sets)[SET_PARAMS_MAX] = NULL;
    const char *first = NULL;
    char a[96], b[96];
    int chosen = -1;

    for (size_t i = 0; i < N_PARAM_SETS; i++)
        if (strcmp(param_sets[i].cmdlet, c->name) == 0)
            sets = param_sets[i].sets;
    if (sets == NULL)
        return KF_OK;
    set_text(sets[0], a, sizeof(a));
    set_text(sets[1], b, sizeof(b));
    for (size_t k = 0; k < n; k++) {
        int s = given[k] ? set_of(sets, p[k]->name) : -1;
        if (s < 0)
            continue;
        if (chosen >= 0 && s != chosen)
            return kf_err_set(err, KF_ERR_USAGE,
                              "%s: parameters -%s and -%s belong to different parameter sets: "
                              "give %s, or %s",
                              c->name, first, p[k]->name, a, b);
        chosen = s;
        first = p[k]->name;
    }
    if (chosen < 0)
        return kf_err_set(err, KF_ERR_USAGE, "%s: give %s, or %s", c->name, a, b);
    for (size_t i = 0; i < SET_PARAMS_MAX && sets[chosen][i] != NULL; i++)
        for (size_t k = 0; k < n; k++)
            if (strcmp(p[k]->name, sets[chosen][i]) == 0 && !given[k])
                return kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%s is required with -%s (%s)",
                                  c->name, p[k]->name, first, chosen ? b : a);
    return KF_OK;
}

/* A switch given as -Name:VALUE: $true/true/1 or $false/false/0. */
static kf_status
switch_value(const struct kf_cmdlet *c, const struct kf_cmdlet_param *p, const char *v, bool *on,
             struct kf_err *err)
{
    if (*v == '$')
        v++;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *on = true;
    else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *on = false;
    else
        return kf_err_set(err, KF_ERR_USAGE,
                          "%s: parameter -%s is a switch: -%s, -%s:$true or -%s:$false, not "
                          "\"%s\"",
                          c->name, p->name, p->name, p->name, p->name, v);
    return KF_OK;
}

/* site:Redmond -> "redmond" (a new string). */
static kf_status
site_value(const struct kf_cmdlet *c, const struct kf_cmdlet_param *p, const char *v, char **out,
           struct kf_err *err)
{
    char *s;

    *out = NULL;
    if (strncasecmp(v, "site:", 5) != 0 || v[5] == '\0')
        return kf_err_set(err, KF_ERR_USAGE,
                          "%s: parameter -%s is \"%s\"; a Kerberos account assignment belongs "
                          "to a site: write site:NAME, e.g. site:Redmond",
                          c->name, p->name, v);
    if ((s = strdup(v + 5)) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (char *q = s; *q != '\0'; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    *out = s;
    return KF_OK;
}

void
kf_cmdlet_call_done(struct kf_cmdlet_call *call)
{
    if (call->argv != NULL)
        for (int i = 0; i < call->argc; i++)
            free(call->argv[i]);
    free(call->argv);
    call->argv = NULL;
    call->argc = 0;
    call->cmdlet = NULL;
}

/* Append a copy of S (LEN bytes) to CALL; ARGV has room (see below). */
static kf_status
push(struct kf_cmdlet_call *call, const char *s, size_t len, struct kf_err *err)
{
    char *copy = strndup(s, len);

    if (copy == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    call->argv[call->argc++] = copy;
    return KF_OK;
}

static kf_status
push_str(struct kf_cmdlet_call *call, const char *s, struct kf_err *err)
{
    return push(call, s, strlen(s), err);
}

/* The krbfleet command line from the parameters' VALUES (in table order:
 * NULL for a parameter not given, "" for a switch that is on). */
static kf_status
build(const struct kf_cmdlet *c, const struct kf_cmdlet_param *const *p, size_t n,
      char *const *values, struct kf_cmdlet_call *call, struct kf_err *err)
{
    const char *cmd = c->command, *sp;
    const char *operand = NULL;
    kf_status rc = KF_OK;

    /* two command words, two words per parameter, "--", the operand, NULL */
    if ((call->argv = calloc(2 + 2 * n + 3, sizeof(char *))) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    call->cmdlet = c;
    while (rc == KF_OK && (sp = strchr(cmd, ' ')) != NULL) {
        rc = push(call, cmd, (size_t)(sp - cmd), err);
        cmd = sp + 1;
    }
    if (rc == KF_OK)
        rc = push_str(call, cmd, err);
    for (size_t i = 0; rc == KF_OK && i < n; i++) {
        if (values[i] == NULL || p[i]->kind == P_NOTHING)
            continue;
        if (p[i]->kind == P_OPERAND) {
            operand = values[i];
            continue;
        }
        rc = push_str(call, p[i]->option, err);
        if (rc == KF_OK && p[i]->kind != P_SWITCH)
            rc = push_str(call, values[i], err);
    }
    /* An operand that starts with '-' must not be read as an option. */
    if (rc == KF_OK && operand != NULL && operand[0] == '-')
        rc = push_str(call, "--", err);
    if (rc == KF_OK && operand != NULL)
        rc = push_str(call, operand, err);
    if (rc != KF_OK)
        kf_cmdlet_call_done(call);
    return rc;
}

static void
free_values(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(values[i]);
}

/* The value of parameter P as given (V), as the krbfleet command takes it. */
static kf_status
set_value(const struct kf_cmdlet *c, const struct kf_cmdlet_param *p, const char *v, char **value,
          struct kf_err *err)
{
    if (p->kind == P_SITE)
        return site_value(c, p, v, value, err);
    if ((*value = strdup(v)) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

kf_status
kf_cmdlet_translate(int argc, const char *const *argv, struct kf_cmdlet_call *call,
                    struct kf_err *err)
{
    const struct kf_cmdlet_param *p[ALL_MAX];
    char *values[ALL_MAX] = {NULL};
    bool given[ALL_MAX] = {false};
    const struct kf_cmdlet *c;
    kf_status rc = KF_OK;
    size_t n;

    *call = (struct kf_cmdlet_call){0};
    if (argc < 1 || (c = kf_cmdlet_find(argv[0])) == NULL)
        return kf_err_set(err, KF_ERR_USAGE,
                          "%s is not a cmdlet krbfleet knows; `krbfleet help cmdlets` lists "
                          "them",
                          argc < 1 ? "(nothing)" : argv[0]);
    n = all_params(c, p);
    for (int i = 1; rc == KF_OK && i < argc; i++) {
        const char *a = argv[i], *colon, *v = NULL;
        const struct kf_cmdlet_param *hit = NULL;
        size_t k = 0;

        if (a[0] == '-' && a[1] == '-' && is_alpha(a[2])) {
            /* a krbfleet option: it has its own command */
            char names[256];
            param_list(c, names, sizeof(names));
            rc = kf_err_set(err, KF_ERR_USAGE,
                            "%s: parameter %s is unknown (krbfleet options go with `krbfleet "
                            "%s`); it takes %s",
                            c->name, a, c->command, names);
            break;
        }
        if (!is_param_word(a)) {
            /* a value without a parameter name: the positional one */
            while (k < n && !(p[k]->positional && !given[k]))
                k++;
            if (k == n) {
                char names[256];
                param_list(c, names, sizeof(names));
                rc = kf_err_set(err, KF_ERR_USAGE,
                                "%s: \"%s\" is not a parameter and no parameter takes it by "
                                "position; it takes %s",
                                c->name, a, names);
                break;
            }
            given[k] = true;
            rc = set_value(c, p[k], a, &values[k], err);
            continue;
        }
        colon = strchr(a + 1, ':');
        rc = match_param(c, a + 1, colon ? (size_t)(colon - a - 1) : strlen(a + 1), &hit, err);
        if (rc != KF_OK)
            break;
        while (p[k] != hit)
            k++;
        if (given[k]) {
            rc = kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%s is given twice", c->name,
                            hit->name);
            break;
        }
        given[k] = true;
        if (hit->kind == P_SWITCH || hit->kind == P_NOTHING) {
            bool on = true;
            if (colon != NULL && (rc = switch_value(c, hit, colon + 1, &on, err)) != KF_OK)
                break;
            if (on && (values[k] = strdup("")) == NULL)
                rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            continue;
        }
        if (colon != NULL)
            v = colon + 1;
        else if (i + 1 < argc && !is_param_word(argv[i + 1]))
            v = argv[++i];
        if (v == NULL || *v == '\0') {
            rc = kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%s needs a value (%s)", c->name,
                            hit->name, hit->value);
            break;
        }
        rc = set_value(c, hit, v, &values[k], err);
    }
    for (size_t k = 0; rc == KF_OK && k < n; k++)
        if (p[k]->required && !given[k])
            rc = kf_err_set(err, KF_ERR_USAGE, "%s: parameter -%s is required (-%s %s)", c->name,
                            p[k]->name, p[k]->name, p[k]->value);
    if (rc == KF_OK)
        rc = check_sets(c, p, n, given, err);
    if (rc == KF_OK)
        rc = build(c, p, n, values, call, err);
    free_values(values, n);
    return rc;
}

/* One parameter as the cmdlet's synopsis writes it. */
static void
print_param(FILE *fp, const struct kf_cmdlet_param *p)
{
    fputs(p->required ? " " : " [", fp);
    fprintf(fp, p->positional ? "[-%s]" : "-%s", p->name);
    if (p->value != NULL)
        fprintf(fp, " %s", p->value);
    if (!p->required)
        fputc(']', fp);
}

/* The same parameter as the krbfleet command's synopsis writes it. */
static void
print_option(FILE *fp, const struct kf_cmdlet_param *p)
{
    if (p->kind == P_NOTHING)
        return;
    fputs(p->required ? " " : " [", fp);
    if (p->kind == P_OPERAND)
        fputs(p->value, fp);
    else if (p->kind == P_SITE)
        fprintf(fp, "%s NAME", p->option);
    else if (p->value != NULL)
        fprintf(fp, "%s %s", p->option, p->value);
    else
        fputs(p->option, fp);
    if (!p->required)
        fputc(']', fp);
}

void
kf_cmdlet_print(FILE *fp, const struct kf_cmdlet *c)
{
    fprintf(fp, "  %s", c->name);
    for (size_t i = 0; i < PARAMS_MAX && c->params[i].name != NULL; i++)
        print_param(fp, &c->params[i]);
    fprintf(fp, "\n      krbfleet %s", c->command);
    for (size_t i = 0; i < PARAMS_MAX && c->params[i].name != NULL; i++)
        print_option(fp, &c->params[i]);
    fputc('\n', fp);
    if (c->note != NULL) {
        const char *line = c->note, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            fprintf(fp, "      %.*s\n", (int)(nl - line), line);
            line = nl + 1;
        }
        fprintf(fp, "      %s\n", line);
    }
}

void
kf_cmdlet_print_table(FILE *fp)
{
    fprintf(fp, "The Lync Server cmdlets krbfleet accepts as commands, each with the krbfleet\n"
                "command it runs (same output, same exit status):\n\n");
    for (size_t i = 0; i < N_CMDLETS; i++)
        kf_cmdlet_print(fp, &cmdlets[i]);
    fprintf(fp, "\nAs in PowerShell, cmdlet and parameter names are case-insensitive, a parameter\n"
                "may be shortened to an unambiguous prefix (-user for -UserAccount) and written\n"
                "-Name:value, and -Identity may be left out before its value. A site identity\n"
                "is site:NAME in any case: site:Redmond is the site redmond. A switch is on\n"
                "when named; -Switch:$false leaves it off. -WhatIf is --dry-run. -Verbose is\n"
                "accepted by every cmdlet and changes nothing: krbfleet always prints every\n"
                "finding. Any other parameter, one given twice or one without its value is a\n"
                "usage error (exit status 2) that names it. Global options (--json, --store,\n"
                "--config) work as with any command.\n");
}

void
kf_cmdlet_foreach_option(void (*fn)(const char *cmdlet, const char *command, const char *option,
                                    bool value, void *ctx),
                         void *ctx)
{
    for (size_t i = 0; i < N_CMDLETS; i++)
        for (size_t k = 0; k < PARAMS_MAX && cmdlets[i].params[k].name != NULL; k++) {
            const struct kf_cmdlet_param *p = &cmdlets[i].params[k];
            if (p->option != NULL)
                fn(cmdlets[i].name, cmdlets[i].command, p->option, p->kind != P_SWITCH, ctx);
        }
}
