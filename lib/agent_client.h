/* agent_client.h - talk to one krbfleetd agent (the CLI's side).
 *
 * One struct kf_agent is one authenticated, sealed connection to one agent
 * (protocol in proto.h). The library keeps no global state: a caller may
 * drive many agents at once, one object per agent, from one thread each
 * (libkrb5 and GSSAPI are thread-safe per context; each connection has its
 * own). One object must not be used by two threads at the same time.
 *
 * Credentials are the caller's Kerberos ticket cache (KRB5CCNAME or the
 * default), as for every krbfleet command. The agent is authenticated too:
 * connect fails unless it proves to be host/<server_fqdn>.
 *
 * Every call is bounded by the TIMEOUT_S given to kf_agent_connect (for the
 * connection and handshake, then for each request and its response). After
 * a network or protocol failure the connection is closed and every later
 * call fails at once (KF_ERR_AGENT): free the object and connect again.
 * Errors name the server and say what to do. Codes:
 *   KF_ERR_AGENT        unreachable, timed out, protocol failure, or the
 *                       agent could not do what was asked
 *   KF_ERR_CREDENTIALS  no usable ticket of ours (run kinit)
 *   KF_ERR_PERMISSION   the agent does not allow our principal
 *   KF_ERR_INVALID      the agent (or this library) found the request wrong
 *   KF_ERR_NOMEM
 *
 * Typical rotation use:
 *   kf_agent_connect(addr, port, "fe01.example.com", 10, &a, &err);
 *   kf_agent_status(a, &st, &err);            // kvnos there, clock skew
 *   kf_agent_stage(a, kvno, keyset, &n, &err); // alongside current keys
 *   ... commit in the directory ...
 *   kf_agent_check(a, "HTTP/web@REALM", tok, len, &res, &err); // verify
 *   kf_agent_prune(a, kvno - 1, &removed, &err);               // after grace
 *   kf_agent_free(a);
 */
#ifndef KF_AGENT_CLIENT_H
#define KF_AGENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "keys.h"
#include "keytab.h"
#include "mem.h"
#include "proto.h"

struct kf_agent;

/* Connect to the agent of SERVER_FQDN at ADDRESS (an IP address or a name;
 * NULL: SERVER_FQDN itself) and PORT (0: KF_PROTO_PORT), authenticate with
 * the caller's ticket to host/SERVER_FQDN (mutual authentication, sealed),
 * and learn whether the agent allows us. TIMEOUT_S (1..3600) bounds this
 * call and each later request. Stores the connection in *OUT.
 * Errors: see above; KF_ERR_USAGE for bad arguments. */
kf_status kf_agent_connect(const char *address, int port, const char *server_fqdn,
                           int timeout_s, struct kf_agent **out, struct kf_err *err);

/* Close and free A. Accepts NULL. */
void kf_agent_free(struct kf_agent *a);
KF_DEFINE_CLEANUP(struct kf_agent, kf_agent_free)

/* The server FQDN, "address:port", our principal as the agent saw it, and
 * the agent's version; valid until kf_agent_free. */
const char *kf_agent_server(const struct kf_agent *a);
const char *kf_agent_address(const struct kf_agent *a);
const char *kf_agent_client_principal(const struct kf_agent *a);
const char *kf_agent_version(const struct kf_agent *a);
/* The connection's protocol version (proto.h, VERSIONS): the lower of the
 * agent's and this build's. */
unsigned kf_agent_proto_version(const struct kf_agent *a);

/* STATUS: the keytab's entries (no keys), file owner/group/mode/mtime, the
 * agent's clock (and skew_ms = agent clock minus ours, measured at the
 * midpoint of the round trip), its version and principal. *OUT is the
 * caller's (kf_agent_status_free). From protocol version 2 the agent sent
 * it with the HELLO: the first call after connect answers with that one
 * (no round trip) unless another request was made in between. */
kf_status kf_agent_status(struct kf_agent *a, struct kf_agent_status **out, struct kf_err *err);

