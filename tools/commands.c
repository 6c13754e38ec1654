/* commands.c - the one table of krbfleet's commands: each command with its
 * options, declared once (name, value, help, target). getopt_long's array,
 * the synopsis, `krbfleet help CMD`, `krbfleet __complete` and the man page
 * check (`krbfleet __options`) are all derived from it (options.c,
 * complete.c). */
#include "cli.h"

/* Options several commands share, with the same meaning everywhere. */
#define OPT_FORCE(h) KF_FLAG("force", force, h)
#define OPT_DRY_RUN(h) KF_FLAG("dry-run", dry_run, h)
#define OPT_SITE(h, ...) KF_VALUE("site", "NAME", site, h, .names = KF_NAMES_SITE, __VA_ARGS__)
#define OPT_ACCOUNT(h, ...)                                                                        \
    KF_VALUE("account", "NAME", account, h, .names = KF_NAMES_ACCOUNT, __VA_ARGS__)
#define OPT_CONTAINER(h, ...) KF_VALUE("container", "DN", container, h, __VA_ARGS__)
#define OPTS(...)                                                                                  \
    (const struct kf_opt[])                                                                        \
    {                                                                                              \
        __VA_ARGS__, {0}                                                                           \
    }

/* Taken out of the command line by main() wherever they stand; no target. */
const struct kf_opt kf_global_opts[] = {
    {.name = "store", .arg = "PATH|URL", .kind = KF_OPT_VALUE, .names = KF_NAMES_FILE,
     .help = "the store (else $KRBFLEET_STORE, the config's [store] url or\n"
             "path, /var/lib/krbfleet/krbfleet.db); commands that change\n"
             "something create it, commands that only read need it.\n"
             "postgresql://host/dbname: a PostgreSQL store shared by\n"
             "several admin hosts (create it with `store migrate`)"},
    {.name = "config", .arg = "PATH", .kind = KF_OPT_VALUE, .names = KF_NAMES_FILE,
     .help = "the configuration (else $KRBFLEET_CONFIG,\n/etc/krbfleet/krbfleet.conf)"},
    {.name = "json", .help = "one JSON document on stdout instead of a table"},
    {.name = "help",
     .help = "this text; `krbfleet help COMMAND` for one command,\n"
             "`krbfleet GROUP` (site, pool, ...) for a group's commands"},
    {.name = "version", .help = "the version"},
    {0},
};

