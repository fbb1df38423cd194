#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# snaptree.py -- trees, manifests and read-only checks for the snapshot
# tests (snap/*.sh).
#
# snaptree.py build DIR CHUNK -- make DIR and below it: files of several
#   sizes (empty, small, one chunk, several chunks), sparse files (data
#   islands between holes, one all hole), a hard link pair (across
#   directories), symlinks (relative, absolute, dangling), a fifo, a char
#   device, directories 3 deep, user.* xattrs on files and directories, a
#   POSIX ACL (setfacl) on a file and a default ACL on a directory, modes
#   with setuid/setgid/sticky, a setgid directory, other owners (chown),
#   atime/mtime set with touch -d (atimes in the future: relatime leaves
#   them alone when the tree is read), and "open/": a 0777 directory with
#   a 0666 root file, a file and a directory owned by 65534, for the
#   unprivileged checks.
# snaptree.py manifest ROOT -- print, sorted by path, one line per entry
#   below ROOT: path type mode uid gid size nlink blocks mtime_ns atime_ns,
#   symlink target, rdev, sha256 and the SEEK_DATA/SEEK_HOLE map of regular
#   files, xattrs (name=sha, incl. system.posix_acl_*), and for files with
#   several names the sorted names of the inode within ROOT (hard links
#   checked without inode numbers, which differ in a snapshot). ctime,
#   btime and st_ino are left out. Every attribute is read before the
#   content (what reading does to atime is not recorded).
# snaptree.py mutate DIR -- change DIR in every way: write, truncate,
#   O_TRUNC rewrite, unlink (also one name of the hard link pair), rename
#   (files, a symlink, a directory, over an existing name), chmod, chown,
#   utimes, setxattr/removexattr, setfacl, punch a hole, mmap store +
#   msync, append, new files, a new directory, rmdir.
# snaptree.py erofs ROOT [user] -- try every kind of change inside the
#   snapshot ROOT (a tree made by build); each must fail with EROFS. With
#   "user" (run as uid 65534) only what that user could do in a live tree
#   (open/ is 0777, open/w666 0666, open/mine and open/minedir owned by
#   65534), so that EROFS, not EACCES, is
#   the only right answer. Prints one line per check; exit 1 on any
#   failure.
# snaptree.py ino ROOT -- print "path st_ino" for every entry (sorted)

import ctypes
import errno
import hashlib
import mmap
import os
import stat
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong,
                           ctypes.c_longlong]
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def punch(path, off, length):
    fd = os.open(path, os.O_WRONLY)
    try:
        if libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          off, length) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
    finally:
        os.close(fd)


def pattern(seed, n):
    """n bytes, different for each seed (deterministic)"""
    out = bytearray()
    k = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d/%d" % (seed, k)).digest()
        k += 1
    return bytes(out[:n])


def run(*cmd):
    subprocess.run(cmd, check=True)


