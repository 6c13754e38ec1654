/* keytab.c - read, change and atomically replace the web keytab. */
#include "keytab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

#define KT_VERSION 0x0502

static void
ctx_freep(krb5_context *ctx)
{
    if (*ctx != NULL)
        krb5_free_context(*ctx);
}

static kf_status
ctx_new(krb5_context *ctx, struct kf_err *err)
{
    krb5_error_code ret = krb5_init_context(ctx);

    if (ret != 0) {
        *ctx = NULL;
        return kf_err_set(err, KF_ERR_UNEXPECTED, "cannot start libkrb5 (error %d)", (int)ret);
    }
    return KF_OK;
}

/* Append a copy of E to KS; KF_ERR_NOMEM or KF_ERR_INVALID (key too long). */
static kf_status
add_entry(struct kf_keyset *ks, const struct kf_key_entry *e)
{
    if (e->key_len > KF_KEY_MAX)
        return KF_ERR_INVALID;
    return kf_keyset_add(ks, e) == 0 ? KF_OK : KF_ERR_NOMEM;
}

/* A counted field of the keytab file format: u16 length, then the bytes. */
static kf_status
get_counted(struct kf_buf *b, size_t max, const uint8_t **p, uint16_t *n)
{
    uint16_t len;

    if (kf_buf_get_u16(b, &len) != KF_OK || len > max || kf_buf_len(b) < len)
        return KF_ERR_INVALID;
    *p = kf_buf_ptr(b);
    *n = len;
    return kf_buf_skip(b, len);
}

/* One entry (the SIZE bytes after its size field) appended to KS. */
static kf_status
decode_entry(krb5_context ctx, const uint8_t *rec, size_t size, struct kf_keyset *ks, size_t at,
             struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_from(rec, size);
    krb5_data comp[KF_KEYTAB_COMPONENTS_MAX];
    krb5_principal_data pd;
    struct kf_key_entry e = {0};
    const uint8_t *realm, *key, *p;
    uint16_t n_comp, realm_len, key_len, enctype, n;
    uint32_t type, timestamp, kvno32;
    uint8_t kvno8;
    char *name = NULL;
    krb5_error_code ret;
    kf_status st;

    if (b == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    if (kf_buf_get_u16(b, &n_comp) != KF_OK || n_comp == 0 || n_comp > KF_KEYTAB_COMPONENTS_MAX)
        return kf_err_set(err, KF_ERR_INVALID,
                          "entry at byte %zu: a principal has 1 to %d name components", at,
                          KF_KEYTAB_COMPONENTS_MAX);
    if (get_counted(b, KF_KEYTAB_PRINCIPAL_MAX, &realm, &realm_len) != KF_OK || realm_len == 0)
        return kf_err_set(err, KF_ERR_INVALID, "entry at byte %zu: bad realm", at);
    for (uint16_t i = 0; i < n_comp; i++) {
        if (get_counted(b, KF_KEYTAB_PRINCIPAL_MAX, &p, &n) != KF_OK)
            return kf_err_set(err, KF_ERR_INVALID, "entry at byte %zu: bad name component %u", at,
                              (unsigned)i + 1);
        comp[i].magic = KV5M_DATA;
        comp[i].length = n;
        comp[i].data = (char *)(uintptr_t)p;
    }
    if (kf_buf_get_u32(b, &type) != KF_OK || kf_buf_get_u32(b, &timestamp) != KF_OK ||
        kf_buf_get_u8(b, &kvno8) != KF_OK || kf_buf_get_u16(b, &enctype) != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID, "entry at byte %zu: truncated", at);
    if (get_counted(b, KF_KEY_MAX, &key, &key_len) != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID,
                          "entry at byte %zu: a key longer than %d bytes or truncated", at,
                          KF_KEY_MAX);
    /* the 32-bit kvno is optional; when present and not 0 it wins */
    if (kf_buf_len(b) >= 4 && kf_buf_get_u32(b, &kvno32) == KF_OK && kvno32 != 0)
        e.kvno = kvno32;
    else
        e.kvno = kvno8;

    memset(&pd, 0, sizeof(pd));
    pd.magic = KV5M_PRINCIPAL;
    pd.realm.magic = KV5M_DATA;
    pd.realm.length = realm_len;
    pd.realm.data = (char *)(uintptr_t)realm;
    pd.data = comp;
    pd.length = n_comp;
    pd.type = (krb5_int32)type;
    ret = krb5_unparse_name(ctx, &pd, &name);
    if (ret != 0)
        return kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, "keytab entry principal");
    if (strlen(name) > KF_KEYTAB_PRINCIPAL_MAX) {
        krb5_free_unparsed_name(ctx, name);
        return kf_err_set(err, KF_ERR_INVALID, "entry at byte %zu: principal longer than %d", at,
                          KF_KEYTAB_PRINCIPAL_MAX);
    }
    e.principal = name;
    e.enctype = enctype;
    e.timestamp = timestamp;
    e.key_len = key_len;
    memcpy(e.key, key, key_len);
    st = kf_keyset_add(ks, &e) == 0 ? KF_OK : KF_ERR_NOMEM;
    explicit_bzero(e.key, sizeof(e.key));
    krb5_free_unparsed_name(ctx, name);
    if (st != KF_OK)
        return kf_err_set(err, st, "out of memory");
    return KF_OK;
}

