#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# snapstress.py DIR SECS NWRITERS -- snapshots taken while a tree changes
# must each be one instant of it (snap/snap_stress.sh).
#
# NWRITERS processes rewrite their own files (8 each, fixed sizes from
# 512 B to 128 KiB, i.e. one to three chunks) again and again, each time
# with ONE pwrite of the whole file (at most 128 KiB: one FUSE request,
# so the daemon sees each version arrive whole); every 512-byte block
# carries (magic, file id, version, block index, block count) and a
# CRC32 of itself. Another process creates and unlinks short-lived files
# of the same format (written beside DIR and renamed in), another renames one file back and forth between
# two names in two directories. Meanwhile this process takes a snapshot
# every ~100 ms (mkdir DIR/.snap/NAME; every 4th with `mmfsctl snapshot
# create` when MMFSCTL is set), checks it and deletes it:
#   - every file is one complete version (all blocks of one version, the
#     right id, CRCs good, the size the file always has): no write torn
#     across the snapshot instant;
#   - no writer's file is missing, and no file's version is older than in
#     an earlier snapshot;
#   - the renamed file is there exactly once, under one of its names;
#   - nothing else is there.
# At the end the live tree is checked the same way. Exit 1 on any error.

import multiprocessing as mp
import os
import struct
import subprocess
import sys
import time
import zlib

MAGIC = 0x534E4150  # "SNAP"
BLK = 512
HDR = struct.Struct("<IIQII")  # magic, fid, version, idx, nblocks
NFILES = 8
SIZES = [512, 4096, 65536 - 512, 65536, 65536 + 512, 100 * 1024,
         128 * 1024, 3 * 512]


def block(fid, ver, idx, n):
    h = HDR.pack(MAGIC, fid, ver, idx, n)
    body = (struct.pack("<QQ", fid, ver) * 32)[:BLK - HDR.size - 4]
    b = h + body
    return b + struct.pack("<I", zlib.crc32(b))


def content(fid, ver, size):
    n = size // BLK
    return b"".join(block(fid, ver, i, n) for i in range(n))


def parse(data):
    """(fid, version) of a whole file, or raise ValueError why not"""
    if not data or len(data) % BLK:
        raise ValueError("size %d" % len(data))
    n = len(data) // BLK
    first = None
    for i in range(n):
        b = data[i * BLK:(i + 1) * BLK]
        if struct.unpack("<I", b[-4:])[0] != zlib.crc32(b[:-4]):
            raise ValueError("block %d: bad CRC" % i)
        magic, fid, ver, idx, nb = HDR.unpack(b[:HDR.size])
        if magic != MAGIC or idx != i or nb != n:
            raise ValueError("block %d: header %r" % (i, (magic, idx, nb)))
        if first is None:
            first = (fid, ver)
        elif (fid, ver) != first:
            raise ValueError("block %d is (file %d, version %d), block 0 "
                             "(file %d, version %d): torn write"
                             % (i, fid, ver, first[0], first[1]))
    return first


def fid_of(w, k):
    return w * NFILES + k


def writer(top, w, stop):
    fds = []
    for k in range(NFILES):
        fds.append(os.open(os.path.join(top, "w%d" % w, "f%d" % k),
                           os.O_WRONLY))
    ver, k = 1, 0
    while not stop.is_set():
        ver += 1
        k = (k * 5 + 3 + w) % NFILES
        fid = fid_of(w, k)
        data = content(fid, ver, SIZES[k])
        if os.pwrite(fds[k], data, 0) != len(data):
            raise SystemExit("short write")
    for fd in fds:
        os.close(fd)


def churn(top, stop):
    # written beside DIR, then renamed in: a file is never seen half made
    stage = os.path.join(os.path.dirname(os.path.abspath(top)), "stage")
    os.makedirs(stage, exist_ok=True)
    i = 0
    while not stop.is_set():
        i += 1
        p = os.path.join(stage, "t%d" % i)
        with open(p, "wb") as f:
            f.write(content(100000 + i, 1, SIZES[i % NFILES]))
        os.rename(p, os.path.join(top, "tmp", "t%d" % i))
        if i > 4:
            os.unlink(os.path.join(top, "tmp", "t%d" % (i - 4)))


def renamer(top, stop):
    a = os.path.join(top, "ra", "roam")
    b = os.path.join(top, "rb", "roam2")
    while not stop.is_set():
        os.rename(a, b)
        os.rename(b, a)


