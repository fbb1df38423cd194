# SPDX-License-Identifier: Apache-2.0
"""reflink_check.py -- the checks of reflink.sh, on a mounted mmfs.

    reflink_check.py cow MNT CHUNK      cp, copy-on-write, copy_file_range
    reflink_check.py enospc MNT CHUNK   a clone on a full mount, then ENOSPC
    reflink_check.py make MNT CHUNK     files for the persistence checks
    reflink_check.py verify MNT CHUNK   ... read back after a remount/crash

Prints "ok - " / "not ok - " lines; exit 1 if any check failed.
"""
import errno
import hashlib
import json
import mmap
import os
import random
import subprocess
import sys

fails = 0
rng = random.Random(int(os.environ.get("REFLINK_SEED", "1")))


def ok(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        fails += 1


def used(mnt):
    s = os.statvfs(mnt)
    return (s.f_blocks - s.f_bfree) * s.f_frsize


def write(path, data, off=0, trunc=True):
    flags = os.O_CREAT | os.O_WRONLY | (os.O_TRUNC if trunc else 0)
    fd = os.open(path, flags, 0o644)
    try:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:done + (1 << 20)], off + done)
    finally:
        os.close(fd)


def cold(path):
    """the file's bytes as the daemon has them (its page cache dropped)"""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        out = bytearray()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return bytes(out)
            out += b
    finally:
        os.close(fd)


def sha(path):
    return hashlib.sha256(cold(path)).hexdigest()


def extents(path):
    """[(data start, data end)...] by SEEK_DATA / SEEK_HOLE"""
    fd = os.open(path, os.O_RDONLY)
    out, pos = [], 0
    try:
        while True:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    return out
                raise
            h = os.lseek(fd, d, os.SEEK_HOLE)
            out.append((d, h))
            pos = h
    finally:
        os.close(fd)


def cfr(src, dst, soff, doff, n):
    """copy_file_range(src@soff -> dst@doff, n) until done or EOF"""
    fs = os.open(src, os.O_RDONLY)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)
    total = 0
    try:
        while total < n:
            k = os.copy_file_range(fs, fd, n - total, soff + total,
                                   doff + total)
            if k == 0:
                break
            total += k
    finally:
        os.close(fs)
        os.close(fd)
    return total


def cp(*args):
    return subprocess.run(["cp", *args], capture_output=True, text=True)


def punch(path, off, n):
    subprocess.run(["fallocate", "--punch-hole", "--keep-size", "-o",
                    str(off), "-l", str(n), path], check=True)


# --- cow ---------------------------------------------------------------------

