#!/usr/bin/env python3
"""mkccache.py FILE KIND - write an MIT FILE credential cache (format 0x0504)
for alice@LAB.TEST, without a KDC, to test what krbfleet believes of a cache:
  none     names the principal, holds no ticket
  expired  holds a krbtgt ticket that ended a minute ago
  valid    holds a krbtgt ticket valid for another hour
The ticket bytes are not a real ticket: only the cache's own claims are
tested (krbfleet asks no KDC before it records the principal)."""
import struct
import sys
import time


def counted(b):
    return struct.pack('>I', len(b)) + b


def principal(name, realm):
    comps = name.split('/')
    return (struct.pack('>II', 1, len(comps)) + counted(realm.encode()) +
            b''.join(counted(c.encode()) for c in comps))


def main():
    path, kind = sys.argv[1], sys.argv[2]
    now = int(time.time())
    ends = {'none': [], 'expired': [now - 60], 'valid': [now + 3600]}[kind]
    out = struct.pack('>HH', 0x0504, 0) + principal('alice', 'LAB.TEST')
    for end in ends:
        out += principal('alice', 'LAB.TEST') + principal('krbtgt/LAB.TEST', 'LAB.TEST')
        out += struct.pack('>H', 18) + counted(b'\0' * 32)          # keyblock
        out += struct.pack('>IIII', now - 7200, now - 7200, end, 0)  # times
        out += b'\0' + struct.pack('>I', 0x40000000 | 0x00400000)    # skey, flags
        out += struct.pack('>II', 0, 0)                              # addresses, authdata
        out += counted(b'not a real ticket') + counted(b'')
    with open(path, 'wb') as f:
        f.write(out)


main()
