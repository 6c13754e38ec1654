/* agentstate.c - the agent's record of committed kvnos (agentstate.h). */
#include "agentstate.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileout.h"
#include "strv.h"

#define FORMAT 1

static void
account_done(struct kf_committed_account *a)
{
    free(a->account);
    free(a->members_group);
    kf_strv_free(a->principals, a->n_principals);
    kf_strv_free(a->servers, a->n_servers);
    free(a->commits);
    memset(a, 0, sizeof(*a));
}

struct kf_agent_state *
kf_agent_state_new(void)
{
    return calloc(1, sizeof(struct kf_agent_state));
}

void
kf_agent_state_free(struct kf_agent_state *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        account_done(&s->v[i]);
    free(s->v);
    free(s);
}

static bool
name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KF_AGENTSTATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* --- decoding ----------------------------------------------------------- */

static kf_status
bad(struct kf_err *err, size_t i, const char *what)
{
    return kf_err_set(err, KF_ERR_INVALID, "committed state: account %zu: %s", i + 1, what);
}

static kf_status
get_names(json_t *arr, size_t max, char ***out, size_t *n, bool need_one, struct kf_err *err,
          size_t i, const char *what)
{
    size_t k;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) > max ||
        (need_one && json_array_size(arr) == 0))
        return bad(err, i, what);
    json_array_foreach(arr, k, v) {
        const char *s = json_string_value(v);
        if (s == NULL || strlen(s) != json_string_length(v) || !name_ok(s) ||
            kf_strv_contains_ci(*out, *n, s))
            return bad(err, i, what);
        if (kf_strv_push(out, n, s) != 0)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    return KF_OK;
}

static kf_status
get_commits(json_t *arr, struct kf_committed_account *a, struct kf_err *err, size_t i)
{
    size_t k;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > KF_AGENTSTATE_COMMITS_MAX)
        return bad(err, i, "\"committed\" must hold 1 to 16 kvnos");
    a->commits = calloc(json_array_size(arr), sizeof(*a->commits));
    if (a->commits == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    json_array_foreach(arr, k, v) {
        json_t *kv = json_object_get(v, "kvno"), *at = json_object_get(v, "at");
        json_int_t kvno = json_integer_value(kv), t = json_integer_value(at);

        if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(kv) ||
            !json_is_integer(at) || kvno < 1 || kvno > UINT32_MAX || t < 0)
            return bad(err, i, "a committed kvno is not {\"kvno\": 1.., \"at\": 0..}");
        if (a->n_commits > 0 && (uint32_t)kvno <= a->commits[a->n_commits - 1].kvno)
            return bad(err, i, "committed kvnos are not ascending");
        a->commits[a->n_commits].kvno = (uint32_t)kvno;
        a->commits[a->n_commits].at = (int64_t)t;
        a->n_commits++;
    }
    return KF_OK;
}

