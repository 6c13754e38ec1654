/* keytab.c - read, change and atomically replace the web keytab. */
#include "keytab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

#define KT_VERSION 0x0502

KF_DEFINE_CLEANUP(struct kf_keyset, kf_keyset_free)

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

kf_status
kf_keytab_load(const char *path, struct kf_keyset **out, struct kf_err *err)
{
    _cleanup_(ctx_freep) krb5_context ctx = NULL;
    _cleanup_(kf_keyset_freep) struct kf_keyset *ks = NULL;
    _cleanup_free_ char *name = NULL;
    krb5_keytab kt = NULL;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    krb5_error_code ret;
    kf_status st;
    bool started = false;

    *out = NULL;
    if ((st = ctx_new(&ctx, err)) != KF_OK)
        return st;
    ks = kf_keyset_new();
    if (ks == NULL || asprintf(&name, "FILE:%s", path) < 0) {
        name = NULL;
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        *out = TAKE_PTR(ks);
        return KF_OK;
    }
    ret = krb5_kt_resolve(ctx, name, &kt);
    if (ret == 0)
        ret = krb5_kt_start_seq_get(ctx, kt, &cur);
    if (ret == ENOENT) {
        /* removed between access() and here */
    } else if (ret != 0) {
        st = kf_krb5_err(ctx, ret, KF_ERR_IO, err, "cannot read keytab");
    } else {
        started = true;
        while ((ret = krb5_kt_next_entry(ctx, kt, &ent, &cur)) == 0) {
            struct kf_key_entry e = {0};
            char *pname = NULL;

            if (ks->n >= KF_KEYTAB_ENTRIES_MAX) {
                st = kf_err_set(err, KF_ERR_INVALID, "keytab %s has more than %d entries", path,
                                KF_KEYTAB_ENTRIES_MAX);
            } else if (ent.key.length > KF_KEY_MAX) {
                st = kf_err_set(err, KF_ERR_INVALID, "keytab %s has a key of %u bytes", path,
                                (unsigned)ent.key.length);
            } else if ((ret = krb5_unparse_name(ctx, ent.principal, &pname)) != 0) {
                st = kf_krb5_err(ctx, ret, KF_ERR_IO, err, "keytab entry principal");
            } else {
                e.principal = pname;
                e.kvno = ent.vno;
                e.enctype = ent.key.enctype;
                e.timestamp = (uint32_t)ent.timestamp;
                e.key_len = ent.key.length;
                memcpy(e.key, ent.key.contents, ent.key.length);
                st = add_entry(ks, &e);
                if (st != KF_OK)
                    kf_err_set(err, st, "out of memory reading keytab %s", path);
                explicit_bzero(e.key, sizeof(e.key));
                krb5_free_unparsed_name(ctx, pname);
            }
            /* zeroes the key (krb5_free_keyblock_contents uses zapfree) */
            krb5_free_keytab_entry_contents(ctx, &ent);
            if (st != KF_OK)
                break;
        }
        if (st == KF_OK && ret != KRB5_KT_END)
            st = kf_krb5_err(ctx, ret, KF_ERR_IO, err, "cannot read keytab");
    }
    if (started)
        krb5_kt_end_seq_get(ctx, kt, &cur);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    if (st != KF_OK) {
        if (err != NULL && strstr(err->msg, path) == NULL)
            kf_err_prefix(err, "%s", path);
        return st;
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
encode_entry(krb5_context ctx, const struct kf_key_entry *e, struct kf_buf *b,
             struct kf_err *err)
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

    return kf_err_set(err, e == EACCES || e == EPERM ? KF_ERR_PERMISSION : KF_ERR_IO,
                      "%s %s: %s", what, path, strerror(e));
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

kf_status
kf_keytab_save(const char *path, const struct kf_keyset *ks, gid_t group, struct kf_err *err)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(KF_KEYTAB_FILE_MAX);
    _cleanup_free_ char *dir = NULL, *tmp = NULL;
    const char *slash = strrchr(path, '/');
    kf_status st;
    int fd, dfd;

    if (b == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    kf_buf_set_secret(b);
    st = kf_keytab_encode(ks, b, err);
    if (st != KF_OK)
        return st;
    if (slash == NULL || slash[1] == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "keytab path '%s' is not an absolute file name",
                          path);
    dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    if (dir == NULL || asprintf(&tmp, "%s/.%s.XXXXXX", slash == path ? "" : dir, slash + 1) < 0) {
        tmp = NULL;
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return io_err(err, "cannot create a temporary keytab in", dir);
    if (group != KF_KEYTAB_NO_GROUP && fchown(fd, (uid_t)-1, group) != 0) {
        st = io_err(err, "cannot give the group to", tmp);
        goto fail;
    }
    if (fchmod(fd, group != KF_KEYTAB_NO_GROUP ? 0640 : 0600) != 0) {
        st = io_err(err, "cannot set the mode of", tmp);
        goto fail;
    }
    if (write_all(fd, kf_buf_ptr(b), kf_buf_len(b)) != KF_OK) {
        st = io_err(err, "cannot write", tmp);
        goto fail;
    }
    if (fsync(fd) != 0) {
        st = io_err(err, "cannot fsync", tmp);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = io_err(err, "cannot close", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = io_err(err, "cannot rename the new keytab onto", path);
        goto fail;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        st = io_err(err, "cannot fsync the directory", dir);
        if (dfd >= 0)
            close(dfd);
        return st; /* the new keytab is in place; only durability is in doubt */
    }
    close(dfd);
    return KF_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return st;
}

kf_status
kf_keytab_stat(const char *path, struct kf_keytab_info *out, struct kf_err *err)
{
    struct stat s;

    memset(out, 0, sizeof(*out));
    if (stat(path, &s) != 0) {
        if (errno == ENOENT)
            return KF_OK;
        return io_err(err, "cannot stat keytab", path);
    }
    out->exists = true;
    out->uid = s.st_uid;
    out->gid = s.st_gid;
    out->mode = s.st_mode & 07777;
    out->mtime = s.st_mtim.tv_sec;
    out->size = s.st_size;
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
                return kf_err_set(err, KF_ERR_INVALID, "entry %zu (%s): enctype %d given twice",
                                  i, e->principal, (int)e->enctype);
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

static kf_status
set_str(char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
        st = set_str(&out->reason, "refused with the key of kvno %u: %s", (unsigned)other_kvno,
                     m);
        krb5_free_error_message(ctx, m);
    } else
        st = set_str(&out->reason, "none of the %zu keys tried decrypts the ticket", tried);
    if (st != KF_OK)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return KF_OK;
}
