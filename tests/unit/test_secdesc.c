/* test_secdesc.c - security descriptors (secdesc.h): GUID text and binary
 * forms, ACE encode/decode, parsing with every bound, canonical insertion,
 * removal, owner change, rebuilding and the access check. The directory
 * reads and writes are tested on the lab (test_permission.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "secdesc.h"

#define COMPUTER "bf967a86-0de6-11d0-a285-00aa003049e2"
#define RESET_PW "00299570-246d-11d0-a768-00aa006e0529"
#define SPN_ATTR "f3a64788-5306-11d1-a9c5-0000f80367c1"

static struct kf_sid
dom_sid(uint32_t rid)
{
    struct kf_sid s = {.revision = 1, .authority = 5, .n_sub = 5, .sub = {21, 1, 2, 3, rid}};
    return s;
}

static struct kf_guid
guid(const char *text)
{
    struct kf_guid g;
    assert_int_equal(kf_guid_parse(text, &g), 0);
    return g;
}

static struct kf_ace
allow(uint32_t rid, uint32_t mask, uint8_t flags)
{
    struct kf_ace a = {.type = KF_ACE_ALLOWED, .flags = flags, .mask = mask, .sid = dom_sid(rid)};
    return a;
}

static struct kf_ace
allow_obj(uint32_t rid, uint32_t mask, uint8_t flags, const char *object, const char *inherited)
{
    struct kf_ace a = {
        .type = KF_ACE_ALLOWED_OBJECT, .flags = flags, .mask = mask, .sid = dom_sid(rid)};
    if (object != NULL) {
        a.has_object = true;
        a.object = guid(object);
    }
    if (inherited != NULL) {
        a.has_inherited = true;
        a.inherited = guid(inherited);
    }
    return a;
}

/* A DACL-only descriptor holding ACES, built by the module itself from an
 * empty descriptor (header only, DACL present with no ACE). */
static struct kf_sd *
make_sd(const struct kf_ace *aces, size_t n)
{
    /* revision 1, control SELF_RELATIVE|DACL_PRESENT, DACL at 20: rev 2,
     * size 8, 0 ACEs */
    static const uint8_t empty[] = {1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 20,   0,    0, 0, 2, 0, 8, 0, 0, 0, 0, 0};
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};

    assert_int_equal(kf_sd_parse(empty, sizeof(empty), &sd, &err), KF_OK);
    for (size_t i = 0; i < n; i++) {
        /* kf_sd_add refuses inherited ACEs: add, then mark by rebuilding */
        struct kf_ace a = aces[i];
        a.flags &= (uint8_t)~KF_ACE_INHERITED;
        assert_int_equal(kf_sd_add(sd, &a, &err), KF_OK);
    }
    return sd;
}

static void
test_guid_forms(void **state)
{
    struct kf_guid g;
    char text[KF_GUID_STR_LEN];

    (void)state;
    assert_int_equal(kf_guid_parse(COMPUTER, &g), 0);
    /* mixed-endian: 0xbf967a86 little-endian first, then 0x0de6, 0x11d0 */
    static const uint8_t want[16] = {0x86, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11,
                                     0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30, 0x49, 0xe2};
    assert_memory_equal(g.b, want, 16);
    kf_guid_format(&g, text);
    assert_string_equal(text, COMPUTER);
    assert_int_equal(kf_guid_parse("BF967A86-0DE6-11D0-A285-00AA003049E2", &g), 0);
    kf_guid_format(&g, text);
    assert_string_equal(text, COMPUTER);
    assert_int_equal(kf_guid_parse("bf967a86-0de6-11d0-a285-00aa003049e", &g), -1);
    assert_int_equal(kf_guid_parse("bf967a86-0de6-11d0-a285-00aa003049e22", &g), -1);
    assert_int_equal(kf_guid_parse("bf967a86x0de6-11d0-a285-00aa003049e2", &g), -1);
    assert_int_equal(kf_guid_parse("bf967a86-0de6-11d0-a285-00aa003049eg", &g), -1);
    assert_int_equal(kf_guid_parse(NULL, &g), -1);
}

