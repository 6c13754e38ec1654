/* probe.c - SPNEGO login with a fresh ticket and mutual auth checked. */
#include "probe.h"

#include <curl/curl.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "kdc_gate.h"
#include "keys.h"
#include "krb5pin.h"
#include "mem.h"
#include "names.h"
#include "strv.h"

#define TOKEN_MAX 65536 /* base64 characters of a server token we accept */

static char spnego_oid_bytes[] = "\x2b\x06\x01\x05\x05\x02";
static gss_OID_desc spnego_oid = {6, spnego_oid_bytes};

bool
kf_probe_ok(const struct kf_probe_result *r)
{
    return r->http_status >= 200 && r->http_status < 400 && r->mutual;
}

/* Host and port of URL (validated by kf_url_check before it was stored). */
static int
url_host_port(const char *url, char *host, size_t hsize, int *port)
{
    const char *p = strstr(url, "://"), *end, *colon;
    size_t n;

    if (p == NULL)
        return -1;
    *port = strncmp(url, "https", 5) == 0 ? 443 : 80;
    p += 3;
    end = p + strcspn(p, "/?#");
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL)
            return -1;
        n = (size_t)(rb - p - 1);
        if (n >= hsize)
            return -1;
        memcpy(host, p + 1, n);
        host[n] = '\0';
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        n = (size_t)((colon ? colon : end) - p);
        if (n == 0 || n >= hsize)
            return -1;
        memcpy(host, p, n);
        host[n] = '\0';
    }
    if (colon != NULL) {
        char buf[8];
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(buf))
            return -1;
        memcpy(buf, colon + 1, pl);
        buf[pl] = '\0';
        if (kf_port_parse(buf, port, NULL) != KF_OK)
            return -1;
    }
    for (char *c = host; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

static void
gss_detail(char *out, size_t size, const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 min2, ctx = 0;
    gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
    size_t used;

    used = (size_t)snprintf(out, size, "%s: ", what);
    gss_display_status(&min2, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &msg);
    if (used < size)
        used +=
            (size_t)snprintf(out + used, size - used, "%.*s", (int)msg.length, (char *)msg.value);
    gss_release_buffer(&min2, &msg);
    if (minor != 0) {
        ctx = 0;
        gss_display_status(&min2, minor, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &msg);
        if (used < size)
            snprintf(out + used, size - used, " (%.*s)", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&min2, &msg);
    }
}

/* A MEMORY ccache holding only the caller's TGT for REALM. */
static kf_status
fresh_ccache(krb5_context ctx, const char *realm, krb5_ccache *out, char *name, size_t nsize,
             struct kf_err *err)
{
    krb5_ccache def = NULL, mem = NULL;
    krb5_principal client = NULL, tgs = NULL;
    krb5_creds match = {0}, tgt = {0};
    krb5_error_code ret;
    kf_status rc = KF_OK;

    *out = NULL;
    if ((ret = krb5_cc_default(ctx, &def)) != 0 ||
        (ret = krb5_cc_get_principal(ctx, def, &client)) != 0) {
        rc = kf_krb5_err(ctx, ret, KF_ERR_CREDENTIALS, err, "no Kerberos ticket (run kinit first)");
        goto out;
    }
    if ((ret = krb5_build_principal(ctx, &tgs, (unsigned)strlen(realm), realm, "krbtgt", realm,
                                    (char *)NULL)) != 0)
        goto krberr;
    match.client = client;
    match.server = tgs;
    if ((ret = krb5_cc_retrieve_cred(ctx, def, 0, &match, &tgt)) != 0) {
        rc = kf_krb5_err(ctx, ret, KF_ERR_CREDENTIALS, err,
                         "no ticket-granting ticket for the realm (run kinit)");
        goto out;
    }
    if ((ret = krb5_cc_new_unique(ctx, "MEMORY", NULL, &mem)) != 0 ||
        (ret = krb5_cc_initialize(ctx, mem, client)) != 0 ||
        (ret = krb5_cc_store_cred(ctx, mem, &tgt)) != 0)
        goto krberr;
    snprintf(name, nsize, "MEMORY:%s", krb5_cc_get_name(ctx, mem));
    *out = TAKE_PTR(mem);
    goto out;
krberr:
    rc = kf_krb5_err(ctx, ret, KF_ERR_UNEXPECTED, err, "preparing a private ticket cache");
out:
    krb5_free_cred_contents(ctx, &tgt);
    krb5_free_principal(ctx, tgs);
    krb5_free_principal(ctx, client);
    if (mem != NULL)
        krb5_cc_destroy(ctx, mem);
    if (def != NULL)
        krb5_cc_close(ctx, def);
    return rc;
}

struct hdrs {
    char *negotiate; /* the base64 token after "Negotiate ", if any */
    bool offered_negotiate, offered_ntlm, offered_basic;
};

static size_t
on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct hdrs *h = userdata;
    size_t len = size * nitems;
    static const char name[] = "www-authenticate:";

    if (len > sizeof(name) && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        const char *v = buf + sizeof(name) - 1;
        size_t vlen = len - (sizeof(name) - 1);
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen >= 9 && strncasecmp(v, "Negotiate", 9) == 0) {
            h->offered_negotiate = true;
            if (vlen > 10 && h->negotiate == NULL && vlen - 10 <= TOKEN_MAX) {
                h->negotiate = malloc(vlen - 10 + 1);
                if (h->negotiate != NULL) {
                    memcpy(h->negotiate, v + 10, vlen - 10);
                    h->negotiate[vlen - 10] = '\0';
                }
            }
        } else if (vlen >= 4 && strncasecmp(v, "NTLM", 4) == 0) {
            h->offered_ntlm = true;
        } else if (vlen >= 5 && strncasecmp(v, "Basic", 5) == 0) {
            h->offered_basic = true;
        }
    }
    return len;
}

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* The kvno and enctype of the service ticket now in CC for SERVER. */
static void
ticket_info(krb5_context ctx, krb5_ccache cc, const char *server, struct kf_probe_result *r)
{
    krb5_principal sp = NULL, client = NULL;
    krb5_creds match = {0}, creds = {0};
    krb5_ticket *tkt = NULL;

    if (krb5_parse_name(ctx, server, &sp) == 0 && krb5_cc_get_principal(ctx, cc, &client) == 0) {
        match.client = client;
        match.server = sp;
        if (krb5_cc_retrieve_cred(ctx, cc, 0, &match, &creds) == 0 &&
            krb5_decode_ticket(&creds.ticket, &tkt) == 0) {
            r->ticket_kvno = (int)tkt->enc_part.kvno;
            r->ticket_enctype = (int)tkt->enc_part.enctype;
        }
    }
    krb5_free_ticket(ctx, tkt);
    krb5_free_cred_contents(ctx, &creds);
    krb5_free_principal(ctx, client);
    krb5_free_principal(ctx, sp);
}

