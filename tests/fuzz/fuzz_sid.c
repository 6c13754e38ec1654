/* fuzz_sid.c - the binary SID parser that reads the tokenGroups a
 * directory server sends (kf_sid_parse), on arbitrary bytes: a parse that
 * succeeds used exactly the bytes it was given and formats within
 * KF_SID_STR_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"

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
    struct kf_sid sid;
    char text[KF_SID_STR_MAX];

    if (kf_sid_parse(data, size, &sid) != 0)
        return 0;
    check(sid.revision == 1 && sid.n_sub <= KF_SID_SUBAUTH_MAX);
    check(size == 8 + 4 * (size_t)sid.n_sub);
    kf_sid_format(&sid, text, sizeof(text));
    check(strlen(text) < sizeof(text) - 1 && strncmp(text, "S-1-", 4) == 0);
    return 0;
}
