/* tickets.c - the agents' service tickets kept between runs (tickets.h). */
#include "tickets.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

#define MIN_LIFE_S 300 /* a ticket with less left is not kept nor reused */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *dir;            /* configured; NULL: not in use */
    bool tried;           /* set up (or failed to) once */
    bool ok;              /* the shared ccache is there */
    int dirfd;            /* the directory, checked; -1: do not write */
    char file[256];       /* the file's name in the directory */
    krb5_context ctx;
    krb5_ccache cc;       /* the shared MEMORY ccache */
    krb5_principal client;
    char name[128];       /* "MEMORY:..." */
    size_t loaded;
    char warning[512];
} g = {.dirfd = -1};

kf_status
kf_tickets_use(const char *dir, struct kf_err *err)
{
    char def[64];

    if (dir == NULL) {
        snprintf(def, sizeof(def), "%s/%lu", KF_TICKETS_DIR_BASE, (unsigned long)geteuid());
        dir = def;
    }
    if (dir[0] != '/' || strlen(dir) > 1024)
        return kf_err_set(err, KF_ERR_INVALID, "ticket cache %s: need an absolute path", dir);
    pthread_mutex_lock(&lock);
    free(g.dir);
    g.dir = strdup(dir);
    pthread_mutex_unlock(&lock);
    return g.dir == NULL ? kf_err_set(err, KF_ERR_NOMEM, "out of memory") : KF_OK;
}

static void
warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warn(const char *fmt, ...)
{
    va_list ap;

    if (g.warning[0] != '\0')
        return; /* the first reason is the one to fix */
    va_start(ap, fmt);
    vsnprintf(g.warning, sizeof(g.warning), fmt, ap);
    va_end(ap);
}

/* The file's name: "tickets-" and the client principal, every byte but
 * [A-Za-z0-9._-] as %XX (so '/' and '@' cannot make a path). */
