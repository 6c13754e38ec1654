/* fuzz_agentstate.c - the agent's committed-state file decoder on
 * arbitrary bytes (lib/agentstate.h).
 *
 * Besides the sanitizers' findings: a state that decodes must encode, and
 * its encoding must decode again to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentstate.h"

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
    struct kf_agent_state *s = NULL, *again = NULL;
    struct kf_err err = {0};
    char *text = NULL, *text2 = NULL;
    uint32_t k[KF_AGENTSTATE_COMMITS_MAX];

    if (kf_agent_state_decode((const char *)data, size, &s, &err) != KF_OK) {
        check(s == NULL && err.msg[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < s->n; i++)
        check(kf_agent_state_fetchable(&s->v[i], INT64_MAX / 2, k) >= 1);
    check(kf_agent_state_encode(s, &text, &err) == KF_OK);
    check(kf_agent_state_decode(text, strlen(text), &again, &err) == KF_OK);
    check(kf_agent_state_encode(again, &text2, &err) == KF_OK);
    check(strcmp(text, text2) == 0);
    free(text);
    free(text2);
    kf_agent_state_free(again);
    kf_agent_state_free(s);
    return 0;
}
