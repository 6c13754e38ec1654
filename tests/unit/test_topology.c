/* test_topology.c - the topology document: parse, serialise, round trip, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    {"", "the document is empty; it must be an object with \"sites\""},
    {"[]", "must be an object"},
    {"{}", "\"sites\" must be an array"},
    {"{\"sites\":{}}", "\"sites\" must be an array"},
    {"{\"sites\":[], \"extra\":1}", "unknown key \"extra\""},
    {"{\"sites\":[], \"sites\":[]}",
     "line 1, column 20: the same key appears twice in one object (near '\"sites\"')"},
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
    /* Parser messages in krbfleet's words (issue 14), never jansson's flag
     * names; each has its input in tests/fuzz/regress/topology/. */
    {"{\"sites\":[{\"name\":\"a\\u0000b\"}]}",
     "a string holds \\u0000 (a NUL character); no name or URL may contain one"},
    {"{\"sites\":[{\"name\":\"a\x01\"}]}",
     "line 1, column 20: a string holds a raw control character (0x1); no name or URL may"},
    {"{\"sites\":[{\"name\":\"a\xff\"}]}",
     "the document is not UTF-8 (unable to decode byte 0xff); save it as UTF-8"},
    {"{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.x\",\"servers\":[{\"fqdn\":\"s.x\","
     "\"agent_port\":1e999}]}]}]}",
     "a number is too large"},
    {"   \n", "the document is empty"},
    {"{} x", "line 1, column 4: text after the end of the document (near 'x')"},
    {"{\"sites\":[", "the document ends too early (']' expected); is a closing bracket or quote"},
    {"\xef\xbb\xbf\xef\xbb\xbf{\"sites\":[]}", "not valid JSON: '[' or '{' expected near '\\ufeff'"},
    {"{\"sites\":[{\"name\":\"a\xe2\x80\xae" "b\"}]}",
     "sites[0].name: site name \"a\\u202eb\" contains a control or bidi character (\\u202e"},
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

/* A UTF-8 byte order mark (as Windows editors write) is skipped. */
static void
test_bom_skipped(void **state)
{
    static const char doc[] = "\xef\xbb\xbf{\"sites\":[{\"name\":\"bom\"}]}\n";
    struct kf_topology *topo = NULL;
    struct kf_err err = {0};
    char *out;
    (void)state;

    assert_int_equal(kf_topology_from_json(doc, strlen(doc), &topo, &err), KF_OK);
    assert_string_equal(topo->sites[0].name, "bom");
    out = kf_topology_to_json(topo);
    assert_int_equal(memcmp(out, "{", 1), 0); /* export writes none */
    free(out);
    kf_topology_free(topo);
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

static struct kf_topology *
parse(const char *json)
{
    struct kf_topology *t = NULL;
    struct kf_err err = {0};

    assert_int_equal(kf_topology_from_json(json, strlen(json), &t, &err), KF_OK);
    return t;
}

/* One line per change, as `topology import --dry-run` prints it. */
static void
assert_diff(const char *from, const char *to, const char *const *want, size_t n_want)
{
    struct kf_topology *a = parse(from), *b = parse(to);
    struct kf_topo_diff *d = NULL;
    struct kf_err err = {0};

    assert_int_equal(kf_topology_diff(a, b, &d, &err), KF_OK);
    assert_int_equal(d->n, n_want);
    for (size_t i = 0; i < d->n; i++) {
        char line[512];
        snprintf(line, sizeof(line), "%c %s %s: %s", (char)d->changes[i].op, d->changes[i].kind,
                 d->changes[i].name, d->changes[i].detail);
        assert_string_equal(line, want[i]);
    }
    kf_topo_diff_free(d);
    kf_topology_free(a);
    kf_topology_free(b);
}

static void
test_diff(void **state)
{
    static const char from[] =
        "{\"sites\":[{\"name\":\"a\",\"pools\":[{\"fqdn\":\"p.example.com\","
        "\"web_fqdns\":[\"w1.example.com\"],\"servers\":[{\"fqdn\":\"s1.example.com\","
        "\"address\":\"192.0.2.1\"},{\"fqdn\":\"s2.example.com\"}]}]},{\"name\":\"gone\"}]}";
    static const char to[] =
        "{\"sites\":[{\"name\":\"A\",\"pools\":[{\"fqdn\":\"p.example.com\","
        "\"web_fqdns\":[\"w2.example.com\"],\"probe_url\":\"https://p.example.com/x\","
        "\"servers\":[{\"fqdn\":\"s1.example.com\",\"address\":\"192.0.2.2\",\"agent_port\":7391}]}]},"
        "{\"name\":\"b\",\"pools\":[{\"fqdn\":\"q.example.com\",\"servers\":[{\"fqdn\":"
        "\"s2.example.com\"}]}]}]}";
    static const char *const want[] = {
        "+ site b: 1 pool(s)",
        "+ web FQDN w2.example.com: pool p.example.com",
        "+ pool q.example.com: site b",
        "- site gone: 0 pool(s)",
        "- web FQDN w1.example.com: pool p.example.com",
        "~ pool p.example.com: probe URL (default) -> https://p.example.com/x",
        "~ server s1.example.com: address 192.0.2.1 -> 192.0.2.2",
        "~ server s1.example.com: agent port (default) -> 7391",
        "~ server s2.example.com: pool p.example.com -> q.example.com",
    };
    static const char *const none[] = {NULL};

    (void)state;
    /* site names compare case-insensitively; order does not count */
    assert_diff(from, to, want, sizeof(want) / sizeof(want[0]));
    assert_diff(from, from, none, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_normalises),
        cmocka_unit_test(test_errors_name_the_path), cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_empty_export),        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_bom_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
