/* fuzz_b64.c - the base64 decoder that reads a web server's Negotiate
 * token, on arbitrary bytes: a decode that succeeds must re-encode to the
 * same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

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
    size_t n = 0;
    unsigned char *raw = kf_b64_decode((const char *)data, size, 65536, &n);
    char *again;

    if (raw == NULL)
        return 0;
    check(n <= size / 4 * 3);
    again = kf_b64_encode(raw, n);
    check(again != NULL && strlen(again) == size && memcmp(again, data, size) == 0);
    free(again);
    free(raw);
    return 0;
}
