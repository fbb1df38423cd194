#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# manifest.py ROOT -- print, sorted by path, one line per file below ROOT
# (ROOT itself is "."), everything a persistent filesystem must keep:
#   path type mode uid gid size nlink ino mtime_ns
#   then, by type: symlink target; regular: sha256 of the content and the
#   SEEK_DATA/SEEK_HOLE extents ("off+len,..."); xattrs (sorted name=sha).
# atime and ctime are left out (reading and recovery may change them).
# Two manifests of the same tree are identical, so `diff` shows what a
# remount lost or changed.

import errno
import hashlib
import os
import stat
import sys


def extents(fd, size):
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                break
            raise
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append("%d+%d" % (d, h - d))
        off = h
    return ",".join(out) or "-"


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return "-"
        raise
    out = []
    for n in sorted(names):
        v = os.getxattr(path, n, follow_symlinks=False)
        out.append("%s=%s" % (n, hashlib.sha256(v).hexdigest()[:16]))
    return ",".join(out) or "-"


def regular(path, size):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
        return "sha=%s ext=%s" % (h.hexdigest()[:32], extents(fd, size))
    finally:
        os.close(fd)


def line(root, rel):
    path = os.path.join(root, rel)
    st = os.lstat(path)
    m = st.st_mode
    kind = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l",
            stat.S_IFIFO: "p", stat.S_IFSOCK: "s", stat.S_IFCHR: "c",
            stat.S_IFBLK: "b"}[stat.S_IFMT(m)]
    f = [rel, kind, "%o" % stat.S_IMODE(m), str(st.st_uid), str(st.st_gid),
         str(st.st_size), str(st.st_nlink), str(st.st_ino),
         str(st.st_mtime_ns)]
    if kind == "l":
        f.append("-> " + os.readlink(path))
    elif kind == "f":
        f.append(regular(path, st.st_size))
    if kind in ("c", "b"):
        f.append("rdev=%d" % st.st_rdev)
    f.append("x=" + xattrs(path))
    return "\t".join(f)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: manifest.py ROOT")
    root = sys.argv[1]
    out, todo = [line(root, ".")], [""]
    while todo:
        d = todo.pop()
        with os.scandir(os.path.join(root, d) if d else root) as it:
            for e in it:
                rel = os.path.join(d, e.name) if d else e.name
                out.append(line(root, rel))
                if e.is_dir(follow_symlinks=False):
                    todo.append(rel)
    out.sort()
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