/* clang-format off */
const struct kf_command kf_commands[] = {
    {.name = "site add", .run = kf_cmd_site_add, .store = KF_WRITES,
     .summary = "Add a site: a group of pools administered together",
     .operands = "NAME", .min_operands = 1, .max_operands = 1},
    {.name = "site list", .run = kf_cmd_site_list, .store = KF_READS,
     .summary = "List the sites with their pool and server counts"},
    {.name = "site remove", .run = kf_cmd_site_remove, .store = KF_WRITES,
     .summary = "Remove a site",
     .operands = "NAME", .min_operands = 1, .max_operands = 1, .operand_names = KF_NAMES_SITE,
     .opts = OPTS(OPT_FORCE("remove its pools and their servers with it, and list them")),
     .help = "A site that still has pools is kept unless --force is given.\n"},
    {.name = "pool add", .run = kf_cmd_pool_add, .store = KF_WRITES,
     .summary = "Add a pool: a load-balanced web service name",
     .operands = "FQDN", .min_operands = 1, .max_operands = 1, .missing = "missing FQDN",
     .opts = OPTS(
         OPT_SITE("the site the pool belongs to (required)", .required = ""),
         KF_LIST("web-fqdn", "FQDN", web_fqdns,
                 "an extra name clients use for the pool (an internal or\n"
                 "external load balancer); repeat for several. Each gets an\n"
                 "HTTP/ SPN on the site's Kerberos account."),
         KF_VALUE("probe-url", "URL", probe_url,
                  "the page a real SPNEGO login is tried on after a rotation\n"
                  "(default https://FQDN/)"))},
    {.name = "pool list", .run = kf_cmd_pool_list, .store = KF_READS,
     .summary = "List the pools"},
    {.name = "pool set", .run = kf_cmd_pool_set, .store = KF_WRITES,
     .summary = "Change a pool's web FQDNs or probe URL",
     .operands = "FQDN", .min_operands = 1, .max_operands = 1, .missing = "missing FQDN",
     .operand_names = KF_NAMES_POOL,
     .opts = OPTS(
         KF_LIST("web-fqdn", "FQDN", web_fqdns,
                 "the pool's extra names become exactly these (repeat)"),
         KF_FLAG("no-web-fqdns", no_web_fqdns, "the pool has no extra names any more"),
         KF_VALUE("probe-url", "URL", probe_url, "the page a real SPNEGO login is tried on"),
         KF_FLAG("default-probe-url", default_probe_url, "back to https://FQDN/")),
     .help = "Changed names take effect in the directory with `krbfleet topology enable`.\n"},
    {.name = "pool remove", .run = kf_cmd_pool_remove, .store = KF_WRITES,
     .summary = "Remove a pool",
     .operands = "FQDN", .min_operands = 1, .max_operands = 1, .operand_names = KF_NAMES_POOL,
     .opts = OPTS(OPT_FORCE("remove its servers with it, and list them")),
     .help = "A pool that still has servers is kept unless --force is given.\n"},
    {.name = "server add", .run = kf_cmd_server_add, .store = KF_WRITES,
     .summary = "Add a web server (it runs krbfleetd) to a pool",
     .operands = "FQDN", .min_operands = 1, .max_operands = 1, .missing = "missing FQDN",
     .opts = OPTS(
         KF_VALUE("pool", "FQDN", pool, "the pool the server belongs to (required)",
                  .names = KF_NAMES_POOL, .required = ""),
         KF_VALUE("address", "IP", address,
                  "how the admin host reaches the server's agent and web port\n"
                  "(default: resolve FQDN)"),
         KF_VALUE("agent-port", "N", agent_port,
                  "the agent's TCP port (default: [agent] port, 7390)")),
     .help = "A server's FQDN may equal its own pool's FQDN (a one-server pool).\n"},
    {.name = "server list", .run = kf_cmd_server_list, .store = KF_READS,
     .summary = "List the web servers"},
    {.name = "server remove", .run = kf_cmd_server_remove, .store = KF_WRITES,
     .summary = "Remove a web server",
     .operands = "FQDN", .min_operands = 1, .max_operands = 1,
     .operand_names = KF_NAMES_SERVER},
    {.name = "topology import", .run = kf_cmd_topology_import, .store = KF_WRITES,
     .summary = "Replace the whole topology with the document in FILE ('-' reads standard input)",
     .operands = "FILE", .min_operands = 1, .max_operands = 1, .operand_names = KF_NAMES_FILE,
     .opts = OPTS(
         OPT_DRY_RUN("print the difference (+ added, - removed, ~ changed: sites,\n"
                     "pools, web FQDNs, servers; ! in use), change nothing"),
         OPT_FORCE("remove what is in use too, and list it; `krbfleet topology\n"
                   "enable` then withdraws its SPNs")),
     .help =
     "The import is all or nothing: the first error names its JSON path, e.g.\n"
     "  sites[1].pools[0].fqdn: \"bad_name..x\" is not a valid DNS name\n"
     "and the store is left as it was. Documents over 16 MiB are refused; a UTF-8\n"
     "byte order mark at the start is skipped (export never writes one).\n"
     "An import that would remove what is in use - a site with an account\n"
     "assignment, a pool whose SPN `topology enable` published (as the store\n"
     "records it; the directory is not asked) - is refused, listing them.\n"
     "The format is the one `krbfleet topology export` writes:\n"
     "  { \"sites\": [ { \"name\": \"redmond\",\n"
     "      \"pools\": [ { \"fqdn\": \"web.redmond.example.com\",\n"
     "                   \"web_fqdns\": [\"lb.redmond.example.com\"],\n"
     "                   \"probe_url\": \"https://web.redmond.example.com/\",\n"
     "                   \"servers\": [ { \"fqdn\": \"fe01.redmond.example.com\",\n"
     "                                  \"address\": \"192.0.2.11\", \"agent_port\": 7390 } ] } ] } ] }\n"},
    {.name = "topology export", .run = kf_cmd_topology_export, .store = KF_READS,
     .summary = "Write the topology document to FILE or standard output",
     .operands = "[FILE]", .min_operands = 0, .max_operands = 1, .operand_names = KF_NAMES_FILE,
     .help =
     "Fields never set are left out, keys come in a fixed order with a two-space\n"
     "indent and a final newline, so export -> import -> export is byte-identical.\n"
     "FILE is replaced atomically (written beside it, synced, renamed over it); a\n"
     "symbolic link at FILE is replaced, never followed.\n"},
    {.name = "topology enable", .run = kf_cmd_topology_enable, .store = KF_WRITES,
     .summary = "Publish the topology: make every managed account hold exactly the SPNs it implies",
     .opts = OPTS(
         OPT_DRY_RUN("print the plan, write nothing"),
         KF_FLAG("take-over", take_over, "move SPNs from objects krbfleet does not manage")),
     .help =
     "An account's SPNs are HTTP/<pool> and HTTP/<web fqdn> for every pool of every\n"
     "site assigned to it. Missing ones are added; ones krbfleet added earlier and\n"
     "the topology no longer implies are removed; SPNs added by hand are left alone.\n"
     "An SPN held by another account krbfleet manages (a site moved) is moved. An\n"
     "SPN held by any other object is refused, naming it, and nothing is written,\n"
     "unless --take-over, which moves it from there (migrating from setspn).\n"
     "Refused, writing nothing, while an assigned account may not carry web keys\n"
     "(see `help account adopt`).\n"
     "A second run changes nothing. Safe first-time order: account new ->\n"
     "assignment new -> password set -> topology enable.\n"},
    {.name = "topology test", .run = kf_cmd_topology_test, .store = KF_READS,
     .summary = "Check the published topology: assignments, accounts and their SPNs",
     .help =
     "Every site with pools has an assignment; every assigned account exists, is\n"
     "enabled, not expired, has AES enctypes, may carry web keys (see `help account\n"
     "adopt`) and holds exactly the implied SPNs; a pending change is reported.\n"
     "Each problem comes with the command that fixes it.\n"
     "Exit status 1 if anything failed.\n"},
    {.name = "service list", .run = kf_cmd_service_list, .store = KF_READS,
     .summary = "List the web services: every web server with its pool and site (Get-CsService "
                "-WebServer)",
     .opts = OPTS(KF_FLAG("webserver", webserver,
                          "the web services (the only kind there is; Get-CsService\n"
                          "-WebServer)"))},
    {.name = "account new", .run = kf_cmd_account_new, .store = KF_WRITES,
     .summary = "Create the shared Kerberos account: a computer object name$ in the directory",
     .operands = "'DOMAIN\\name'", .min_operands = 1, .max_operands = 1,
     .opts = OPTS(
         KF_LIST("site", "SITE", sites,
                 "deploy it on SITE too, in one go (repeatable): assign it,\n"
                 "give its keys to every web server of the site, publish\n"
                 "its SPNs, and log in to every server for real",
                 .names = KF_NAMES_SITE),
         OPT_DRY_RUN("with --site: check and reach every agent, change nothing"),
         OPT_CONTAINER("where to create it (default: the domain's Computers\n"
                       "container, found through wellKnownObjects)"),
         KF_VALUE("enctypes", "LIST", enctypes,
                  "aes256,aes128 (the default); rc4 only if you must (warned)")),
     .help =
     "The initial password is 120 random characters, never shown or stored. Your\n"
     "Kerberos ticket (KRB5CCNAME) is the credential; no password on a command line.\n"
     "With --site the keys are staged on every server before the account exists\n"
     "and the account is created with that password. Refused, changing nothing: an\n"
     "unknown site, a site that uses another account, a name the directory has\n"
     "and krbfleet does not manage, an agent that does not answer. After a\n"
     "failure, run the same command again: it completes the deployment.\n"},
    {.name = "account adopt", .run = kf_cmd_account_adopt, .store = KF_WRITES,
     .summary = "Take over an existing computer account created elsewhere (adcli, msktutil, ADUC)",
     .operands = "'DOMAIN\\name'", .min_operands = 1, .max_operands = 1,
     .opts = OPTS(KF_FLAG("allow-foreign-spns", allow_foreign_spns,
                          "accept SPNs of other services (a joined host's host/,\n"
                          "cifs/, ...): every web server will hold their keys.\n"
                          "Recorded on the account; adopting it again re-checks.")),
     .help =
     "Its existing SPNs are left alone: krbfleet removes only SPNs it added itself.\n"
     "Only an account that may carry web keys is adopted: a plain computer account\n"
     "(objectClass computer, WORKSTATION_TRUST_ACCOUNT), not a domain controller,\n"
     "RODC, trust or managed service account, with no delegation of any kind,\n"
     "primary group Domain Computers, in no privileged group (nested groups\n"
     "included). A refusal names the property; there is no override.\n"},
    {.name = "account list", .run = kf_cmd_account_list, .store = KF_READS,
     .summary = "List the accounts krbfleet manages"},
    {.name = "account show", .run = kf_cmd_account_show, .store = KF_READS,
     .summary = "Show an account as the directory holds it now: DN, kvno, enctypes, SPNs",
     .operands = "NAME", .min_operands = 1, .max_operands = 1,
     .operand_names = KF_NAMES_ACCOUNT},
    {.name = "account set", .run = kf_cmd_account_set, .store = KF_WRITES,
     .summary = "Change an account's properties safely: its encryption types",
     .operands = "NAME", .min_operands = 1, .max_operands = 1,
     .operand_names = KF_NAMES_ACCOUNT,
     .opts = OPTS(
         KF_VALUE("enctypes", "LIST", enctypes,
                  "the account's new set of aes256, aes128, rc4 (comma-\n"
                  "separated; at least one AES type; DES is refused)"),
         OPT_DRY_RUN("say what would be done and reach every agent; change nothing"),
         KF_VALUE("concurrency", "N", concurrency,
                  "agents in flight in the rotation (default [rotation]\n"
                  "concurrency)")),
     .help =
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
     "Example: krbfleet account set 'EXAMPLE\\kerbauth' --enctypes aes256,aes128,rc4\n"},
    {.name = "account remove", .run = kf_cmd_account_remove, .store = KF_WRITES,
     .summary = "Stop managing an account",
     .operands = "NAME", .min_operands = 1, .max_operands = 1,
     .operand_names = KF_NAMES_ACCOUNT,
     .opts = OPTS(KF_FLAG("delete-from-directory", delete_from_directory,
                          "delete the computer object from the directory too")),
     .help = "Refused while sites are assigned to it. The directory object stays unless\n"
             "--delete-from-directory is given.\n"},
    {.name = "assignment new", .run = kf_cmd_assignment_new, .store = KF_WRITES,
     .summary = "Assign a Kerberos account to a site (refused if the site has one)",
     .opts = OPTS(OPT_SITE("the site", .required = ""),
                  OPT_ACCOUNT("its Kerberos account", .required = ""))},
    {.name = "assignment set", .run = kf_cmd_assignment_set, .store = KF_WRITES,
     .summary = "Change the account of a site that has one",
     .opts = OPTS(OPT_SITE("the site", .required = ""),
                  OPT_ACCOUNT("its Kerberos account from now on", .required = "")),
     .help = "Setting the account the site already has changes nothing and is not\n"
             "recorded in the audit log.\n"},
    {.name = "assignment get", .run = kf_cmd_assignment_get, .store = KF_READS,
     .summary = "Show which account each site uses",
     .opts = OPTS(OPT_SITE("only this site"))},
    {.name = "assignment remove", .run = kf_cmd_assignment_remove, .store = KF_WRITES,
     .summary = "Remove a site's assignment",
     .opts = OPTS(OPT_SITE("the site", .required = ""))},
    {.name = "assignment test", .run = kf_cmd_assignment_test, .store = KF_READS,
     .summary = "Test a site's Kerberos account and every web server of it; say what to fix",
     .opts = OPTS(OPT_SITE("the site", .required = ""),
                  KF_VALUE("report", "FILE.html", report,
                           "also write the result as one self-contained HTML page",
                           .names = KF_NAMES_FILE)),
     .help =
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
     "Exit status 1 if anything failed.\n"},
    {.name = "password set", .run = kf_cmd_password_set, .store = KF_WRITES,
     .summary = "Rotate an account's password and deliver its keys to every web server, safely",
     .opts = OPTS(
         OPT_ACCOUNT("rotate this account (Set-CsKerberosAccountPassword\n"
                     "-UserAccount)"),
         KF_VALUE("from", "SERVER", from,
                  "copy the account's keys from this web server's agent\n"
                  "(-FromComputer) ...", .names = KF_NAMES_SERVER),
         KF_VALUE("to", "SERVER", to, "... to this one's (-ToComputer)",
                  .names = KF_NAMES_SERVER),
         KF_FLAG("all", all, "every managed account that is due (unattended)"),
         KF_VALUE("if-older-than", "AGE", if_older_than,
                  "with --all: due when the password is AGE old or older\n"
                  "(default [rotation] max_age, 30d; AGE like 30d, 12h, 90s)"),
         OPT_DRY_RUN("plan and reach every agent (or check both servers and say\n"
                     "what would be copied); change nothing"),
         OPT_FORCE("skip the servers that do not answer or allow us, and\n"
                   "list them"),
         KF_VALUE("concurrency", "N", concurrency,
                  "agents in flight (default [rotation] concurrency, 1024)")),
     .help =
     "--account NAME (Set-CsKerberosAccountPassword -UserAccount):\n"
     "  1. plan: every web server of every site assigned to NAME; the account's lock\n"
     "     is taken; every agent must answer and allow us, or nothing happens\n"
     "     (--force skips those and lists them);\n"
     "  2. stage: a new random password -> keys for every SPN and enctype, with the\n"
     "     salt the KDC reports, at kvno+1, delivered alongside the current keys;\n"
     "     if staging fails anywhere, it is withdrawn and the directory untouched;\n"
     "  3. commit: the password is set in the directory over the same connection,\n"
     "     the real kvno read back from that DC (keys restamped if it differs);\n"
     "  4. verify: a real SPNEGO login on every server with its pool's fresh\n"
     "     ticket (one per pool, asked of the DC after the commit), the server's\n"
     "     mutual-authentication token checked;\n"
     "  5. prune: kvnos whose successor is older than [rotation] grace go.\n"
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
     "--all [--if-older-than AGE] (unattended; what krbfleet-rotate.timer runs):\n"
     "every managed account whose password (pwdLastSet read from the DC) is AGE\n"
     "old or older (default [rotation] max_age, 30d; AGE like 30d, 12h, 90s) is\n"
     "rotated as with --account; a younger one is not touched in the directory,\n"
     "one line says why, and if any of its servers is not at the directory's kvno\n"
     "(it was down at the last rotation) it is synced as `krbfleet sync` does.\n"
     "An account whose lock is held by a run elsewhere is skipped, naming the\n"
     "holder (exit 0). Never prompts; each line also goes to the audit log.\n"
     "With no valid ticket in the cache, [directory] client_keytab and\n"
     "client_principal (e.g. ADMINHOST$) give krbfleet its own, in memory only.\n"
     "krbfleet-rotate.timer runs it daily: systemctl enable --now\n"
     "krbfleet-rotate.timer.\n"
     "Refused, before anything is written (also in a dry run), for an account that\n"
     "may not carry web keys (see `help account adopt`), naming the property.\n"
     "Exit status 0 only if every server ended healthy; otherwise the table names\n"
     "each problem and the command that repairs it.\n"},
    {.name = "sync", .run = kf_cmd_sync, .store = KF_WRITES,
     .summary = "Bring every web server back to the keys the directory uses (after a crash)",
     .opts = OPTS(OPT_ACCOUNT("only this account")),
     .help =
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
     "kvno; otherwise the table names each problem and what repairs it.\n"},
    {.name = "status", .run = kf_cmd_status, .store = KF_READS,
     .summary = "How each account and its web servers stand: kvno, password age, stale servers",
     .opts = OPTS(
         OPT_ACCOUNT("only this account"),
         KF_FLAG("prometheus", prometheus,
                 "the Prometheus text format on stdout, every series\n"
                 "labelled account=\"DOMAIN\\name\" (node_exporter's\n"
                 "textfile collector); not with --json"),
         KF_VALUE("prometheus-file", "PATH", prometheus_file,
                  "write those metrics to PATH (a temporary file in its\n"
                  "directory, renamed over it); default [status]\n"
                  "prometheus_file. Without --prometheus the table or\n"
                  "JSON still goes to stdout", .names = KF_NAMES_FILE)),
     .help =
     "For each managed account (all, or NAME): its kvno and password age (pwdLastSet)\n"
     "read from the directory, when its next rotation is due ([rotation] max_age,\n"
     "default 30d), its web servers - asked through their agents all at once, each\n"
     "within [directory] timeout - as current (keys at the directory's kvno), stale\n"
     "(reached, but another kvno: `krbfleet sync` repairs it) or unreachable, and\n"
     "how its last `password set` ended (the store's journal). Reads only.\n"
     "Exit status 0 when every server is current, 1 when any is stale or\n"
     "unreachable (or the store or directory cannot be read).\n"},
    {.name = "spn list", .run = kf_cmd_spn_list, .store = KF_READS,
     .summary = "The SPNs the directory holds for an account now (setspn -L)",
     .operands = "NAME", .min_operands = 1, .max_operands = 1,
     .operand_names = KF_NAMES_ACCOUNT},
    {.name = "doctor", .run = kf_cmd_doctor, .store = KF_MAY_READ,
     .summary = "Why does a browser keep prompting for a password at URL? Ask as a client would",
     .operands = "URL", .min_operands = 1, .max_operands = 1, .missing = "the URL is missing",
     .opts = OPTS(KF_VALUE("address", "IP", address,
                           "connect there instead of resolving the URL's host (one server\n"
                           "behind a load balancer)")),
     .help =
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
     "Needs your Kerberos ticket (kinit). Exit status 1 if the login fails.\n"},
    {.name = "permission grant", .run = kf_cmd_permission_grant, .store = KF_WRITES,
     .summary = "Let a group (or one account) do krbfleet's directory work in one container",
     .opts = OPTS(
         OPT_CONTAINER("the container (an OU) to delegate",
                       .required = "the OU to delegate, e.g. OU=Web,DC=example,DC=com"),
         KF_VALUE("group", "'DOMAIN\\name'", group,
                  "the trustee: a group, or one account; default [permission] group")),
     .help =
     "Writes, on the container's DACL only, the object ACEs krbfleet's commands need\n"
     "and no more (Grant-CsSetupPermission):\n"
     "  on the container: create and delete child objects of class computer;\n"
     "  inherited by computer objects only: Reset Password, read/write\n"
     "  servicePrincipalName, write userAccountControl, write\n"
     "  msDS-SupportedEncryptionTypes.\n"
     "A second grant writes nothing. The ACEs added are recorded in the store, so\n"
     "`permission revoke` removes exactly those. Use a dedicated OU, not\n"
     "CN=Computers (see krbfleet(1), DELEGATION). Needs a ticket that may change\n"
     "the container's permissions (a domain admin's).\n"},
    {.name = "permission revoke", .run = kf_cmd_permission_revoke, .store = KF_WRITES,
     .summary = "Remove exactly the ACEs `permission grant` wrote for a trustee",
     .opts = OPTS(
         OPT_CONTAINER("the container",
                       .required = "the OU to delegate, e.g. OU=Web,DC=example,DC=com"),
         KF_VALUE("group", "'DOMAIN\\name'", group,
                  "the trustee the ACEs were granted to; default [permission] group"),
         KF_FLAG("reclaim", reclaim,
                 "make Domain Admins their owner and remove the explicit ACEs of\n"
                 "the creator and the trustee on them")),
     .help =
     "Other ACEs on the container are left alone. Whoever created a computer object\n"
     "keeps rights on it (it is its owner): the managed accounts in the container\n"
     "whose owner is the trustee or one of its members are listed.\n"},
    {.name = "permission list", .run = kf_cmd_permission_list, .store = KF_MAY_READ,
     .summary =
     "The trustees holding krbfleet's ACEs on a container, and whether the set is complete",
     .opts = OPTS(OPT_CONTAINER("the container",
                                .required = "the OU to delegate, e.g. OU=Web,DC=example,DC=com"))},
    {.name = "permission test", .run = kf_cmd_permission_test, .store = KF_MAY_READ,
     .summary = "Which krbfleet operations your ticket may perform in a container",
     .opts = OPTS(OPT_CONTAINER("the container",
                                .required = "the OU to delegate, e.g. OU=Web,DC=example,DC=com")),
     .help =
     "Asks the DC: allowedChildClassesEffective of the container (create computer\n"
     "accounts) and allowedAttributesEffective of a managed account there (SPNs,\n"
     "enctypes, userAccountControl); Reset Password and delete are judged from the\n"
     "DACL with your ticket's tokenGroups. With no managed account in the container\n"
     "the ACEs it passes to new computers are judged. Changes nothing.\n"},
    {.name = "audit list", .run = kf_cmd_audit_list, .store = KF_READS,
     .summary =
     "Show the audit log: every change, when, by which local user and Kerberos principal",
     .opts = OPTS(
         KF_VALUE("since", "WHEN", since,
                  "changes at or after WHEN: a UTC date (2026-12-07,\n"
                  "2026-12-07T14:30[:00]) or a duration back from now (90m,\n"
                  "12h, 7d)"),
         KF_VALUE("object", "OBJECT", object,
                  "changes to OBJECT: site:redmond exactly, redmond (any kind\n"
                  "of object of that name) or site (every site); any case")),
     .help =
     "The principal is recorded only when the ticket cache holds a valid, unexpired\n"
     "ticket for it; a cache that merely names one proves nothing.\n"},
    {.name = "store migrate", .run = kf_cmd_store_migrate, .store = KF_WRITES,
     .summary = "Create the store's schema, or bring it forward to this krbfleet's version",
     .help =
     "A PostgreSQL store (--store postgresql://host/dbname) is created and migrated\n"
     "only by this command, by one admin after upgrading krbfleet; other commands\n"
     "refuse an empty database or an older schema. A SQLite store is migrated by\n"
     "every command that opens it; here it is only created when missing. A schema\n"
     "newer than this krbfleet knows is refused.\n"},
    {.name = "store copy", .run = kf_cmd_store_copy, .store = KF_READS,
     .summary = "Copy a whole store, e.g. a SQLite file into PostgreSQL or back (a backup)",
     .opts = OPTS(
         KF_VALUE("from", "PATH|URL", from, "the store copied (read only)",
                  .names = KF_NAMES_FILE),
         KF_VALUE("to", "PATH|URL", to,
                  "the store written: created (a file) or given the schema (an\n"
                  "empty PostgreSQL database) when needed",
                  .names = KF_NAMES_FILE),
         OPT_FORCE("replace the target's contents; without it a target that\n"
                   "holds anything is refused (a copy never merges)")),
     .help =
     "Copies the topology, accounts, assignments, the record of which kvno each\n"
     "server holds (never keys: the store has none), the audit log and the\n"
     "rotation journal, in one transaction of the target, then prints the rows\n"
     "per table. Running rotations' locks are not copied.\n"},
};
/* clang-format on */

const size_t kf_n_commands = sizeof(kf_commands) / sizeof(kf_commands[0]);