/* Get the service ticket for SPN into the cache named CCNAME from KDC
 * alone (a pinned context); fills R's detail and returns -1 when the KDC
 * issues none. */
static int
ticket_from(const char *realm, const char *kdc, const char *ccname, const char *spn,
            struct kf_probe_result *r)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_creds in = {0}, *out = NULL;
    struct kf_err err = {0};
    krb5_error_code ret = 0;
    int rc = -1;

    if (kf_krb5_pinned_context(realm, kdc, &ctx, &err) != KF_OK) {
        snprintf(r->detail, sizeof(r->detail), "%s", err.msg);
        return -1;
    }
    if ((ret = krb5_cc_resolve(ctx, ccname, &cc)) == 0 &&
        (ret = krb5_cc_get_principal(ctx, cc, &in.client)) == 0 &&
        (ret = krb5_parse_name(ctx, spn, &in.server)) == 0) {
        kf_kdc_gate_enter();
        ret = krb5_get_credentials(ctx, 0, cc, &in, &out);
        kf_kdc_gate_leave();
        rc = ret == 0 ? 0 : -1;
    }
    if (ret != 0) {
        const char *msg = krb5_get_error_message(ctx, ret);
        snprintf(r->detail, sizeof(r->detail), "no service ticket for %s from %s: %s", spn, kdc,
                 msg);
        krb5_free_error_message(ctx, msg);
    }
    krb5_free_creds(ctx, out);
    krb5_free_principal(ctx, in.client);
    krb5_free_principal(ctx, in.server);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return rc;
}