static void
test_ace_round_trip(void **state)
{
    struct kf_ace a = allow_obj(1105, KF_RIGHT_CONTROL_ACCESS,
                                KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, RESET_PW, COMPUTER);
    struct kf_ace b;
    uint8_t buf[KF_ACE_MAX];
    size_t n = kf_ace_encode(&a, buf);

    (void)state;
    /* header 4 + mask 4 + flags 4 + 2 GUIDs + SID of 5 parts */
    assert_int_equal(n, 12 + 32 + 28);
    assert_int_equal(buf[0], KF_ACE_ALLOWED_OBJECT);
    assert_int_equal(buf[1], 0x0a);
    assert_int_equal(buf[2] | buf[3] << 8, n);
    assert_int_equal(buf[8], 3); /* both GUIDs present */
    assert_int_equal(kf_ace_parse(buf, n, &b), 0);
    assert_true(kf_ace_equal(&a, &b));
    /* the wrong length, a short buffer, an unknown flag, a bad SID */
    assert_int_equal(kf_ace_parse(buf, n - 1, &b), -1);
    assert_int_equal(kf_ace_parse(buf, 7, &b), -1);
    buf[8] = 7;
    assert_int_equal(kf_ace_parse(buf, n, &b), -1);
    buf[8] = 3;
    buf[44 + 1] = 16; /* 16 sub-authorities */
    assert_int_equal(kf_ace_parse(buf, n, &b), -1);
    /* a plain ACE */
    a = allow(512, 0xf01ff, 0);
    n = kf_ace_encode(&a, buf);
    assert_int_equal(n, 8 + 28);
    assert_int_equal(kf_ace_parse(buf, n, &b), 0);
    assert_true(kf_ace_equal(&a, &b));
    /* an unknown type is not decoded nor encoded */
    a.type = 0x07;
    assert_int_equal(kf_ace_encode(&a, buf), 0);
}

static void
test_ace_equal_ignores_only_inherited_bit(void **state)
{
    struct kf_ace a = allow_obj(7, 0x30, KF_ACE_CONTAINER_INHERIT, SPN_ATTR, COMPUTER), b = a;

    (void)state;
    b.flags |= KF_ACE_INHERITED;
    assert_true(kf_ace_equal(&a, &b));
    b = a;
    b.mask = 0x08;
    assert_false(kf_ace_equal(&a, &b));
    b = a;
    b.has_inherited = false;
    assert_false(kf_ace_equal(&a, &b));
    b = a;
    b.sid.sub[4] = 8;
    assert_false(kf_ace_equal(&a, &b));
    b = a;
    b.inherited = guid(RESET_PW);
    assert_false(kf_ace_equal(&a, &b));
}

/* A descriptor with owner, group, a SACL and a DACL of an explicit deny, an
 * explicit allow and an inherited allow, by hand. */
static size_t
handmade(uint8_t *b)
{
    struct kf_ace deny = {.type = KF_ACE_DENIED, .mask = 0x10000, .sid = dom_sid(1)};
    struct kf_ace ex = allow(2, 0x20, 0), inh = allow(3, 0x10, KF_ACE_INHERITED);
    struct kf_sid owner = dom_sid(512), group = dom_sid(513);
    size_t off = 20, n;
    uint8_t ace[KF_ACE_MAX];
    uint8_t *acl;

    memset(b, 0, 512);
    b[0] = 1;
    b[2] = 0x14; /* DACL + SACL present */
    b[3] = 0x84; /* self-relative, DACL auto-inherited */
    b[4] = (uint8_t)off;
    off += kf_sid_encode(&owner, b + off);
    b[8] = (uint8_t)off;
    off += kf_sid_encode(&group, b + off);
    /* SACL: empty, revision 2 */
    b[12] = (uint8_t)off;
    b[off] = 2;
    b[off + 2] = 8;
    off += 8;
    b[16] = (uint8_t)off;
    acl = b + off;
    memset(acl, 0, 8);
    acl[0] = 2;
    off += 8;
    n = kf_ace_encode(&deny, ace);
    memcpy(b + off, ace, n);
    off += n;
    n = kf_ace_encode(&ex, ace);
    memcpy(b + off, ace, n);
    off += n;
    n = kf_ace_encode(&inh, ace);
    memcpy(b + off, ace, n);
    off += n;
    acl[2] = (uint8_t)((b + off - acl) & 0xff);
    acl[3] = (uint8_t)((b + off - acl) >> 8);
    acl[4] = 3;
    return off;
}

