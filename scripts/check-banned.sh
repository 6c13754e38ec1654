#!/usr/bin/env bash
# Fail if a banned C function is used anywhere in our sources.
# Banned because each has a bounded or safer replacement we use instead:
#   sprintf/strcpy/strcat/strncpy -> snprintf or a sized copy (kf_strlcpy)
#   strtok -> strtok_r or explicit parsing; atoi/sscanf -> strtol family with
#   full error checks; gets -> never.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|atoll|sscanf|gets'
# \b before the name, ( after it; snprintf/vsnprintf/strtok_r do not match.
hits=$(grep -rnE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" \
         --include='*.c' --include='*.h' lib tools daemon tests bench 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "banned functions used:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check-banned: no banned functions"
