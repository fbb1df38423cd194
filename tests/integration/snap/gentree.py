#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# gentree.py -- a tree whose states are numbered, for checking snapshots
# taken (and a daemon killed) while it changes (snap/snap_persist.sh).
#
# gentree.py create DIR N -- DIR/d<k % 20>/f<k> for k < N, each holding
#   "base <k>\n", mode 0644, xattr user.k = k; DIR/gen holds "0".
# State g (g >= 1) is state g-1 after "f<g % N> holds '<g>\n'" and then
# "gen holds '<g>'" (the loop in the test does exactly that, in that
# order, before taking snapshot g<g>).
# gentree.py check ROOT N [G] -- ROOT must be exactly a state: its gen says
#   which (and must be G if given), every file holds what that state says,
#   no file missing or extra, xattrs and modes intact. A live tree after a
#   crash may also hold the next state's one file write (written before
#   gen), begun (the file truncated, as `>` does first) or done, and an
#   empty gen (truncated before its write): allowed with G = "live".
#   Prints the state; exit 1 if none.

import os
import sys

NDIRS = 20


def path(root, k):
    return os.path.join(root, "d%d" % (k % NDIRS), "f%d" % k)


def create(root, n):
    os.mkdir(root)
    for d in range(NDIRS):
        os.mkdir(os.path.join(root, "d%d" % d))
    for k in range(n):
        p = path(root, k)
        with open(p, "w") as f:
            f.write("base %d\n" % k)
        os.setxattr(p, "user.k", b"%d" % k)
    with open(os.path.join(root, "gen"), "w") as f:
        f.write("0")


def expected(n, g):
    want = ["base %d\n" % k for k in range(n)]
    for i in range(max(1, g - n + 1), g + 1):
        want[i % n] = "%d\n" % i
    return want


def check(root, n, g_want):
    errs = []
    text = open(os.path.join(root, "gen")).read()
    if text == "" and g_want == "live":
        # `printf > gen` truncates before it writes: a crash between
        # leaves gen empty after state i's file write, i.e. state i.
        g = 0
        for k in range(n):
            got = open(path(root, k)).read()
            if got and not got.startswith("base "):
                g = max(g, int(got))
    else:
        g = int(text)
    if g_want not in (None, "live") and g != int(g_want):
        errs.append("gen is %d, want %s" % (g, g_want))
    want = expected(n, g)
    names = set()
    for d in range(NDIRS):
        names |= {os.path.join("d%d" % d, e)
                  for e in os.listdir(os.path.join(root, "d%d" % d))}
    extra = names - {os.path.relpath(path(root, k), root) for k in range(n)}
    if extra:
        errs.append("unexpected files: %s" % sorted(extra)[:5])
    if sorted(os.listdir(root)) != sorted(["gen"] +
                                          ["d%d" % d for d in range(NDIRS)]):
        errs.append("top level: %s" % sorted(os.listdir(root))[:25])
    nxt = (g + 1) % n
    for k in range(n):
        p = path(root, k)
        try:
            got = open(p).read()
        except OSError as e:
            errs.append("f%d: %s" % (k, e))
            continue
        # live: the next state's write may have begun (`>` truncates
        # first, then writes) or ended, its gen not yet written
        if got != want[k] and not (g_want == "live" and k == nxt and
                                   got in ("", "%d\n" % (g + 1))):
            errs.append("f%d holds %r, state %d says %r" % (k, got, g,
                                                           want[k]))
        if os.getxattr(p, "user.k") != b"%d" % k:
            errs.append("f%d: xattr user.k lost" % k)
        if os.stat(p).st_mode & 0o7777 != 0o644:
            errs.append("f%d: mode %o" % (k, os.stat(p).st_mode))
    if errs:
        print("%s: not a state of the tree (gen %d): %s" % (root, g,
                                                            "; ".join(errs[:5])))
        sys.exit(1)
    print(g)


def main():
    a = sys.argv
    if len(a) == 4 and a[1] == "create":
        create(a[2], int(a[3]))
    elif len(a) in (4, 5) and a[1] == "check":
        check(a[2], int(a[3]), a[4] if len(a) == 5 else None)
    else:
        sys.exit("usage: gentree.py create DIR N | check ROOT N [G|live]")


if __name__ == "__main__":
    main()
