/* krbfleet.c - the command-line tool: global options and the command table. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "cmdlets.h"
#include "mem.h"
#include "tickets.h"

static const struct kf_command commands[] = {
    {"site add", kf_cmd_site_add, "NAME", "Add a site: a group of pools administered together",
     NULL, KF_WRITES},
    {"site list", kf_cmd_site_list, "[--json]", "List the sites with their pool and server counts",
     NULL, KF_READS},
    {"site remove", kf_cmd_site_remove, "NAME [--force]", "Remove a site",
     "A site that still has pools is kept unless --force is given; then its pools and\n"
     "their servers are removed with it, and listed.\n", KF_WRITES},
    {"pool add", kf_cmd_pool_add,
     "FQDN --site NAME [--web-fqdn FQDN]... [--probe-url URL]",
     "Add a pool: a load-balanced web service name",
     "  --site NAME        the site the pool belongs to (required)\n"
     "  --web-fqdn FQDN    an extra name clients use for the pool (an internal or\n"
     "                     external load balancer); repeat for several. Each gets an\n"
     "                     HTTP/ SPN on the site's Kerberos account.\n"
     "  --probe-url URL    the page a real SPNEGO login is tried on after a rotation\n"
     "                     (default https://FQDN/)\n", KF_WRITES},
    {"pool list", kf_cmd_pool_list, "[--json]", "List the pools", NULL, KF_READS},
    {"pool set", kf_cmd_pool_set,
     "FQDN [--web-fqdn FQDN]... [--no-web-fqdns] [--probe-url URL] [--default-probe-url]",
     "Change a pool's web FQDNs or probe URL",
     "  --web-fqdn FQDN       the pool's extra names become exactly these (repeat)\n"
     "  --no-web-fqdns        the pool has no extra names any more\n"
     "  --probe-url URL       the page a real SPNEGO login is tried on\n"
     "  --default-probe-url   back to https://FQDN/\n"
     "Changed names take effect in the directory with `krbfleet topology enable`.\n", KF_WRITES},
    {"pool remove", kf_cmd_pool_remove, "FQDN [--force]", "Remove a pool",
     "A pool that still has servers is kept unless --force is given; then its servers\n"
     "are removed with it, and listed.\n", KF_WRITES},
    {"server add", kf_cmd_server_add, "FQDN --pool FQDN [--address IP] [--agent-port N]",
     "Add a web server (it runs krbfleetd) to a pool",
     "  --pool FQDN        the pool the server belongs to (required)\n"
     "  --address IP       how the admin host reaches the server's agent and web port\n"
     "                     (default: resolve FQDN)\n"
     "  --agent-port N     the agent's TCP port (default: [agent] port, 7390)\n"
     "A server's FQDN may equal its own pool's FQDN (a one-server pool).\n", KF_WRITES},
    {"server list", kf_cmd_server_list, "[--json]", "List the web servers", NULL, KF_READS},
    {"server remove", kf_cmd_server_remove, "FQDN", "Remove a web server", NULL, KF_WRITES},
    {"topology import", kf_cmd_topology_import, "[--dry-run] [--force] FILE",
     "Replace the whole topology with the document in FILE ('-' reads standard input)",
     "The import is all or nothing: the first error names its JSON path, e.g.\n"
     "  sites[1].pools[0].fqdn: \"bad_name..x\" is not a valid DNS name\n"
     "and the store is left as it was. Documents over 16 MiB are refused; a UTF-8\n"
     "byte order mark at the start is skipped (export never writes one).\n"
     "An import that would remove what is in use - a site with an account\n"
     "assignment, a pool whose SPN `topology enable` published (as the store\n"
     "records it; the directory is not asked) - is refused, listing them.\n"
     "  --dry-run   print the difference (+ added, - removed, ~ changed: sites,\n"
     "              pools, web FQDNs, servers; ! in use), change nothing\n"
     "  --force     remove what is in use too, and list it; `krbfleet topology\n"
     "              enable` then withdraws its SPNs\n"
     "The format is the one `krbfleet topology export` writes:\n"
     "  { \"sites\": [ { \"name\": \"redmond\",\n"
     "      \"pools\": [ { \"fqdn\": \"web.redmond.example.com\",\n"
     "                   \"web_fqdns\": [\"lb.redmond.example.com\"],\n"
     "                   \"probe_url\": \"https://web.redmond.example.com/\",\n"
     "                   \"servers\": [ { \"fqdn\": \"fe01.redmond.example.com\",\n"
     "                                  \"address\": \"192.0.2.11\", \"agent_port\": 7390 } ] } ] } ] }\n", KF_WRITES},
    {"topology export", kf_cmd_topology_export, "[FILE]",
     "Write the topology document to FILE or standard output",
     "Fields never set are left out, keys come in a fixed order with a two-space\n"
     "indent and a final newline, so export -> import -> export is byte-identical.\n"
     "FILE is replaced atomically (written beside it, synced, renamed over it); a\n"
     "symbolic link at FILE is replaced, never followed.\n",
     KF_READS},
    {"topology enable", kf_cmd_topology_enable, "[--dry-run] [--take-over]",
     "Publish the topology: make every managed account hold exactly the SPNs it implies",
     "An account's SPNs are HTTP/<pool> and HTTP/<web fqdn> for every pool of every\n"
     "site assigned to it. Missing ones are added; ones krbfleet added earlier and\n"
     "the topology no longer implies are removed; SPNs added by hand are left alone.\n"
     "An SPN held by another account krbfleet manages (a site moved) is moved. An\n"
     "SPN held by any other object is refused, naming it, and nothing is written,\n"
     "unless --take-over, which moves it from there (migrating from setspn).\n"
     "  --dry-run     print the plan, write nothing\n"
     "  --take-over   move SPNs from objects krbfleet does not manage\n"
     "Refused, writing nothing, while an assigned account may not carry web keys\n"
     "(see `help account adopt`).\n"
     "A second run changes nothing. Safe first-time order: account new ->\n"
     "assignment new -> password set -> topology enable.\n", KF_WRITES},
    {"topology test", kf_cmd_topology_test, "[--json]",
     "Check the published topology: assignments, accounts and their SPNs",
     "Every site with pools has an assignment; every assigned account exists, is\n"
     "enabled, not expired, has AES enctypes, may carry web keys (see `help account\n"
     "adopt`) and holds exactly the implied SPNs; a pending change is reported.\n"
     "Each problem comes with the command that fixes it.\n"
     "Exit status 1 if anything failed.\n", KF_READS},
    {"service list", kf_cmd_service_list, "[--webserver] [--json]",
     "List the web services: every web server with its pool and site (Get-CsService -WebServer)",
     NULL, KF_READS},
    {"account new", kf_cmd_account_new,
     "'DOMAIN\\name' [--site SITE]... [--dry-run] [--container DN] [--enctypes LIST]",
     "Create the shared Kerberos account: a computer object name$ in the directory",
     "  --container DN   where to create it (default: the domain's Computers\n"
     "                   container, found through wellKnownObjects)\n"
     "  --enctypes LIST  aes256,aes128 (the default); rc4 only if you must (warned)\n"
     "  --site SITE      deploy it on SITE too, in one go (repeatable): assign it,\n"
     "                   give its keys to every web server of the site, publish\n"
     "                   its SPNs, and log in to every server for real\n"
     "  --dry-run        with --site: check and reach every agent, change nothing\n"
     "The initial password is 120 random characters, never shown or stored. Your\n"
     "Kerberos ticket (KRB5CCNAME) is the credential; no password on a command line.\n"
     "With --site the keys are staged on every server before the account exists\n"
     "and the account is created with that password. Refused, changing nothing: an\n"
     "unknown site, a site that uses another account, a name the directory has\n"
     "and krbfleet does not manage, an agent that does not answer. After a\n"
     "failure, run the same command again: it completes the deployment.\n", KF_WRITES},
    {"account adopt", kf_cmd_account_adopt, "'DOMAIN\\name' [--allow-foreign-spns]",
     "Take over an existing computer account created elsewhere (adcli, msktutil, ADUC)",
     "Its existing SPNs are left alone: krbfleet removes only SPNs it added itself.\n"
     "Only an account that may carry web keys is adopted: a plain computer account\n"
     "(objectClass computer, WORKSTATION_TRUST_ACCOUNT), not a domain controller,\n"
     "RODC, trust or managed service account, with no delegation of any kind,\n"
     "primary group Domain Computers, in no privileged group (nested groups\n"
     "included). A refusal names the property; there is no override.\n"
     "  --allow-foreign-spns  accept SPNs of other services (a joined host's host/,\n"
     "                        cifs/, ...): every web server will hold their keys.\n"
     "                        Recorded on the account; adopting it again re-checks.\n",
     KF_WRITES},
    {"account list", kf_cmd_account_list, "[--json]", "List the accounts krbfleet manages", NULL, KF_READS},
    {"account show", kf_cmd_account_show, "NAME [--json]",
     "Show an account as the directory holds it now: DN, kvno, enctypes, SPNs", NULL, KF_READS},
    {"account set", kf_cmd_account_set, "NAME --enctypes LIST [--dry-run] [--concurrency N]",
     "Change an account's properties safely: its encryption types",
     "  --enctypes LIST  the account's new set of aes256, aes128, rc4 (comma-\n"
     "                   separated; at least one AES type; DES is refused)\n"
     "  --dry-run        say what would be done and reach every agent; change nothing\n"
     "  --concurrency N  agents in flight in the rotation (default [rotation]\n"
     "                   concurrency)\n"
     "A type added: the KDC may issue tickets in it as soon as the directory's\n"
     "msDS-SupportedEncryptionTypes names it, and only a password set makes its\n"
     "keys. So first a rotation (as `password set`) stages keys of the old and new\n"
     "types together on every web server and commits a new password; only when\n"
     "every server is healthy does the attribute change. Otherwise it stays, and\n"
     "running the command again after the repair is safe.\n"
     "A type only removed: the attribute changes at once, no rotation. Tickets\n"
     "issued before in that type are valid until they expire, so its keys stay in\n"
     "the keytabs; `password set` and `sync` prune them once the change is older\n"
     "than [rotation] grace.\n"
     "Example: krbfleet account set 'EXAMPLE\\kerbauth' --enctypes aes256,aes128,rc4\n",
     KF_WRITES},
    {"account remove", kf_cmd_account_remove, "NAME [--delete-from-directory]",
     "Stop managing an account",
     "Refused while sites are assigned to it. The directory object stays unless\n"
     "--delete-from-directory is given.\n", KF_WRITES},
    {"assignment new", kf_cmd_assignment_new, "--site NAME --account NAME",
     "Assign a Kerberos account to a site (refused if the site has one)", NULL, KF_WRITES},
    {"assignment set", kf_cmd_assignment_set, "--site NAME --account NAME",
     "Change the account of a site that has one",
     "Setting the account the site already has changes nothing and is not\n"
     "recorded in the audit log.\n", KF_WRITES},
    {"assignment get", kf_cmd_assignment_get, "[--site NAME] [--json]",
     "Show which account each site uses", NULL, KF_READS},
    {"assignment remove", kf_cmd_assignment_remove, "--site NAME",
     "Remove a site's assignment", NULL, KF_WRITES},
    {"assignment test", kf_cmd_assignment_test, "--site NAME [--report FILE.html] [--json]",
     "Test a site's Kerberos account and every web server of it; say what to fix",
     "Test-CsKerberosAccountAssignment. For the site's account, in the directory:\n"
     "  it exists, is enabled and not expired, holds exactly the SPNs the topology\n"
     "  implies, and none of them is also registered on another object (a duplicate\n"
     "  SPN makes the KDC fail or pick the wrong key).\n"
     "For every name of every pool: it resolves; an alias (CNAME) is a warning,\n"
     "  because browsers ask for the canonical name's SPN, and a FAIL when that SPN\n"
     "  is not on the account.\n"
     "For every web server, through its krbfleetd and a real login:\n"
     "  agent     the agent answers and admits us\n"
     "  kvno      the keytab holds the directory's current kvno (older ones listed)\n"
     "  spns      ... for every SPN of the account\n"
     "  enctypes  ... with the enctypes of msDS-SupportedEncryptionTypes\n"
     "  mode      the keytab is 0640 to the web server's group (0600: a warning),\n"
     "            readable by nobody else\n"
     "  clock     the clock is within 5 minutes of this host's (a warning past 1)\n"
     "  key       the agent says which kvno's key accepts a fresh ticket\n"
     "  login     a real SPNEGO login to the pool's probe URL at the server's\n"
     "            address succeeds, with the server's mutual authentication verified\n"
     "Every FAIL names the command that repairs it, e.g. `krbfleet password set\n"
     "--from fe01... --to fe03...` for a server left at an old kvno.\n"
     "  --report FILE.html  also write the result as one self-contained HTML page\n"
     "Exit status 1 if anything failed.\n", KF_READS},
    {"password set", kf_cmd_password_set,
     "--account NAME [--force] [--dry-run] [--concurrency N] | --from SERVER --to SERVER "
     "[--dry-run] | --all [--if-older-than AGE] [--force]",
     "Rotate an account's password and deliver its keys to every web server, safely",
     "--account NAME (Set-CsKerberosAccountPassword -UserAccount):\n"
     "  1. plan: every web server of every site assigned to NAME; the account's lock\n"
     "     is taken; every agent must answer and allow us, or nothing happens\n"
     "     (--force skips those and lists them);\n"
     "  2. stage: a new random password -> keys for every SPN and enctype, with the\n"
     "     salt the KDC reports, at kvno+1, delivered alongside the current keys;\n"
     "     if staging fails anywhere, it is withdrawn and the directory untouched;\n"
     "  3. commit: the password is set in the directory over the same connection,\n"
     "     the real kvno read back from that DC (keys restamped if it differs);\n"
     "  4. verify: a real SPNEGO login on every server with a fresh ticket, the\n"
     "     server's mutual-authentication token checked;\n"
     "  5. prune: kvnos whose successor is older than [rotation] grace go.\n"
     "  --dry-run        plan and reach every agent; change nothing\n"
     "  --concurrency N  agents in flight (default [rotation] concurrency, 1024)\n"
     "--from SERVER --to SERVER (-FromComputer/-ToComputer): copy the account's keys\n"
     "from one web server's agent to another's (servers, not pools, of the same\n"
     "account); a copy can only improve the destination:\n"
     "  - a fresh ticket from the directory's DC must be accepted by the source's\n"
     "    keys at the directory's kvno, or nothing is copied and the message names\n"
     "    a server that holds the right keys;\n"
     "  - only the account's own principals (its HTTP/ names and NAME$) are\n"
     "    copied; other entries stay where they are and are never spread;\n"
     "  - the destination must accept the same ticket afterwards (and a real login\n"
     "    where the pool is published); if it did before and not after, its old\n"
     "    keys are put back.\n"
     "  --dry-run        check both servers and say what would be copied; change nothing\n"
     "--all [--if-older-than AGE] (unattended; what krbfleet-rotate.timer runs):\n"
     "every managed account whose password (pwdLastSet read from the DC) is AGE\n"
     "old or older (default [rotation] max_age, 30d; AGE like 30d, 12h, 90s) is\n"
     "rotated as with --account; a younger one is not touched in the directory,\n"
     "one line says why, and if any of its servers is not at the directory's kvno\n"
     "(it was down at the last rotation), or keys of a type `account set` removed\n"
     "longer than [rotation] grace ago are to be pruned, it is synced as `krbfleet\n"
     "sync` does.\n"
     "An account whose lock is held by a run elsewhere is skipped, naming the\n"
     "holder (exit 0). Never prompts; each line also goes to the audit log.\n"
     "With no valid ticket in the cache, [directory] client_keytab and\n"
     "client_principal (e.g. ADMINHOST$) give krbfleet its own, in memory only.\n"
     "krbfleet-rotate.timer runs it daily: systemctl enable --now\n"
     "krbfleet-rotate.timer.\n"
     "Refused, before anything is written (also in a dry run), for an account that\n"
     "may not carry web keys (see `help account adopt`), naming the property.\n"
     "Exit status 0 only if every server ended healthy; otherwise the table names\n"
     "each problem and the command that repairs it.\n", KF_WRITES},
    {"sync", kf_cmd_sync, "[--account NAME] [--json]",
     "Bring every web server back to the keys the directory uses (after a crash)",
     "For each account (all, or NAME), on one DC:\n"
     "  1. take the account's lock; read its kvno from the directory; reach every\n"
     "     agent of its sites (unreachable ones are reported, the others synced);\n"
     "  2. get a fresh service ticket for one of its published SPNs (NAME$ when\n"
     "     none is) and ask every agent which key of its keytab accepts it - every\n"
     "     key is tried, whatever its kvno label says;\n"
     "  3. take that key set from an agent that holds it (only the account's own\n"
     "     principals: other entries are never spread, and left alone everywhere)\n"
     "     and stage it at the directory's kvno on every server that lacks it, or\n"
     "     has it incomplete or under a wrong label; withdraw sets labelled above\n"
     "     the directory's kvno (staged by a run that never committed);\n"
     "  4. check every server again with the same ticket, log in for real where\n"
     "     the pool's SPN is published, prune kvnos older than [rotation] grace,\n"
     "     and record it all in the store.\n"
     "An account that may not carry web keys (see `help account adopt`) is not\n"
     "synced: its keys are withdrawn from every keytab reached, and it fails.\n"
     "Run it after `password set` was killed or failed half-way (its message says\n"
     "so), or after adding a server to a pool. If no server holds a key that\n"
     "accepts the ticket, the keys are lost: sync says so, and\n"
     "`krbfleet password set --account NAME` makes new ones.\n"
     "Exit status 0 only if every server ends holding the directory's keys at its\n"
     "kvno; otherwise the table names each problem and what repairs it.\n", KF_WRITES},
    {"status", kf_cmd_status, "[--account NAME] [--json | --prometheus] [--prometheus-file PATH]",
     "How each account and its web servers stand: kvno, password age, stale servers",
     "For each managed account (all, or NAME): its kvno and password age (pwdLastSet)\n"
     "read from the directory, when its next rotation is due ([rotation] max_age,\n"
     "default 30d), its web servers - asked through their agents all at once, each\n"
     "within [directory] timeout - as current (keys at the directory's kvno), stale\n"
     "(reached, but another kvno: `krbfleet sync` repairs it) or unreachable, and\n"
     "how its last `password set` ended (the store's journal). Reads only.\n"
     "  --prometheus            the Prometheus text format on stdout, every series\n"
     "                          labelled account=\"DOMAIN\\name\" (node_exporter's\n"
     "                          textfile collector)\n"
     "  --prometheus-file PATH  write those metrics to PATH (a temporary file in its\n"
     "                          directory, renamed over it); default [status]\n"
     "                          prometheus_file. Without --prometheus the table or\n"
     "                          JSON still goes to stdout\n"
     "Exit status 0 when every server is current, 1 when any is stale or\n"
     "unreachable (or the store or directory cannot be read).\n", KF_READS},
    {"spn list", kf_cmd_spn_list, "NAME [--json]",
     "The SPNs the directory holds for an account now (setspn -L)", NULL, KF_READS},
    {"doctor", kf_cmd_doctor, "URL [--address IP] [--json]",
     "Why does a browser keep prompting for a password at URL? Ask as a client would",
     "Follows a Negotiate login to URL the way a browser makes it and says, one\n"
     "sentence each with its fix:\n"
     "  dns        which name the client resolves and the SPN it asks for - after\n"
     "             canonicalising, as browsers do (an alias asks for HTTP/<canonical>)\n"
     "  kdc        whether the KDC issues a ticket for that SPN (kvno, enctype)\n"
     "  directory  which object holds the SPN (when a directory is configured)\n"
     "  server     for a server of the topology: which kvnos its keytab holds for\n"
     "             the SPN and whether it accepts the ticket (through its agent)\n"
     "  login      whether the server answered with a mutual-authentication token,\n"
     "             refused the ticket, or offered only NTLM or Basic\n"
     "  browser    when the login works: the browser settings that decide whether a\n"
     "             browser asks for a ticket at all, and for which SPN\n"
     "  --address IP   connect there instead of resolving the URL's host (one server\n"
     "                 behind a load balancer)\n"
     "Needs your Kerberos ticket (kinit). Exit status 1 if the login fails.\n", KF_MAY_READ},
    {"permission grant", kf_cmd_permission_grant, "--container DN --group 'DOMAIN\\name'",
     "Let a group (or one account) do krbfleet's directory work in one container",
     "Writes, on the container's DACL only, the object ACEs krbfleet's commands need\n"
     "and no more (Grant-CsSetupPermission):\n"
     "  on the container: create and delete child objects of class computer;\n"
     "  inherited by computer objects only: Reset Password, read/write\n"
     "  servicePrincipalName, write userAccountControl, write\n"
     "  msDS-SupportedEncryptionTypes.\n"
     "A second grant writes nothing. The ACEs added are recorded in the store, so\n"
     "`permission revoke` removes exactly those. Use a dedicated OU, not\n"
     "CN=Computers (see krbfleet(1), DELEGATION). Needs a ticket that may change\n"
     "the container's permissions (a domain admin's).\n", KF_WRITES},
    {"permission revoke", kf_cmd_permission_revoke,
     "--container DN --group 'DOMAIN\\name' [--reclaim]",
     "Remove exactly the ACEs `permission grant` wrote for a trustee",
     "Other ACEs on the container are left alone. Whoever created a computer object\n"
     "keeps rights on it (it is its owner): the managed accounts in the container\n"
     "whose owner is the trustee or one of its members are listed.\n"
     "  --reclaim   make Domain Admins their owner and remove the explicit ACEs of\n"
     "              the creator and the trustee on them\n", KF_WRITES},
    {"permission list", kf_cmd_permission_list, "--container DN [--json]",
     "The trustees holding krbfleet's ACEs on a container, and whether the set is complete",
     NULL, KF_MAY_READ},
    {"permission test", kf_cmd_permission_test, "--container DN [--json]",
     "Which krbfleet operations your ticket may perform in a container",
     "Asks the DC: allowedChildClassesEffective of the container (create computer\n"
     "accounts) and allowedAttributesEffective of a managed account there (SPNs,\n"
     "enctypes, userAccountControl); Reset Password and delete are judged from the\n"
     "DACL with your ticket's tokenGroups. With no managed account in the container\n"
     "the ACEs it passes to new computers are judged. Changes nothing.\n", KF_MAY_READ},
    {"audit list", kf_cmd_audit_list, "[--since WHEN] [--object OBJECT] [--json]",
     "Show the audit log: every change, when, by which local user and Kerberos principal",
     "  --since WHEN      changes at or after WHEN: a UTC date (2026-12-07,\n"
     "                    2026-12-07T14:30[:00]) or a duration back from now (90m,\n"
     "                    12h, 7d)\n"
     "  --object OBJECT   changes to OBJECT: site:redmond exactly, redmond (any kind\n"
     "                    of object of that name) or site (every site); any case\n"
     "The principal is recorded only when the ticket cache holds a valid, unexpired\n"
     "ticket for it; a cache that merely names one proves nothing.\n", KF_READS},
    {"store migrate", kf_cmd_store_migrate, "",
     "Create the store's schema, or bring it forward to this krbfleet's version",
     "A PostgreSQL store (--store postgresql://host/dbname) is created and migrated\n"
     "only by this command, by one admin after upgrading krbfleet; other commands\n"
     "refuse an empty database or an older schema. A SQLite store is migrated by\n"
     "every command that opens it; here it is only created when missing. A schema\n"
     "newer than this krbfleet knows is refused.\n", KF_WRITES},
    {"store copy", kf_cmd_store_copy, "--from PATH|URL --to PATH|URL [--force] [--json]",
     "Copy a whole store, e.g. a SQLite file into PostgreSQL or back (a backup)",
     "  --from PATH|URL   the store copied (read only)\n"
     "  --to PATH|URL     the store written: created (a file) or given the schema (an\n"
     "                    empty PostgreSQL database) when needed\n"
     "  --force           replace the target's contents; without it a target that\n"
     "                    holds anything is refused (a copy never merges)\n"
     "Copies the topology, accounts, assignments, the record of which kvno each\n"
     "server holds (never keys: the store has none), the audit log and the\n"
     "rotation journal, in one transaction of the target, then prints the rows\n"
     "per table. Running rotations' locks are not copied.\n", KF_READS},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_all(FILE *fp)
{
    fprintf(fp, "Usage: krbfleet [--store PATH|URL] [--config PATH] [--json] COMMAND [ARGS]\n\n"
                "One Kerberos identity for a whole fleet of web servers, kept correct.\n\n"
                "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-17s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp,
            "\nGlobal options:\n"
            "  --store PATH    the store (else $KRBFLEET_STORE, the config's [store] url or\n"
            "                  path, /var/lib/krbfleet/krbfleet.db); commands that change\n"
            "                  something create it, commands that only read need it.\n"
            "                  postgresql://host/dbname: a PostgreSQL store shared by\n"
            "                  several admin hosts (create it with `store migrate`)\n"
            "  --config PATH   the configuration (else $KRBFLEET_CONFIG,\n"
            "                  /etc/krbfleet/krbfleet.conf)\n"
            "  --json          one JSON document on stdout instead of a table\n"
            "  --help          this text; `krbfleet help COMMAND` for one command,\n"
            "                  `krbfleet GROUP` (site, pool, ...) for a group's commands\n"
            "  --version       the version\n"
            "\nThe Lync Server cmdlets (New-CsKerberosAccount, ...) work as commands too:\n"
            "`krbfleet help cmdlets` lists them with the command each one runs.\n"
            "\nExit status: 0 ok, 1 failed (or a test found problems), 2 usage error.\n"
            "See krbfleet(1).\n");
}

/* Find the command named by the first one or two words of ARGV. */
static const struct kf_command *
find_command(int argc, char **argv, int *words)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i].name, *sp = strchr(name, ' ');
        size_t n1 = sp ? (size_t)(sp - name) : strlen(name);
        if (sp == NULL && argc >= 1 && strcmp(argv[0], name) == 0) {
            *words = 1; /* a one-word command: "sync" */
            return &commands[i];
        }
        if (sp != NULL && argc >= 2 && strlen(argv[0]) == n1 && strncmp(argv[0], name, n1) == 0 &&
            strcmp(argv[1], sp + 1) == 0) {
            *words = 2;
            return &commands[i];
        }
    }
    return NULL;
}

