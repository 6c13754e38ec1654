/* krb5pin.h - a krb5 context whose KDC traffic goes to one server.
 *
 * docs/design.md, "The directory": "All directory and KDC traffic of one
 * operation goes to one DC, so replication lag cannot make it read its own
 * writes wrongly." The
 * directory connection is pinned by kf_dir_open; this pins libkrb5: in the
 * returned context the realm's kdc, primary_kdc/master_kdc, admin_server
 * and kpasswd_server are SERVER alone and DNS lookup of KDCs is off.
 * Everything else (default realm, enctypes, rdns, ccache, ...) comes from
 * the normal krb5.conf (KRB5_CONFIG), which is neither changed nor written.
 */
#ifndef KF_KRB5PIN_H
#define KF_KRB5PIN_H

#include <krb5.h>

#include "errors.h"

/* Store in *OUT a new krb5 context pinned to SERVER (a DNS name, optionally
 * ":port") for REALM. Free it with krb5_free_context(). Errors: KF_ERR_CONFIG
 * (krb5.conf unreadable), KF_ERR_NOMEM, KF_ERR_UNEXPECTED. */
kf_status kf_krb5_pinned_context(const char *realm, const char *server, krb5_context *out,
                                 struct kf_err *err);

#endif
