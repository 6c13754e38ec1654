/* test_buf.c - bounded buffers: round trips, bounds, failed gets consume
 * nothing, secret wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void
test_round_trip(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(1024);
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    char *s = NULL;
    uint8_t *bytes = NULL;
    size_t n;

    (void)state;
    assert_non_null(b);
    assert_int_equal(kf_buf_put_u8(b, 0xab), KF_OK);
    assert_int_equal(kf_buf_put_u16(b, 0x1234), KF_OK);
    assert_int_equal(kf_buf_put_u32(b, 0xdeadbeef), KF_OK);
    assert_int_equal(kf_buf_put_u64(b, 0x0102030405060708ULL), KF_OK);
    assert_int_equal(kf_buf_put_cstring(b, "host/fe01.lab.test"), KF_OK);
    assert_int_equal(kf_buf_put_string(b, "\0\1\2", 3), KF_OK);
    assert_int_equal(kf_buf_len(b), 1 + 2 + 4 + 8 + 4 + 18 + 4 + 3);
    /* big-endian on the wire */
    assert_memory_equal(kf_buf_ptr(b), "\xab\x12\x34\xde\xad\xbe\xef", 7);

    assert_int_equal(kf_buf_get_u8(b, &u8), KF_OK);
    assert_int_equal(u8, 0xab);
    assert_int_equal(kf_buf_get_u16(b, &u16), KF_OK);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(kf_buf_get_u32(b, &u32), KF_OK);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(kf_buf_get_u64(b, &u64), KF_OK);
    assert_true(u64 == 0x0102030405060708ULL);
    assert_int_equal(kf_buf_get_cstring(b, 64, &s), KF_OK);
    assert_string_equal(s, "host/fe01.lab.test");
    free(s);
    assert_int_equal(kf_buf_get_bytes(b, 3, &bytes, &n), KF_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(bytes, "\0\1\2", 3);
    free(bytes);
    assert_int_equal(kf_buf_len(b), 0);
    assert_int_equal(kf_buf_get_u8(b, &u8), KF_ERR_INVALID);
}

static void
test_maximum_enforced(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(10);
    uint8_t big[11] = {0};

    (void)state;
    assert_int_equal(kf_buf_put(b, big, 11), KF_ERR_INVALID);
    assert_int_equal(kf_buf_len(b), 0);
    assert_int_equal(kf_buf_put(b, big, 8), KF_OK);
    assert_int_equal(kf_buf_put_u32(b, 1), KF_ERR_INVALID);
    assert_int_equal(kf_buf_len(b), 8);
    assert_int_equal(kf_buf_put_string(b, big, 0), KF_ERR_INVALID); /* 4 > 2 left */
    assert_int_equal(kf_buf_len(b), 8);
    /* consuming frees room */
    assert_int_equal(kf_buf_skip(b, 8), KF_OK);
    assert_int_equal(kf_buf_put_u64(b, 7), KF_OK);
    assert_int_equal(kf_buf_len(b), 8);
    assert_null(kf_buf_new(KF_BUF_SIZE_MAX + 1));
}

static void
test_failed_get_consumes_nothing(void **state)
{
    /* a string announcing 100 bytes with only 3 present */
    static const uint8_t msg[] = {0, 0, 0, 100, 'a', 'b', 'c'};
    static const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'c'};
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_from(msg, sizeof(msg));
    _cleanup_(kf_buf_freep) struct kf_buf *c = kf_buf_from(nul, sizeof(nul));
    const uint8_t *p;
    uint8_t *bytes = NULL;
    char *s = NULL;
    size_t n;
    uint64_t u64 = 42;

    (void)state;
    assert_int_equal(kf_buf_get_string_direct(b, 1000, &p, &n), KF_ERR_INVALID);
    assert_int_equal(kf_buf_get_u64(b, &u64), KF_ERR_INVALID);
    assert_true(u64 == 42);
    assert_int_equal(kf_buf_len(b), sizeof(msg));
    /* over the caller's bound although present */
    assert_int_equal(kf_buf_get_cstring(c, 2, &s), KF_ERR_INVALID);
    /* a NUL inside a C string */
    assert_int_equal(kf_buf_get_cstring(c, 3, &s), KF_ERR_INVALID);
    assert_null(s);
    assert_int_equal(kf_buf_len(c), sizeof(nul));
    /* but fine as bytes */
    assert_int_equal(kf_buf_get_bytes(c, 3, &bytes, &n), KF_OK);
    assert_int_equal(n, 3);
    free(bytes);
    /* read-only buffers refuse puts */
    assert_int_equal(kf_buf_put_u8(b, 1), KF_ERR_INVALID);
}

static void
test_growth_and_secret(void **state)
{
    _cleanup_(kf_buf_freep) struct kf_buf *b = kf_buf_new(1 << 20);
    uint8_t chunk[1000];

    (void)state;
    kf_buf_set_secret(b);
    assert_true(kf_buf_is_secret(b));
    memset(chunk, 0x5a, sizeof(chunk));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(kf_buf_put(b, chunk, sizeof(chunk)), KF_OK);
    assert_int_equal(kf_buf_len(b), 1000000);
    for (int i = 0; i < 48; i++)
        assert_int_equal(kf_buf_put(b, chunk, sizeof(chunk)), KF_OK);
    assert_int_equal(kf_buf_put(b, chunk, 577), KF_ERR_INVALID);
    assert_int_equal(kf_buf_put(b, chunk, 576), KF_OK);
    assert_int_equal(kf_buf_len(b), 1 << 20);
    kf_buf_reset(b);
    assert_int_equal(kf_buf_len(b), 0);
    assert_int_equal(kf_buf_put_u8(b, 9), KF_OK);
    assert_int_equal(kf_buf_ptr(b)[0], 9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_maximum_enforced),
        cmocka_unit_test(test_failed_get_consumes_nothing),
        cmocka_unit_test(test_growth_and_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
