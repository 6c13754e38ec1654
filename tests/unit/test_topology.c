/* test_topology.c - the topology document: parse, serialise, round trip, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "topology.h"

/* Exactly what export writes: fixed key order, two-space indent, newline. */
static const char canonical[] =
    "{\n"
    "  \"sites\": [\n"
    "    {\n"
    "      \"name\": \"redmond\",\n"
    "      \"pools\": [\n"
    "        {\n"
    "          \"fqdn\": \"web.redmond.example.com\",\n"
    "          \"web_fqdns\": [\n"
    "            \"lb.redmond.example.com\",\n"
    "            \"ext.example.com\"\n"
    "          ],\n"
    "          \"probe_url\": \"https://web.redmond.example.com/\",\n"
    "          \"servers\": [\n"
    "            {\n"
    "              \"fqdn\": \"fe01.redmond.example.com\",\n"
    "              \"address\": \"192.0.2.11\",\n"
    "              \"agent_port\": 7390\n"
    "            },\n"
    "            {\n"
    "              \"fqdn\": \"fe02.redmond.example.com\"\n"
    "            }\n"
    "          ]\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"dublin\",\n"
    "      \"pools\": []\n"
    "    }\n"
    "  ]\n"
    "}\n";

static void
test_round_trip(void **state)
{
    struct kf_topology *topo = NULL;
    struct kf_err err = {0};
    char *out;
    (void)state;

    assert_int_equal(kf_topology_from_json(canonical, strlen(canonical), &topo, &err), KF_OK);
    assert_int_equal(topo->n_sites, 2);
    assert_string_equal(topo->sites[0].pools[0].web_fqdns[1], "ext.example.com");
    assert_int_equal(topo->sites[0].pools[0].servers[0].agent_port, 7390);
    assert_null(topo->sites[0].pools[0].servers[1].address);
    assert_int_equal(topo->sites[0].pools[0].servers[1].agent_port, 0);
    assert_int_equal(kf_topology_count_servers(topo), 2);
    out = kf_topology_to_json(topo);
    assert_non_null(out);
    assert_string_equal(out, canonical);
    free(out);
    kf_topology_free(topo);
}

static void
test_normalises(void **state)
{
    static const char doc[] = "{\"sites\":[{\"name\":\"S\",\"pools\":[{\"fqdn\":\"WEB.Example.COM.\","
                              "\"servers\":[{\"fqdn\":\"FE01.example.com\",\"address\":"
                              "\"2001:DB8::0:1\"}]}]}]}";
    struct kf_topology *topo = NULL;
    (void)state;

    assert_int_equal(kf_topology_from_json(doc, strlen(doc), &topo, NULL), KF_OK);
    assert_string_equal(topo->sites[0].pools[0].fqdn, "web.example.com");
    assert_string_equal(topo->sites[0].pools[0].servers[0].fqdn, "fe01.example.com");
    assert_string_equal(topo->sites[0].pools[0].servers[0].address, "2001:db8::1");
    kf_topology_free(topo);
}

struct bad_case {
    const char *doc;
    const char *msg; /* expected substring */
};

static const struct bad_case bad[] = {
    {"", "line 1"},
    {"[]", "must be an object"},
    {"{}", "\"sites\" must be an array"},
    {"{\"sites\":{}}", "\"sites\" must be an array"},
    {"{\"sites\":[], \"extra\":1}", "unknown key \"extra\""},
    {"{\"sites\":[], \"sites\":[]}", "duplicate"},
    {"{\"sites\":[1]}", "sites[0]: a site must be an object"},
    {"{\"sites\":[{}]}", "sites[0]: missing \"name\""},
    {"{\"sites\":[{\"name\":5}]}", "sites[0]: \"name\" must be a string"},
    {"{\"sites\":[{\"name\":\"a/b\"}]}", "sites[0].name: \"a/b\" is not a valid site name"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":{}}]}", "sites[0]: \"pools\" must be an array"},
    {"{\"sites\":[{\"name\":\"a\"},{\"name\":\"b\",\"pools\":[{\"fqdn\":\"ok.x\"},"
     "{\"fqdn\":\"bad_name..x\"}]}]}",
     "sites[1].pools[1].fqdn: \"bad_name..x\" is not a valid DNS name"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"web_fqdns\":[\"ok.x\",7]}]}]}",
     "sites[0].pools[0].web_fqdns[1]: must be a string"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"probe_url\":\"ftp://p.x/\"}]}]}",
     "sites[0].pools[0].probe_url: \"ftp://p.x/\" is not a valid probe URL"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"servers\":[{\"fqdn\":\"s.x\","
     "\"address\":\"999.1.1.1\"}]}]}]}",
     "sites[0].pools[0].servers[0].address: \"999.1.1.1\" is not a valid IPv4 or IPv6 address"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"servers\":[{\"fqdn\":\"s.x\","
     "\"agent_port\":65536}]}]}]}",
     "sites[0].pools[0].servers[0].agent_port: must be a port number 1-65535"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"servers\":[{\"fqdn\":\"s.x\","
     "\"agent_port\":\"80\"}]}]}]}",
     "sites[0].pools[0].servers[0].agent_port: must be a port number 1-65535"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"servers\":[{\"fqdn\":\"s.x\","
     "\"port\":80}]}]}]}",
     "sites[0].pools[0].servers[0]: unknown key \"port\""},
    {"{\"sites\":[{\"name\":\"a\\u0000b\"}]}", "is not allowed"},
};

static void
test_errors_name_the_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kf_topology *topo = NULL;
        struct kf_err err = {0};
        kf_status st = kf_topology_from_json(bad[i].doc, strlen(bad[i].doc), &topo, &err);
        if (st == KF_OK)
            fail_msg("accepted %s", bad[i].doc);
        assert_null(topo);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("for %s\n  want: %s\n  got:  %s", bad[i].doc, bad[i].msg, err.msg);
    }
}

static void
test_size_limit(void **state)
{
    struct kf_topology *topo = NULL;
    struct kf_err err = {0};
    (void)state;

    assert_int_equal(kf_topology_from_json("{}", KF_TOPOLOGY_MAX_BYTES + 1, &topo, &err),
                     KF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "larger than 16 MiB"));
}

static void
test_empty_export(void **state)
{
    struct kf_topology *topo = kf_topology_new();
    char *out = kf_topology_to_json(topo);
    (void)state;

    assert_string_equal(out, "{\n  \"sites\": []\n}\n");
    free(out);
    kf_topology_free(topo);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_normalises),
        cmocka_unit_test(test_errors_name_the_path), cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_empty_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