def check_tree(root, last, errs, what):
    """check one tree; update last {fid: version}"""
    def bad(msg):
        errs.append("%s: %s" % (what, msg))

    want_top = {"w%d" % w for w in range(len(last) // NFILES)} | \
        {"tmp", "ra", "rb"}
    top = set(os.listdir(root))
    if top != want_top:
        bad("top level %s, want %s" % (sorted(top), sorted(want_top)))
    for w in range(len(last) // NFILES):
        d = os.path.join(root, "w%d" % w)
        names = sorted(os.listdir(d))
        if names != sorted("f%d" % k for k in range(NFILES)):
            bad("w%d holds %s" % (w, names))
        for k in range(NFILES):
            p = os.path.join(d, "f%d" % k)
            try:
                data = open(p, "rb").read()
                fid, ver = parse(data)
            except (OSError, ValueError) as e:
                bad("w%d/f%d: %s" % (w, k, e))
                continue
            if len(data) != SIZES[k]:
                bad("w%d/f%d: size %d, want %d" % (w, k, len(data),
                                                   SIZES[k]))
            if fid != fid_of(w, k):
                bad("w%d/f%d holds file %d's data" % (w, k, fid))
            if ver < last[fid]:
                bad("w%d/f%d: version %d, older than %d seen before"
                    % (w, k, ver, last[fid]))
            last[fid] = max(last[fid], ver)
    for n in os.listdir(os.path.join(root, "tmp")):
        try:
            fid, ver = parse(open(os.path.join(root, "tmp", n), "rb").read())
            if fid != 100000 + int(n[1:]):
                bad("tmp/%s holds file %d's data" % (n, fid))
        except (OSError, ValueError) as e:
            bad("tmp/%s: %s" % (n, e))
    roam = sorted(os.listdir(os.path.join(root, "ra"))) + \
        sorted(os.listdir(os.path.join(root, "rb")))
    if roam not in (["roam"], ["roam2"]):
        bad("the renamed file appears as %s (want exactly once)" % roam)
    else:
        p = os.path.join(root, "ra" if roam == ["roam"] else "rb", roam[0])
        try:
            if parse(open(p, "rb").read()) != (999999, 1):
                bad("the renamed file holds other data")
        except ValueError as e:
            bad("the renamed file: %s" % e)
    return roam


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: snapstress.py DIR SECS NWRITERS")
    top, secs, nw = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    ctl = os.environ.get("MMFSCTL")
    for w in range(nw):
        os.mkdir(os.path.join(top, "w%d" % w))
        for k in range(NFILES):
            with open(os.path.join(top, "w%d" % w, "f%d" % k), "wb") as f:
                f.write(content(fid_of(w, k), 1, SIZES[k]))
    for d in ("tmp", "ra", "rb"):
        os.mkdir(os.path.join(top, d))
    with open(os.path.join(top, "ra", "roam"), "wb") as f:
        f.write(content(999999, 1, 65536 + 512))
    stop = mp.Event()
    procs = [mp.Process(target=writer, args=(top, w, stop))
             for w in range(nw)]
    procs.append(mp.Process(target=churn, args=(top, stop)))
    procs.append(mp.Process(target=renamer, args=(top, stop)))
    for p in procs:
        p.start()
    last = {fid: 1 for fid in range(nw * NFILES)}
    errs, n, names, t_end = [], 0, {}, time.time() + secs
    while time.time() < t_end and len(errs) < 20:
        n += 1
        name = "s%d" % n
        snap = os.path.join(top, ".snap", name)
        if ctl and n % 4 == 0:
            subprocess.run([ctl, "snapshot", "create", top, name],
                           check=True)
        else:
            os.mkdir(snap)
        roam = check_tree(snap, last, errs, "snapshot " + name)
        names[tuple(roam)] = names.get(tuple(roam), 0) + 1
        os.rmdir(snap)
        time.sleep(0.1)
        if any(not p.is_alive() for p in procs):
            errs.append("a worker died")
            break
    stop.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            errs.append("worker exited %s" % p.exitcode)
    check_tree(top, last, errs, "the live tree")
    if os.listdir(os.path.join(top, ".snap")):
        errs.append("snapshots left: %s" % os.listdir(os.path.join(top,
                                                                   ".snap")))
    versions = sum(last.values()) - len(last)
    print("# %d snapshots checked; %d versions seen of %d files; the renamed "
          "file as %s" % (n, versions, len(last), names))
    for e in errs[:20]:
        print("FAIL: " + e)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