/* Print every command of GROUP ("site": site add, site list, ...) on FP
 * (NULL: count only); returns how many. */
static int
list_group(FILE *fp, const char *group)
{
    size_t n = strlen(group);
    int found = 0;

    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strncmp(commands[i].name, group, n) == 0 && commands[i].name[n] == ' ') {
            if (fp != NULL)
                fprintf(fp, "krbfleet %s %s\n    %s\n", commands[i].name, commands[i].args,
                        commands[i].summary);
            found++;
        }
    }
    return found;
}

static int
help_command(int argc, char **argv)
{
    const struct kf_command *cmd;
    int words;

    if (argc == 0) {
        usage_all(stdout);
        return 0;
    }
    if (strcmp(argv[0], "cmdlets") == 0) {
        kf_cmdlet_print_table(stdout);
        return 0;
    }
    if (kf_cmdlet_word(argv[0])) {
        const struct kf_cmdlet *c = kf_cmdlet_find(argv[0]);
        if (c == NULL)
            return kf_cli_usage_global("no cmdlet \"%s\"; `krbfleet help cmdlets` lists them",
                                       argv[0]);
        kf_cmdlet_print(stdout, c);
        printf("\nSee `krbfleet help %s` for what it does.\n", kf_cmdlet_command(c));
        return 0;
    }
    cmd = find_command(argc, argv, &words);
    if (cmd == NULL) {
        /* "help site": every command of that group */
        if (list_group(stdout, argv[0]) > 0)
            return 0;
        return kf_cli_usage_global("no command \"%s\"; try 'krbfleet help'", argv[0]);
    }
    kf_cli_help(cmd);
    return 0;
}

