/* kf-sd-dump - print a security descriptor read back from the DC, for
 * tests/integration/test_permission.sh: the base64 value of
 * nTSecurityDescriptor (as ldapsearch prints it, "::" form) on stdin,
 * decoded by lib/secdesc (unit-tested and fuzzed).
 *
 * One line per DACL ACE, in order:
 *   ace TYPE FLAGS MASK OBJECT|- INHERITED|- SID
 * (hex type, flags and mask; "ace ? SIZE" for a type it does not decode),
 * then "owner SID" when the descriptor holds one and "aces N".
 * Exit 1 when the input does not decode.
 */
#include "b64.h"
#include "secdesc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
    static char text[4 * KF_SD_MAX / 3 + 16];
    size_t n = fread(text, 1, sizeof(text) - 1, stdin), len = 0;
    unsigned char *raw;
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};
    char sid[KF_SID_STR_MAX];

    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    text[n] = '\0';
    raw = kf_b64_decode(text, n, KF_SD_MAX, &len);
    if (raw == NULL) {
        fprintf(stderr, "kf-sd-dump: not base64\n");
        return 1;
    }
    if (kf_sd_parse(raw, len, &sd, &err) != KF_OK) {
        fprintf(stderr, "kf-sd-dump: %s\n", err.msg);
        free(raw);
        return 1;
    }
    for (size_t i = 0; i < kf_sd_ace_count(sd); i++) {
        struct kf_ace a;
        char o[KF_GUID_STR_LEN] = "-", h[KF_GUID_STR_LEN] = "-";
        if (!kf_sd_ace(sd, i, &a)) {
            printf("ace ?\n");
            continue;
        }
        if (a.has_object)
            kf_guid_format(&a.object, o);
        if (a.has_inherited)
            kf_guid_format(&a.inherited, h);
        kf_sid_format(&a.sid, sid, sizeof(sid));
        printf("ace %02x %02x %08x %s %s %s\n", a.type, a.flags, a.mask, o, h, sid);
    }
    if (kf_sd_owner(sd) != NULL) {
        kf_sid_format(kf_sd_owner(sd), sid, sizeof(sid));
        printf("owner %s\n", sid);
    }
    printf("aces %zu\n", kf_sd_ace_count(sd));
    kf_sd_free(sd);
    free(raw);
    return 0;
}
