#!/usr/bin/env bash
# Shell completion: the hidden `krbfleet __complete WORDS...` completes
# commands, subcommands and options from the command table, and the store's
# names for --site, --pool, --account, --from/--to and the operands that
# name them; it never creates a store and stays silent (exit 0) on a missing,
# garbage or unreadable one. Then the bash function of
# tools/completion/krbfleet.bash itself, run in bash with COMP_WORDS set.
. "$(dirname "$0")/lib.sh"
DATA="$(dirname "$0")/../data"
SCRIPT="$(dirname "$0")/../../tools/completion/krbfleet.bash"

# comp "what" WORDS... -> candidates in $T/out; exit 0 and nothing on stderr
comp() {
  local what=$1 rc=0; shift
  kf __complete "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
    not_ok "$what: exit $rc, stderr: $(head -c 200 "$T/err")"; return 1
  fi
}
# expect_set "what" "a b c": the candidates are exactly these (any order)
expect_set() {
  local want got
  want=$(printf '%s\n' $2 | sort)
  got=$(sort "$T/out")
  [ "$want" = "$got" ] && ok "$1" || not_ok "$1: got $(tr '\n' ' ' <"$T/out"), want $2"
}
has() { grep -qxF -- "$2" "$T/out" && ok "$1" || not_ok "$1: $(tr '\n' ' ' <"$T/out" | head -c 300)"; }

# -- no store: the table alone, and no store made --------------------------------
rm -f "$KRBFLEET_STORE"
comp "commands" ""
has "the first word: site" site
has "the first word: sync" sync
has "the first word: help" help
has "the first word: password" password
grep -q '^__' "$T/out" && not_ok "hidden commands offered" || ok "__complete and __options are not offered"
comp "a prefix" si
expect_set "si -> site" "site"
comp "subcommands" pool ""
expect_set "pool -> its subcommands" "add list set remove"
comp "topics after help" help c
expect_set "help c -> cmdlets" "cmdlets"
comp "subcommands after help" help assignment t
expect_set "help assignment t -> test" "test"
comp "options of a command" pool add web.x.example.com --
for o in --site --web-fqdn --probe-url --json --store --config --help; do has "pool add offers $o" "$o"; done
grep -q -- '--force' "$T/out" && not_ok "pool add offers --force (not its option)" || ok "pool add offers only its own options"
comp "options by prefix" password set --i
expect_set "password set --i -> --if-older-than" "--if-older-than"
comp "global options first" --j
expect_set "--j -> --json" "--json"
comp "site names without a store" site remove ""
[ -s "$T/out" ] && not_ok "names offered without a store" || ok "no store: no names, silently"
comp "account names without a store" sync --account ""
[ -e "$KRBFLEET_STORE" ] && not_ok "__complete created a store" || ok "__complete created no store"

# every option of every command is offered: completion reads the same table
kf __options >"$T/options" || not_ok "__options failed"
missing=0
while IFS=$'\t' read -r kind cmd; do
  [ "$kind" = command ] || continue
  # shellcheck disable=SC2086
  kf __complete $cmd -- >"$T/offered"
  while IFS=$'\t' read -r k c opt _; do
    [ "$k" = option ] && [ "$c" = "$cmd" ] || continue
    grep -qxF -- "$opt" "$T/offered" || { missing=1; not_ok "$cmd does not complete $opt"; }
  done <"$T/options"
done <"$T/options"
[ "$missing" = 0 ] && ok "every option of the table completes ($(grep -c '^option' "$T/options") options)"
kf --help >"$T/help"; kf help >>"$T/help"
grep -q '__complete\|__options' "$T/help" && not_ok "help lists the hidden commands" || ok "help does not list __complete or __options"

# -- a store: its names ---------------------------------------------------------
kf topology import "$DATA/topology-2sites.json" >/dev/null 2>&1 || not_ok "topology import"
sqlite3 "$KRBFLEET_STORE" "INSERT INTO account(domain, name, dn, enctypes, created) VALUES
  ('LAB', 'kerbauth', NULL, 24, '2026-12-07T00:00:00Z'), ('LAB', 'webacct', NULL, 24, '2026-12-07T00:00:00Z')"