kf_status
kf_keytab_decode(const uint8_t *data, size_t len, struct kf_keyset **out, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    _cleanup_(kf_keyset_freep) struct kf_keyset *ks = NULL;
    size_t at = 2;
    kf_status st;

    *out = NULL;
    if (len > KF_KEYTAB_FILE_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "larger than %d bytes", KF_KEYTAB_FILE_MAX);
    if (len < 2 || data[0] != 0x05 || (data[1] != 0x02 && data[1] != 0x01))
        return kf_err_set(err, KF_ERR_INVALID,
                          "not a keytab file (no version 0x0502 at the "
                          "start)");
    if (data[1] == 0x01)
        return kf_err_set(err, KF_ERR_INVALID,
                          "a keytab of the old version 0x0501 (host byte "
                          "order); rewrite it with ktutil");
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    if ((ks = kf_keyset_new()) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    while (at < len) {
        int32_t size;

        if (len - at < 4)
            return kf_err_set(err, KF_ERR_INVALID, "truncated at byte %zu", at);
        size = (int32_t)((uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 |
                         (uint32_t)data[at + 2] << 8 | data[at + 3]);
        at += 4;
        if (size == 0)
            break; /* the end, as libkrb5 reads it */
        if (size == INT32_MIN || (size_t)(size < 0 ? -(int64_t)size : size) > len - at)
            return kf_err_set(err, KF_ERR_INVALID, "entry at byte %zu: size %ld past the end",
                              at - 4, (long)size);
        if (size < 0) { /* a hole left by a removed entry */
            at += (size_t) - (int64_t)size;
            continue;
        }
        if (ks->n >= KF_KEYTAB_ENTRIES_MAX)
            return kf_err_set(err, KF_ERR_INVALID, "more than %d entries", KF_KEYTAB_ENTRIES_MAX);
        st = decode_entry(ctx, data + at, (size_t)size, ks, at - 4, err);
        if (st != KF_OK)
            return st;
        at += (size_t)size;
    }
    *out = TAKE_PTR(ks);
    return KF_OK;
}
static kf_status
put_counted(struct kf_buf *b, const void *p, size_t n)
{
    kf_status st;

    if (n > UINT16_MAX)
        return KF_ERR_INVALID;
    st = kf_buf_put_u16(b, (uint16_t)n);
    return st == KF_OK ? kf_buf_put(b, p, n) : st;
}

/* One entry of the keytab file format, without its leading size. */
static kf_status
encode_entry(krb5_context ctx, const struct kf_key_entry *e, struct kf_buf *b, struct kf_err *err)
{
    krb5_principal p = NULL;
    krb5_error_code ret;
    kf_status st;

    ret = krb5_parse_name(ctx, e->principal, &p);
    if (ret != 0)
        return kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, "principal in key set");
    st = p->length < 0 || p->length > UINT16_MAX ? KF_ERR_INVALID : KF_OK;
    if (st == KF_OK)
        st = kf_buf_put_u16(b, (uint16_t)p->length);
    if (st == KF_OK)
        st = put_counted(b, p->realm.data, p->realm.length);
    for (krb5_int32 i = 0; st == KF_OK && i < p->length; i++)
        st = put_counted(b, p->data[i].data, p->data[i].length);
    if (st == KF_OK)
        st = kf_buf_put_u32(b, (uint32_t)p->type);
    if (st == KF_OK)
        st = kf_buf_put_u32(b, e->timestamp);
    if (st == KF_OK)
        st = kf_buf_put_u8(b, (uint8_t)(e->kvno & 0xff));
    if (st == KF_OK)
        st = e->enctype < 0 || e->enctype > UINT16_MAX ? KF_ERR_INVALID : KF_OK;
    if (st == KF_OK)
        st = kf_buf_put_u16(b, (uint16_t)e->enctype);
    if (st == KF_OK)
        st = put_counted(b, e->key, e->key_len);
    if (st == KF_OK)
        st = kf_buf_put_u32(b, e->kvno);
    krb5_free_principal(ctx, p);
    if (st != KF_OK)
        return kf_err_set(err, st, "cannot encode the keytab entry of %s", e->principal);
    return KF_OK;
}

kf_status
kf_keytab_encode(const struct kf_keyset *ks, struct kf_buf *out, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    _cleanup_(kf_buf_freep) struct kf_buf *one = kf_buf_new(64 * 1024);
    kf_status st;

    if (one == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_buf_set_secret(one);
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    if (kf_buf_put_u16(out, KT_VERSION) != KF_OK)
        return kf_err_set(err, KF_ERR_INVALID, "keytab too large");
    for (size_t i = 0; i < ks->n; i++) {
        kf_buf_reset(one);
        st = encode_entry(ctx, &ks->v[i], one, err);
        if (st != KF_OK)
            return st;
        if (kf_buf_put_u32(out, (uint32_t)kf_buf_len(one)) != KF_OK ||
            kf_buf_put(out, kf_buf_ptr(one), kf_buf_len(one)) != KF_OK)
            return kf_err_set(err, KF_ERR_INVALID, "keytab too large (more than %zu bytes)",
                              kf_buf_max(out));
    }
    return KF_OK;
}

static kf_status
io_err(struct kf_err *err, const char *what, const char *path)
{
    int e = errno;

    return kf_err_set(err, e == EACCES || e == EPERM ? KF_ERR_PERMISSION : KF_ERR_IO, "%s %s: %s",
                      what, path, strerror(e));
}

static void
closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Split the absolute file name PATH into its directory (a new string in
 * *DIR) and its last component (*BASE, pointing into PATH). */
static kf_status
split_path(const char *path, char **dir, const char **base, struct kf_err *err)
{
    const char *slash = strrchr(path, '/');

    *dir = NULL;
    if (path[0] != '/' || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
        strcmp(slash + 1, "..") == 0)
        return kf_err_set(err, KF_ERR_INVALID,
                          "keytab path '%s' is not an absolute file name (a directory? name "
                          "the file in it, e.g. /etc/krbfleet/http.keytab)",
                          path);
    *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (*dir == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    *base = slash + 1;
    return KF_OK;
}

/* Open the directory of PATH (O_DIRECTORY|O_NOFOLLOW: never through a
 * symbolic link at its last component) into *DFD; *DIR and *BASE as in
 * split_path. */
static kf_status
open_dir(const char *path, char **dir, const char **base, int *dfd, struct kf_err *err)
{
    kf_status st = split_path(path, dir, base, err);
    struct stat s;

    *dfd = -1;
    if (st != KF_OK)
        return st;
    *dfd = open(*dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*dfd >= 0)
        return KF_OK;
    /* O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR (or ELOOP) */
    if (errno == ELOOP || (errno == ENOTDIR && lstat(*dir, &s) == 0 && S_ISLNK(s.st_mode)))
        return kf_err_set(err, KF_ERR_IO,
                          "the keytab's directory %s is a symbolic link; krbfleetd follows "
                          "none: name the real directory",
                          *dir);
    if (errno == ENOTDIR)
        return kf_err_set(err, KF_ERR_IO, "the keytab's directory %s is not a directory", *dir);
    return io_err(err, "cannot open the keytab's directory", *dir);
}

static const char *
file_kind(mode_t m)
{
    return S_ISLNK(m)    ? "a symbolic link"
           : S_ISDIR(m)  ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

static kf_status
not_regular(struct kf_err *err, const char *path, mode_t m)
{
    return kf_err_set(err, KF_ERR_IO,
                      "%s is %s, not a regular file; krbfleetd reads and replaces only a "
                      "regular file there and follows no link: remove it",
                      path, file_kind(m));
}

/* Read the regular file NAME of DFD (PATH for messages) into a new buffer
 * *DATA of *LEN bytes (caller wipes and frees); *DATA NULL when the file
 * does not exist. */
static kf_status
read_regular(int dfd, const char *name, const char *path, uint8_t **data, size_t *len,
             struct kf_err *err)
{
    _cleanup_(closep) int fd = -1;
    struct stat s;
    uint8_t *p;
    size_t got = 0, cap;

    *data = NULL;
    *len = 0;
    /* look before opening: a device is never opened, a FIFO never waited on */
    if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? KF_OK : io_err(err, "cannot stat keytab", path);
    if (!S_ISREG(s.st_mode))
        return not_regular(err, path, s.st_mode);
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return KF_OK;
        if (errno == ELOOP)
            return not_regular(err, path, S_IFLNK);
        return io_err(err, "cannot open keytab", path);
    }
    if (fstat(fd, &s) != 0)
        return io_err(err, "cannot stat keytab", path);
    if (!S_ISREG(s.st_mode)) /* replaced between the look and the open */
        return not_regular(err, path, s.st_mode);
    if (s.st_size > KF_KEYTAB_FILE_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "keytab %s is larger than %d bytes", path,
                          KF_KEYTAB_FILE_MAX);
    cap = (size_t)s.st_size + 1; /* one more: notice a file that grew */
    if ((p = malloc(cap)) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    while (got < cap) {
        ssize_t n = read(fd, p + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            kf_status st = io_err(err, "cannot read keytab", path);
            kf_free_secret(p, cap);
            return st;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == cap) {
        kf_free_secret(p, cap);
        return kf_err_set(err, KF_ERR_IO, "keytab %s changed while being read; try again", path);
    }
    *data = p;
    *len = got;
    return KF_OK;
}

kf_status
kf_keytab_load(const char *path, struct kf_keyset **out, struct kf_err *err)
{
    _cleanup_free_ char *dir = NULL;
    _cleanup_(closep) int dfd = -1;
    const char *base;
    uint8_t *data = NULL;
    size_t len = 0;
    kf_status st;

    *out = NULL;
    if ((st = open_dir(path, &dir, &base, &dfd, err)) != KF_OK ||
        (st = read_regular(dfd, base, path, &data, &len, err)) != KF_OK)
        return st;
    if (data == NULL) {
        if ((*out = kf_keyset_new()) == NULL)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        return KF_OK;
    }
    st = kf_keytab_decode(data, len, out, err);
    kf_free_secret(data, len + 1);
    if (st != KF_OK)
        kf_err_prefix(err, "keytab %s", path);
    return st;
}

static kf_status
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return KF_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return KF_OK;
}

/* Create a new temporary file ".BASE.XXXXXX" in DFD (mode 0600, never
 * through a link); its name in TMP. Returns the descriptor or -1 (errno). */
static int
create_temp(int dfd, const char *base, char *tmp, size_t size)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    for (int tries = 0; tries < 100; tries++) {
        uint8_t r[6];
        char suffix[7];
        int fd, n;

        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return -1;
        for (size_t i = 0; i < sizeof(r); i++)
            suffix[i] = chars[r[i] % (sizeof(chars) - 1)];
        suffix[6] = '\0';
        n = snprintf(tmp, size, ".%s.%s", base, suffix);
        if (n < 0 || (size_t)n >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

kf_status
kf_keytab_save(const char *path, const struct kf_keyset *ks, gid_t group, struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_KEYTAB_FILE_MAX);
    _cleanup_free_ char *dir = NULL;
    _cleanup_(closep) int dfd = -1;
    char tmp[NAME_MAX + 1];
    const char *base;
    struct stat s;
    kf_status st;
    int fd;

    if (b == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_buf_set_secret(b);
    st = kf_keytab_encode(ks, b, err);
    if (st != KF_OK)
        return st;
    if ((st = open_dir(path, &dir, &base, &dfd, err)) != KF_OK)
        return st;
    /* only a regular file is ever replaced */
    if (fstatat(dfd, base, &s, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(s.st_mode))
        return not_regular(err, path, s.st_mode);
    fd = create_temp(dfd, base, tmp, sizeof(tmp));
    if (fd < 0)
        return io_err(err, "cannot create a temporary keytab in", dir);
    if (group != KF_KEYTAB_NO_GROUP && fchown(fd, (uid_t)-1, group) != 0) {
        st = io_err(err, "cannot give the group to the new keytab in", dir);
        goto fail;
    }
    if (fchmod(fd, group != KF_KEYTAB_NO_GROUP ? 0640 : 0600) != 0) {
        st = io_err(err, "cannot set the mode of the new keytab in", dir);
        goto fail;
    }
    if (write_all(fd, kf_buf_ptr(b), kf_buf_len(b)) != KF_OK) {
        st = io_err(err, "cannot write the new keytab in", dir);
        goto fail;
    }
    if (fsync(fd) != 0) {
        st = io_err(err, "cannot fsync the new keytab in", dir);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = io_err(err, "cannot close the new keytab in", dir);
        goto fail;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, base) != 0) {
        st = io_err(err, "cannot rename the new keytab onto", path);
        goto fail;
    }
    if (fsync(dfd) != 0) /* the new keytab is in place; only durability is in doubt */
        return io_err(err, "cannot fsync the directory", dir);
    return KF_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, tmp, 0);
    return st;
}

kf_status
kf_keytab_stat(const char *path, struct kf_keytab_info *out, struct kf_err *err)
{
    _cleanup_free_ char *dir = NULL;
    _cleanup_(closep) int dfd = -1;
    const char *base;
    struct stat s;
    kf_status st;

    memset(out, 0, sizeof(*out));
    if ((st = open_dir(path, &dir, &base, &dfd, err)) != KF_OK)
        return st;
    if (fstatat(dfd, base, &s, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return KF_OK;
        return io_err(err, "cannot stat keytab", path);
    }
    out->exists = true;
    out->regular = S_ISREG(s.st_mode);
    out->uid = s.st_uid;
    out->gid = s.st_gid;
    out->mode = s.st_mode & 07777;
    out->mtime = s.st_mtim.tv_sec;
    out->size = s.st_size;
    return KF_OK;
}

/* PATH with its directory resolved (the last component as it is), in a
 * new string; NULL with errno when the directory cannot be resolved. */
static char *
resolve_dir(const char *path)
{
    _cleanup_free_ char *dir = NULL, *real = NULL;
    const char *base;
    char *out = NULL;

    if (split_path(path, &dir, &base, NULL) != KF_OK) {
        errno = EINVAL;
        return NULL;
    }
    if ((real = realpath(dir, NULL)) == NULL)
        return NULL;
    if (asprintf(&out, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base) < 0)
        return NULL;
    return out;
}

/* Every directory from DIR (resolved) up to "/" is OWNER's or root's and
 * not writable by group or others; an ancestor may be a root-owned sticky
 * directory (/tmp): there others cannot rename or remove what root made. */
static kf_status
check_dirs(const char *dir, uid_t owner, struct kf_err *err)
{
    _cleanup_free_ char *cur = realpath(dir, NULL);
    bool first = true;

    if (cur == NULL)
        return io_err(err, "cannot resolve the keytab's directory", dir);
    for (;;) {
        const char *what = first ? "the keytab's directory"
                                 : "an ancestor of the keytab's "
                                   "directory,";
        struct stat s;
        char *slash;

        if (stat(cur, &s) != 0)
            return io_err(err, "cannot stat", cur);
        if (s.st_uid != 0 && s.st_uid != owner)
            return kf_err_set(err, KF_ERR_CONFIG,
                              "%s %s is owned by uid %u, not root: whoever owns it could "
                              "replace the keytab (chown root %s)",
                              what, cur, (unsigned)s.st_uid, cur);
        if ((s.st_mode & 022) != 0 && (first || s.st_uid != 0 || !(s.st_mode & S_ISVTX)))
            return kf_err_set(err, KF_ERR_CONFIG,
                              "%s %s is writable by %s (mode %04o): they could plant a link "
                              "or a file in place of the keytab (chmod go-w %s)",
                              what, cur, (s.st_mode & 002) ? "others" : "its group",
                              (unsigned)(s.st_mode & 07777), cur);
        if (strcmp(cur, "/") == 0)
            return KF_OK;
        slash = strrchr(cur, '/');
        if (slash == cur)
            slash[1] = '\0';
        else
            *slash = '\0';
        first = false;
    }
}

kf_status
kf_keytab_check_place(const char *path, const char *other, uid_t owner, struct kf_err *err)
{
    _cleanup_free_ char *dir = NULL, *mine = NULL, *theirs = NULL, *theirs_real = NULL;
    _cleanup_(closep) int dfd = -1;
    const char *base;
    struct stat s, o;
    bool exists;
    kf_status st;

    if (lstat(path, &s) == 0 && S_ISDIR(s.st_mode))
        return kf_err_set(err, KF_ERR_CONFIG,
                          "%s is a directory; name the keytab file in it, e.g. "
                          "%s/http.keytab",
                          path, strcmp(path, "/") == 0 ? "" : path);
    if ((st = open_dir(path, &dir, &base, &dfd, err)) != KF_OK)
        return st;
    exists = fstatat(dfd, base, &s, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT)
        return io_err(err, "cannot stat", path);
    if (exists && !S_ISREG(s.st_mode))
        return not_regular(err, path, s.st_mode);
    if ((st = check_dirs(dir, owner, err)) != KF_OK)
        return st;
    if (other == NULL)
        return KF_OK;
    /* the same file by name: compare with directories resolved, and with
     * OTHER resolved whole (it may be a link to PATH) */
    mine = resolve_dir(path);
    theirs = resolve_dir(other);
    theirs_real = realpath(other, NULL);
    if (mine != NULL && ((theirs != NULL && strcmp(mine, theirs) == 0) ||
                         (theirs_real != NULL && strcmp(mine, theirs_real) == 0)))
        return kf_err_set(err, KF_ERR_CONFIG,
                          "%s and %s are the same path: the web keytab is readable by the web "
                          "server's group and must never hold the host's keys; give it a file "
                          "of its own, e.g. /etc/krbfleet/http.keytab",
                          path, other);
    if (exists && stat(other, &o) == 0 && o.st_dev == s.st_dev && o.st_ino == s.st_ino)
        return kf_err_set(err, KF_ERR_CONFIG,
                          "%s and %s are the same file (a hard link, inode %lu): the web "
                          "keytab is readable by the web server's group and must never hold "
                          "the host's keys; remove %s and let krbfleetd create its own",
                          path, other, (unsigned long)s.st_ino, path);
    return KF_OK;
}
kf_status
kf_keytab_check_set(const struct kf_keyset *add, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    kf_status st;

    if (add->n == 0 || add->n > KF_KEYTAB_ENTRIES_MAX)
        return kf_err_set(err, KF_ERR_INVALID, "a key set has 1 to %d entries, not %zu",
                          KF_KEYTAB_ENTRIES_MAX, add->n);
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    for (size_t i = 0; i < add->n; i++) {
        const struct kf_key_entry *e = &add->v[i];
        krb5_principal p = NULL;
        krb5_boolean valid = 0;
        size_t keybytes = 0, keylen = 0;
        krb5_error_code ret;

        if (e->principal == NULL || e->principal[0] == '\0' ||
            strlen(e->principal) > KF_KEYTAB_PRINCIPAL_MAX)
            return kf_err_set(err, KF_ERR_INVALID, "entry %zu: empty or overlong principal", i);
        ret = krb5_parse_name_flags(ctx, e->principal, KRB5_PRINCIPAL_PARSE_REQUIRE_REALM, &p);
        if (ret != 0)
            return kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, "principal in key set (with realm)");
        krb5_free_principal(ctx, p);
        if (krb5_c_valid_enctype(e->enctype))
            valid = 1;
        if (valid)
            valid = krb5_c_keylengths(ctx, e->enctype, &keybytes, &keylen) == 0;
        if (!valid)
            return kf_err_set(err, KF_ERR_INVALID, "entry %zu (%s): unknown enctype %d", i,
                              e->principal, (int)e->enctype);
        if (e->key_len != keylen)
            return kf_err_set(err, KF_ERR_INVALID,
                              "entry %zu (%s): a key of enctype %d has %zu bytes, not %zu", i,
                              e->principal, (int)e->enctype, keylen, e->key_len);
        for (size_t j = 0; j < i; j++) {
            if (add->v[j].enctype == e->enctype && strcmp(add->v[j].principal, e->principal) == 0)
                return kf_err_set(err, KF_ERR_INVALID, "entry %zu (%s): enctype %d given twice", i,
                                  e->principal, (int)e->enctype);
        }
    }
    return KF_OK;
}

/* Remove the entries for which DROP(kvno, k) holds; returns how many. */
static size_t
remove_if(struct kf_keyset *ks, uint32_t k, bool (*drop)(uint32_t, uint32_t))
{
    size_t w = 0, removed = 0;

    for (size_t r = 0; r < ks->n; r++) {
        if (drop(ks->v[r].kvno, k)) {
            free(ks->v[r].principal);
            explicit_bzero(&ks->v[r], sizeof(ks->v[r]));
            removed++;
            continue;
        }
        if (w != r) {
            ks->v[w] = ks->v[r];
            explicit_bzero(&ks->v[r], sizeof(ks->v[r]));
        }
        w++;
    }
    ks->n = w;
    return removed;
}

static bool
is_kvno(uint32_t kvno, uint32_t k)
{
    return kvno == k;
}

static bool
is_below(uint32_t kvno, uint32_t k)
{
    return kvno < k;
}

size_t
kf_keytab_withdraw(struct kf_keyset *ks, uint32_t kvno)
{
    return remove_if(ks, kvno, is_kvno);
}

size_t
kf_keytab_prune(struct kf_keyset *ks, uint32_t kvno)
{
    return remove_if(ks, kvno, is_below);
}

kf_status
kf_keytab_stage(struct kf_keyset *ks, uint32_t kvno, const struct kf_keyset *add, uint32_t now,
                struct kf_err *err)
{
    _cleanup_(kf_keyset_freep) struct kf_keyset *next = kf_keyset_new();
    size_t kept = 0;

    if (next == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ks->n; i++)
        kept += ks->v[i].kvno != kvno;
    if (kept + add->n > KF_KEYTAB_ENTRIES_MAX)
        return kf_err_set(err, KF_ERR_INVALID,
                          "the keytab would hold %zu entries; at most %d are allowed (prune old "
                          "kvnos first)",
                          kept + add->n, KF_KEYTAB_ENTRIES_MAX);
    /* Build the new set aside, so a failure leaves KS as it was. */
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->v[i].kvno != kvno && add_entry(next, &ks->v[i]) != KF_OK)
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < add->n; i++) {
        struct kf_key_entry e = add->v[i];
        kf_status st;

        e.kvno = kvno;
        e.timestamp = now;
        st = add_entry(next, &e);
        explicit_bzero(&e, sizeof(e));
        if (st != KF_OK)
            return kf_err_set(err, st, "out of memory");
    }
    /* swap contents: KS gets the new entries, NEXT the old ones (freed) */
    struct kf_keyset tmp = *ks;
    *ks = *next;
    *next = tmp;
    return KF_OK;
}

void
kf_keytab_check_done(struct kf_keytab_check *r)
{
    if (r == NULL)
        return;
    free(r->server);
    free(r->client);
    free(r->reason);
    r->server = r->client = r->reason = NULL;
}

static int
by_kvno_desc(const void *a, const void *b)
{
    const struct kf_key_entry *x = *(const struct kf_key_entry *const *)a;
    const struct kf_key_entry *y = *(const struct kf_key_entry *const *)b;

    return x->kvno < y->kvno ? 1 : x->kvno > y->kvno ? -1 : 0;
}

/* Try KEY as the ticket key of APREQ. 0 and *TICKET on success. */
static krb5_error_code
try_key(krb5_context ctx, const struct kf_key_entry *e, const krb5_data *apreq,
        krb5_ticket **ticket)
{
    krb5_auth_context ac = NULL;
    krb5_keyblock kb;
    krb5_error_code ret;

    ret = krb5_auth_con_init(ctx, &ac);
    if (ret != 0)
        return ret;
    /* No DO_TIME: no replay cache (a check token may be tried with several
     * keys, and is never a login); ticket times are still checked. */
    ret = krb5_auth_con_setflags(ctx, ac, 0);
    if (ret == 0) {
        memset(&kb, 0, sizeof(kb));
        kb.magic = KV5M_KEYBLOCK;
        kb.enctype = e->enctype;
        kb.length = (unsigned)e->key_len;
        kb.contents = (krb5_octet *)(uintptr_t)e->key; /* copied by the call */
        ret = krb5_auth_con_setuseruserkey(ctx, ac, &kb);
    }
    if (ret == 0)
        ret = krb5_rd_req(ctx, &ac, apreq, NULL, NULL, NULL, ticket);
    krb5_auth_con_free(ctx, ac); /* frees (and zeroes) its copy of the key */
    return ret;
}

static kf_status set_str(char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static kf_status
set_str(char **dst, const char *fmt, ...)
{
    va_list ap;
    int n;

    free(*dst);
    va_start(ap, fmt);
    n = vasprintf(dst, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *dst = NULL;
        return KF_ERR_NOMEM;
    }
    return KF_OK;
}

kf_status
kf_keytab_check_apreq(const struct kf_keyset *ks, const char *principal, const uint8_t *apreq,
                      size_t len, struct kf_keytab_check *out, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    _cleanup_free_ const struct kf_key_entry **cand = NULL;
    krb5_principal want = NULL;
    krb5_data in;
    size_t n = 0, tried = 0;
    krb5_error_code ret, other = 0;
    uint32_t other_kvno = 0;
    bool filtered = principal != NULL && principal[0] != '\0';
    kf_status st;

    memset(out, 0, sizeof(*out));
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    if (filtered) {
        ret = krb5_parse_name(ctx, principal, &want);
        if (ret != 0)
            return kf_krb5_err(ctx, ret, KF_ERR_INVALID, err, "principal to check");
    }
    cand = calloc(ks->n + 1, sizeof(*cand));
    if (cand == NULL) {
        krb5_free_principal(ctx, want);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < ks->n; i++) {
        krb5_principal p = NULL;
        bool match = true;

        if (want != NULL) {
            match = krb5_parse_name(ctx, ks->v[i].principal, &p) == 0 &&
                    krb5_principal_compare(ctx, p, want);
            krb5_free_principal(ctx, p);
        }
        if (match)
            cand[n++] = &ks->v[i];
    }
    krb5_free_principal(ctx, want);
    qsort(cand, n, sizeof(*cand), by_kvno_desc);

    in.magic = KV5M_DATA;
    in.length = (unsigned)len;
    in.data = (char *)(uintptr_t)apreq;
    for (size_t i = 0; i < n; i++) {
        krb5_ticket *t = NULL;
        char *s = NULL, *c = NULL;

        tried++;
        ret = try_key(ctx, cand[i], &in, &t);
        if (ret == KRB5KRB_AP_ERR_BAD_INTEGRITY || ret == KRB5_BAD_ENCTYPE ||
            ret == KRB5_BAD_KEYSIZE || ret == KRB5KRB_AP_ERR_MODIFIED)
            continue;
        if (ret != 0) {
            if (other == 0) {
                other = ret;
                other_kvno = cand[i]->kvno;
            }
            continue;
        }
        out->accepted = true;
        out->kvno = cand[i]->kvno;
        out->ticket_kvno = t->enc_part.kvno;
        out->enctype = t->enc_part.enctype;
        st = KF_OK;
        if (krb5_unparse_name(ctx, t->server, &s) == 0) {
            st = set_str(&out->server, "%s", s);
            krb5_free_unparsed_name(ctx, s);
        }
        if (st == KF_OK && t->enc_part2 != NULL &&
            krb5_unparse_name(ctx, t->enc_part2->client, &c) == 0) {
            st = set_str(&out->client, "%s", c);
            krb5_free_unparsed_name(ctx, c);
        }
        krb5_free_ticket(ctx, t);
        if (st != KF_OK) {
            kf_keytab_check_done(out);
            return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
        }
        return KF_OK;
    }
    if (tried == 0)
        st = set_str(&out->reason, "the keytab holds no key%s%s", filtered ? " for " : "",
                     filtered ? principal : "");
    else if (other != 0) {
        const char *m = krb5_get_error_message(ctx, other);
        st = set_str(&out->reason, "refused with the key of kvno %u: %s", (unsigned)other_kvno, m);
        krb5_free_error_message(ctx, m);
    } else
        st = set_str(&out->reason, "none of the %zu keys tried decrypts the ticket", tried);
    if (st != KF_OK)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}

/* Append NAME to the NUL-terminated LIST of SIZE bytes, ", "-separated;
 * false when it does not fit (the list then ends in "..."). */
static bool
list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list);
    int n = snprintf(list + used, size - used, "%s%s", used > 0 ? ", " : "", name);

    if (n < 0 || (size_t)n >= size - used) {
        if (size > 4)
            memcpy(list + size - 4, "...", 4);
        return false;
    }
    return true;
}

kf_status
kf_keytab_host_principal(const struct kf_keyset *ks, char **out, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    char hosts[600] = "", others[600] = "";
    const char *found = NULL;
    size_t n_hosts = 0, n_others = 0;
    kf_status st;

    *out = NULL;
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    for (size_t i = 0; i < ks->n; i++) {
        const char *name = ks->v[i].principal;
        krb5_principal p = NULL;
        bool host, seen = false;

        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(ks->v[j].principal, name) == 0;
        if (seen)
            continue;
        host = krb5_parse_name(ctx, name, &p) == 0 && p->length == 2 && p->data[0].length == 4 &&
               memcmp(p->data[0].data, "host", 4) == 0 && p->data[1].length > 0;
        krb5_free_principal(ctx, p);
        if (host) {
            n_hosts++;
            found = name;
            list_add(hosts, sizeof(hosts), name);
        } else {
            n_others++;
            list_add(others, sizeof(others), name);
        }
    }
    if (n_hosts == 0)
        return kf_err_set(err, KF_ERR_NOT_FOUND, "holds no host/FQDN principal%s%s%s",
                          n_others > 0 ? " (it holds " : "", others, n_others > 0 ? ")" : "");
    if (n_hosts > 1)
        return kf_err_set(err, KF_ERR_CONFLICT,
                          "holds %zu host principals (%s); krbfleetd does not guess which is "
                          "this server's",
                          n_hosts, hosts);
    if ((*out = strdup(found)) == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}