kf_status
kf_probe_login(const char *url, const char *address, const char *realm, const char *kdc,
               const char *ca_file, int timeout_s, struct kf_probe_result *r, struct kf_err *err)
{
    return kf_probe_login_spn(url, address, NULL, realm, kdc, ca_file, timeout_s, r, err);
}

/* The login itself, with the credentials of the ccache CCNAME (CC in
 * KCTX): a new security context (its own authenticator) for SPN, the
 * request to URL (sent to ADDRESS when not NULL), the server's
 * mutual-authentication token checked. */
static kf_status
login_with(krb5_context kctx, krb5_ccache cc, char *ccname, const char *url, const char *host,
           int port, const char *address, char *spn, const char *service_host, const char *ca_file,
           int timeout_s, struct kf_probe_result *r, struct kf_err *err)
{
    char resolve[512], *auth = NULL;
    gss_key_value_element_desc elem = {"ccache", ccname};
    gss_key_value_set_desc store = {1, &elem};
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
    gss_name_t target = GSS_C_NO_NAME;
    gss_buffer_desc namebuf, out = GSS_C_EMPTY_BUFFER, in = GSS_C_EMPTY_BUFFER;
    gss_OID_set_desc mechs = {1, &spnego_oid};
    OM_uint32 major, minor, flags = 0;
    struct curl_slist *headers = NULL, *resolves = NULL;
    struct hdrs h = {0};
    CURL *curl = NULL;
    CURLcode cres;
    kf_status rc = KF_OK;

    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                  &store, &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_detail(r->detail, sizeof(r->detail), "no credentials", major, minor);
        rc = kf_err_set(err, KF_ERR_CREDENTIALS, "%s", r->detail);
        goto out;
    }
    namebuf.value = spn;
    namebuf.length = strlen(spn);
    major = gss_import_name(&minor, &namebuf, GSS_KRB5_NT_PRINCIPAL_NAME, &target);
    if (!GSS_ERROR(major))
        major = gss_init_sec_context(
            &minor, cred, &gctx, target, &spnego_oid, GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG, 0,
            GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, &flags, NULL);
    if (GSS_ERROR(major)) {
        char what[600];
        snprintf(what, sizeof(what), "no service ticket for HTTP/%s", service_host);
        gss_detail(r->detail, sizeof(r->detail), what, major, minor);
        goto out; /* a verdict, not an error: the KDC does not know the SPN */
    }
    ticket_info(kctx, cc, spn, r);
    {
        _cleanup_free_ char *b64 = kf_b64_encode(out.value, out.length);
        size_t n;
        if (b64 == NULL)
            goto nomem;
        n = strlen(b64) + 32;
        auth = malloc(n);
        if (auth == NULL)
            goto nomem;
        snprintf(auth, n, "Authorization: Negotiate %s", b64);
    }
    curl = curl_easy_init();
    if (curl == NULL || (headers = curl_slist_append(NULL, auth)) == NULL)
        goto nomem;
    if (address != NULL) {
        bool v6 = strchr(address, ':') != NULL;
        snprintf(resolve, sizeof(resolve), "%s:%d:%s%s%s", host, port, v6 ? "[" : "", address,
                 v6 ? "]" : "");
        if ((resolves = curl_slist_append(NULL, resolve)) == NULL)
            goto nomem;
        curl_easy_setopt(curl, CURLOPT_RESOLVE, resolves);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
    cres = curl_easy_perform(curl);
    if (cres != CURLE_OK) {
        snprintf(r->detail, sizeof(r->detail), "no HTTP answer from %s (%s): %s", url,
                 address ? address : host, curl_easy_strerror(cres));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->http_status);
    r->fell_back = !h.offered_negotiate && (h.offered_ntlm || h.offered_basic);
    if (h.negotiate == NULL) {
        if (r->http_status == 401)
            snprintf(r->detail, sizeof(r->detail),
                     "HTTP 401: the server did not accept the ticket (kvno %d): its keytab "
                     "lacks that key%s",
                     r->ticket_kvno, r->fell_back ? "; it offers only NTLM/Basic" : "");
        else
            snprintf(r->detail, sizeof(r->detail),
                     "HTTP %ld without a mutual-authentication token from the server",
                     r->http_status);
        goto out;
    }
    in.value = kf_b64_decode(h.negotiate, strlen(h.negotiate), TOKEN_MAX, &in.length);
    if (in.value == NULL) {
        snprintf(r->detail, sizeof(r->detail), "HTTP %ld with a malformed Negotiate token",
                 r->http_status);
        goto out;
    }
    gss_release_buffer(&minor, &out);
    major = gss_init_sec_context(&minor, cred, &gctx, target, &spnego_oid,
                                 GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out, &flags, NULL);
    free(in.value);
    if (major != GSS_S_COMPLETE) {
        gss_detail(r->detail, sizeof(r->detail),
                   "the server's mutual-authentication token "
                   "does not verify",
                   major, minor);
        goto out;
    }
    r->mutual = (flags & GSS_C_MUTUAL_FLAG) != 0;
    snprintf(r->detail, sizeof(r->detail), "HTTP %ld, mutual authentication %s (ticket kvno %d)",
             r->http_status, r->mutual ? "verified" : "NOT verified", r->ticket_kvno);
    goto out;
nomem:
    rc = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
out:
    free(h.negotiate);
    free(auth);
    curl_slist_free_all(headers);
    curl_slist_free_all(resolves);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    gss_release_buffer(&minor, &out);
    gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
    gss_release_name(&minor, &target);
    gss_release_cred(&minor, &cred);
    return rc;
}

