/* fuzz_dns_srv.c - the DNS SRV answer parser on arbitrary bytes.
 *
 * Besides the sanitizers' findings: every record kept has a target that is
 * a valid, lower-case host name, and the result orders without trouble. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_srv.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static unsigned long
fixed(unsigned long bound)
{
    return bound / 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kf_srv *list = NULL;
    struct kf_err err = {0};
    size_t n = 0;

    if (kf_srv_parse(data, size, "_ldap._tcp.fuzz.test", &list, &n, &err) != KF_OK) {
        check(list == NULL && n == 0 && err.msg[0] != '\0');
        return 0;
    }
    check(n > 0 && n <= KF_SRV_MAX);
    for (size_t i = 0; i < n; i++) {
        char fq[KF_FQDN_MAX + 1];
        check(kf_fqdn_normalize(list[i].target, fq, sizeof(fq), NULL) == KF_OK);
        check(strcmp(fq, list[i].target) == 0);
        check(list[i].priority <= 65535 && list[i].weight <= 65535 && list[i].port <= 65535);
    }
    kf_srv_order(list, n, fixed);
    kf_srv_free(list, n);
    return 0;
}
