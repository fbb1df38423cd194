#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# mktree.py create DIR SEED N -- build below DIR (made here) a tree of about N
#   files in nested directories: regular files of varied sizes, some sparse
#   (data islands between holes), user.* xattrs (also on directories), hard
#   links across directories, symlinks (relative, absolute, dangling, long),
#   a few fifos; owners chown'ed to other uids/gids, modes with
#   setuid/setgid/sticky bits, and nanosecond mtimes (some before 1970, some
#   after 2038) set last, directories deepest first.
# mktree.py mutate DIR SEED -- change an existing tree: add files in new and
#   old directories, unlink some, rename some (also over existing names and
#   across directories), rename a directory, chmod/chown/setxattr/
#   removexattr some, truncate and overwrite some.
# Deterministic for a SEED.  Prints one summary line.

import os
import random
import stat
import sys

UIDS = [0, 1000, 1001, 1002, 4242, 65534]
FMODES = [0o644, 0o600, 0o640, 0o755, 0o444, 0o000, 0o4755, 0o2750, 0o6711]
DMODES = [0o755, 0o700, 0o1777, 0o2775, 0o555]


def content(rng, n):
    return rng.randbytes(n)


def write_regular(rng, path):
    """a new regular file; returns its size"""
    r = rng.random()
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        if r < 0.30:
            size = rng.randrange(0, 513)
            os.write(fd, content(rng, size))
        elif r < 0.70:
            size = rng.randrange(512, 8193)
            os.write(fd, content(rng, size))
        elif r < 0.90:
            size = rng.randrange(8192, 65537)
            os.write(fd, content(rng, size))
        else:  # sparse: islands of data between holes, maybe a tail hole
            size = rng.randrange(64 << 10, 4 << 20)
            for _ in range(rng.randrange(1, 5)):
                off = rng.randrange(0, size)
                n = min(rng.randrange(1, 16 << 10), size - off)
                os.pwrite(fd, content(rng, n), off)
            if rng.random() < 0.5:  # data at the very end
                os.pwrite(fd, content(rng, 100), size - 100)
            os.ftruncate(fd, size)
    finally:
        os.close(fd)
    return size


def add_xattrs(rng, path):
    for k in range(rng.randrange(1, 5)):
        n = rng.choice([0, 1, 17, 100, 255, 1000, 3000])
        os.setxattr(path, "user.k%d" % k, content(rng, n))


def nstime(rng):
    r = rng.random()
    if r < 0.05:
        s = -rng.randrange(1, 10**9)          # before 1970
    elif r < 0.10:
        s = rng.randrange(2**31, 2**33)       # after 2038
    else:
        s = rng.randrange(10**9, 18 * 10**8)
    return s * 10**9 + rng.randrange(0, 10**9)