def build(top, chunk):
    os.mkdir(top, 0o755)
    j = lambda *p: os.path.join(top, *p)
    for d in ("a", "a/b", "a/b/c", "sub", "sgid", "open", "open/emptydir", "open/minedir",
              "emptydir"):
        os.mkdir(j(d), 0o755)
    files = {"empty": 0, "small": 100, "chunk": chunk, "mid": chunk + 7,
             "big": 5 * chunk + 123, "a/b/c/deep": 3 * chunk,
             "a/b/leaf": 4000, "sub/x": 1234, "mapped": 4 * chunk,
             "log": 500, "trunc": 2 * chunk, "sgid/g": 10,
             "open/w666": 3000, "open/mine": 5000, "open/other": 10}
    for i, (name, size) in enumerate(sorted(files.items())):
        with open(j(name), "wb") as f:
            f.write(pattern(i, size))
    # sparse: islands of data between holes, a hole at the end
    fd = os.open(j("sparse"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.pwrite(fd, pattern(100, 5000), 0)
    os.pwrite(fd, pattern(101, chunk + 10), 4 * chunk)
    os.pwrite(fd, pattern(102, 10), 16 * chunk - 10)
    os.ftruncate(fd, 20 * chunk)
    os.close(fd)
    fd = os.open(j("allhole"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.ftruncate(fd, 8 * chunk)
    os.close(fd)
    # hard links
    with open(j("hl1"), "wb") as f:
        f.write(pattern(200, chunk + 1))
    os.link(j("hl1"), j("sub", "hl2"))
    os.link(j("small"), j("a", "b", "small3"))
    os.link(j("small"), j("a", "small2"))
    # symlinks, fifo, device
    os.symlink("small", j("sym_rel"))
    os.symlink("../../../mid", j("a", "b", "c", "sym_up"))
    os.symlink("/etc/passwd", j("sym_abs"))
    os.symlink("nowhere/at/all", j("sym_dangling"))
    os.mkfifo(j("fifo"), 0o640)
    os.mknod(j("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    # xattrs and ACLs
    os.setxattr(j("small"), "user.color", b"blue")
    os.setxattr(j("small"), "user.empty", b"")
    os.setxattr(j("mid"), "user.big", pattern(300, 3000))
    os.setxattr(j("a"), "user.dir", b"yes")
    os.setxattr(j("open", "mine"), "user.mine", b"1")
    run("setfacl", "-m", "u:1234:r", j("open", "mine"))
    os.setxattr(top, "user.top", b"root of the tree")
    run("setfacl", "-m", "u:1234:rw,g:4321:r", j("chunk"))
    run("setfacl", "-d", "-m", "u:1234:rwx", j("sub"))
    # modes and owners
    os.chmod(j("big"), 0o600)
    os.chmod(j("chunk"), 0o640)
    os.chmod(j("a/b/leaf"), 0o4755)
    os.chmod(j("sub/x"), 0o2711)
    os.chmod(j("trunc"), 0o444)
    os.chown(j("mid"), 1000, 1000)
    os.chown(j("a/b"), 4242, 100)
    os.chown(j("sym_rel"), 1001, 1002, follow_symlinks=False)
    os.chown(j("sgid"), 0, 100)
    os.chmod(j("sgid"), 0o2775)
    os.chmod(j("a/b/c"), 0o1777)
    os.chmod(j("open"), 0o777)
    os.chmod(j("open/emptydir"), 0o777)
    os.chmod(j("open/w666"), 0o666)
    os.chown(j("open/mine"), 65534, 65534)
    os.chown(j("open/minedir"), 65534, 65534)
    os.chmod(j("open/mine"), 0o644)
    # times last (touch -d), deepest first; atimes in the future
    for p in ("a/b/c/deep", "a/b/leaf", "small", "big", "sparse", "hl1",
              "mid", "null", "fifo"):
        run("touch", "-m", "-d", "2001-02-03 04:05:06.123456789 UTC", j(p))
        run("touch", "-a", "-d", "2031-04-05 06:07:08.987654321 UTC", j(p))
    run("touch", "-h", "-m", "-d", "1999-12-31 23:59:59.5 UTC",
        j("sym_abs"))
    run("touch", "-h", "-a", "-d", "2035-01-01 00:00:00 UTC", j("sym_abs"))
    for d in ("a/b/c", "a/b", "a", "sub"):
        run("touch", "-m", "-d", "2010-10-10 10:10:10.101010101 UTC", j(d))
        run("touch", "-a", "-d", "2033-03-03 03:03:03 UTC", j(d))
    print("# built %s" % top)


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
    out = []
    for n in sorted(os.listxattr(path, follow_symlinks=False)):
        v = os.getxattr(path, n, follow_symlinks=False)
        out.append("%s=%s" % (n, hashlib.sha256(v).hexdigest()[:16]))
    return ",".join(out) or "-"


def entries(root):
    """every path below root (root itself is "."), depth first"""
    out, todo = ["."], [""]
    while todo:
        d = todo.pop()
        with os.scandir(os.path.join(root, d) if d else root) as it:
            for e in it:
                rel = os.path.join(d, e.name) if d else e.name
                out.append(rel)
                if e.is_dir(follow_symlinks=False):
                    todo.append(rel)
    return sorted(out)


def read_open(path):
    """Open for the manifest's read. O_DIRECT: a read served from the page
    cache never reaches a FUSE daemon, so whether it set atime (relatime)
    would depend on what the kernel kept cached; direct reads all reach
    it, and the warm-up read before a manifest sets atime every time."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECT)
    except OSError as e:
        if e.errno != errno.EINVAL:  # a filesystem without O_DIRECT
            raise
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW)


def manifest(root):
    buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
    rels = entries(root)
    st = {r: os.lstat(os.path.join(root, r)) for r in rels}
    names = {}
    for r in rels:
        if not stat.S_ISDIR(st[r].st_mode) and st[r].st_nlink > 1:
            names.setdefault(st[r].st_ino, []).append(r)
    lines = []
    for r in rels:
        s, path = st[r], os.path.join(root, r)
        m = s.st_mode
        kind = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l",
                stat.S_IFIFO: "p", stat.S_IFSOCK: "s", stat.S_IFCHR: "c",
                stat.S_IFBLK: "b"}[stat.S_IFMT(m)]
        f = [r, kind, "%o" % stat.S_IMODE(m), "%d:%d" % (s.st_uid, s.st_gid),
             "size=%d" % s.st_size, "nlink=%d" % s.st_nlink,
             "blocks=%d" % s.st_blocks, "m=%d" % s.st_mtime_ns,
             "a=%d" % s.st_atime_ns]
        if kind == "l":
            f.append("-> " + os.readlink(path))
        elif kind == "f":
            h = hashlib.sha256()
            fd = read_open(path)
            try:
                while True:
                    n = os.readv(fd, [buf])
                    if not n:
                        break
                    h.update(buf[:n])
                f.append("sha=%s ext=%s" % (h.hexdigest()[:32],
                                            extents(fd, s.st_size)))
            finally:
                os.close(fd)
        elif kind in ("c", "b"):
            f.append("rdev=%d,%d" % (os.major(s.st_rdev),
                                     os.minor(s.st_rdev)))
        f.append("x=" + xattrs(path))
        if s.st_ino in names:
            f.append("links=" + "|".join(names[s.st_ino]))
        lines.append("\t".join(f))
    sys.stdout.write("\n".join(lines) + "\n")


def inos(root):
    for r in entries(root):
        print("%s %d" % (r, os.lstat(os.path.join(root, r)).st_ino))


def mutate(top, chunk):
    j = lambda *p: os.path.join(top, *p)
    fd = os.open(j("mid"), os.O_WRONLY)              # write in place
    os.pwrite(fd, b"overwritten", 10)
    os.close(fd)
    os.truncate(j("big"), 1000)                      # truncate
    os.chmod(j("trunc"), 0o644)
    with open(j("trunc"), "wb") as f:                # O_TRUNC rewrite
        f.write(pattern(400, 100))
    os.unlink(j("small"))                            # unlink (linked)
    os.unlink(j("sub", "hl2"))                       # one name of a pair
    fd = os.open(j("hl1"), os.O_WRONLY)              # write via a link
    os.pwrite(fd, b"X" * 100, chunk - 50)
    os.close(fd)
    os.rename(j("sym_rel"), j("sym_rel2"))           # renames
    os.rename(j("a", "b"), j("a", "b2"))
    os.rename(j("sub", "x"), j("chunk"))             # over a file
    os.chmod(j("mid"), 0o600)                        # chmod, chown
    os.chmod(j("sgid"), 0o755)
    os.chown(j("hl1"), 1234, 1234)
    os.chown(j("a"), 77, 77)
    os.utime(j("sparse"), ns=(10**18, 10**18))       # utimes
    os.setxattr(j("mid"), "user.big", b"new")        # xattrs
    os.setxattr(j("a", "small2"), "user.color", b"red")
    os.removexattr(j("a", "small2"), "user.empty")
    os.setxattr(top, "user.top", b"changed")
    run("setfacl", "-m", "u:999:r", j("sparse"))
    run("setfacl", "-b", j("chunk"))
    run("setfacl", "-k", j("sub"))
    punch(j("sparse"), 4 * chunk, chunk)             # punch a hole
    fd = os.open(j("mapped"), os.O_RDWR)             # mmap store + msync
    mm = mmap.mmap(fd, 4 * chunk)
    mm[chunk + 5:chunk + 25] = b"M" * 20
    mm.flush()
    mm.close()
    os.close(fd)
    with open(j("log"), "ab") as f:                  # append
        f.write(pattern(401, 3 * chunk))
    with open(j("allhole"), "r+b") as f:             # fill a hole
        f.seek(3 * chunk)
        f.write(b"data")
    os.mkdir(j("newdir"))                            # new things
    with open(j("newdir", "n1"), "wb") as f:
        f.write(pattern(402, 2 * chunk))
    with open(j("a", "b2", "c", "n2"), "wb") as f:
        f.write(b"new")
    os.symlink("x", j("newsym"))
    os.rmdir(j("emptydir"))                          # rmdir
    print("# mutated %s" % top)


def erofs(root, user):
    j = lambda *p: os.path.join(root, *p)
    fails = []

    def expect(what, fn, *args, **kw):
        try:
            r = fn(*args, **kw)
            if isinstance(r, int) and fn is os.open:
                os.close(r)
            fails.append(what)
            print("FAIL: %s succeeded (want EROFS)" % what)
        except OSError as e:
            if e.errno == errno.EROFS:
                print("ok - %s: EROFS" % what)
            else:
                fails.append(what)
                print("FAIL: %s: %s (want EROFS)" % (what,
                                                      os.strerror(e.errno)))

    def shell(what, *cmd):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 and "Read-only file system" in r.stderr:
            print("ok - %s: EROFS" % what)
        else:
            fails.append(what)
            print("FAIL: %s: rc %d, %s (want EROFS)"
                  % (what, r.returncode, r.stderr.strip()))

    if user:
        f, f2, d, sub = j("open/mine"), j("open/w666"), j("open"), \
            j("open/emptydir")
        uid, gid = os.getuid(), os.getgid()
    else:
        f, f2, d, sub = j("chunk"), j("big"), j("a"), j("emptydir")
        uid, gid = 1000, 1000
    for fl, name in ((os.O_WRONLY, "O_WRONLY"), (os.O_RDWR, "O_RDWR"),
                     (os.O_RDONLY | os.O_TRUNC, "O_RDONLY|O_TRUNC"),
                     (os.O_WRONLY | os.O_APPEND, "O_WRONLY|O_APPEND")):
        expect("open %s" % name, os.open, f, fl)
        expect("open %s (0666 file)" % name, os.open, f2, fl)
    expect("truncate", os.truncate, f, 0)
    expect("truncate 0666 file", os.truncate, f2, 0)
    expect("chmod", os.chmod, f, 0o600)
    expect("chown", os.chown, f, uid, gid)
    expect("utimes", os.utime, f, (1, 1))
    expect("utimes now (0666 file)", os.utime, f2, None)
    dd = j("open/minedir") if user else d     # a directory one owns
    expect("chmod dir", os.chmod, dd, 0o700)
    expect("utimes dir", os.utime, dd, (1, 1))
    expect("setxattr dir", os.setxattr, dd, "user.new", b"v")
    expect("create", os.open, os.path.join(d, "new"),
           os.O_CREAT | os.O_WRONLY, 0o644)
    expect("create O_EXCL", os.open, os.path.join(d, "new2"),
           os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    expect("mkfifo", os.mkfifo, os.path.join(d, "newfifo"))
    expect("mknod regular", os.mknod, os.path.join(d, "newnode"),
           stat.S_IFREG | 0o644)
    expect("mkdir", os.mkdir, os.path.join(d, "newdir"))
    expect("symlink", os.symlink, "target", os.path.join(d, "newsym"))
    expect("link", os.link, f, os.path.join(d, "newlink"))
    expect("unlink", os.unlink, f)
    expect("unlink 0666 file", os.unlink, f2)
    expect("rmdir (empty dir)", os.rmdir, sub)
    expect("rename", os.rename, f, os.path.join(d, "renamed"))
    expect("rename over a file", os.rename, f, f2)
    expect("rename a dir", os.rename, sub, os.path.join(d, "renamed_dir"))
    expect("setxattr new", os.setxattr, f, "user.new", b"v")
    expect("setxattr replace", os.setxattr, f,
           "system.posix_acl_access", os.getxattr(f,
                                                  "system.posix_acl_access"))
    expect("removexattr", os.removexattr, f, "system.posix_acl_access")
    expect("removexattr user.*", os.removexattr,
           f if user else j("mid"), "user.mine" if user else "user.big")
    shell("setfacl", "setfacl", "-m", "u:4444:r", f)
    shell("setfacl -b", "setfacl", "-b", f)
    if not user:
        expect("chmod snapshot root", os.chmod, root, 0o700)
        expect("mkdir in snapshot root", os.mkdir, j("newdir"))
        expect("chown symlink", os.chown, j("sym_abs"), 5, 5,
               follow_symlinks=False)
        expect("setxattr trusted.*", os.setxattr, f, "trusted.x", b"v")
        expect("chmod fifo", os.chmod, j("fifo"), 0o600)
        expect("chmod char device", os.chmod, j("null"), 0o600)
        expect("rmdir non-empty", os.rmdir, j("a"))
        expect("unlink hard link", os.unlink, j("hl1"))
        expect("unlink symlink", os.unlink, j("sym_rel"))
        expect("rename into the live tree",
               os.rename, f, os.path.join(root, "..", "..", "stolen"))
        expect("rename from the live tree into the snapshot",
               os.rename, os.path.join(root, "..", "..", "mid"),
               j("a", "moved_in"))
        expect("link from the live tree into the snapshot", os.link,
               os.path.join(root, "..", "..", "mid"), j("a", "linked_in"))
    # a private writable mapping is not a change of the file
    fd = os.open(f, os.O_RDONLY)
    size = os.fstat(fd).st_size
    before = os.pread(fd, size, 0)
    mm = mmap.mmap(fd, size, mmap.MAP_PRIVATE,
                   mmap.PROT_READ | mmap.PROT_WRITE)
    mm[0:4] = b"PRIV"
    mm.close()
    if os.pread(fd, size, 0) == before:
        print("ok - MAP_PRIVATE store left the file alone")
    else:
        fails.append("MAP_PRIVATE")
        print("FAIL: a MAP_PRIVATE store changed a snapshot file")
    os.close(fd)
    print("# %d failures" % len(fails))
    sys.exit(1 if fails else 0)


def main():
    a = sys.argv
    if len(a) == 4 and a[1] == "build":
        build(a[2], int(a[3]))
    elif len(a) == 3 and a[1] == "manifest":
        manifest(a[2])
    elif len(a) == 3 and a[1] == "ino":
        inos(a[2])
    elif len(a) == 4 and a[1] == "mutate":
        mutate(a[2], int(a[3]))
    elif len(a) in (3, 4) and a[1] == "erofs":
        erofs(a[2], len(a) == 4 and a[3] == "user")
    else:
        sys.exit("usage: snaptree.py build DIR CHUNK | manifest ROOT | "
                 "ino ROOT | mutate DIR CHUNK | erofs ROOT [user]")


if __name__ == "__main__":
    main()
