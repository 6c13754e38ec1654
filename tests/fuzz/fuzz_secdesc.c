/* fuzz_secdesc.c - the security descriptor parser that reads the
 * nTSecurityDescriptor a directory server sends (kf_sd_parse), on
 * arbitrary bytes: a descriptor that parses rebuilds within KF_SD_MAX and
 * parses again to the same ACEs; adding and removing an ACE keeps it valid;
 * the access check never reads out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kf_sd *sd = NULL, *again = NULL;
    struct kf_err err = {0};
    struct kf_ace a, b;
    struct kf_sid token[2] = {{.revision = 1, .authority = 5, .n_sub = 1, .sub = {11}},
                              {.revision = 1, .authority = 1, .n_sub = 1, .sub = {0}}};
    struct kf_guid g = {{0}};
    uint8_t *out = NULL;
    size_t len = 0, n;

    if (kf_sd_parse(data, size, &sd, &err) != KF_OK) {
        check(sd == NULL && err.msg[0] != '\0');
        return 0;
    }
    n = kf_sd_ace_count(sd);
    (void)kf_sd_grants(sd, token, 2, KF_RIGHT_CONTROL_ACCESS, &g, NULL);
    (void)kf_sd_grants(sd, token, 2, KF_RIGHT_WRITE_PROP, &g, &g);
    check(kf_sd_build(sd, KF_SD_OWNER | KF_SD_GROUP | KF_SD_SACL | KF_SD_DACL, &out, &len, &err) ==
          KF_OK);
    check(len <= KF_SD_MAX);
    check(kf_sd_parse(out, len, &again, &err) == KF_OK);
    check(kf_sd_ace_count(again) == n);
    for (size_t i = 0; i < n; i++) {
        bool da = kf_sd_ace(sd, i, &a), db = kf_sd_ace(again, i, &b);
        check(da == db);
        if (da) {
            uint8_t enc[KF_ACE_MAX];
            check(kf_ace_equal(&a, &b));
            check(kf_ace_encode(&a, enc) > 0);
        }
    }
    kf_sd_free(again);
    free(out);
    a = (struct kf_ace){
        .type = KF_ACE_ALLOWED_OBJECT, .mask = 0x30, .has_object = true, .sid = token[0]};
    if (kf_sd_add(sd, &a, &err) == KF_OK) {
        long at = kf_sd_find(sd, &a);
        check(at >= 0);
        kf_sd_remove(sd, (size_t)at);
        check(kf_sd_ace_count(sd) == n);
    }
    kf_sd_free(sd);
    return 0;
}