def create(top, seed, n):
    rng = random.Random(seed)
    os.mkdir(top)
    dirs = [top]
    for i in range(max(1, n // 25)):
        d = os.path.join(rng.choice(dirs), "d%d" % i)
        os.mkdir(d)
        dirs.append(d)
    regs, others, stats = [], [], dict(reg=0, link=0, sym=0, fifo=0, xattr=0)
    for i in range(n):
        d = rng.choice(dirs)
        p = os.path.join(d, "f%d" % i)
        r = rng.random()
        if r < 0.08 and regs:
            os.link(rng.choice(regs), p)
            stats["link"] += 1
            continue
        if r < 0.16:
            t = rng.choice([
                os.path.relpath(rng.choice(regs or [top]), d),
                rng.choice(regs or [top]),
                "dangling-%d" % i,
                "x" * rng.randrange(100, 1000)])
            os.symlink(t, p)
            others.append(p)
            stats["sym"] += 1
            continue
        if i % 3000 == 7:
            os.mkfifo(p, 0o644)
            others.append(p)
            stats["fifo"] += 1
            continue
        write_regular(rng, p)
        if rng.random() < 0.2:
            add_xattrs(rng, p)
            stats["xattr"] += 1
        regs.append(p)
        stats["reg"] += 1
    for d in dirs[1:]:
        if rng.random() < 0.1:
            add_xattrs(rng, d)
    # owners, modes, mtimes last: nothing changes them afterwards
    for p in regs + others:
        if rng.random() < 0.5:
            os.chown(p, rng.choice(UIDS), rng.choice(UIDS),
                     follow_symlinks=False)
        if not os.path.islink(p):
            os.chmod(p, rng.choice(FMODES))
        os.utime(p, ns=(nstime(rng), nstime(rng)), follow_symlinks=False)
    for d in sorted(dirs[1:], key=lambda x: -x.count("/")):
        if rng.random() < 0.3:
            os.chown(d, rng.choice(UIDS), rng.choice(UIDS))
        os.chmod(d, rng.choice(DMODES))
        os.utime(d, ns=(nstime(rng), nstime(rng)))
    print("# created %d dirs, %d regular files (%d with xattrs), %d hard "
          "links, %d symlinks, %d fifos" % (len(dirs), stats["reg"],
                                            stats["xattr"], stats["link"],
                                            stats["sym"], stats["fifo"]))


def mutate(top, seed):
    rng = random.Random(seed ^ 0x5EED)
    dirs, files = [], []
    for d, ds, fs in os.walk(top):
        dirs.append(d)
        files += [os.path.join(d, f) for f in fs]
    dirs.sort()
    files.sort()
    rng.shuffle(files)
    cut = len(files) // 20
    gone, moved = files[:cut], files[cut:2 * cut]
    changed = files[2 * cut:3 * cut]
    for p in gone:
        os.unlink(p)
    nd = os.path.join(top, "new%d" % seed)
    os.mkdir(nd)
    for i in range(cut):
        q = os.path.join(rng.choice(dirs + [nd]), "n%d_%d" % (seed, i))
        write_regular(rng, q)
        if rng.random() < 0.3:
            add_xattrs(rng, q)
    renamed = 0
    for i, p in enumerate(moved):
        q = os.path.join(rng.choice(dirs + [nd]), "r%d_%d" % (seed, i))
        if rng.random() < 0.2 and changed:  # over an existing name
            q = changed.pop()
            if os.path.isdir(q):
                continue
        os.rename(p, q)
        renamed += 1
    for p in changed:
        if not os.path.lexists(p) or not stat.S_ISREG(os.lstat(p).st_mode):
            continue    # user.* xattrs are for files and directories
        r = rng.random()
        if r < 0.25:
            os.chmod(p, rng.choice(FMODES))
        elif r < 0.4:
            os.chown(p, rng.choice(UIDS), rng.choice(UIDS))
        elif r < 0.6:
            os.setxattr(p, "user.m", content(rng, rng.randrange(0, 300)))
        elif r < 0.7:
            try:
                os.removexattr(p, "user.k0")
            except OSError:
                pass
        else:
            fd = os.open(p, os.O_WRONLY)
            if r < 0.85:
                os.ftruncate(fd, rng.randrange(0, 100000))
            else:
                os.pwrite(fd, content(rng, 5000), rng.randrange(0, 200000))
            os.close(fd)
    subdirs = [d for d in dirs if d != top]
    if subdirs:
        d = rng.choice(subdirs)
        os.rename(d, os.path.join(nd, "moved-dir"))
    print("# mutated: %d unlinked, %d added, %d renamed, %d changed, "
          "1 directory moved" % (len(gone), cut, renamed, len(changed)))


def main():
    a = sys.argv
    if len(a) == 5 and a[1] == "create":
        create(a[2], int(a[3]), int(a[4]))
    elif len(a) == 4 and a[1] == "mutate":
        mutate(a[2], int(a[3]))
    else:
        sys.exit("usage: mktree.py create DIR SEED N | mutate DIR SEED")


if __name__ == "__main__":
    main()