/* STAGE: add KEYS at KVNO to the agent's keytab (each entry's principal
 * with realm, enctype and key; their own kvno and timestamp are ignored).
 * A set the keytab already has at KVNO is replaced as a whole; other kvnos
 * stay. *ENTRIES (may be NULL) gets the number of entries in the keytab
 * afterwards. Keys travel sealed and every copy made here is wiped. */
kf_status kf_agent_stage(struct kf_agent *a, uint32_t kvno, const struct kf_keyset *keys,
                         size_t *entries, struct kf_err *err);

/* WITHDRAW: remove every entry at KVNO. *REMOVED (may be NULL) gets how
 * many there were (0 is not an error). */
kf_status kf_agent_withdraw(struct kf_agent *a, uint32_t kvno, size_t *removed,
                            struct kf_err *err);

/* PRUNE: remove every entry whose kvno is below KVNO. */
kf_status kf_agent_prune(struct kf_agent *a, uint32_t kvno, size_t *removed, struct kf_err *err);

/* EXPORT: every entry of the agent's keytab with its key (for `password
 * set --from/--to`). *OUT is the caller's; kf_keyset_free wipes it. */
kf_status kf_agent_export(struct kf_agent *a, struct kf_keyset **out, struct kf_err *err);

/* CHECK: ask the agent which key of its keytab decrypts TOKEN (an AP-REQ,
 * e.g. from kf_agent_ticket_token, or a GSSAPI krb5 initial context token),
 * trying only PRINCIPAL's entries when PRINCIPAL is not NULL. Fills *OUT
 * (free its strings with kf_keytab_check_done): accepted, the kvno of the
 * key that worked (whatever the labels say), the ticket's kvno label and
 * enctype; or, not accepted, the reason. Not accepted is not an error. */
kf_status kf_agent_check(struct kf_agent *a, const char *principal, const void *token,
                         size_t token_len, struct kf_keytab_check *out, struct kf_err *err);

/* COMMIT: tell the agent that ACCOUNT's (NAME$@REALM) KVNO is the one the
 * directory uses. PRINCIPALS are the account's managed principals (each
 * must have an entry at KVNO in the keytab, else KF_ERR_INVALID), SERVERS
 * its servers ("fqdn" or "fqdn:port"), MEMBERS_GROUP the "DOMAIN\\group"
 * whose computers may fetch its sets from peers ("" or NULL: none), GRACE_S how long the agent keeps
 * older committed sets fetchable. The agent records it in its committed
 * state (agentstate.h); peers are served only committed sets. *KEPT (may
 * be NULL) gets the committed kvnos it keeps for the account. Ask only
 * agents for which kf_agent_has_commit is true (older ones do not know the
 * operation). */
bool kf_agent_has_commit(const struct kf_agent *a);
kf_status kf_agent_commit(struct kf_agent *a, const char *account, uint32_t kvno, uint32_t grace_s,
                          const char *members_group, char *const *principals, size_t n_principals, char *const *servers,
                          size_t n_servers, size_t *kept, struct kf_err *err);

/* Get a fresh service ticket for SERVICE_PRINCIPAL (e.g. HTTP/web.example.com,
 * realm optional) from the KDC with the caller's TGT (never a service
 * ticket cached earlier, which could carry a kvno from before a rotation;
 * the caller's cache is not written) and make an AP-REQ from it
 * for kf_agent_check. KDC (a DC's name; NULL: the realm's KDCs as krb5.conf
 * says) is the one asked. *TOKEN (free()) and *LEN; *TICKET_KVNO (may be NULL)
 * gets the kvno the KDC put in the ticket. Talks to the KDC, not an agent.
 * Errors: KF_ERR_CREDENTIALS, KF_ERR_KDC, KF_ERR_NOMEM. */
kf_status kf_agent_ticket_token(const char *service_principal, const char *kdc, uint8_t **token,
                                size_t *len, uint32_t *ticket_kvno, struct kf_err *err);

#endif
