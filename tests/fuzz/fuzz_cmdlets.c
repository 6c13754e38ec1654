/* fuzz_cmdlets.c - the Lync cmdlet translation (tools/cmdlets.c) on any
 * argument vector: the input is NUL-separated words, the first byte picks
 * the cmdlet (so that the parameters are reached). A translation either is
 * refused with a message or yields a NULL-terminated argv of non-NULL
 * strings that starts with the command's words. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdlets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static const char *const names[] = {
    "New-CsKerberosAccount",           "New-CsKerberosAccountAssignment",
    "Set-CsKerberosAccountAssignment", "Get-CsKerberosAccountAssignment",
    "Remove-CsKerberosAccountAssignment", "Set-CsKerberosAccountPassword",
    "Test-CsKerberosAccountAssignment", "Test-CsTopology",
    "Enable-CsTopology",               "Get-CsService",
    "Grant-CsSetupPermission",         "get-csservicex",
};

#define N_NAMES (sizeof(names) / sizeof(names[0]))
#define WORDS_MAX 32

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[WORDS_MAX + 1];
    struct kf_cmdlet_call call;
    struct kf_err err = {0};
    char *buf;
    int argc = 1;
    kf_status rc;

    if (size < 1)
        return 0;
    if ((buf = malloc(size)) == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    argv[0] = names[data[0] % N_NAMES];
    for (size_t i = 0; i < size - 1 && argc < WORDS_MAX; i++)
        if (i == 0 || buf[i - 1] == '\0')
            argv[argc++] = buf + i;
    argv[argc] = NULL;
    rc = kf_cmdlet_translate(argc, argv, &call, &err);
    if (rc == KF_OK) {
        const char *cmd = kf_cmdlet_command(call.cmdlet);
        size_t n = strcspn(cmd, " ");
        check(call.argc >= 1 && call.argv != NULL && call.argv[call.argc] == NULL);
        for (int i = 0; i < call.argc; i++)
            check(call.argv[i] != NULL);
        check(strlen(call.argv[0]) == n && strncmp(call.argv[0], cmd, n) == 0);
    } else {
        check(rc == KF_ERR_USAGE || rc == KF_ERR_NOMEM);
        check(call.argv == NULL && err.msg[0] != '\0' && strlen(err.msg) < sizeof(err.msg));
    }
    kf_cmdlet_call_done(&call);
    free(buf);
    return 0;
}