/* Move the global options out of ARGV, wherever they stand (before "--"),
 * leaving the command words and the command's own options. */
static int
take_globals(struct kf_cli *cli, int *argc, char **argv, bool *help, bool *version)
{
    int out = 0;

    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *val = NULL;
        const char **dest = NULL;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            *version = true;
            continue;
        }
        if (strncmp(a, "--store", 7) == 0 && (a[7] == '\0' || a[7] == '='))
            dest = &cli->store_opt;
        else if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '='))
            dest = &cli->config_opt;
        if (dest == NULL) {
            argv[out++] = argv[i];
            continue;
        }
        val = strchr(a, '=');
        if (val != NULL) {
            val++;
        } else if (i + 1 < *argc) {
            val = argv[++i];
        } else {
            return kf_cli_usage_global("option '%s' needs a value", a);
        }
        if (*val == '\0') {
            return kf_cli_usage_global("option '%.8s' needs a non-empty value", a);
        }
        *dest = val;
    }
    *argc = out;
    return 0;
}

/* "site add redmond" for the audit log; no secrets ever reach argv. */
static char *
join_args(int argc, char **argv)
{
    size_t len = 1;
    char *s, *p;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s = p = malloc(len);
    if (s == NULL)
        return NULL;
    *p = '\0';
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, argv[i], n);
        p += n;
        *p = '\0';
    }
    return s;
}

