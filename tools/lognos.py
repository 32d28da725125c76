#!/usr/bin/env python3
"""Check that every MGLOGNO(nnnnn) log number is used once, and print the
next free one.

    tools/lognos.py            print the next free number
    tools/lognos.py --check    exit 1 if a number is used twice or is not
                               five digits
"""
import glob
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RX = re.compile(r"MGLOGNO\(\s*(\d+)\s*\)")


def scan():
    seen = {}
    bad = []
    for path in sorted(glob.glob(os.path.join(TOP, "mod_memguard", "**", "*.c"),
                                  recursive=True)):
        with open(path) as f:
            text = f.read()
        # Over the whole text: clang-format may wrap "MGLOGNO(" and its
        # number onto two lines.
        for m in RX.finditer(text):
            num = m.group(1)
            lineno = text.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (os.path.relpath(path, TOP), lineno)
            if len(num) != 5:
                bad.append("%s: MGLOGNO(%s) is not five digits" % (where, num))
            if num in seen:
                bad.append("%s: MG%s already used at %s"
                           % (where, num, seen[num]))
            else:
                seen[num] = where
    return seen, bad


def main():
    seen, bad = scan()
    nxt = max([int(n) for n in seen] or [0]) + 1
    if "--check" in sys.argv[1:]:
        for b in bad:
            print(b, file=sys.stderr)
        if not seen:
            print("no MGLOGNO() found under mod_memguard/: the scan is wrong",
                  file=sys.stderr)
            return 1
        if bad:
            return 1
        print("log numbers: %d used, all unique; next free MG%05d"
              % (len(seen), nxt))
        return 0
    print("MG%05d" % nxt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