dump_store "$T/before"
comp "--site NAME" assignment new --site ""
expect_set "--site completes the sites" "redmond dublin"
comp "--site=NAME" assignment test --site=r
expect_set "--site=r completes --site=redmond" "--site=redmond"
comp "--site = NAME (as bash splits it)" assignment get --site = d
expect_set "--site = d completes dublin" "dublin"
comp "site remove NAME" site remove ""
expect_set "site remove completes the sites" "redmond dublin"
comp "site remove NAME NAME" site remove redmond ""
[ -s "$T/out" ] && not_ok "a second operand offered" || ok "site remove takes one operand: nothing more offered"
comp "pool remove FQDN" pool remove web.d
expect_set "pool remove completes the pools" "web.dublin.lab.test"
comp "server add --pool" server add fe09.lab.test --pool ""
expect_set "--pool completes the pools" "web.redmond.lab.test web.dublin.lab.test"
comp "server remove" server remove fe01
expect_set "server remove completes the servers" "fe01.redmond.lab.test fe01.dublin.lab.test"
comp "password set --from" password set --from fe02.r
expect_set "--from completes the servers" "fe02.redmond.lab.test"
comp "password set --to after --from" password set --from fe01.redmond.lab.test --to fe02.d
expect_set "--to completes the servers" "fe02.dublin.lab.test"
comp "--account" password set --account ""
expect_set "--account completes the accounts" "kerbauth webacct"
comp "account show NAME" account show w
expect_set "account show completes the accounts" "webacct"
comp "status --account" status --account k
expect_set "status --account completes the accounts" "kerbauth"
comp "an option's value that is not a name" server add fe09.lab.test --address ""
[ -s "$T/out" ] && not_ok "--address offers names" || ok "--address IP: nothing offered"
comp "site add (a new name)" site add ""
[ -s "$T/out" ] && not_ok "site add offers existing names" || ok "site add NAME (a new name): nothing offered"
comp "global options before the command" --json sync --account ""
expect_set "--json before the command is skipped" "kerbauth webacct"
cp "$KRBFLEET_STORE" "$T/other.db"
sqlite3 "$T/other.db" "DELETE FROM assignment; DELETE FROM site WHERE name = 'dublin'"
comp "--store PATH names the store to read" --store "$T/other.db" site remove ""
expect_set "--store's store is read" "redmond"
comp "--store=PATH too" --store="$T/other.db" assignment new --site ""
expect_set "--store=PATH's store is read" "redmond"
comp "a file after --store" --store ""
[ -s "$T/out" ] && not_ok "--store offers words" || ok "--store PATH: nothing offered (the shell completes files)"
dump_store "$T/after"
cmp -s "$T/before" "$T/after" && ok "completion left the store unchanged" || not_ok "completion changed the store"

# -- a garbage, a missing, an unreadable store: nothing, silently -------------------
printf 'this is not an SQLite database\n' >"$T/garbage.db"
comp "garbage store" --store "$T/garbage.db" site remove ""
[ -s "$T/out" ] && not_ok "garbage store: $(cat "$T/out")" || ok "a garbage store: nothing offered, nothing on stderr, exit 0"
comp "a directory as the store" --store "$T" pool remove ""
[ -s "$T/out" ] && not_ok "directory store: $(cat "$T/out")" || ok "a directory as the store: nothing, silently"
comp "a missing store named by --store" --store "$T/none.db" site remove ""
[ -s "$T/out" ] && not_ok "missing store: $(cat "$T/out")" || ok "a missing store: nothing, silently"
[ -e "$T/none.db" ] && not_ok "__complete created the store --store named" || ok "the store --store named was not created"
comp "a PostgreSQL store" --store "postgresql://127.0.0.1:1/nothing" site remove ""
[ -s "$T/out" ] && not_ok "PostgreSQL store: $(cat "$T/out")" || ok "a PostgreSQL store: not connected to, nothing offered"
comp "sqlite:PATH" --store "sqlite:$KRBFLEET_STORE" site remove r
expect_set "--store sqlite:PATH is read" "redmond"
printf '[store\n' >"$T/bad.conf"
comp "a broken configuration" --config "$T/bad.conf" site remove ""
[ -s "$T/out" ] && not_ok "broken config: $(cat "$T/out")" || ok "a broken configuration: nothing, silently"
if [ "$(id -u)" -ne 0 ]; then
  cp "$KRBFLEET_STORE" "$T/locked.db"; chmod 000 "$T/locked.db"
  comp "an unreadable store" --store "$T/locked.db" site remove ""
  [ -s "$T/out" ] && not_ok "unreadable store: $(cat "$T/out")" || ok "an unreadable store: nothing, silently"
fi
# a name the terminal must not see raw is never offered
sqlite3 "$KRBFLEET_STORE" "INSERT INTO account(domain, name, dn, enctypes, created) VALUES
  ('LAB', 'evil$(printf '\033')[8m', NULL, 24, '2026-12-07T00:00:00Z')"
comp "a name with a control character" sync --account ""
expect_set "names with control characters are left out" "kerbauth webacct"

# -- the bash function itself ----------------------------------------------------
# bashcomp WORDS...: source the script, complete the last word, print COMPREPLY
bashcomp() {
  bash -c '. "$1"; shift
           COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
           COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
           _krbfleet; printf "%s\n" "${COMPREPLY[@]}"' bashcomp "$SCRIPT" "$KRBFLEET" "$@" >"$T/out" 2>"$T/err"
}
bash -c '. "$1"; complete -p krbfleet' x "$SCRIPT" >"$T/spec" 2>&1
grep -q -- '-F _krbfleet' "$T/spec" && ok "the script registers _krbfleet for krbfleet" || not_ok "complete -p: $(cat "$T/spec")"
bashcomp pool re
expect_set "bash: pool re -> remove" "remove"
bashcomp assignment new --site ""
expect_set "bash: --site completes the store's sites" "redmond dublin"
bashcomp topology enable --
expect_set "bash: topology enable -- lists its options and the global ones" \
  "--dry-run --take-over --json --store --config --help --version"
bashcomp --store "$T/garbage.db" site remove ""
[ -s "$T/out" ] && [ -n "$(tr -d '\n' <"$T/out")" ] && not_ok "bash with a garbage store: $(cat "$T/out")" ||
  ok "bash with a garbage store: no candidates"
[ -s "$T/err" ] && not_ok "bash completion wrote to stderr: $(cat "$T/err")" || ok "bash completion wrote nothing to stderr"
kf site add "new york" >/dev/null 2>&1 || not_ok "site add 'new york'"
bashcomp site remove new
[ "$(cat "$T/out")" = 'new\ york' ] && ok "bash: a name with a space comes escaped" ||
  not_ok "bash: site remove new -> $(cat "$T/out"), want new\\ york"

finish
