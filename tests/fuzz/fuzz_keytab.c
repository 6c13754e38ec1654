/* fuzz_keytab.c - the keytab file decoder krbfleetd reads its web and host
 * keytabs with, on arbitrary bytes: a decode that succeeds stays within the
 * bounds, and its set encodes and decodes again to the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "keytab.h"

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
    struct kf_keyset *ks = NULL, *again = NULL;
    struct kf_buf *b;
    struct kf_err err = {0};

    if (kf_keytab_decode(data, size, &ks, &err) != KF_OK) {
        check(ks == NULL && err.msg[0] != '\0');
        return 0;
    }
    check(ks->n <= KF_KEYTAB_ENTRIES_MAX);
    for (size_t i = 0; i < ks->n; i++)
        check(ks->v[i].key_len <= KF_KEY_MAX &&
              strlen(ks->v[i].principal) <= KF_KEYTAB_PRINCIPAL_MAX);
    b = kf_buf_new(KF_KEYTAB_FILE_MAX);
    check(b != NULL);
    /* a principal libkrb5 unparsed may still not parse back (an empty
     * component): then encoding refuses it, which is fine */
    if (kf_keytab_encode(ks, b, &err) == KF_OK) {
        check(kf_keytab_decode(kf_buf_ptr(b), kf_buf_len(b), &again, &err) == KF_OK);
        check(again->n == ks->n);
        for (size_t i = 0; i < ks->n; i++)
            check(again->v[i].kvno == ks->v[i].kvno && again->v[i].key_len == ks->v[i].key_len &&
                  memcmp(again->v[i].key, ks->v[i].key, ks->v[i].key_len) == 0 &&
                  strcmp(again->v[i].principal, ks->v[i].principal) == 0);
        kf_keyset_free(again);
    }
    kf_buf_free(b);
    kf_keyset_free(ks);
    return 0;
}
