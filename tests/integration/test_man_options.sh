#!/usr/bin/env bash
# krbfleet(1) against the one command table: every command has an entry,
# every option of it is documented there, no entry's synopsis names an
# option the table lacks, and every Lync cmdlet maps onto an option its
# command takes (man_options.py over `krbfleet __options`). Then the check
# itself: it must fail on a man page missing an option and on a table
# option the man page lacks.
. "$(dirname "$0")/lib.sh"
MAN="$(dirname "$0")/../../man/krbfleet.1"
CHECK="$(dirname "$0")/man_options.py"

run_ok "__options dumps the table" kf __options
cp "$T/out" "$T/dump"
grep -qP '^option\tpool add\t--web-fqdn\tvalue$' "$T/dump" && ok "__options has pool add --web-fqdn" ||
  not_ok "__options lacks pool add --web-fqdn: $(head -5 "$T/dump")"
grep -qP '^cmdlet\tNew-CsKerberosAccountAssignment\tassignment new\t--site\tvalue$' "$T/dump" &&
  ok "__options has the cmdlets' options" || not_ok "__options lacks New-CsKerberosAccountAssignment --site"
if python3 "$CHECK" "$MAN" "$T/dump" >"$T/check"; then ok "krbfleet(1) matches the table: $(tail -1 "$T/check")"
else not_ok "krbfleet(1) and the table differ: $(tr '\n' ';' <"$T/check")"; fi

# the check can fail: an option taken out of the man page ...
sed 's/probe\\-url/probe\\-uri/g' "$MAN" >"$T/man-missing.1"
if python3 "$CHECK" "$T/man-missing.1" "$T/dump" >"$T/check"; then not_ok "the check missed --probe-url gone from the man page"
else grep -q 'does not document --probe-url of "pool add"' "$T/check" && ok "the check names an undocumented option" ||
  not_ok "the check said: $(cat "$T/check")"; fi
# ... an option the man page gives that the table lacks ...
grep -v -P '^option\tsite remove\t--force' "$T/dump" >"$T/dump-less"
if python3 "$CHECK" "$MAN" "$T/dump-less" >"$T/check"; then not_ok "the check missed --force gone from site remove's table"
else grep -q 'gives "site remove" the option --force' "$T/check" && ok "the check names an option the table lacks" ||
  not_ok "the check said: $(cat "$T/check")"; fi
# ... and a cmdlet mapped onto an option its command does not take
printf 'cmdlet\tGet-CsService\tservice list\t--webservers\tflag\n' >>"$T/dump"
if python3 "$CHECK" "$MAN" "$T/dump" >"$T/check"; then not_ok "the check missed a cmdlet's unknown option"
else grep -q 'Get-CsService maps onto --webservers' "$T/check" && ok "the check names a cmdlet's unknown option" ||
  not_ok "the check said: $(cat "$T/check")"; fi

finish