/* The agents' tickets back to krbfleet's cache ([rotation] ticket_cache);
 * what went wrong there is a warning, never the command's failure. */
static void
save_tickets(void)
{
    struct kf_tickets_report r;
    struct kf_err err = {0};

    if (kf_tickets_save(&r, &err) != KF_OK)
        kf_cli_warn("%s", err.msg);
    if (r.warning[0] != '\0')
        kf_cli_warn("%s", r.warning);
}

/* As many open files as the hard limit allows: a rotation keeps one
 * connection per server open from stage to prune. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    struct kf_cli cli = {0};
    _cleanup_(kf_cmdlet_call_done) struct kf_cmdlet_call cmdlet = {0};
    const struct kf_command *cmd;
    bool help = false, version = false;
    int words = 0, rc, cargc;
    char **cargv;

    setlocale(LC_CTYPE, "");
    /* A peer that closes its socket (a dying DC or agent) must give an
     * error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    argc--;
    argv++;
    /* --json first, wherever it stands: even an error in the global
     * options is then one JSON document. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            kf_cli_set_json(true);
    if ((rc = take_globals(&cli, &argc, argv, &help, &version)) != 0)
        return rc;
    if (version) {
        if (cli.json)
            return kf_cli_print_json(json_pack("{s:s}", "version", KF_VERSION));
        printf("krbfleet %s\n", KF_VERSION);
        return 0;
    }
    if (argc == 0 && !help && cli.json)
        return kf_cli_usage_global("no command given; try 'krbfleet help'");
    if (argc == 0) {
        usage_all(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    if (strcmp(argv[0], "help") == 0)
        return help_command(argc - 1, argv + 1);
    /* A Lync cmdlet becomes the krbfleet command it stands for. */
    if (kf_cmdlet_word(argv[0])) {
        if (help)
            return help_command(argc, argv);
        rc = kf_cmdlet_translate(argc, (const char *const *)argv, &cmdlet, &cli.err);
        if (rc == KF_ERR_USAGE)
            return kf_cli_usage_global("%s", cli.err.msg);
        if (rc != KF_OK)
            return kf_cli_fail(&cli, (kf_status)rc);
        argc = cmdlet.argc;
        argv = cmdlet.argv;
    }
    cmd = find_command(argc, argv, &words);
    if (cmd == NULL) {
        if (help)
            return help_command(argc, argv);
        /* "krbfleet site" or "krbfleet site frob": the group's commands */
        if (argc == 1 && list_group(NULL, argv[0]) > 0) {
            kf_cli_usage_global("\"%s\" needs a subcommand, one of:", argv[0]);
            list_group(stderr, argv[0]);
            return 2;
        }
        kf_cli_usage_global("unknown command \"%s%s%s\"; try 'krbfleet help'", argv[0],
                            argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
        if (list_group(NULL, argv[0]) > 0) { /* argv[0] names a group: safe to show */
            fprintf(stderr, "The \"%s\" commands are:\n", argv[0]);
            list_group(stderr, argv[0]);
        }
        return 2;
    }
    if (help) {
        kf_cli_help(cmd);
        return 0;
    }
    cli.cmd = cmd;
    cli.command_line = join_args(argc, argv);
    if (cli.command_line == NULL) {
        fprintf(stderr, "krbfleet: out of memory\n");
        return 1;
    }
    /* The command sees argv[0] = its name, then its own arguments. */
    cargc = argc - words + 1;
    cargv = argv + words - 1;
    optind = 0;
    rc = cmd->run(&cli, cmd, cargc, cargv);
    save_tickets();
    kf_dir_free(cli.dir);
    kf_store_free(cli.store);
    kf_config_free(cli.cfg);
    free(cli.command_line);
    return rc;
}
