#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""workload.py MNT SEED -- every kind of request mmfs allocates for, each
allowed to fail only as an allocation failure may (ENOMEM, ENOSPC; EIO
only from a sync, which reports a change that could not be logged).
An ENOENT or EEXIST after such a failure is its consequence (the file it
did not make). Prints the failures seen; exits 1 on any other errno."""
import errno
import os
import random
import sys

mnt, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
ALLOWED = {errno.ENOMEM, errno.ENOSPC}
seen = []
bad = []


def op(name, fn, *args, sync=False):
    try:
        return fn(*args)
    except OSError as e:
        ok = e.errno in ALLOWED or (sync and e.errno == errno.EIO)
        # a file or directory an earlier failure did not make (or left)
        ok = ok or (seen and e.errno in (errno.ENOENT, errno.EEXIST))
        (seen if ok else bad).append("%s: %s" % (name, os.strerror(e.errno)))
        return None


def write_file(path, size):
    fd = op("create " + path, os.open, path, os.O_RDWR | os.O_CREAT, 0o644)
    if fd is None:
        return
    data = rnd.randbytes(size)
    for off in range(0, size, 65536):
        if op("write " + path, os.pwrite, fd, data[off:off + 65536],
              off) is None:
            break
    op("fsync " + path, os.fsync, fd, sync=True)
    os.close(fd)


w = os.path.join(mnt, "w")
op("mkdir w", os.mkdir, w)
for i in range(6):
    d = os.path.join(w, "d%d" % i)
    op("mkdir " + d, os.mkdir, d)
    for j in range(4):
        write_file(os.path.join(d, "f%d" % j), rnd.randrange(1, 400000))
    f = os.path.join(d, "f0")
    op("setxattr", os.setxattr, f, "user.k%d" % i, rnd.randbytes(200))
    op("listxattr", os.listxattr, f)
    op("symlink", os.symlink, "f0", os.path.join(d, "ln"))
    op("link", os.link, f, os.path.join(d, "hard"))
    op("rename", os.rename, os.path.join(d, "f1"), os.path.join(d, "g1"))
    op("truncate up", os.truncate, os.path.join(d, "f2"), 3 << 20)
    op("truncate down", os.truncate, os.path.join(d, "f2"), 1000)
    fd = op("open f3", os.open, os.path.join(d, "f3"), os.O_RDWR)
    if fd is not None:
        op("fallocate", os.posix_fallocate, fd, 0, 1 << 20)
        dst = op("create copy", os.open, os.path.join(d, "copy"),
                 os.O_RDWR | os.O_CREAT, 0o644)
        if dst is not None:
            n = os.fstat(fd).st_size
            op("copy_file_range", os.copy_file_range, fd, dst, n, 0, 0)
            os.close(dst)
        os.close(fd)
    op("listdir", os.listdir, d)
    op("snapshot", os.mkdir, os.path.join(d, ".snap", "s%d" % i))
    op("unlink", os.unlink, os.path.join(d, "hard"))
for i in range(3):
    op("rmdir snapshot", os.rmdir, os.path.join(w, "d%d" % i, ".snap",
                                                 "s%d" % i))
dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
op("fsync dir", os.fsync, dfd, sync=True)
os.close(dfd)
for s in seen:
    print("# failed as allowed: " + s)
for s in bad:
    print("BAD: " + s)
sys.exit(1 if bad else 0)
