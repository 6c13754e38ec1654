/* account.c - account names and encryption type lists. */
#include "account.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "directory.h"
#include "escape.h"

static kf_status
bad_name(struct kf_err *err, const char *in)
{
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.*s\" is not a valid account name (write DOMAIN\\name: a NetBIOS domain "
                      "and a name of 1-%d letters, digits or inner hyphens)",
                      (int)strnlen(in, 80), in, KF_ACCOUNT_NAME_MAX);
}

kf_status
kf_account_name_parse(const char *in, bool require_domain, struct kf_account_name *out,
                      struct kf_err *err)
{
    const char *bs = strchr(in, '\\'), *name = in;
    size_t dlen = 0, nlen;

    memset(out, 0, sizeof(*out));
    if (kf_text_check(in, "account name", err) != KF_OK)
        return KF_ERR_INVALID;
    if (bs != NULL) {
        dlen = (size_t)(bs - in);
        if (dlen == 0 || dlen > KF_NETBIOS_MAX)
            return bad_name(err, in);
        for (size_t i = 0; i < dlen; i++) {
            unsigned char c = (unsigned char)in[i];
            if (!(isalnum(c) || c == '-' || c == '_'))
                return bad_name(err, in);
            out->domain[i] = (char)toupper(c);
        }
        name = bs + 1;
    } else if (require_domain) {
        return kf_err_set(err, KF_ERR_INVALID,
                          "\"%.*s\": write the account as DOMAIN\\name (the NetBIOS domain, e.g. "
                          "CONTOSO\\kerbauth)",
                          (int)strnlen(in, 80), in);
    }
    nlen = strlen(name);
    if (nlen > 0 && name[nlen - 1] == '$')
        nlen--;
    if (nlen == 0 || nlen > KF_ACCOUNT_NAME_MAX || name[0] == '-' || name[nlen - 1] == '-')
        return bad_name(err, in);
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '-'))
            return bad_name(err, in);
        out->name[i] = (char)tolower(c);
    }
    return KF_OK;
}

static const struct {
    const char *name;
    unsigned bit;
} enctype_names[] = {
    {"aes256", KF_ENCTYPE_AES256},
    {"aes256-cts-hmac-sha1-96", KF_ENCTYPE_AES256},
    {"aes256-cts", KF_ENCTYPE_AES256},
    {"aes128", KF_ENCTYPE_AES128},
    {"aes128-cts-hmac-sha1-96", KF_ENCTYPE_AES128},
    {"aes128-cts", KF_ENCTYPE_AES128},
    {"rc4", KF_ENCTYPE_RC4_HMAC},
    {"rc4-hmac", KF_ENCTYPE_RC4_HMAC},
    {"arcfour-hmac", KF_ENCTYPE_RC4_HMAC},
};

kf_status
kf_enctypes_parse(const char *list, unsigned *bits, bool *rc4, struct kf_err *err)
{
    const char *p = list;

    *bits = 0;
    *rc4 = false;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t i;
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        for (i = 0; i < sizeof(enctype_names) / sizeof(enctype_names[0]); i++)
            if (strlen(enctype_names[i].name) == len &&
                strncasecmp(p, enctype_names[i].name, len) == 0)
                break;
        if (i == sizeof(enctype_names) / sizeof(enctype_names[0])) {
            if (len >= 3 && strncasecmp(p, "des", 3) == 0)
                return kf_err_set(err, KF_ERR_INVALID,
                                  "--enctypes: DES (\"%.*s\") is broken and not supported",
                                  (int)(len > 40 ? 40 : len), p);
            return kf_err_set(err, KF_ERR_INVALID,
                              "--enctypes: unknown encryption type \"%.*s\" (use aes256, aes128 "
                              "and, only if you must, rc4)",
                              (int)(len > 40 ? 40 : len), p);
        }
        *bits |= enctype_names[i].bit;
        p += strcspn(p, ",");
        if (*p == '\0')
            break;
        p++;
    }
    if (*bits & KF_ENCTYPE_RC4_HMAC)
        *rc4 = true;
    return KF_OK;
}

void
kf_enctypes_format(unsigned bits, char *out, size_t outsize)
{
    size_t used = 0;

    out[0] = '\0';
    if (bits & KF_ENCTYPE_AES256)
        used += (size_t)snprintf(out + used, outsize - used, "%saes256", used ? "," : "");
    if ((bits & KF_ENCTYPE_AES128) && used < outsize)
        used += (size_t)snprintf(out + used, outsize - used, "%saes128", used ? "," : "");
    if ((bits & KF_ENCTYPE_RC4_HMAC) && used < outsize)
        used += (size_t)snprintf(out + used, outsize - used, "%src4", used ? "," : "");
    if ((bits & (KF_ENCTYPE_DES_CBC_CRC | KF_ENCTYPE_DES_CBC_MD5)) && used < outsize)
        snprintf(out + used, outsize - used, "%sdes", used ? "," : "");
    if (out[0] == '\0')
        snprintf(out, outsize, "none");
}