kf_status
kf_probe_login_spn(const char *url, const char *address, const char *service_host,
                   const char *realm, const char *kdc, const char *ca_file, int timeout_s,
                   struct kf_probe_result *r, struct kf_err *err)
{
    krb5_context kctx = NULL;
    krb5_ccache cc = NULL;
    char ccname[256], host[KF_FQDN_MAX + 1], spn[KF_FQDN_MAX + 64];
    int port;
    kf_status rc;

    memset(r, 0, sizeof(*r));
    r->ticket_kvno = r->ticket_enctype = -1;
    if (url_host_port(url, host, sizeof(host), &port) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "\"%s\" is not a valid probe URL", url);
    if (service_host == NULL)
        service_host = host;
    snprintf(spn, sizeof(spn), "HTTP/%s@%s", service_host, realm);
    if (krb5_init_context(&kctx) != 0)
        return kf_err_set(err, KF_ERR_CONFIG, "cannot initialise Kerberos (krb5.conf?)");
    rc = fresh_ccache(kctx, realm, &cc, ccname, sizeof(ccname), err);
    /* The ticket comes from the DC the operation talks to, so it is sealed
     * with the key that DC has now (replication cannot make it older). */
    if (rc == KF_OK && (kdc == NULL || ticket_from(realm, kdc, ccname, spn, r) == 0))
        rc = login_with(kctx, cc, ccname, url, host, port, address, spn, service_host, ca_file,
                        timeout_s, r, err);
    if (cc != NULL)
        krb5_cc_destroy(kctx, cc);
    krb5_free_context(kctx);
    return rc;
}

/* ---- one ticket per service for many logins ------------------------------ */

struct kf_probe_cache {
    char ccname[256]; /* the MEMORY ccache: the caller's TGT, then the tickets */
    char *realm, *kdc;
    pthread_mutex_t lock; /* one ticket request at a time */
    char **spns;          /* the services it holds a ticket for */
    size_t n_spns;
    size_t requests; /* service tickets asked of the KDC */
};

kf_status
kf_probe_cache_new(const char *realm, const char *kdc, struct kf_probe_cache **out,
                   struct kf_err *err)
{
    struct kf_probe_cache *pc = calloc(1, sizeof(*pc));
    krb5_context kctx = NULL;
    krb5_ccache cc = NULL;
    kf_status rc;