static void
test_parse_and_rebuild_identical(void **state)
{
    uint8_t in[512], *out = NULL;
    size_t len = handmade(in), out_len = 0;
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};
    struct kf_ace a;

    (void)state;
    assert_int_equal(kf_sd_parse(in, len, &sd, &err), KF_OK);
    assert_int_equal(kf_sd_parts(sd), KF_SD_OWNER | KF_SD_GROUP | KF_SD_DACL | KF_SD_SACL);
    assert_int_equal(kf_sd_ace_count(sd), 3);
    assert_true(kf_sd_ace(sd, 0, &a));
    assert_int_equal(a.type, KF_ACE_DENIED);
    assert_int_equal(kf_sd_owner(sd)->sub[4], 512);
    assert_int_equal(
        kf_sd_build(sd, KF_SD_OWNER | KF_SD_GROUP | KF_SD_SACL | KF_SD_DACL, &out, &out_len, &err),
        KF_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, in, len);
    free(out);
    /* the DACL alone: no owner, group or SACL; the control keeps its
     * other bits */
    assert_int_equal(kf_sd_build(sd, KF_SD_DACL, &out, &out_len, &err), KF_OK);
    assert_int_equal(out_len, 20 + 8 + 36 * 3);
    assert_int_equal(out[2], 0x04);
    assert_int_equal(out[3], 0x84);
    assert_int_equal(out[4] | out[8] | out[12], 0);
    assert_int_equal(out[16], 20);
    free(out);
    kf_sd_free(sd);
}

static void
test_parse_refuses_bad_bounds(void **state)
{
    uint8_t in[512], bad[512];
    size_t len = handmade(in);
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};
    size_t dacl = in[16];

    (void)state;
    /* every strict prefix fails, never reads past it */
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, in, l);
        assert_int_not_equal(kf_sd_parse(copy, l, &sd, &err), KF_OK);
        assert_null(sd);
        free(copy);
    }
    memcpy(bad, in, len);
    bad[0] = 2;
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "revision 2"));
    memcpy(bad, in, len);
    bad[3] = 0x04; /* not self-relative */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    memcpy(bad, in, len);
    bad[4] = 0xff; /* owner offset past the end */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "owner"));
    memcpy(bad, in, len);
    bad[4] = 4; /* owner inside the header */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    memcpy(bad, in, len);
    bad[dacl + 2] = (uint8_t)(bad[dacl + 2] + 4); /* DACL longer than the buffer */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "DACL claims"));
    memcpy(bad, in, len);
    bad[dacl + 4] = 4; /* one ACE more than there is room for */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "ACE 3"));
    memcpy(bad, in, len);
    bad[dacl + 8 + 2] = 2; /* an ACE of size 2 */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "bad size"));
    memcpy(bad, in, len);
    bad[dacl] = 3; /* ACL revision 3 */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    memcpy(bad, in, len);
    bad[16] = 0; /* DACL present but NULL */
    assert_int_equal(kf_sd_parse(bad, len, &sd, &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "NULL DACL"));
    assert_int_equal(kf_sd_parse(in, KF_SD_MAX + 1, &sd, &err), KF_ERR_INVALID);
    assert_null(sd);
}

