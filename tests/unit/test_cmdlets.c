/* test_cmdlets.c - the Lync cmdlet vocabulary (tools/cmdlets.c): what
 * krbfleet command line each cmdlet invocation becomes, and every way an
 * invocation is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmdlets.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NARGS(...) ((int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)))

/* Translate the cmdlet line and compare with the expected krbfleet line
 * (both space-joined). */
static void
expect_call(int argc, const char *const *argv, const char *want)
{
    struct kf_cmdlet_call call;
    struct kf_err err = {0};
    char got[1024] = "";
    size_t used = 0;

    if (kf_cmdlet_translate(argc, argv, &call, &err) != KF_OK)
        fail_msg("%s: %s", argv[0], err.msg);
    for (int i = 0; i < call.argc; i++) {
        int w = snprintf(got + used, sizeof(got) - used, "%s%s", i ? " " : "", call.argv[i]);
        assert_true(w >= 0 && (size_t)w < sizeof(got) - used);
        used += (size_t)w;
    }
    assert_null(call.argv[call.argc]);
    assert_string_equal(got, want);
    kf_cmdlet_call_done(&call);
    assert_null(call.argv);
}
#define CALL(want, ...) expect_call(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), want)

/* The line must be refused as a usage error whose message has WANT. */
static void
expect_usage(int argc, const char *const *argv, const char *want)
{
    struct kf_cmdlet_call call;
    struct kf_err err = {0};

    assert_int_equal(kf_cmdlet_translate(argc, argv, &call, &err), KF_ERR_USAGE);
    if (strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    assert_null(call.argv);
    assert_int_equal(call.argc, 0);
    kf_cmdlet_call_done(&call);
}
#define USAGE(want, ...) expect_usage(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), want)

static void
test_issue_examples(void **state)
{
    (void)state;
    CALL("account new --container CN=Computers,DC=example,DC=com EXAMPLE\\kerbauth",
         "New-CsKerberosAccount", "-UserAccount", "EXAMPLE\\kerbauth", "-ContainerDN",
         "CN=Computers,DC=example,DC=com");
    CALL("assignment new --account EXAMPLE\\kerbauth --site redmond",
         "New-CsKerberosAccountAssignment", "-UserAccount", "EXAMPLE\\kerbauth", "-Identity",
         "site:Redmond");
    CALL("assignment set --account EXAMPLE\\kerbauth --site redmond",
         "Set-CsKerberosAccountAssignment", "-Identity", "site:Redmond", "-UserAccount",
         "EXAMPLE\\kerbauth");
    CALL("assignment get", "Get-CsKerberosAccountAssignment");
    CALL("assignment get --site redmond", "Get-CsKerberosAccountAssignment", "-Identity",
         "site:Redmond");
    CALL("assignment remove --site redmond", "Remove-CsKerberosAccountAssignment", "-Identity",
         "site:Redmond");
    CALL("password set --account EXAMPLE\\kerbauth", "Set-CsKerberosAccountPassword",
         "-UserAccount", "EXAMPLE\\kerbauth");
    CALL("password set --from fe01.example.com --to dir01.example.com",
         "Set-CsKerberosAccountPassword", "-FromComputer", "fe01.example.com", "-ToComputer",
         "dir01.example.com");
    CALL("assignment test --site redmond --report r.html", "Test-CsKerberosAccountAssignment",
         "-Identity", "site:Redmond", "-Report", "r.html", "-Verbose");
    CALL("topology test", "Test-CsTopology");
    CALL("topology enable", "Enable-CsTopology");
    CALL("service list --webserver", "Get-CsService", "-WebServer");
    CALL("service list", "Get-CsService");
    CALL("permission grant --container OU=Web,DC=lab,DC=test", "Grant-CsSetupPermission",
         "-ComputerOU", "OU=Web,DC=lab,DC=test");
    CALL("permission grant --container OU=Web,DC=lab,DC=test", "grant-cssetuppermission",
         "-computer:OU=Web,DC=lab,DC=test", "-Verbose");
}

static void
test_case_insensitive(void **state)
{
    (void)state;
    CALL("assignment new --account kerbauth --site redmond", "new-cskerberosaccountassignment",
         "-USERACCOUNT", "kerbauth", "-identity", "SITE:REDMOND");
    CALL("service list --webserver", "GET-CSSERVICE", "-webserver");
    /* a site name keeps its other characters; only letters are lowered */
    CALL("assignment get --site north america-2", "Get-CsKerberosAccountAssignment",
         "site:North America-2");
}

static void
test_prefixes(void **state)
{
    (void)state;
    /* the seed's own comment writes -user */
    CALL("password set --account kerbauth", "set-cskerberosaccountpassword", "-user", "kerbauth");
    CALL("password set --from a.example.com --to b.example.com --dry-run",
         "Set-CsKerberosAccountPassword", "-f", "a.example.com", "-T", "b.example.com", "-wh");
    CALL("account new --container OU=Web,DC=example,DC=com kerbauth", "New-CsKerberosAccount", "-u",
         "kerbauth", "-Co", "OU=Web,DC=example,DC=com");
    CALL("service list --webserver", "Get-CsService", "-W");
    CALL("assignment test --site dublin --report x.html", "Test-CsKerberosAccountAssignment", "-r",
         "x.html", "-I", "site:dublin");
    /* the matcher itself: exact name first, then a unique prefix */
    const char *const names[] = {"Force", "FromComputer", "Verbose"};
    assert_int_equal(kf_cmdlet_match(names, 3, "force", 5), 0);
    assert_int_equal(kf_cmdlet_match(names, 3, "Fr", 2), 1);
    assert_int_equal(kf_cmdlet_match(names, 3, "F", 1), -2);
    assert_int_equal(kf_cmdlet_match(names, 3, "Forced", 6), -1);
    assert_int_equal(kf_cmdlet_match(names, 3, "x", 1), -1);
    const char *const prefix_of_other[] = {"Report", "ReportFile"};
    assert_int_equal(kf_cmdlet_match(prefix_of_other, 2, "report", 6), 0);
    assert_int_equal(kf_cmdlet_match(prefix_of_other, 2, "rep", 3), -2);
}

static void
test_colon_form(void **state)
{
    (void)state;
    CALL("assignment get --site redmond", "Get-CsKerberosAccountAssignment",
         "-Identity:site:Redmond");
    CALL("account new --container CN=Computers,DC=x kerbauth", "New-CsKerberosAccount",
         "-UserAccount:kerbauth", "-ContainerDN:CN=Computers,DC=x");
    CALL("password set --account kerbauth --dry-run", "Set-CsKerberosAccountPassword",
         "-UserAccount", "kerbauth", "-WhatIf:$true");
    CALL("password set --account kerbauth", "Set-CsKerberosAccountPassword", "-UserAccount",
         "kerbauth", "-WhatIf:$false");
    CALL("topology enable --dry-run", "Enable-CsTopology", "-WhatIf:true");
    CALL("topology enable", "Enable-CsTopology", "-whatif:0");
    CALL("service list", "Get-CsService", "-WebServer:$FALSE");
    /* a value that looks like an option cannot be read as one */
    CALL("account new -- -odd", "New-CsKerberosAccount", "-UserAccount:-odd");
    CALL("assignment new --account -odd --site redmond", "New-CsKerberosAccountAssignment",
         "-UserAccount:-odd", "site:redmond");
}

static void
test_positional_identity(void **state)
{
    (void)state;
    CALL("assignment get --site redmond", "Get-CsKerberosAccountAssignment", "site:Redmond");
    CALL("assignment new --account kerbauth --site redmond", "New-CsKerberosAccountAssignment",
         "site:Redmond", "-UserAccount", "kerbauth");
    CALL("assignment test --site redmond", "Test-CsKerberosAccountAssignment", "site:Redmond",
         "-Verbose");
    USAGE("Get-CsKerberosAccountAssignment: \"site:b\" is not a parameter and no parameter "
          "takes it by position",
          "Get-CsKerberosAccountAssignment", "site:a", "site:b");
    USAGE("parameter -Identity is given twice", "Get-CsKerberosAccountAssignment", "site:a",
          "-Identity", "site:b");
    USAGE("Test-CsTopology: \"now\" is not a parameter", "Test-CsTopology", "now");
    USAGE("\"kerbauth\" is not a parameter and no parameter takes it by position; it takes "
          "-UserAccount, -ContainerDN, -Verbose",
          "New-CsKerberosAccount", "kerbauth");
}

static void
test_common_parameters(void **state)
{
    (void)state;
    /* -Verbose: every cmdlet takes it; krbfleet prints every finding anyway */
    CALL("topology test", "Test-CsTopology", "-Verbose");
    CALL("service list", "Get-CsService", "-v");
    CALL("topology test", "Test-CsTopology", "-Verbose:$false");
    /* -WhatIf only where the command has a dry run */
    USAGE("Remove-CsKerberosAccountAssignment: parameter -WhatIf is unknown; it takes "
          "-Identity, -Verbose",
          "Remove-CsKerberosAccountAssignment", "site:x", "-WhatIf");
    USAGE("Test-CsTopology: parameter -WhatIf is unknown", "Test-CsTopology", "-WhatIf");
}

static void
test_errors(void **state)
{
    (void)state;
    USAGE("New-CsKerberosAccount: parameter -Frob is unknown; it takes -UserAccount, "
          "-ContainerDN, -Verbose",
          "New-CsKerberosAccount", "-UserAccount", "x", "-Frob", "y");
    USAGE("parameter --dry-run is unknown", "Enable-CsTopology", "--dry-run");
    USAGE("parameter -Identityx is unknown", "Get-CsKerberosAccountAssignment", "-Identityx",
          "site:a");
    /* missing values: at the end, before another parameter, empty */
    USAGE("Set-CsKerberosAccountPassword: parameter -UserAccount needs a value ('DOMAIN\\name')",
          "Set-CsKerberosAccountPassword", "-UserAccount");
    USAGE("parameter -UserAccount needs a value", "New-CsKerberosAccount", "-UserAccount",
          "-ContainerDN", "CN=x");
    USAGE("parameter -ContainerDN needs a value (DN)", "New-CsKerberosAccount", "-UserAccount", "x",
          "-ContainerDN:");
    USAGE("parameter -Report needs a value (FILE.html)", "Test-CsKerberosAccountAssignment",
          "site:x", "-Report", "");
    /* required */
    USAGE("New-CsKerberosAccount: parameter -UserAccount is required (-UserAccount "
          "'DOMAIN\\name')",
          "New-CsKerberosAccount", "-ContainerDN", "CN=x");
    USAGE("parameter -Identity is required (-Identity site:NAME)",
          "New-CsKerberosAccountAssignment", "-UserAccount", "x");
    USAGE("parameter -UserAccount is required", "Set-CsKerberosAccountAssignment", "site:x");
    USAGE("parameter -Identity is required", "Remove-CsKerberosAccountAssignment");
    USAGE("parameter -Identity is required", "Test-CsKerberosAccountAssignment", "-Verbose");
    /* twice, also through a prefix or another case */
    USAGE("parameter -UserAccount is given twice", "Set-CsKerberosAccountPassword", "-user", "a",
          "-USERACCOUNT", "b");
    USAGE("parameter -WebServer is given twice", "Get-CsService", "-WebServer",
          "-WebServer:$false");
    /* switches */
    USAGE("Get-CsService: parameter -WebServer is a switch: -WebServer, -WebServer:$true or "
          "-WebServer:$false, not \"yes\"",
          "Get-CsService", "-WebServer:yes");
    /* site identities */
    USAGE("parameter -Identity is \"Redmond\"; a Kerberos account assignment belongs to a site: "
          "write site:NAME",
          "Get-CsKerberosAccountAssignment", "-Identity", "Redmond");
    USAGE("parameter -Identity is \"global\"", "Get-CsKerberosAccountAssignment", "global");
    USAGE("parameter -Identity is \"service:WebServer:x\"", "Remove-CsKerberosAccountAssignment",
          "service:WebServer:x");
    USAGE("parameter -Identity is \"site:\"", "Remove-CsKerberosAccountAssignment", "site:");
    /* Grant-CsSetupPermission needs its OU (the trustee comes from
     * [permission] group when `permission grant` runs) */
    USAGE("Grant-CsSetupPermission: parameter -ComputerOU is required (-ComputerOU DN)",
          "Grant-CsSetupPermission");
    USAGE("Grant-CsSetupPermission: parameter -Group is unknown; it takes -ComputerOU, -Verbose",
          "Grant-CsSetupPermission", "-ComputerOU", "OU=x", "-Group", "LAB\\g");
    /* cmdlets that do not exist */
    USAGE("New-CsKerberosAccounts is not a cmdlet", "New-CsKerberosAccounts");
}

/* Set-CsKerberosAccountPassword's two parameter sets, as PowerShell binds
 * them: -UserAccount, or -FromComputer with -ToComputer; -WhatIf and
 * -Verbose go with either. */
static void
test_parameter_sets(void **state)
{
    (void)state;
    CALL("password set --account kerbauth --dry-run", "Set-CsKerberosAccountPassword", "-WhatIf",
         "-UserAccount", "kerbauth", "-Verbose");
    CALL("password set --from a.example.com --to b.example.com --dry-run",
         "Set-CsKerberosAccountPassword", "-ToComputer", "b.example.com", "-WhatIf",
         "-FromComputer", "a.example.com");
    USAGE("Set-CsKerberosAccountPassword: give -UserAccount, or -FromComputer and -ToComputer",
          "Set-CsKerberosAccountPassword");
    USAGE("Set-CsKerberosAccountPassword: give -UserAccount, or -FromComputer and -ToComputer",
          "Set-CsKerberosAccountPassword", "-WhatIf");
    USAGE("Set-CsKerberosAccountPassword: parameters -UserAccount and -FromComputer belong to "
          "different parameter sets: give -UserAccount, or -FromComputer and -ToComputer",
          "Set-CsKerberosAccountPassword", "-FromComputer", "a", "-UserAccount", "kerbauth");
    USAGE("Set-CsKerberosAccountPassword: parameter -ToComputer is required with -FromComputer "
          "(-FromComputer and -ToComputer)",
          "Set-CsKerberosAccountPassword", "-FromComputer", "a.example.com");
    USAGE("parameter -FromComputer is required with -ToComputer", "Set-CsKerberosAccountPassword",
          "-to", "b.example.com");
}

static void
test_cmdlet_words(void **state)
{
    (void)state;
    assert_true(kf_cmdlet_word("New-CsKerberosAccount"));
    assert_true(kf_cmdlet_word("get-csservice"));
    assert_true(kf_cmdlet_word("Grant-CsSetupPermission"));
    assert_false(kf_cmdlet_word("site"));
    assert_false(kf_cmdlet_word("help"));
    assert_false(kf_cmdlet_word("New-Cs"));
    assert_false(kf_cmdlet_word("-CsTopology"));
    assert_false(kf_cmdlet_word("New-Cs-Topology"));
    assert_false(kf_cmdlet_word("New-Topology"));
    assert_false(kf_cmdlet_word("new-cskerberos account"));
    assert_non_null(kf_cmdlet_find("ENABLE-CSTOPOLOGY"));
    assert_string_equal(kf_cmdlet_command(kf_cmdlet_find("enable-cstopology")), "topology enable");
    assert_string_equal(kf_cmdlet_command(kf_cmdlet_find("grant-cssetuppermission")),
                        "permission grant");
}

/* The help table lists every cmdlet the translation accepts, each with its
 * krbfleet command, from the same table. */
static void
test_table(void **state)
{
    static const char *const all[] = {
        "New-CsKerberosAccount",
        "New-CsKerberosAccountAssignment",
        "Set-CsKerberosAccountAssignment",
        "Get-CsKerberosAccountAssignment",
        "Remove-CsKerberosAccountAssignment",
        "Set-CsKerberosAccountPassword",
        "Test-CsKerberosAccountAssignment",
        "Test-CsTopology",
        "Enable-CsTopology",
        "Get-CsService",
        "Grant-CsSetupPermission",
    };
    char *text = NULL, line[128];
    size_t len = 0, listed = 0;
    FILE *fp = open_memstream(&text, &len);

    (void)state;
    assert_non_null(fp);
    kf_cmdlet_print_table(fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const struct kf_cmdlet *c = kf_cmdlet_find(all[i]);
        assert_non_null(c);
        snprintf(line, sizeof(line), "\n  %s", all[i]);
        if (strstr(text, line) == NULL)
            fail_msg("help cmdlets lacks %s", all[i]);
        snprintf(line, sizeof(line), "\n      krbfleet %s", kf_cmdlet_command(c));
        if (strstr(text, line) == NULL)
            fail_msg("help cmdlets lacks krbfleet %s", kf_cmdlet_command(c));
    }
    for (const char *p = text; (p = strstr(p, "\n  ")) != NULL; p++)
        if (p[3] != ' ')
            listed++;
    assert_int_equal(listed, sizeof(all) / sizeof(all[0]));
    assert_non_null(strstr(text, "[-Identity] site:NAME"));
    assert_non_null(strstr(text, "-WhatIf is --dry-run"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_examples),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_colon_form),
        cmocka_unit_test(test_positional_identity),
        cmocka_unit_test(test_common_parameters),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_parameter_sets),
        cmocka_unit_test(test_cmdlet_words),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