    *out = NULL;
    if (pc == NULL || (pc->realm = strdup(realm)) == NULL || (pc->kdc = strdup(kdc)) == NULL) {
        if (pc != NULL)
            free(pc->realm);
        free(pc);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    if (krb5_init_context(&kctx) != 0) {
        rc = kf_err_set(err, KF_ERR_CONFIG, "cannot initialise Kerberos (krb5.conf?)");
    } else if ((rc = fresh_ccache(kctx, realm, &cc, pc->ccname, sizeof(pc->ccname), err)) ==
               KF_OK) {
        krb5_cc_close(kctx, cc); /* a MEMORY ccache lives on until destroyed */
        pthread_mutex_init(&pc->lock, NULL);
        *out = pc;
    }
    if (kctx != NULL)
        krb5_free_context(kctx);
    if (rc != KF_OK) {
        free(pc->realm);
        free(pc->kdc);
        free(pc);
    }
    return rc;
}

void
kf_probe_cache_free(struct kf_probe_cache *pc)
{
    krb5_context kctx = NULL;
    krb5_ccache cc = NULL;

    if (pc == NULL)
        return;
    if (krb5_init_context(&kctx) == 0) {
        if (krb5_cc_resolve(kctx, pc->ccname, &cc) == 0)
            krb5_cc_destroy(kctx, cc);
        krb5_free_context(kctx);
    }
    pthread_mutex_destroy(&pc->lock);
    kf_strv_free(pc->spns, pc->n_spns);
    free(pc->realm);
    free(pc->kdc);
    free(pc);
}

size_t
kf_probe_cache_requests(const struct kf_probe_cache *pc)
{
    return pc != NULL ? pc->requests : 0;
}

/* A ticket for SPN in PC: asked of PC's KDC the first time, then reused.
 * 0, or -1 with R's detail saying why the KDC issued none. */
static int
cache_ticket(struct kf_probe_cache *pc, const char *spn, struct kf_probe_result *r)
{
    int rc = 0;

    pthread_mutex_lock(&pc->lock);
    if (!kf_strv_contains_ci(pc->spns, pc->n_spns, spn)) {
        pc->requests++;
        rc = ticket_from(pc->realm, pc->kdc, pc->ccname, spn, r);
        if (rc == 0 && kf_strv_pushf(&pc->spns, &pc->n_spns, "%s", spn) != 0)
            rc = 0; /* not remembered: the next login asks again */
    }
    pthread_mutex_unlock(&pc->lock);
    return rc;
}

kf_status
kf_probe_login_cached(struct kf_probe_cache *pc, const char *url, const char *address,
                      const char *ca_file, int timeout_s, struct kf_probe_result *r,
                      struct kf_err *err)
{
    krb5_context kctx = NULL;
    krb5_ccache cc = NULL;
    char ccname[256], host[KF_FQDN_MAX + 1], spn[KF_FQDN_MAX + 64];
    int port;
    kf_status rc = KF_OK;

    memset(r, 0, sizeof(*r));
    r->ticket_kvno = r->ticket_enctype = -1;
    if (url_host_port(url, host, sizeof(host), &port) != 0)
        return kf_err_set(err, KF_ERR_INVALID, "\"%s\" is not a valid probe URL", url);
    snprintf(spn, sizeof(spn), "HTTP/%s@%s", host, pc->realm);
    kf_strlcpy(ccname, pc->ccname, sizeof(ccname));
    if (cache_ticket(pc, spn, r) != 0)
        return KF_OK; /* a verdict: the KDC issued no ticket (R says why) */
    /* A context per login: krb5 contexts are not shared between threads;
     * the MEMORY ccache is, under its own lock. */
    if (krb5_init_context(&kctx) != 0)
        return kf_err_set(err, KF_ERR_CONFIG, "cannot initialise Kerberos (krb5.conf?)");
    if (krb5_cc_resolve(kctx, ccname, &cc) != 0)
        rc = kf_err_set(err, KF_ERR_UNEXPECTED, "the private ticket cache is gone");
    else
        rc = login_with(kctx, cc, ccname, url, host, port, address, spn, host, ca_file, timeout_s,
                        r, err);
    if (cc != NULL)
        krb5_cc_close(kctx, cc);
    krb5_free_context(kctx);
    return rc;
}