static bool
file_name(const char *principal, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(out, size, "tickets-");

    for (const unsigned char *p = (const unsigned char *)principal; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';
        if (n + 4 >= size)
            return false;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return true;
}

/* Open the directory (creating it 0700 when missing, and its parent when
 * it is the default place), refuse what is not ours alone. */
static int
open_dir(void)
{
    struct stat st;
    int fd;

    if (mkdir(g.dir, 0700) != 0 && errno == ENOENT) {
        char parent[1100];
        char *slash;
        snprintf(parent, sizeof(parent), "%s", g.dir);
        slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent) {
            *slash = '\0';
            if (strcmp(parent, KF_TICKETS_DIR_BASE) == 0)
                (void)mkdir(parent, 0755);
        }
        (void)mkdir(g.dir, 0700);
    }
    fd = open(g.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        warn("ticket cache %s not used: %s", g.dir,
             errno == ELOOP || errno == ENOTDIR ? "not a directory (a symlink?)" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        warn("ticket cache %s not used: it must be a directory of user %lu with mode 0700 "
             "(it is user %lu, mode %04o)",
             g.dir, (unsigned long)geteuid(), (unsigned long)st.st_uid,
             (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

static bool
is_host_ticket(krb5_context ctx, const krb5_creds *c, krb5_principal client)
{
    const krb5_data *c0;

    if (krb5_is_config_principal(ctx, c->server) || c->server->length != 2 ||
        !krb5_principal_compare(ctx, c->client, client))
        return false;
    c0 = &c->server->data[0];
    return c0->length == 4 && memcmp(c0->data, "host", 4) == 0;
}

/* Copy the file's valid host/ tickets of our client into the shared cache. */
static void
load_file(void)
{
    char path[128];
    struct stat st;
    krb5_ccache fcc = NULL;
    krb5_cc_cursor cur;
    krb5_creds c;
    krb5_timestamp now = (krb5_timestamp)time(NULL);
    krb5_error_code ret;
    int fd;

    fd = openat(g.dirfd, g.file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            warn("ticket cache %s/%s not read: %s", g.dir, g.file,
                 errno == ELOOP ? "it is a symlink" : strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0 || st.st_size > KF_TICKETS_FILE_MAX) {
        warn("ticket cache %s/%s not read: not a regular file of user %lu, mode 0600, at most "
             "%d bytes; it will be replaced",
             g.dir, g.file, (unsigned long)geteuid(), KF_TICKETS_FILE_MAX);
        close(fd);
        return;
    }
    snprintf(path, sizeof(path), "FILE:/proc/self/fd/%d", fd);
    if (krb5_cc_resolve(g.ctx, path, &fcc) != 0 || krb5_cc_start_seq_get(g.ctx, fcc, &cur) != 0) {
        if (st.st_size > 0)
            warn("ticket cache %s/%s not read: not a ticket cache; it will be replaced", g.dir,
                 g.file);
        goto out;
    }
    while ((ret = krb5_cc_next_cred(g.ctx, fcc, &cur, &c)) == 0) {
        if (g.loaded < KF_TICKETS_MAX && is_host_ticket(g.ctx, &c, g.client) &&
            c.times.endtime - now > MIN_LIFE_S && krb5_cc_store_cred(g.ctx, g.cc, &c) == 0)
            g.loaded++;
        krb5_free_cred_contents(g.ctx, &c);
    }
    if (ret != KRB5_CC_END)
        warn("ticket cache %s/%s: unreadable after %zu tickets; it will be replaced", g.dir,
             g.file, g.loaded);
    krb5_cc_end_seq_get(g.ctx, fcc, &cur);
out:
    if (fcc != NULL)
        krb5_cc_close(g.ctx, fcc);
    close(fd);
}

static bool
setup(krb5_principal client, const krb5_creds *tgt)
{
    char *pname = NULL;

    if (krb5_init_context(&g.ctx) != 0) {
        g.ctx = NULL;
        return false;
    }
    if (krb5_copy_principal(g.ctx, client, &g.client) != 0 ||
        krb5_unparse_name(g.ctx, client, &pname) != 0 ||
        krb5_cc_new_unique(g.ctx, "MEMORY", NULL, &g.cc) != 0)
        return false;
    if (krb5_cc_initialize(g.ctx, g.cc, client) != 0 ||
        krb5_cc_store_cred(g.ctx, g.cc, (krb5_creds *)(uintptr_t)tgt) != 0) {
        krb5_free_unparsed_name(g.ctx, pname);
        return false;
    }
    snprintf(g.name, sizeof(g.name), "MEMORY:%s", krb5_cc_get_name(g.ctx, g.cc));
    if (!file_name(pname, g.file, sizeof(g.file)))
        warn("ticket cache not used: the principal %s is too long for a file name", pname);
    else if ((g.dirfd = open_dir()) >= 0)
        load_file();
    krb5_free_unparsed_name(g.ctx, pname);
    return true;
}

bool
kf_tickets_ccache(krb5_context ctx, krb5_principal client, const krb5_creds *tgt, char *name,
                  size_t size)
{
    bool ok;

    pthread_mutex_lock(&lock);
    if (g.dir != NULL && !g.tried) {
        g.tried = true;
        g.ok = setup(client, tgt);
    }
    ok = g.ok && krb5_principal_compare(ctx, client, g.client) &&
         (size_t)snprintf(name, size, "%s", g.name) < size;
    pthread_mutex_unlock(&lock);
    return ok;
}

void
kf_tickets_drop(krb5_context ctx, krb5_principal server)
{
    krb5_creds match;

    (void)ctx;
    memset(&match, 0, sizeof(match));
    pthread_mutex_lock(&lock);
    if (g.ok) {
        match.client = g.client;
        match.server = server;
        krb5_cc_remove_cred(g.ctx, g.cc, 0, &match);
    }
    pthread_mutex_unlock(&lock);
}

/* Write the shared cache's host/ tickets into the file NAME of the
 * directory (created by libkrb5 0600); returns how many. */
static krb5_error_code
write_file(const char *name, size_t *saved)
{
    char path[400];
    krb5_ccache fcc = NULL;
    krb5_cc_cursor cur;
    krb5_creds c;
    krb5_timestamp now = (krb5_timestamp)time(NULL);
    krb5_error_code ret;

    *saved = 0;
    snprintf(path, sizeof(path), "FILE:/proc/self/fd/%d/%s", g.dirfd, name);
    if ((ret = krb5_cc_resolve(g.ctx, path, &fcc)) != 0)
        return ret;
    if ((ret = krb5_cc_initialize(g.ctx, fcc, g.client)) != 0 ||
        (ret = krb5_cc_start_seq_get(g.ctx, g.cc, &cur)) != 0) {
        krb5_cc_close(g.ctx, fcc);
        return ret;
    }
    while ((ret = krb5_cc_next_cred(g.ctx, g.cc, &cur, &c)) == 0) {
        if (*saved < KF_TICKETS_MAX && is_host_ticket(g.ctx, &c, g.client) &&
            c.times.endtime - now > MIN_LIFE_S) {
            if ((ret = krb5_cc_store_cred(g.ctx, fcc, &c)) != 0) {
                krb5_free_cred_contents(g.ctx, &c);
                break;
            }
            (*saved)++;
        }
        krb5_free_cred_contents(g.ctx, &c);
    }
    krb5_cc_end_seq_get(g.ctx, g.cc, &cur);
    krb5_cc_close(g.ctx, fcc);
    return ret == KRB5_CC_END ? 0 : ret;
}

kf_status
kf_tickets_save(struct kf_tickets_report *r, struct kf_err *err)
{
    uint8_t rnd[6];
    char tmp[32];
    kf_status st = KF_OK;
    krb5_error_code ret;
    int fd;

    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&lock);
    r->used = g.ok;
    r->loaded = g.loaded;
    if (!g.ok || g.dirfd < 0)
        goto out;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        st = kf_err_set(err, KF_ERR_IO, "ticket cache %s: no random name", g.dir);
        goto out;
    }
    snprintf(tmp, sizeof(tmp), ".new-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    ret = write_file(tmp, &r->saved);
    fd = openat(g.dirfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (ret != 0 || fd < 0 || fsync(fd) != 0 || renameat(g.dirfd, tmp, g.dirfd, g.file) != 0 ||
        fsync(g.dirfd) != 0) {
        const char *m = ret != 0 ? krb5_get_error_message(g.ctx, ret) : NULL;
        st = kf_err_set(err, KF_ERR_IO, "ticket cache %s/%s not written: %s", g.dir, g.file,
                        m != NULL ? m : strerror(errno));
        if (m != NULL)
            krb5_free_error_message(g.ctx, m);
        unlinkat(g.dirfd, tmp, 0);
    }
    if (fd >= 0)
        close(fd);
out:
    snprintf(r->warning, sizeof(r->warning), "%s", g.warning);
    pthread_mutex_unlock(&lock);
    return st;
}
