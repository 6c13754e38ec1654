# bash completion for krbfleet(1). The candidates come from the program
# itself: `krbfleet __complete WORDS...` reads the command table (commands,
# subcommands, options) and, for --site, --pool, --account, --from/--to and
# the operands that name them, the store's names. It never creates a store
# and says nothing on errors; with no candidate, file names are offered.

_krbfleet()
{
    local cur cword words out
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        # keep "--site=NAME" and "DOMAIN\name" whole
        _get_comp_words_by_ref -n =: -c cur -w words -i cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    out=$("${words[0]}" __complete "${words[@]:1:cword}" 2>/dev/null) || return 0
    COMPREPLY=()
    [ -n "$out" ] || return 0
    local line
    while IFS= read -r line; do
        # a site name may hold a space: escape it for the command line
        COMPREPLY+=("$(printf '%q' "$line")")
    done <<<"$out"
    return 0
}
complete -o default -F _krbfleet krbfleet
