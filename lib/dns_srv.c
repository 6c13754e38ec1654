/* dns_srv.c - SRV records through libresolv, in RFC 2782 order. */
#include "dns_srv.h"

#include "names.h"

#include "mem.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>
#include <sys/random.h>

#define ANSWER_MAX 65535

static unsigned long
random_below(unsigned long bound)
{
    unsigned long r = 0, limit;

    if (bound <= 1)
        return 0;
    /* Reject values past the largest multiple of BOUND: no bias. */
    limit = (unsigned long)-1 - ((unsigned long)-1 % bound);
    do {
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = 0; /* not reached on Linux >= 3.17; order still valid */
    } while (r >= limit);
    return r % bound;
}

/* Ascending priority; within one, weight-0 records after the others. (RFC
 * 2782 lets a weight-0 record win the draw only when the random number is
 * exactly 0; drawing them last is the same in practice and deterministic.) */
static int
by_priority(const void *a, const void *b)
{
    const struct kf_srv *x = a, *y = b;

    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return (x->weight == 0) - (y->weight == 0);
}

void
kf_srv_order(struct kf_srv *list, size_t n, unsigned long (*rnd)(unsigned long bound))
{
    if (rnd == NULL)
        rnd = random_below;
    if (n < 2)
        return;
    qsort(list, n, sizeof(list[0]), by_priority);
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && list[end].priority == list[start].priority)
            end++;
        /* weighted draw without replacement over [start, end) */
        for (size_t i = start; i < end; i++) {
            unsigned long total = 0, pick, run = 0;
            size_t j;
            for (j = i; j < end; j++)
                total += list[j].weight;
            if (total == 0)
                break; /* only weight-0 records remain: keep their order */
            pick = rnd(total);
            for (j = i; j < end; j++) {
                run += list[j].weight;
                if (list[j].weight != 0 && pick < run)
                    break;
            }
            if (j != i) {
                struct kf_srv tmp = list[i];
                list[i] = list[j];
                list[j] = tmp;
            }
        }
        start = end;
    }
}

void
kf_srv_free(struct kf_srv *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i].target);
    free(list);
}

static const char *
herror_text(int h)
{
    switch (h) {
    case HOST_NOT_FOUND:
        return "no such name";
    case NO_DATA:
        return "no SRV records";
    case TRY_AGAIN:
        return "the DNS server did not answer (timeout or SERVFAIL)";
    case NO_RECOVERY:
        return "the DNS server refused the query";
    default:
        return "resolver failure";
    }
}

kf_status
kf_srv_lookup(const char *name, struct kf_srv **out, size_t *n, struct kf_err *err)
{
    struct __res_state rs;
    _cleanup_free_ unsigned char *answer = NULL;
    int len;
    kf_status st;

    *out = NULL;
    *n = 0;
    memset(&rs, 0, sizeof(rs));
    if (res_ninit(&rs) != 0)
        return kf_err_set(err, KF_ERR_DIRECTORY, "cannot look up %s: resolver set-up failed", name);
    answer = malloc(ANSWER_MAX);
    if (answer == NULL) {
        res_nclose(&rs);
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    len = res_nquery(&rs, name, ns_c_in, ns_t_srv, answer, ANSWER_MAX);
    if (len < 0) {
        int h = rs.res_h_errno;
        res_nclose(&rs);
        return kf_err_set(err,
                          h == HOST_NOT_FOUND || h == NO_DATA ? KF_ERR_NOT_FOUND : KF_ERR_DIRECTORY,
                          "DNS SRV lookup of %s: %s", name, herror_text(h));
    }
    res_nclose(&rs);
    if (len > ANSWER_MAX)
        len = ANSWER_MAX; /* truncated answer: parse what we have */
    if ((st = kf_srv_parse(answer, (size_t)len, name, out, n, err)) != KF_OK)
        return st;
    kf_srv_order(*out, *n, NULL);
    return KF_OK;
}

kf_status
kf_srv_parse(const unsigned char *answer, size_t len, const char *name, struct kf_srv **out,
             size_t *n, struct kf_err *err)
{
    struct kf_srv *list = NULL;
    size_t count = 0;
    ns_msg msg;
    int rrs;
    kf_status st = KF_OK;

    *out = NULL;
    *n = 0;
    if (len > ANSWER_MAX || ns_initparse(answer, (int)len, &msg) < 0)
        return kf_err_set(err, KF_ERR_DIRECTORY, "DNS SRV lookup of %s: malformed answer", name);
    rrs = ns_msg_count(msg, ns_s_an);
    list = calloc(KF_SRV_MAX, sizeof(*list));
    if (list == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < rrs && count < KF_SRV_MAX; i++) {
        ns_rr rr;
        char target[NS_MAXDNAME], fqdn[KF_FQDN_MAX + 1];
        const unsigned char *rd;

        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
            st = kf_err_set(err, KF_ERR_DIRECTORY, "DNS SRV lookup of %s: malformed record", name);
            goto fail;
        }
        if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in)
            continue; /* CNAMEs and the like on the way */
        if (ns_rr_rdlen(rr) < 7)
            continue;
        rd = ns_rr_rdata(rr);
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof(target)) < 0)
            continue;
        if (target[0] == '\0' || strcmp(target, ".") == 0)
            continue; /* "service decidedly not available" */
        /* A target goes into an LDAP URI: only a valid host name will do. */
        if (kf_fqdn_normalize(target, fqdn, sizeof(fqdn), NULL) != KF_OK)
            continue;
        list[count].priority = ns_get16(rd);
        list[count].weight = ns_get16(rd + 2);
        list[count].port = ns_get16(rd + 4);
        list[count].target = strdup(fqdn);
        if (list[count].target == NULL) {
            st = kf_err_set(err, KF_ERR_NOMEM, "out of memory");
            goto fail;
        }
        count++;
    }
    if (count == 0) {
        free(list);
        return kf_err_set(err, KF_ERR_NOT_FOUND, "DNS SRV lookup of %s: no usable SRV records",
                          name);
    }
    *out = list;
    *n = count;
    return KF_OK;
fail:
    kf_srv_free(list, count);
    return st;
}
