#!/usr/bin/python3
# Offline set-up of a freshly provisioned lab domain (called by lab.sh up,
# before the DC starts). Writes straight into the DC's sam.ldb:
#   - password policy: no minimum age, no complexity, no history, no minimum
#     length, passwords never expire (tests reset passwords freely);
#   - Administrator's password;
#   - users alice (ordinary) and kfadmin (member of Domain Admins).
# Passwords are read from files (DIR/secrets/...), never from the command line.
#
# usage: lab-setup.py SMB_CONF ADMIN_PW_FILE KFADMIN_PW_FILE ALICE_PW_FILE
# Must run with Debian's /usr/bin/python3 (the samba modules live there).
import sys

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
import ldb

NEVER = str(-0x8000000000000000)


def read_secret(path):
    with open(path, encoding="utf-8") as f:
        return f.read().rstrip("\n")


def main(argv):
    if len(argv) != 5:
        sys.stderr.write("usage: lab-setup.py SMB_CONF ADMIN_PW KFADMIN_PW ALICE_PW\n")
        return 2
    conf, admin_f, kfadmin_f, alice_f = argv[1:]
    lp = LoadParm()
    lp.load(conf)
    samdb = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(),
                  lp=lp)

    m = ldb.Message()
    m.dn = ldb.Dn(samdb, samdb.domain_dn())
    for attr, value in (("minPwdAge", "0"), ("maxPwdAge", NEVER),
                        ("pwdProperties", "0"), ("pwdHistoryLength", "0"),
                        ("minPwdLength", "0")):
        m[attr] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, attr)
    samdb.modify(m)

    samdb.setpassword("(sAMAccountName=Administrator)", read_secret(admin_f),
                      username="Administrator")
    samdb.newuser("alice", read_secret(alice_f), givenname="Alice",
                  surname="Lab")
    samdb.newuser("kfadmin", read_secret(kfadmin_f),
                  description="krbfleet lab administrator")
    samdb.add_remove_group_members("Domain Admins", ["kfadmin"],
                                   add_members_operation=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
