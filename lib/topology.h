/* topology.h - the topology model (sites, pools, web servers) and its JSON
 * document.
 *
 * The model is a plain tree of public structs owned by the kf_topology that
 * holds them. The JSON parser is a parser of outside input: it is bounded
 * (KF_TOPOLOGY_MAX_BYTES), rejects unknown or duplicate keys, validates
 * every name, and reports the JSON path of the first error, e.g.
 * `sites[1].pools[0].fqdn: "bad_name..x" is not a valid DNS name`.
 * It does not check uniqueness across the document: the store does that
 * when it writes, with the same rules for import and for single adds.
 */
#ifndef KF_TOPOLOGY_H
#define KF_TOPOLOGY_H

#include <stddef.h>

#include "errors.h"

#define KF_TOPOLOGY_MAX_BYTES (16u * 1024u * 1024u)

struct kf_server {
    char *fqdn;    /* lower case, no trailing dot */
    char *address; /* canonical IPv4/IPv6 text, or NULL when never set */
    int agent_port; /* 1-65535, or 0 when never set */
};

struct kf_pool {
    char *fqdn;
    char *probe_url; /* NULL when never set (then https://<fqdn>/) */
    char **web_fqdns;
    size_t n_web_fqdns;
    struct kf_server *servers;
    size_t n_servers;
};

struct kf_site {
    char *name;
    struct kf_pool *pools;
    size_t n_pools;
};

struct kf_topology {
    struct kf_site *sites;
    size_t n_sites;
};

/* A new empty topology, or NULL when out of memory. */
struct kf_topology *kf_topology_new(void);
void kf_topology_free(struct kf_topology *topo); /* accepts NULL */

/* Append an element; the strings are copied. Each returns the new element
 * (owned by its parent) or NULL when out of memory. No validation. */
struct kf_site *kf_topology_add_site(struct kf_topology *topo, const char *name);
struct kf_pool *kf_site_add_pool(struct kf_site *site, const char *fqdn, const char *probe_url);
int kf_pool_add_web_fqdn(struct kf_pool *pool, const char *fqdn); /* 0 ok, -1 ENOMEM */
struct kf_server *kf_pool_add_server(struct kf_pool *pool, const char *fqdn, const char *address,
                                     int agent_port);

/* Parse a topology document of LEN bytes. On success *OUT is a new
 * topology owned by the caller. On failure ERR names the JSON path. */
kf_status kf_topology_from_json(const char *text, size_t len, struct kf_topology **out,
                                struct kf_err *err);

/* Serialise TOPO as the topology document: keys in a fixed order, fields
 * never set left out, two-space indent, final newline. Returns a new
 * string owned by the caller (free()), or NULL when out of memory. */
char *kf_topology_to_json(const struct kf_topology *topo);

/* Count the servers in TOPO. */
size_t kf_topology_count_servers(const struct kf_topology *topo);

/* ---- the difference between two topologies ----------------------------- */

enum kf_topo_op { KF_TOPO_ADDED = '+', KF_TOPO_REMOVED = '-', KF_TOPO_CHANGED = '~' };

struct kf_topo_change {
    enum kf_topo_op op;
    const char *kind; /* "site", "pool", "web FQDN", "server" (static) */
    char *name;
    char *detail; /* where it is ("site redmond", "pool web.example.com") or
                   * what changed ("address 192.0.2.1 -> 192.0.2.2") */
};

struct kf_topo_diff {
    struct kf_topo_change *changes; /* additions, removals, then changes; each
                                     * sites, pools and web FQDNs, servers */
    size_t n;
};

/* What replacing FROM with TO adds, removes and changes: sites (names
 * compared case-insensitively), pools (their site, probe URL), web FQDNs
 * and servers (their pool, address, agent port). Order within TOPO does
 * not count. *OUT is owned by the caller (kf_topo_diff_free). */
kf_status kf_topology_diff(const struct kf_topology *from, const struct kf_topology *to,
                           struct kf_topo_diff **out, struct kf_err *err);
void kf_topo_diff_free(struct kf_topo_diff *diff); /* accepts NULL */

#endif