static void
test_add_is_canonical(void **state)
{
    uint8_t in[512];
    size_t len = handmade(in);
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};
    struct kf_ace a, got;

    (void)state;
    assert_int_equal(kf_sd_parse(in, len, &sd, &err), KF_OK);
    a = allow_obj(9, KF_RIGHT_CREATE_CHILD | KF_RIGHT_DELETE_CHILD, 0, COMPUTER, NULL);
    assert_int_equal(kf_sd_find(sd, &a), -1);
    assert_int_equal(kf_sd_add(sd, &a, &err), KF_OK);
    /* after the explicit deny and allow, before the inherited one */
    assert_int_equal(kf_sd_find(sd, &a), 2);
    assert_true(kf_sd_ace(sd, 3, &got));
    assert_true(got.flags & KF_ACE_INHERITED);
    /* an inherited ACE equal to one wanted is not "explicitly present" */
    got.flags &= (uint8_t)~KF_ACE_INHERITED;
    assert_int_equal(kf_sd_find(sd, &got), -1);
    /* the DACL becomes revision 4 (object ACEs) */
    {
        uint8_t *out = NULL;
        size_t n = 0;
        assert_int_equal(kf_sd_build(sd, KF_SD_DACL, &out, &n, &err), KF_OK);
        assert_int_equal(out[20], 4);
        assert_int_equal(out[24], 4); /* ACE count */
        free(out);
    }
    kf_sd_remove(sd, 2);
    assert_int_equal(kf_sd_find(sd, &a), -1);
    assert_int_equal(kf_sd_ace_count(sd), 3);
    /* an inherited ACE cannot be added */
    a.flags = KF_ACE_INHERITED;
    assert_int_equal(kf_sd_add(sd, &a, &err), KF_ERR_INVALID);
    kf_sd_free(sd);
}

static void
test_add_to_descriptor_without_dacl_and_limit(void **state)
{
    static const uint8_t bare[20] = {1, 0, 0, 0x80};
    struct kf_sd *sd = NULL;
    struct kf_err err = {0};
    struct kf_ace a = allow_obj(9, 0x30, KF_ACE_CONTAINER_INHERIT, SPN_ATTR, COMPUTER);
    uint8_t *out = NULL;
    size_t n = 0, added = 0;
    kf_status st;

    (void)state;
    assert_int_equal(kf_sd_parse(bare, sizeof(bare), &sd, &err), KF_OK);
    assert_int_equal(kf_sd_parts(sd), 0);
    assert_int_equal(kf_sd_add(sd, &a, &err), KF_OK);
    assert_int_equal(kf_sd_parts(sd), KF_SD_DACL);
    /* fill to the 64 KiB limit: then refused, and the DACL still builds */
    while ((st = kf_sd_add(sd, &a, &err)) == KF_OK)
        added++;
    assert_int_equal(st, KF_ERR_CONFLICT);
    assert_true(added > 500);
    assert_int_equal(kf_sd_build(sd, KF_SD_DACL, &out, &n, &err), KF_OK);
    assert_true(n <= 20 + 0xffff);
    kf_sd_free(sd);
    sd = NULL;
    assert_int_equal(kf_sd_parse(out, n, &sd, &err), KF_OK);
    assert_int_equal(kf_sd_ace_count(sd), added + 1);
    free(out);
    kf_sd_free(sd);
}

static void
test_owner_change(void **state)
{
    uint8_t in[512], *out = NULL;
    size_t len = handmade(in), n = 0;
    struct kf_sd *sd = NULL, *back = NULL;
    struct kf_err err = {0};
    struct kf_sid da = dom_sid(512), user = dom_sid(1105);

    (void)state;
    assert_int_equal(kf_sd_parse(in, len, &sd, &err), KF_OK);
    kf_sd_set_owner(sd, &user);
    assert_int_equal(kf_sd_build(sd, KF_SD_OWNER, &out, &n, &err), KF_OK);
    assert_int_equal(n, 20 + 28);
    assert_int_equal(kf_sd_parse(out, n, &back, &err), KF_OK);
    assert_int_equal(kf_sd_parts(back), KF_SD_OWNER);
    assert_true(kf_sid_equal(kf_sd_owner(back), &user));
    assert_false(kf_sid_equal(kf_sd_owner(back), &da));
    free(out);
    kf_sd_free(back);
    kf_sd_free(sd);
}

