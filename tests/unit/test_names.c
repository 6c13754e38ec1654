/* test_names.c - DNS names, site names, addresses, ports, probe URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "names.h"

struct fqdn_case {
    const char *in;
    const char *want; /* NULL: must be rejected */
};

static const struct fqdn_case fqdn_cases[] = {
    {"web.example.com", "web.example.com"},
    {"WEB.Example.COM", "web.example.com"},
    {"web.example.com.", "web.example.com"},
    {"fe01", "fe01"},
    {"a-b.c-d.e", "a-b.c-d.e"},
    {"1.2.3.example", "1.2.3.example"},
    {"x.123", "x.123"},
    {"", NULL},
    {".", NULL},
    {"web..example.com", NULL},
    {".web.example.com", NULL},
    {"web.example.com..", NULL},
    {"-web.example.com", NULL},
    {"web-.example.com", NULL},
    {"web.example.com-", NULL},
    {"bad_name.example.com", NULL},
    {"web example.com", NULL},
    {"web.exämple.com", NULL},
    {"web/x.example.com", NULL},
    /* 63 characters in a label is the most */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL},
};

static void
test_fqdn_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fqdn_cases) / sizeof(fqdn_cases[0]); i++) {
        char out[KF_FQDN_MAX + 1];
        struct kf_err err = {0};
        kf_status st = kf_fqdn_normalize(fqdn_cases[i].in, out, sizeof(out), &err);
        if (fqdn_cases[i].want == NULL) {
            if (st == KF_OK)
                fail_msg("accepted \"%s\"", fqdn_cases[i].in);
            assert_int_equal(st, KF_ERR_INVALID);
            assert_non_null(strstr(err.msg, "not a valid DNS name"));
        } else {
            if (st != KF_OK)
                fail_msg("rejected \"%s\": %s", fqdn_cases[i].in, err.msg);
            assert_string_equal(out, fqdn_cases[i].want);
        }
    }
}

static void
test_fqdn_total_length(void **state)
{
    char name[300], out[KF_FQDN_MAX + 1];
    (void)state;

    /* 4 labels of 63 + 3 dots = 255 > 253 */
    memset(name, 'a', sizeof(name));
    name[63] = name[127] = name[191] = '.';
    name[255] = '\0';
    assert_int_equal(kf_fqdn_normalize(name, out, sizeof(out), NULL), KF_ERR_INVALID);
    /* 253 exactly is fine: 63.63.63.61 */
    name[253] = '\0';
    assert_int_equal(kf_fqdn_normalize(name, out, sizeof(out), NULL), KF_OK);
    assert_int_equal(strlen(out), 253);
    /* 253 plus the trailing dot is fine too */
    name[253] = '.';
    name[254] = '\0';
    assert_int_equal(kf_fqdn_normalize(name, out, sizeof(out), NULL), KF_OK);
    assert_int_equal(strlen(out), 253);
}

static void
test_site_names(void **state)
{
    (void)state;
    assert_int_equal(kf_site_name_check("redmond", NULL), KF_OK);
    assert_int_equal(kf_site_name_check("Site 1_eu-west.2", NULL), KF_OK);
    assert_int_equal(kf_site_name_check("", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_site_name_check(" lead", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_site_name_check("trail ", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_site_name_check("a/b", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_site_name_check("tab\there", NULL), KF_ERR_INVALID);
    assert_int_equal(
        kf_site_name_check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL),
        KF_ERR_INVALID);
}

static void
test_addresses(void **state)
{
    char out[64];
    struct kf_err err = {0};
    (void)state;

    assert_int_equal(kf_address_normalize("192.0.2.11", out, sizeof(out), NULL), KF_OK);
    assert_string_equal(out, "192.0.2.11");
    assert_int_equal(kf_address_normalize("2001:DB8:0:0::1", out, sizeof(out), NULL), KF_OK);
    assert_string_equal(out, "2001:db8::1");
    assert_int_equal(kf_address_normalize("256.1.1.1", out, sizeof(out), &err), KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "\"256.1.1.1\""));
    assert_int_equal(kf_address_normalize("fe01.example.com", out, sizeof(out), NULL),
                     KF_ERR_INVALID);
    assert_int_equal(kf_address_normalize("", out, sizeof(out), NULL), KF_ERR_INVALID);
    assert_int_equal(kf_address_normalize(NULL, out, sizeof(out), NULL), KF_ERR_INVALID);
}

static void
test_ports(void **state)
{
    int port = 0;
    (void)state;

    assert_int_equal(kf_port_parse("1", &port, NULL), KF_OK);
    assert_int_equal(port, 1);
    assert_int_equal(kf_port_parse("65535", &port, NULL), KF_OK);
    assert_int_equal(port, 65535);
    assert_int_equal(kf_port_parse("0", &port, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_port_parse("65536", &port, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_port_parse("-1", &port, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_port_parse("80x", &port, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_port_parse(" 80", &port, NULL), KF_ERR_INVALID);
    assert_int_equal(kf_port_parse("99999999999999999999999", &port, NULL), KF_ERR_INVALID);
}

static void
test_urls(void **state)
{
    (void)state;
    assert_int_equal(kf_url_check("https://web.example.com/", NULL), KF_OK);
    assert_int_equal(kf_url_check("http://web.example.com:8080/x?y#z", NULL), KF_OK);
    assert_int_equal(kf_url_check("https://192.0.2.1", NULL), KF_OK);
    assert_int_equal(kf_url_check("https://[2001:db8::1]:443/", NULL), KF_OK);
    assert_int_equal(kf_url_check("ftp://web.example.com/", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_url_check("https://user@web.example.com/", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_url_check("https://web.example.com:0/", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_url_check("https://web .example.com/", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_url_check("https:///", NULL), KF_ERR_INVALID);
    assert_int_equal(kf_url_check("https://[::1/", NULL), KF_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fqdn_table),  cmocka_unit_test(test_fqdn_total_length),
        cmocka_unit_test(test_site_names),  cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_ports),       cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
