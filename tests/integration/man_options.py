#!/usr/bin/env python3
"""Check krbfleet(1) against the command table: `krbfleet __options` dumps
every command's options (tools/commands.c) and the options the Lync cmdlets
map onto. Every command has an entry under COMMANDS; every option of a
command is named in its entry; every option an entry's synopsis line names
is in the table (or global); every cmdlet's option is one of its command's,
taking a value exactly when the command's does.

usage: man_options.py MANPAGE DUMP   (prints one line per problem; exit 1)
"""
import re
import sys


def roff_text(line):
    """A roff line as the reader sees its words."""
    line = re.sub(r'^\.(B|BI|BR|IR|I|RB|IB)\s+', '', line)
    line = re.sub(r'\\f[BIRP]', '', line)
    line = line.replace('\\-', '-').replace('\\e', '\\').replace('"', '')
    return line


def man_entries(path):
    """(tag, body) of every .TP entry of the COMMANDS section."""
    lines = open(path, encoding='utf-8').read().split('\n')
    entries, in_cmds, i = [], False, 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith('.SH'):
            in_cmds = ln.strip() == '.SH COMMANDS'
        elif in_cmds and ln.startswith('.TP') and i + 1 < len(lines):
            entries.append([roff_text(lines[i + 1]), []])
            i += 2
            continue
        elif in_cmds and entries:
            entries[-1][1].append(roff_text(ln))
        i += 1
    return entries


def main():
    man, dump = sys.argv[1], sys.argv[2]
    commands, options, globals_, cmdlets = [], {}, set(), []
    for ln in open(dump, encoding='utf-8').read().splitlines():
        f = ln.split('\t')
        if f[0] == 'command':
            commands.append(f[1])
            options[f[1]] = {}
        elif f[0] == 'option':
            options[f[1]][f[2]] = f[3]
        elif f[0] == 'global':
            globals_.add(f[1])
        elif f[0] == 'cmdlet':
            cmdlets.append(f[1:])
    problems = []
    if not commands:
        problems.append('the dump names no command')
    entries = man_entries(man)
    # the longest command name an entry's tag starts with
    by_cmd = {c: [] for c in commands}
    for tag, body in entries:
        owner = None
        for c in commands:
            if (tag == c or tag.startswith(c + ' ')) and (owner is None or len(c) > len(owner)):
                owner = c
        if owner is not None:
            by_cmd[owner].append((tag, body))
    for c in commands:
        if not by_cmd[c]:
            problems.append(f'krbfleet(1) has no entry for "{c}" under COMMANDS')
            continue
        text = '\n'.join(t + '\n' + '\n'.join(b) for t, b in by_cmd[c])
        for opt in options[c]:
            if not re.search(re.escape(opt) + r'(?![\w-])', text):
                problems.append(f'krbfleet(1) does not document {opt} of "{c}"')
        for tag, _ in by_cmd[c]:
            for opt in re.findall(r'--[a-z][a-z0-9-]*', tag):
                if opt not in options[c] and opt not in globals_:
                    problems.append(f'krbfleet(1) gives "{c}" the option {opt}, '
                                    'which its table does not have')
    for cmdlet, command, opt, kind in cmdlets:
        if command not in options:
            problems.append(f'{cmdlet} maps onto "{command}", which is no command')
        elif opt not in options[command]:
            problems.append(f'{cmdlet} maps onto {opt}, which "{command}" does not take')
        elif options[command][opt] != kind:
            problems.append(f'{cmdlet}: {opt} of "{command}" is a {options[command][opt]}, '
                            f'the cmdlet gives it as a {kind}')
    for p in problems:
        print(p)
    n = sum(len(v) for v in options.values())
    print(f'{len(commands)} commands, {n} options, {len(cmdlets)} cmdlet options checked; '
          f'{len(problems)} problem(s)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
