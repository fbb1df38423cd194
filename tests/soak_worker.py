#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""soak_worker.py ROLE DIR SEED -- one of soak.sh's workloads, until killed.

  churn  a tree of at most 1,500 small files in 30 directories: create and
         write (1 B..256 KiB), overwrite, append, truncate, rename, hard
         link, unlink, an fsync on every fourth write and a directory fsync
         now and then. Every file's content is a function of (name,
         generation), so `churn-verify` can check what is there.
  mmap   one 128 MiB file mapped MAP_SHARED: random 4 KiB stores, msync
         every 512 of them (an application heap).
  churn-verify  read every file of the churn tree and check its content.

soak.sh stops a worker with SIGSTOP while it checks the pool: every
request the worker makes is synchronous (no writeback cache), so a stopped
worker has none in flight; the mapped stores are flushed by sync(1).
A worker prints its counters every 10 s to stdout; an error is fatal
(exit 1): the soak must not hide one.
"""
import hashlib
import mmap
import os
import random
import sys
import time

NDIRS, NFILES = 30, 1500


def content(name, gen, size):
    seed = hashlib.blake2b(("%s:%d" % (name, gen)).encode(),
                           digest_size=8).digest()
    return (seed * (size // 8 + 1))[:size]


def churn(top, rnd):
    # name -> (gen, size) of what is there; names are d<k>/f<n>[l...]
    files = {}
    ops = {"write": 0, "fsync": 0, "rename": 0, "unlink": 0, "link": 0,
           "truncate": 0}
    for k in range(NDIRS):
        os.makedirs(os.path.join(top, "d%d" % k), exist_ok=True)
    gen = 0
    last = time.monotonic()

    def put(name, size, sync):
        nonlocal gen
        gen += 1
        path = os.path.join(top, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(content(name, gen, size))
            # what the content is a function of travels with the file
            # (renames keep it): churn-verify reads it
            os.setxattr(f.fileno(), "user.soak",
                        ("%s:%d:%d" % (name, gen, size)).encode())
            if sync:
                os.fsync(f.fileno())
                ops["fsync"] += 1
        os.rename(tmp, path)
        files[name] = (gen, size)
        ops["write"] += 1

    while True:
        r = rnd.random()
        if len(files) < NFILES and r < 0.45:
            name = "d%d/f%d" % (rnd.randrange(NDIRS), rnd.randrange(10 ** 6))
            put(name, rnd.choice([1, 100, 4096, 20000, 65536, 262144]) -
                rnd.randrange(0, 2), ops["write"] % 4 == 0)
        elif files and r < 0.65:
            name = rnd.choice(list(files))
            put(name, rnd.randrange(1, 131072), ops["write"] % 4 == 0)
        elif files and r < 0.75:
            name = rnd.choice(list(files))
            new = "d%d/f%d" % (rnd.randrange(NDIRS), rnd.randrange(10 ** 6))
            if new not in files:
                os.rename(os.path.join(top, name), os.path.join(top, new))
                files[new] = files.pop(name)
                ops["rename"] += 1
        elif files and r < 0.80:
            name = rnd.choice(list(files))
            # a hard link, then the old name goes: nlink 2 for a moment
            new = name + "l"
            os.link(os.path.join(top, name), os.path.join(top, new))
            os.unlink(os.path.join(top, name))
            files[new] = files.pop(name)
            ops["link"] += 1
        elif files and r < 0.85:
            name = rnd.choice(list(files))
            path = os.path.join(top, name)
            ident, g, size = os.getxattr(path, "user.soak").decode().split(":")
            n = rnd.randrange(0, int(size) + 1)
            # the record first: a stop between the two leaves a file
            # longer than its record, never one whose prefix is wrong
            os.setxattr(path, "user.soak", ("%s:%s:%d" % (ident, g, n)).encode())
            os.truncate(path, n)
            ops["truncate"] += 1
        elif files:
            name = rnd.choice(list(files))
            os.unlink(os.path.join(top, name))
            del files[name]
            ops["unlink"] += 1
            if ops["unlink"] % 50 == 0:
                fd = os.open(os.path.join(top, os.path.dirname(name)),
                             os.O_RDONLY | os.O_DIRECTORY)
                os.fsync(fd)
                os.close(fd)
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            print("churn files=%d %s" % (len(files), " ".join(
                "%s=%d" % kv for kv in sorted(ops.items()))), flush=True)


def churn_verify(top):
    n = bad = 0
    for k in range(NDIRS):
        d = os.path.join(top, "d%d" % k)
        for fn in os.listdir(d):
            if fn.endswith(".tmp"):
                continue  # a put the stop interrupted, never renamed
            path = os.path.join(d, fn)
            ident, gen, size = os.getxattr(path, "user.soak").decode().split(":")
            with open(path, "rb") as f:
                data = f.read()
            n += 1
            # a truncate stopped between its record and itself is longer
            if len(data) < int(size) or \
               data[:int(size)] != content(ident, int(gen), int(size)):
                bad += 1
                print("BAD: %s (%s:%s: %d bytes, want %s)" %
                      (path, ident, gen, len(data), size))
    print("churn-verify: %d files, %d bad" % (n, bad))
    return 1 if bad else 0


def heap(top, rnd):
    path = os.path.join(top, "heap")
    size = 128 << 20
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, size)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED)
    page = bytes(4096)
    stores = 0
    last = time.monotonic()
    while True:
        off = rnd.randrange(size // 4096) * 4096
        b = rnd.randrange(256)
        m[off:off + 4096] = bytes([b]) * 4096 if stores % 7 else page
        stores += 1
        if stores % 512 == 0:
            m.flush()
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            print("mmap stores=%d" % stores, flush=True)


def main():
    role, top, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rnd = random.Random(seed)
    try:
        if role == "churn":
            churn(top, rnd)
        elif role == "mmap":
            heap(top, rnd)
        elif role == "churn-verify":
            return churn_verify(top)
        else:
            print("soak_worker.py: unknown role %s" % role, file=sys.stderr)
            return 2
    except OSError as e:
        print("BAD: %s: %s" % (role, e), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