static void
test_grants(void **state)
{
    struct kf_guid comp = guid(COMPUTER), reset = guid(RESET_PW), spn = guid(SPN_ATTR);
    struct kf_sid token[] = {dom_sid(1105), dom_sid(513), dom_sid(1200)};
    struct kf_ace aces[] = {
        allow_obj(1200, KF_RIGHT_CREATE_CHILD | KF_RIGHT_DELETE_CHILD, 0, COMPUTER, NULL),
        allow_obj(1200, KF_RIGHT_CONTROL_ACCESS, KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY,
                  RESET_PW, COMPUTER),
        allow_obj(1200, 0x30, KF_ACE_CONTAINER_INHERIT | KF_ACE_INHERIT_ONLY, SPN_ATTR, NULL),
    };
    struct kf_sd *sd = make_sd(aces, 3);

    (void)state;
    /* on the container itself */
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_CREATE_CHILD, &comp, NULL));
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_DELETE_CHILD, &comp, NULL));
    assert_false(kf_sd_grants(sd, token, 3, KF_RIGHT_CREATE_CHILD, &reset, NULL));
    assert_false(kf_sd_grants(sd, token, 3, KF_RIGHT_CREATE_CHILD, NULL, NULL));
    assert_false(
        kf_sd_grants(sd, token, 3, KF_RIGHT_CONTROL_ACCESS, &reset, NULL)); /* inherit-only */
    /* passed to a new computer */
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_CONTROL_ACCESS, &reset, &comp));
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_WRITE_PROP, &spn, &comp));
    assert_false(
        kf_sd_grants(sd, token, 3, KF_RIGHT_CREATE_CHILD, &comp, &comp)); /* not inherited */
    /* not to a user object */
    struct kf_guid user = guid("bf967aba-0de6-11d0-a285-00aa003049e2");
    assert_false(kf_sd_grants(sd, token, 3, KF_RIGHT_CONTROL_ACCESS, &reset, &user));
    /* not to a token without the group */
    assert_false(kf_sd_grants(sd, token, 2, KF_RIGHT_CONTROL_ACCESS, &reset, &comp));
    kf_sd_free(sd);

    /* a deny before the allow wins; one after it does not */
    struct kf_ace deny = {.type = KF_ACE_DENIED_OBJECT,
                          .mask = KF_RIGHT_CONTROL_ACCESS,
                          .has_object = true,
                          .object = reset,
                          .sid = dom_sid(1105)};
    struct kf_ace all = allow(1200, KF_RIGHT_GENERIC_ALL, 0);
    struct kf_ace order1[] = {deny, all}, order2[] = {all, deny};
    sd = make_sd(order1, 2);
    assert_false(kf_sd_grants(sd, token, 3, KF_RIGHT_CONTROL_ACCESS, &reset, NULL));
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_WRITE_PROP, &spn, NULL)); /* GENERIC_ALL */
    kf_sd_free(sd);
    sd = make_sd(order2, 2);
    assert_true(kf_sd_grants(sd, token, 3, KF_RIGHT_CONTROL_ACCESS, &reset, NULL));
    kf_sd_free(sd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guid_forms),
        cmocka_unit_test(test_ace_round_trip),
        cmocka_unit_test(test_ace_equal_ignores_only_inherited_bit),
        cmocka_unit_test(test_parse_and_rebuild_identical),
        cmocka_unit_test(test_parse_refuses_bad_bounds),
        cmocka_unit_test(test_add_is_canonical),
        cmocka_unit_test(test_add_to_descriptor_without_dacl_and_limit),
        cmocka_unit_test(test_owner_change),
        cmocka_unit_test(test_grants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
