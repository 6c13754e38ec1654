/* dir_backend.h - how a directory backend plugs into directory.c.
 *
 * Internal to lib/: only directory.c and the backends (dir_ad.c, later
 * dir_mit.c) include this. Rotation and `topology enable` see directory.h
 * alone and never a backend's internals.
 *
 * A backend provides one `const struct kf_dir_ops` (declared at the end of
 * this file) and adds itself to the table in directory.c. kf_dir_open()
 * picks the ops by [directory] backend, allocates the struct kf_dir below
 * and calls ops->open, which stores its private state in dir->priv and
 * fills the descriptive strings. Every later public call is checked in
 * directory.c (arguments, the "nothing to do" cases) and then passed to
 * the matching op with the same arguments. kf_dir_free() calls ops->free
 * (which must accept a half-opened dir->priv, or NULL) and then frees the
 * strings.
 *
 * Backends count every request they send (dir->reads for searches and
 * other reads, dir->writes for adds, modifies, deletes and password sets)
 * so that tests can prove that nothing was written.
 */
#ifndef KF_DIR_BACKEND_H
#define KF_DIR_BACKEND_H

#include "directory.h"

struct kf_dir_ops;

struct kf_dir {
    const struct kf_dir_ops *ops;
    const struct kf_config *cfg; /* borrowed: must outlive the kf_dir */
    void *priv;                  /* the backend's own state */

    /* Filled by ops->open; owned here, freed by kf_dir_free. */
    char *server;  /* "dc1.lab.test" */
    char *realm;   /* "LAB.TEST" */
    char *domain;  /* "lab.test" */
    char *netbios; /* "LAB" */
    char *base_dn; /* "DC=lab,DC=test" (AD); NULL when the backend has none */

    unsigned long reads;
    unsigned long writes;
};

/* One function per public operation; same meaning, arguments and errors as
 * the kf_dir_* function of the same name in directory.h. directory.c has
 * already checked that names and SPNs are non-empty strings and that
 * spn_modify has something to do. */
struct kf_dir_ops {
    const char *name; /* the [directory] backend value, "ad" */

    kf_status (*open)(struct kf_dir *dir, struct kf_err *err);
    void (*free)(struct kf_dir *dir);

    kf_status (*account_get)(struct kf_dir *dir, const char *name, struct kf_dir_account **out,
                             struct kf_err *err);
    kf_status (*account_traits)(struct kf_dir *dir, const char *name, struct kf_dir_traits **out,
                                struct kf_err *err);
    /* PASSWORD NULL: a random one the backend makes and wipes. */
    kf_status (*account_create)(struct kf_dir *dir, const char *name, const char *container,
                                unsigned enctypes, const char *password, struct kf_err *err);
    kf_status (*account_delete)(struct kf_dir *dir, const char *name, struct kf_err *err);
    kf_status (*spn_modify)(struct kf_dir *dir, const char *name, const char *const *add,
                            size_t n_add, const char *const *del, size_t n_del, struct kf_err *err);
    kf_status (*spn_modify_dn)(struct kf_dir *dir, const char *dn, const char *const *add,
                               size_t n_add, const char *const *del, size_t n_del,
                               struct kf_err *err);
    kf_status (*spn_holders)(struct kf_dir *dir, const char *spn, struct kf_dir_owner **out,
                             size_t *n, struct kf_err *err);
    kf_status (*set_password)(struct kf_dir *dir, const char *name, const char *password,
                              struct kf_err *err);
    kf_status (*enctypes_set)(struct kf_dir *dir, const char *name, unsigned enctypes,
                              struct kf_err *err);
    /* Delegation (permission grant/revoke/list/test); NULL: not offered. */
    kf_status (*principal_find)(struct kf_dir *dir, const char *name, const struct kf_sid *sid,
                                bool groups, struct kf_dir_principal **out, struct kf_err *err);
    kf_status (*whoami)(struct kf_dir *dir, struct kf_dir_principal **out, struct kf_err *err);
    kf_status (*sd_read)(struct kf_dir *dir, const char *dn, unsigned parts, uint8_t **sd,
                         size_t *len, int64_t *usn, struct kf_err *err);
    kf_status (*sd_write)(struct kf_dir *dir, const char *dn, unsigned parts, const uint8_t *sd,
                          size_t len, struct kf_err *err);
    kf_status (*effective)(struct kf_dir *dir, const char *dn, char ***classes, size_t *n_classes,
                           char ***attrs, size_t *n_attrs, struct kf_err *err);
};

/* The backends. */
extern const struct kf_dir_ops kf_dir_ad_ops; /* dir_ad.c */

#endif
