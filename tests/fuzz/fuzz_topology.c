/* fuzz_topology.c - the topology document parser on arbitrary bytes.
 *
 * Besides the sanitizers' findings: a document that parses must serialise,
 * and its serialisation must parse again to the same serialisation (the
 * export -> import -> export promise). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

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
    struct kf_topology *topo = NULL, *again = NULL;
    struct kf_err err = {0};
    char *text, *text2;

    if (kf_topology_from_json((const char *)data, size, &topo, &err) != KF_OK) {
        check(topo == NULL && err.msg[0] != '\0');
        return 0;
    }
    text = kf_topology_to_json(topo);
    check(text != NULL);
    check(kf_topology_from_json(text, strlen(text), &again, &err) == KF_OK);
    text2 = kf_topology_to_json(again);
    check(text2 != NULL && strcmp(text, text2) == 0);
    free(text);
    free(text2);
    kf_topology_free(again);
    kf_topology_free(topo);
    return 0;
}