static kf_status
get_account(json_t *o, struct kf_committed_account *a, struct kf_err *err, size_t i)
{
    json_t *name = json_object_get(o, "account"), *grace = json_object_get(o, "grace");
    json_t *group = json_object_get(o, "members_group");
    kf_status st;

    if (!json_is_object(o) || json_object_size(o) != 6)
        return bad(err, i, "not an object of account, grace, members_group, principals, "
                           "servers, committed");
    if (!json_is_string(group) ||
        strlen(json_string_value(group)) != json_string_length(group) ||
        (json_string_length(group) > 0 && !name_ok(json_string_value(group))))
        return bad(err, i, "bad \"members_group\"");
    if ((a->members_group = strdup(json_string_value(group))) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (!json_is_string(name) || strlen(json_string_value(name)) != json_string_length(name) ||
        !name_ok(json_string_value(name)))
        return bad(err, i, "bad \"account\"");
    if (!json_is_integer(grace) || json_integer_value(grace) < 0 ||
        json_integer_value(grace) > KF_AGENTSTATE_GRACE_MAX)
        return bad(err, i, "bad \"grace\"");
    if ((a->account = strdup(json_string_value(name))) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    a->grace_s = (uint32_t)json_integer_value(grace);
    st = get_names(json_object_get(o, "principals"), KF_AGENTSTATE_PRINCIPALS_MAX,
                   &a->principals, &a->n_principals, true, err, i, "bad \"principals\"");
    if (st == KF_OK)
        st = get_names(json_object_get(o, "servers"), KF_AGENTSTATE_SERVERS_MAX, &a->servers,
                       &a->n_servers, false, err, i, "bad \"servers\"");
    if (st == KF_OK)
        st = get_commits(json_object_get(o, "committed"), a, err, i);
    return st;
}

kf_status
kf_agent_state_decode(const char *text, size_t len, struct kf_agent_state **out,
                      struct kf_err *err)
{
    _cleanup_(kf_agent_state_freep) struct kf_agent_state *s = NULL;
    json_error_t je;
    json_t *root, *accts, *v;
    size_t i;
    kf_status st = KF_OK;

    *out = NULL;
    if (len > KF_AGENTSTATE_FILE_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "committed state of %zu bytes (at most %d)", len,
                          KF_AGENTSTATE_FILE_MAX);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return kf_err_set(err, KF_ERR_INVALID, "committed state is not JSON: %s (line %d)",
                          je.text, je.line);
    accts = json_object_get(root, "accounts");
    if (!json_is_object(root) || json_object_size(root) != 2 ||
        json_integer_value(json_object_get(root, "format")) != FORMAT ||
        !json_is_integer(json_object_get(root, "format")) || !json_is_array(accts) ||
        json_array_size(accts) > KF_AGENTSTATE_ACCOUNTS_MAX) {
        json_decref(root);
        return kf_err_set(err, KF_ERR_INVALID, "committed state is not {\"format\": 1, "
                                               "\"accounts\": [at most 16]}");
    }
    s = kf_agent_state_new();
    if (s == NULL || (json_array_size(accts) > 0 &&
                      (s->v = calloc(json_array_size(accts), sizeof(*s->v))) == NULL)) {
        json_decref(root);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    json_array_foreach(accts, i, v) {
        st = get_account(v, &s->v[i], err, i);
        s->n = i + 1;
        if (st == KF_OK && kf_agent_state_find(s, s->v[i].account) != &s->v[i])
            st = bad(err, i, "the account is named twice");
        if (st != KF_OK)
            break;
    }
    json_decref(root);
    if (st != KF_OK)
        return st;
    *out = TAKE_PTR(s);
    return KF_OK;
}

/* --- encoding ----------------------------------------------------------- */

static json_t *
names_json(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

kf_status
kf_agent_state_encode(const struct kf_agent_state *s, char **out, struct kf_err *err)
{
    json_t *root = json_object(), *accts = json_array();
    bool ok = root != NULL && accts != NULL;

    *out = NULL;
    for (size_t i = 0; ok && i < s->n; i++) {
        const struct kf_committed_account *a = &s->v[i];
        json_t *c = json_array();
        json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:o, s:o}", "account", a->account, "grace",
                              (json_int_t)a->grace_s, "members_group", a->members_group,
                              "principals",
                              names_json(a->principals, a->n_principals), "servers",
                              names_json(a->servers, a->n_servers), "committed", c);
        if (o == NULL) {
            ok = false;
            break;
        }
        for (size_t k = 0; ok && k < a->n_commits; k++)
            ok = json_array_append_new(c, json_pack("{s:I, s:I}", "kvno",
                                                    (json_int_t)a->commits[k].kvno, "at",
                                                    (json_int_t)a->commits[k].at)) == 0;
        ok = ok && json_array_append_new(accts, o) == 0;
    }
    if (ok)
        ok = json_object_set_new(root, "format", json_integer(FORMAT)) == 0 &&
             json_object_set(root, "accounts", accts) == 0;
    if (ok)
        *out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(accts);
    json_decref(root);
    if (*out == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

/* --- changes and queries ----------------------------------------------- */

const struct kf_committed_account *
kf_agent_state_find(const struct kf_agent_state *s, const char *account)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (strcasecmp(s->v[i].account, account) == 0)
            return &s->v[i];
    return NULL;
}

bool
kf_agent_state_is_committed(const struct kf_agent_state *s, const char *account, uint32_t kvno)
{
    const struct kf_committed_account *a = kf_agent_state_find(s, account);

    for (size_t k = 0; a != NULL && k < a->n_commits; k++)
        if (a->commits[k].kvno == kvno)
            return true;
    return false;
}

static kf_status
check_names(char *const *v, size_t n, size_t max, const char *what, struct kf_err *err)
{
    if (n > max)
        return kf_err_set(err, KF_ERR_INVALID, "COMMIT names %zu %s (at most %zu)", n, what, max);
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(v[i]))
            return kf_err_set(err, KF_ERR_INVALID, "COMMIT: a bad name among the %s", what);
        if (kf_strv_contains_ci(v, i, v[i]))
            return kf_err_set(err, KF_ERR_INVALID, "COMMIT names '%s' twice", v[i]);
    }
    return KF_OK;
}

static kf_status
copy_names(char *const *v, size_t n, char ***out, size_t *n_out)
{
    for (size_t i = 0; i < n; i++)
        if (kf_strv_push(out, n_out, v[i]) != 0)
            return KF_ERR_NOMEM;
    return KF_OK;
}

kf_status
kf_agent_state_commit(struct kf_agent_state *s, const char *account, uint32_t kvno, int64_t now,
                      uint32_t grace_s, const char *members_group, char *const *principals, size_t n_principals,
                      char *const *servers, size_t n_servers, struct kf_err *err)
{
    struct kf_committed_account fresh = {0}, *a = NULL;
    const struct kf_committed_account *old = kf_agent_state_find(s, account);
    size_t keep = 0, first = 0;
    kf_status st;

    if (members_group == NULL)
        members_group = "";
    if (!name_ok(account) || kvno == 0 || grace_s > KF_AGENTSTATE_GRACE_MAX ||
        n_principals == 0 || (members_group[0] != '\0' && !name_ok(members_group)))
        return kf_err_set(err, KF_ERR_INVALID, "COMMIT needs an account, a kvno from 1, a "
                                               "grace up to 366 days and its principals");
    if ((st = check_names(principals, n_principals, KF_AGENTSTATE_PRINCIPALS_MAX, "principals",
                          err)) != KF_OK ||
        (st = check_names(servers, n_servers, KF_AGENTSTATE_SERVERS_MAX, "servers", err)) !=
            KF_OK)
        return st;
    if (old == NULL && s->n >= KF_AGENTSTATE_ACCOUNTS_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "this agent already keeps %d accounts",
                          KF_AGENTSTATE_ACCOUNTS_MAX);
    /* build the new record aside, so S is unchanged on failure */
    fresh.account = strdup(account);
    fresh.members_group = strdup(members_group);
    fresh.grace_s = grace_s;
    fresh.commits = calloc(KF_AGENTSTATE_COMMITS_MAX, sizeof(*fresh.commits));
    if (fresh.account == NULL || fresh.members_group == NULL || fresh.commits == NULL ||
        copy_names(principals, n_principals, &fresh.principals, &fresh.n_principals) != KF_OK ||
        copy_names(servers, n_servers, &fresh.servers, &fresh.n_servers) != KF_OK) {
        account_done(&fresh);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; old != NULL && k < old->n_commits; k++)
        keep += old->commits[k].kvno < kvno;
    if (keep >= KF_AGENTSTATE_COMMITS_MAX)
        first = keep - (KF_AGENTSTATE_COMMITS_MAX - 1);
    for (size_t k = first; k < keep; k++)
        fresh.commits[fresh.n_commits++] = old->commits[k];
    fresh.commits[fresh.n_commits].kvno = kvno;
    fresh.commits[fresh.n_commits].at = now;
    for (size_t k = 0; old != NULL && k < old->n_commits; k++)
        if (old->commits[k].kvno == kvno)
            fresh.commits[fresh.n_commits].at = old->commits[k].at;
    fresh.n_commits++;
    if (old == NULL) {
        struct kf_committed_account *bigger = realloc(s->v, (s->n + 1) * sizeof(*bigger));
        if (bigger == NULL) {
            account_done(&fresh);
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
        s->v = bigger;
        a = &s->v[s->n++];
    } else {
        a = &s->v[old - s->v];
        account_done(a);
    }
    *a = fresh;
    return KF_OK;
}

size_t
kf_agent_state_fetchable(const struct kf_committed_account *a, int64_t now, uint32_t *out)
{
    size_t n = 0;

    if (a == NULL || a->n_commits == 0)
        return 0;
    out[n++] = a->commits[a->n_commits - 1].kvno;
    for (size_t k = a->n_commits - 1; k-- > 0;) {
        if (now - a->commits[k + 1].at >= (int64_t)a->grace_s)
            break;
        out[n++] = a->commits[k].kvno;
    }
    return n;
}

/* --- the file ----------------------------------------------------------- */

kf_status
kf_agent_state_path(const char *keytab, char **out, struct kf_err *err)
{
    if (asprintf(out, "%s.committed", keytab) < 0) {
        *out = NULL;
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    return KF_OK;
}

kf_status
kf_agent_state_load(const char *path, struct kf_agent_state **out, struct kf_err *err)
{
    _cleanup_free_ char *text = NULL;
    struct stat sb;
    size_t got = 0;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *out = kf_agent_state_new();
        return *out == NULL ? kf_err_set(err, KF_ERR_NOMEM, "out of memory") : KF_OK;
    }
    if (fd < 0)
        return kf_err_set(err, KF_ERR_IO, "cannot read the committed state %s: %s", path,
                          strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > KF_AGENTSTATE_FILE_MAX) {
        close(fd);
        return kf_err_set(err, KF_ERR_IO, "the committed state %s is not a regular file of at "
                                          "most %d bytes; remove it (the next rotation or "
                                          "sync writes it again)",
                          path, KF_AGENTSTATE_FILE_MAX);
    }
    text = malloc((size_t)sb.st_size + 1);
    if (text == NULL) {
        close(fd);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, text + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)sb.st_size)
        return kf_err_set(err, KF_ERR_IO, "cannot read the committed state %s", path);
    if (kf_agent_state_decode(text, got, out, err) != KF_OK)
        return kf_err_prefix(err, "%s", path);
    return KF_OK;
}

kf_status
kf_agent_state_save(const char *path, const struct kf_agent_state *s, struct kf_err *err)
{
    _cleanup_free_ char *text = NULL;
    kf_status st = kf_agent_state_encode(s, &text, err);

    if (st != KF_OK)
        return st;
    return kf_file_replace(path, text, strlen(text), 0600, "the committed state", err);
}