def cow(mnt, C):
    d = f"{mnt}/cow"
    os.mkdir(d)
    mib = 1 << 20
    # 1. cp of each size: same bytes, same blocks and extents, <= 1 chunk
    sizes = {"empty": 0, "b100": 100, "one_chunk": C, "chunk_plus1": C + 1,
             "few_mib": 5 * mib + 12345}
    for name, size in sizes.items():
        write(f"{d}/{name}", rng.randbytes(size))
    sp = f"{d}/sparse"
    write(sp, b"")
    write(sp, rng.randbytes(100), 0, trunc=False)
    write(sp, rng.randbytes(C), 3 * C + 5, trunc=False)   # spans 2 chunks
    write(sp, rng.randbytes(C), 10 * C, trunc=False)
    os.truncate(sp, 20 * C + 123)                          # a trailing hole
    for name in list(sizes) + ["sparse"]:
        src, dst = f"{d}/{name}", f"{d}/{name}.cp"
        u0 = used(mnt)
        r = cp(src, dst)
        u1 = used(mnt)
        ok(r.returncode == 0, f"cp {name} ({r.stderr.strip()})")
        ss, ds = os.stat(src), os.stat(dst)
        ok(sha(src) == sha(dst) and ss.st_size == ds.st_size,
           f"cp {name}: same {ss.st_size} bytes")
        if name == "sparse":
            # coreutils 9.1 copies a file with holes by read/write of
            # each data extent (SEEK_DATA), never copy_file_range: no
            # sharing, but sparse (mmfsctl clone shares it: below)
            ok(u1 - u0 <= ss.st_blocks * 512,
               f"cp {name}: df used grew {u1 - u0}: its data extents, "
               "copied (coreutils 9.1 cp of a sparse file reads and writes)")
        else:
            ok(u1 - u0 <= C, f"cp {name}: df used grew {u1 - u0} <= one "
               "chunk")
        ok(ss.st_blocks == ds.st_blocks,
           f"cp {name}: st_blocks {ds.st_blocks} == source's {ss.st_blocks}")
        ok(extents(src) == extents(dst),
           f"cp {name}: same SEEK_DATA/SEEK_HOLE extents {extents(dst)}")
    u0 = used(mnt)
    cfr(sp, f"{sp}.cfr", 0, 0, os.stat(sp).st_size)
    ok(used(mnt) - u0 <= C and extents(sp) == extents(f"{sp}.cfr") and
       os.stat(sp).st_blocks == os.stat(f"{sp}.cfr").st_blocks and
       sha(sp) == sha(f"{sp}.cfr"),
       f"copy_file_range of the whole sparse file: shared (df used grew "
       f"{used(mnt) - u0}), same bytes, blocks and extents")
    ok(os.stat(sp).st_blocks * 512 <= 5 * C,
       f"the sparse file stays sparse ({os.stat(sp).st_blocks} blocks)")

    # 2. write into the copy, then into the source: one chunk each
    src, dst = f"{d}/few_mib", f"{d}/few_mib.cp"
    ref = bytearray(cold(src))
    cpy = bytearray(ref)
    s0 = sha(src)
    mid = (len(ref) // 2) // C * C + 8192       # 4 KiB inside one chunk
    patch = rng.randbytes(4096)
    with open(f"{mnt}/.patch", "wb") as f:
        f.write(patch)
    u0 = used(mnt)
    subprocess.run(["dd", f"if={mnt}/.patch", f"of={dst}", "bs=4096",
                    f"seek={mid // 4096}", "conv=notrunc", "status=none"],
                   check=True)
    u1 = used(mnt)
    cpy[mid:mid + 4096] = patch
    ok(sha(src) == s0, "dd into the copy: source unchanged")
    ok(cold(dst) == cpy, "dd into the copy: the copy has the new 4 KiB")
    ok(u1 - u0 == C, f"dd into the copy: df used grew {u1 - u0} == one chunk")
    u0 = used(mnt)
    write(dst, patch, mid - 4096, trunc=False)  # the same, unshared chunk
    cpy[mid - 4096:mid] = patch
    ok(used(mnt) == u0, "a second write to that chunk of the copy: "
       "no new chunk")
    u0 = used(mnt)
    soff = 3 * C + 7
    write(src, patch, soff, trunc=False)
    u1 = used(mnt)
    ref[soff:soff + 4096] = patch
    ok(cold(dst) == cpy, "write into the source: copy unchanged")
    ok(cold(src) == ref, "write into the source: source has it")
    ok(u1 - u0 == C, f"write into the source: df used grew {u1 - u0} "
       "== one chunk")
    os.unlink(f"{mnt}/.patch")

    # 3. truncate and punch on either side
    base = f"{d}/base"
    data = rng.randbytes(8 * C + 333)
    write(base, data)
    for side in ("copy", "source"):
        a, b = f"{d}/t-{side}.a", f"{d}/t-{side}.b"
        write(a, data)
        cfr(a, b, 0, 0, len(data))
        victim, other = (b, a) if side == "copy" else (a, b)
        cut = 3 * C + 100                          # inside a shared chunk
        os.truncate(victim, cut)
        os.truncate(victim, len(data))             # zeros back up to size
        ok(cold(other) == data, f"truncate of the {side}: the other "
           "unchanged")
        ok(cold(victim) == data[:cut] + bytes(len(data) - cut),
           f"truncate of the {side} (down mid-chunk, up): zeros past the cut")
        a2, b2 = f"{d}/p-{side}.a", f"{d}/p-{side}.b"
        write(a2, data)
        cfr(a2, b2, 0, 0, len(data))
        victim, other = (b2, a2) if side == "copy" else (a2, b2)
        punch(victim, C + 100, 2 * C)
        ok(cold(other) == data, f"punch-hole in the {side}: the other "
           "unchanged")
        ok(cold(victim) == data[:C + 100] + bytes(2 * C) + data[3 * C + 100:],
           f"punch-hole in the {side}: zeros in the hole")

    # 4. mmap stores, into the copy and into the source
    for side in ("copy", "source"):
        a, b = f"{d}/m-{side}.a", f"{d}/m-{side}.b"
        write(a, data)
        cfr(a, b, 0, 0, len(data))
        victim, other = (b, a) if side == "copy" else (a, b)
        fd = os.open(victim, os.O_RDWR)
        m = mmap.mmap(fd, len(data))
        m[2 * C + 10:2 * C + 20] = b"0123456789"
        m[len(data) - 3:] = b"xyz"
        m.flush()
        m.close()
        os.close(fd)
        exp = bytearray(data)
        exp[2 * C + 10:2 * C + 20] = b"0123456789"
        exp[len(data) - 3:] = b"xyz"
        ok(cold(other) == data, f"mmap store into the {side}: the other "
           "unchanged")
        ok(cold(victim) == exp, f"mmap store into the {side}: it has them")

    # 5. copy_file_range with any offsets, against a reference
    s, t = f"{d}/r.src", f"{d}/r.dst"
    sd, td = rng.randbytes(300000), rng.randbytes(400000)

    def case(soff, doff, n, what, want=None):
        write(s, sd)
        write(t, td)
        got = cfr(s, t, soff, doff, n)
        k = max(0, min(n, len(sd) - soff))
        ref = bytearray(td)
        if doff > len(ref):
            ref += bytes(doff - len(ref))
        ref[doff:doff + k] = sd[soff:soff + k]
        ok(got == k and cold(t) == ref and cold(s) == sd,
           f"copy_file_range {what}: {got} bytes, same as the reference")

    case(1, 3, 200000, "offsets 1 -> 3")
    case(3, 1, 299997, "offsets 3 -> 1, to EOF")
    case(C + 1000, 3 * C + 1000, 2 * C + 17,
         "same offset in a chunk, middle of both files")
    case(C, 2 * C, C, "one whole chunk in the middle")
    case(2 * C, 0, 1 << 30, "past the source's EOF (clipped)")
    case(4 * C + 50, 4 * C + 50, 100000, "from inside a chunk to EOF")
    case(0, 450000, 300000, "to beyond dst's EOF (a hole between)")
    write(s, sd[:150])
    write(t, td[:100])
    got = cfr(s, t, 100, 100, 50)
    ok(got == 50 and cold(t) == td[:100] + sd[100:150],
       "copy_file_range of a source's tail inside one chunk keeps dst's "
       "bytes before it")

    # 6. within one file
    f1 = f"{d}/self"
    fdat = rng.randbytes(16 * C + 100)

    def self_case(soff, doff, n, what):
        write(f1, fdat)
        got = cfr(f1, f1, soff, doff, n)
        k = min(n, len(fdat) - soff)
        ref = bytearray(fdat)
        if doff > len(ref):
            ref += bytes(doff - len(ref))
        ref[doff:doff + k] = fdat[soff:soff + k]
        ok(got == k and cold(f1) == bytes(ref),
           f"within one file, {what}: {got} bytes, same as the reference")
        return ref

    self_case(0, 8 * C, 4 * C, "aligned, non-overlapping")
    self_case(1, 5 * C + 3, 100000, "unaligned, non-overlapping")
    ref = self_case(15 * C, 20 * C, C + 100, "the tail to past EOF")
    os.truncate(f1, 40 * C)
    ok(cold(f1) == bytes(ref) + bytes(40 * C - len(ref)),
       "... and zeros when the file grows past it")
    write(f1, fdat)
    fd = os.open(f1, os.O_RDWR)
    try:
        os.copy_file_range(fd, fd, 4 * C, 0, 2 * C)
        ok(False, "overlapping ranges in one file: EINVAL")
    except OSError as e:
        ok(e.errno == errno.EINVAL, "overlapping ranges in one file: "
           f"{errno.errorcode.get(e.errno)} (the kernel's EINVAL)")
    os.close(fd)
    ok(cold(f1) == fdat, "... and the file unchanged")

    # 7. cp --reflink=always fails (no FICLONE on FUSE), =auto clones
    src = f"{d}/few_mib"
    r = cp("--reflink=always", src, f"{d}/always")
    ok(r.returncode != 0, "cp --reflink=always fails on FUSE: "
       f"'{r.stderr.strip()}' (the kernel never forwards FICLONE)")
    if os.path.exists(f"{d}/always"):
        os.unlink(f"{d}/always")
    u0 = used(mnt)
    r = cp("--reflink=auto", src, f"{d}/auto")
    ok(r.returncode == 0 and sha(f"{d}/auto") == sha(src)
       and used(mnt) - u0 <= C,
       f"cp --reflink=auto clones (df used grew {used(mnt) - u0})")


# --- enospc ------------------------------------------------------------------

def enospc(mnt, C):
    mib = 1 << 20
    big = rng.randbytes(6 * mib)
    write(f"{mnt}/big", big)
    # fill most of the rest
    fill = f"{mnt}/fill"
    fd = os.open(fill, os.O_CREAT | os.O_WRONLY, 0o644)
    s = os.statvfs(mnt)
    room = s.f_bavail * s.f_frsize - 2 * mib
    try:
        while room > 0:
            room -= os.write(fd, rng.randbytes(min(room, mib)))
    finally:
        os.close(fd)
    s = os.statvfs(mnt)
    avail = s.f_bavail * s.f_frsize
    print(f"# before the clone: {avail} bytes available")
    u0 = used(mnt)
    got = cfr(f"{mnt}/big", f"{mnt}/clone", 0, 0, len(big))
    ok(got == len(big), f"a 6 MiB clone on a mount with {avail} bytes free")
    ok(used(mnt) - u0 <= C, f"... uses no space ({used(mnt) - u0})")
    # overwrite the clone from the start until ENOSPC
    fd = os.open(f"{mnt}/clone", os.O_WRONLY)
    exp = bytearray(big)
    err, off = None, 0
    while off < len(big):
        b = rng.randbytes(C)
        try:
            n = os.pwrite(fd, b, off)
        except OSError as e:
            err = e.errno
            break
        exp[off:off + n] = b[:n]
        off += n
    os.close(fd)
    ok(err == errno.ENOSPC, "overwriting the clone ends in ENOSPC "
       f"(got {errno.errorcode.get(err, err)} after {off} bytes)")
    ok(avail - 2 * C <= off <= avail + 2 * C,
       f"... after about the free space ({off} of {avail})")
    ok(cold(f"{mnt}/big") == big, "the source is intact")
    ok(cold(f"{mnt}/clone") == exp, "the clone holds every write that "
       "succeeded and the source's bytes beyond")
    u = used(mnt)
    os.unlink(f"{mnt}/clone")
    ok(u - used(mnt) == off // C * C, "deleting the clone frees what its "
       f"writes took ({u - used(mnt)})")
    ok(cold(f"{mnt}/big") == big, "the source is intact after that")


# --- persistence ---------------------------------------------------------------

def make(mnt, C):
    mib = 1 << 20
    d = f"{mnt}/p"
    os.mkdir(d)
    data = rng.randbytes(16 * mib + 777)
    write(f"{d}/src", data)
    u0 = used(mnt)
    cfr(f"{d}/src", f"{d}/clone", 0, 0, len(data))
    write(f"{d}/clone", b"C" * 4096, 5 * C + 1, trunc=False)
    write(f"{d}/src", b"S" * 4096, 9 * C + 2, trunc=False)
    cfr(f"{d}/src", f"{d}/mid", C + 5, 3 * C + 5, 4 * C)
    man = {n: sha(f"{d}/{n}") for n in os.listdir(d)}
    man["used_growth"] = used(mnt) - u0
    print(json.dumps(man))


def verify(mnt, C, want):
    d = f"{mnt}/p"
    man = json.loads(want)
    for n, h in man.items():
        if n != "used_growth":
            ok(sha(f"{d}/{n}") == h, f"{n} intact")
    print(f"# used {used(mnt)}")


def main():
    what, mnt, C = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if what == "cow":
        cow(mnt, C)
    elif what == "enospc":
        enospc(mnt, C)
    elif what == "make":
        make(mnt, C)
    elif what == "verify":
        verify(mnt, C, sys.argv[4])
    sys.exit(1 if fails else 0)


main()
