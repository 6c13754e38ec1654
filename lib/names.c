/* names.c - RFC 1123 names, addresses, ports and probe URLs. */
#include "names.h"

#include "escape.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define KF_URL_MAX 2048

static bool
is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

kf_status
kf_fqdn_normalize(const char *in, char *out, size_t outsize, struct kf_err *err)
{
    size_t len, label = 0;

    if (in == NULL || *in == '\0')
        return kf_err_set(err, KF_ERR_INVALID, "empty name is not a valid DNS name");
    if (kf_text_check(in, "name", err) != KF_OK)
        return KF_ERR_INVALID;
    len = strnlen(in, KF_FQDN_MAX + 2);
    if (len > KF_FQDN_MAX + 1)
        goto bad_len;
    if (in[len - 1] == '.')
        len--;
    if (len == 0)
        goto bad;
    if (len > KF_FQDN_MAX)
        goto bad_len;
    if (outsize < len + 1)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "name buffer too small");

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '.') {
            if (label == 0 || in[i - 1] == '-')
                goto bad;
            label = 0;
        } else {
            if (!is_ldh(c))
                goto bad;
            if (label == 0 && c == '-')
                goto bad;
            if (++label > KF_LABEL_MAX)
                goto bad;
        }
        out[i] = (char)tolower((unsigned char)c);
    }
    if (label == 0 || in[len - 1] == '-')
        goto bad;
    out[len] = '\0';
    return KF_OK;

bad_len:
    return kf_err_set(err, KF_ERR_INVALID,
                          "\"%.60s...\" is not a valid DNS name (longer than %d characters)", in,
                          KF_FQDN_MAX);
bad:
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.*s\" is not a valid DNS name (labels of letters, digits and inner "
                      "hyphens, 1-63 characters each, separated by dots)",
                      (int)strnlen(in, 300), in);
}

kf_status
kf_site_name_check(const char *s, struct kf_err *err)
{
    size_t len = s ? strnlen(s, KF_SITE_NAME_MAX + 1) : 0;

    if (kf_text_check(s, "site name", err) != KF_OK)
        return KF_ERR_INVALID;
    if (len == 0 || len > KF_SITE_NAME_MAX || s[0] == ' ' || s[len - 1] == ' ')
        goto bad;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(is_ldh(c) || c == '.' || c == '_' || c == ' '))
            goto bad;
    }
    return KF_OK;
bad:
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.*s\" is not a valid site name (1-%d letters, digits, '.', '_', '-' "
                      "or inner spaces)",
                      s ? (int)strnlen(s, 100) : 0, s ? s : "", KF_SITE_NAME_MAX);
}

kf_status
kf_address_normalize(const char *s, char *out, size_t outsize, struct kf_err *err)
{
    unsigned char buf[sizeof(struct in6_addr)];
    int af = AF_INET;
    bool ok = false;

    if (s != NULL) {
        ok = inet_pton(AF_INET, s, buf) == 1;
        if (!ok) {
            af = AF_INET6;
            ok = inet_pton(AF_INET6, s, buf) == 1;
        }
    }
    if (!ok)
        return kf_err_set(err, KF_ERR_INVALID, "\"%.*s\" is not a valid IPv4 or IPv6 address",
                          s ? (int)strnlen(s, 100) : 0, s ? s : "");
    if (out != NULL && inet_ntop(af, buf, out, (socklen_t)outsize) == NULL)
        return kf_err_set(err, KF_ERR_UNEXPECTED, "address buffer too small");
    return KF_OK;
}

kf_status
kf_uint_parse(const char *s, long long max, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return KF_ERR_INVALID;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max)
        return KF_ERR_INVALID;
    *out = v;
    return KF_OK;
}

kf_status
kf_port_parse(const char *s, int *port, struct kf_err *err)
{
    long long v;

    if (kf_uint_parse(s, 65535, &v) != KF_OK || v < 1)
        return kf_err_set(err, KF_ERR_INVALID, "\"%.*s\" is not a valid port (1-65535)",
                          s ? (int)strnlen(s, 100) : 0, s ? s : "");
    *port = (int)v;
    return KF_OK;
}

kf_status
kf_url_check(const char *s, struct kf_err *err)
{
    const char *p, *host, *host_end, *rest;
    char hostbuf[KF_FQDN_MAX + 2];
    char fq[KF_FQDN_MAX + 1];
    size_t len;

    if (s == NULL)
        goto bad;
    if (kf_text_check(s, "probe URL", err) != KF_OK)
        return KF_ERR_INVALID;
    len = strnlen(s, KF_URL_MAX + 1);
    if (len == 0 || len > KF_URL_MAX)
        goto bad;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
            goto bad;
    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        goto bad;
    rest = host + strcspn(host, "/?#");
    for (p = host; p < rest; p++)
        if (*p == '@')
            goto bad;
    if (*host == '[') {
        char a6[64];
        host_end = memchr(host, ']', (size_t)(rest - host));
        if (host_end == NULL || (size_t)(host_end - host - 1) >= sizeof(a6))
            goto bad;
        memcpy(a6, host + 1, (size_t)(host_end - host - 1));
        a6[host_end - host - 1] = '\0';
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET6, a6, buf) != 1)
            goto bad;
        host_end++;
    } else {
        host_end = memchr(host, ':', (size_t)(rest - host));
        if (host_end == NULL)
            host_end = rest;
        if (host_end == host || (size_t)(host_end - host) >= sizeof(hostbuf))
            goto bad;
        memcpy(hostbuf, host, (size_t)(host_end - host));
        hostbuf[host_end - host] = '\0';
        if (kf_fqdn_normalize(hostbuf, fq, sizeof(fq), NULL) != KF_OK &&
            kf_address_normalize(hostbuf, NULL, 0, NULL) != KF_OK)
            goto bad;
    }
    if (host_end < rest) {
        char portbuf[8];
        int port;
        if (*host_end != ':' || (size_t)(rest - host_end - 1) >= sizeof(portbuf))
            goto bad;
        memcpy(portbuf, host_end + 1, (size_t)(rest - host_end - 1));
        portbuf[rest - host_end - 1] = '\0';
        if (kf_port_parse(portbuf, &port, NULL) != KF_OK)
            goto bad;
    }
    return KF_OK;
bad:
    return kf_err_set(err, KF_ERR_INVALID,
                      "\"%.*s\" is not a valid probe URL (http:// or https://, a host name or "
                      "address, an optional port and path)",
                      s ? (int)strnlen(s, 200) : 0, s ? s : "");
}
