#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# snapshot.sh -- directory snapshots on a volatile mount, as root:
#   - a tree (snaptree.py build: several sizes, sparse files, hard links,
#     symlinks, fifo, char device, 3-deep dirs, user.* xattrs, ACLs,
#     setuid/setgid/sticky modes, setgid dir, chown'ed owners, touch -d
#     times) and its manifest (snaptree.py manifest: type, mode, owner,
#     size, nlink, st_blocks, mtime, atime, link target, rdev, sha256,
#     SEEK_DATA/SEEK_HOLE map, xattrs, hard link groups);
#   - mkdir DIR/.snap/s1: its manifest is DIR's, read twice; its own inode
#     numbers; reading a snapshot file leaves its atime alone;
#   - DIR changed in every way (snaptree.py mutate): s1 unchanged;
#   - every kind of change inside s1 is EROFS, as root and as uid 65534
#     (on files and directories that user could change in a live tree);
#     s1 still unchanged afterwards;
#   - .snap is invisible: ls, ls -a, find, tar, cp -a; DIR's link count;
#     ls DIR/.snap lists s1; mkdir s1 again EEXIST; bad names EINVAL;
#     creating a ".snap" name EEXIST; .snap inside a snapshot or a .snap
#     ENOENT; a link out of a snapshot EXDEV;
#   - rmdir of an (otherwise empty) directory with snapshots ENOTEMPTY, a
#     rename over it too; an empty .snap does not block rmdir;
#   - a non-owner cannot create/delete/rollback (EPERM/EACCES), the owner
#     of a directory can;
#   - rename of DIR carries .snap along;
#   - rmdir DIR/.snap/s1 frees (df) what `snapshot list --json` said were
#     its exclusive bytes (within a chunk); mmfsctl stat counts snapshots.
#
# TIMEOUT: 90
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_mmfsctl
require_cmd python3 setfacl setpriv tar cp find diff stat touch

HERE=$(cd "$(dirname "$0")" && pwd)
CTL=$MMFSCTL_BIN
CHUNK=65536
# a copy the unprivileged user can read, run by the system's python (a
# python3 on root's PATH may live in /root)
ST=$TMP/snaptree.py
cp "$HERE/snaptree.py" "$ST" && chmod 644 "$ST"
PY=$(command -v /usr/bin/python3 || command -v python3)

. "$(dirname "$0")/lib.sh"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

# errno_of CMD... -- run a python statement; print the errno name or OK
errno_of() {
	python3 -c '
import errno, os, sys
try:
    exec(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$@"
}

# expect WANT WHAT STATEMENT -- STATEMENT must fail with WANT (a|b allowed)
expect() {
	local got
	got=$(errno_of "$3")
	case "|$1|" in
	*"|$got|"*) ok "$2: $got" ;;
	*) bad "$2: got $got, want $1" ;;
	esac
}

# free_bytes -- what df says is available on $MNT
free_bytes() {
	python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_bfree * s.f_frsize)' "$MNT"
}

mmfs_mount dram=512M,chunk=64K
D=$MNT/t

# --- the tree, and its manifest ------------------------------------------
python3 "$ST" build "$D" "$CHUNK" || fail "building the tree failed"
# the first read of each file sets its atime (relatime): read once first
manifest "$D" warm
manifest "$D" live0
manifest "$D" live0b
same live0 live0b "the manifest of a quiet tree is stable"
log "tree: $(wc -l <"$TMP/live0") entries"
nsub=$(find "$D" -mindepth 1 -maxdepth 1 -type d | wc -l)

# --- mkdir DIR/.snap/s1 ----------------------------------------------------
ls -a "$D" | grep -qx .snap && bad "ls -a shows .snap before any snapshot"
mkdir "$D/.snap/s1" || fail "mkdir $D/.snap/s1 failed"
manifest "$D/.snap/s1" s1.0
same live0 s1.0 "the snapshot's manifest is the tree's"
manifest "$D/.snap/s1" s1.1
same live0 s1.1 "reading the snapshot again: still the same"
[ "$(stat -c %i "$D/.snap/s1")" != "$(stat -c %i "$D")" ] &&
	ok "the snapshot root has its own inode number" ||
	bad "the snapshot root has DIR's inode number"
python3 "$ST" ino "$D" | sort -k2 >"$TMP/ino.live"
python3 "$ST" ino "$D/.snap/s1" | sort -k2 >"$TMP/ino.s1"
shared=$(join -1 2 -2 2 "$TMP/ino.live" "$TMP/ino.s1" | wc -l)
[ "$shared" = 0 ] && ok "no inode number of the snapshot is one of the tree's" ||
	bad "$shared inode numbers of the snapshot are the tree's: $(join -1 2 -2 2 "$TMP/ino.live" "$TMP/ino.s1" | head -3)"
[ "$(stat -c %h "$D")" = $((2 + nsub)) ] &&
	ok "DIR's link count is 2 + its subdirectories (.snap not counted)" ||
	bad "DIR's link count is $(stat -c %h "$D"), want $((2 + nsub))"

# atime of a snapshot file is frozen: reading it does not change it
touch -a -d "2001-01-01 00:00:00 UTC" "$D/log"
mkdir "$D/.snap/at" || fail "mkdir $D/.snap/at"
a0=$(stat -c %X "$D/.snap/at/log")
cat "$D/.snap/at/log" >/dev/null
a1=$(stat -c %X "$D/.snap/at/log")
[ "$a0" = 978307200 ] && [ "$a1" = "$a0" ] &&
	ok "reading a snapshot file leaves its atime as it was" ||
	bad "atime of a snapshot file: $a0 when taken (want 978307200), $a1 after a read (relatime changed a frozen inode)"
rmdir "$D/.snap/at" || bad "rmdir $D/.snap/at failed"

# --- change the tree in every way: s1 stays ----------------------------------
python3 "$ST" mutate "$D" "$CHUNK" || fail "mutating the tree failed"
manifest "$D" warm1
manifest "$D" live1
cmp -s "$TMP/live0" "$TMP/live1" && bad "mutate changed nothing?"
manifest "$D/.snap/s1" s1.2
same live0 s1.2 "after every kind of change to DIR, the snapshot is unchanged"

# --- read-only inside, for everyone -----------------------------------------
if python3 "$ST" erofs "$D/.snap/s1" >"$TMP/erofs.root"; then
	ok "every change inside the snapshot is EROFS for root ($(grep -c '^ok' "$TMP/erofs.root") checks)"
else
	bad "changes inside the snapshot as root:"
	grep -v '^ok' "$TMP/erofs.root"
fi
if nobody "$PY" "$ST" erofs "$D/.snap/s1" user >"$TMP/erofs.user" 2>&1; then
	ok "every change inside the snapshot is EROFS for uid 65534 ($(grep -c '^ok' "$TMP/erofs.user") checks)"
else
	bad "changes inside the snapshot as uid 65534:"
	grep -v '^ok' "$TMP/erofs.user"
fi
manifest "$D/.snap/s1" s1.3
same live0 s1.3 "after all those attempts, the snapshot is unchanged"
expect EROFS "create a file in .snap itself" \
	"os.close(os.open('$D/.snap/f', os.O_CREAT | os.O_WRONLY))"
expect EROFS "symlink in .snap itself" "os.symlink('x', '$D/.snap/l')"
expect EROFS "rename a snapshot within .snap" \
	"os.rename('$D/.snap/s1', '$D/.snap/s1b')"
expect EROFS "chmod .snap" "os.chmod('$D/.snap', 0o777)"
expect EXDEV "link of a snapshot file into the live tree" \
	"os.link('$D/.snap/s1/mid', '$D/linked')"
expect EROFS "rename of a snapshot file into the live tree" \
	"os.rename('$D/.snap/s1/mid', '$D/renamed')"

# --- .snap is invisible to tools ------------------------------------------
ls "$D" | grep -qx .snap && bad "ls DIR shows .snap" || ok "ls DIR: no .snap"
ls -a "$D" | grep -qx .snap && bad "ls -a DIR shows .snap" || ok "ls -a DIR: no .snap"
n=$(find "$D" -name .snap | wc -l)
[ "$n" = 0 ] && ok "find does not descend into .snap" || bad "find found $n .snap"
n=$(find "$D" | grep -c '/\.snap' || true)
[ "$n" = 0 ] || bad "find lists $n paths below .snap"
n=$(tar -cf - -C "$MNT" t | tar -tf - | grep -c '\.snap' || true)
[ "$n" = 0 ] && ok "tar does not archive .snap" || bad "tar archived $n .snap paths"
cp -a "$D" "$MNT/cpa" || bad "cp -a DIR failed"
n=$(find "$MNT/cpa" | grep -c '\.snap' || true)
m=$(ls -A "$MNT/cpa/.snap" | wc -l)
[ "$n" = 0 ] && [ "$m" = 0 ] && ok "cp -a does not copy .snap" ||
	bad "cp -a copied .snap ($n paths, $m snapshots in the copy)"
rm -rf "$MNT/cpa"
[ "$(ls "$D/.snap")" = s1 ] && ok "ls DIR/.snap lists s1" ||
	bad "ls DIR/.snap: '$(ls "$D/.snap" | tr '\n' ' ')'"
[ "$(stat -c %a:%U "$D/.snap")" = 755:root ] ||
	bad ".snap is $(stat -c %a:%U "$D/.snap"), want 755:root"

# --- names ---------------------------------------------------------------
expect EEXIST "mkdir DIR/.snap/s1 again" "os.mkdir('$D/.snap/s1')"
"$CTL" snapshot create "$D" s1 2>"$TMP/err" && bad "mmfsctl create s1 again succeeded"
grep -q "File exists" "$TMP/err" && ok "mmfsctl create s1 again: EEXIST" ||
	bad "mmfsctl create s1 again: $(cat "$TMP/err")"
for n in "" . .. a/b; do
	if "$CTL" snapshot create "$D" "$n" 2>"$TMP/err"; then
		bad "snapshot named '$n' was created"
	elif grep -q "Invalid argument" "$TMP/err"; then
		ok "snapshot name '$n': EINVAL"
	else
		bad "snapshot name '$n': $(cat "$TMP/err")"
	fi
done
long=$(printf 'n%.0s' $(seq 255))
"$CTL" snapshot create "$D" "$long" && "$CTL" snapshot delete "$D" "$long" &&
	ok "a 255-byte snapshot name works" || bad "a 255-byte snapshot name failed"
expect "ENAMETOOLONG|EINVAL" "mkdir of a 256-byte snapshot name" \
	"os.mkdir('$D/.snap/${long}x')"
expect EEXIST "mkdir DIR/.snap" "os.mkdir('$D/.snap')"
expect EEXIST "mkdir sub/.snap" "os.mkdir('$D/sub/.snap')"
expect EEXIST "symlink named .snap" "os.symlink('x', '$D/a/.snap')"
expect EEXIST "mkfifo named .snap" "os.mkfifo('$D/a/.snap')"
expect EEXIST "link named .snap" "os.link('$D/mid', '$D/a/.snap')"
expect EEXIST "O_CREAT|O_EXCL of .snap" \
	"os.open('$D/a/.snap', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"
mkdir "$MNT/dd"
expect EEXIST "rename of a directory to .snap" "os.rename('$MNT/dd', '$D/.snap')"
expect ENOENT ".snap inside a snapshot" "os.stat('$D/.snap/s1/.snap')"
expect ENOENT ".snap inside a snapshot's subdirectory" "os.stat('$D/.snap/s1/a/.snap')"
expect ENOENT ".snap inside .snap" "os.stat('$D/.snap/.snap')"
expect "ENOENT|EROFS" "mkdir of a snapshot of a snapshot" "os.mkdir('$D/.snap/s1/.snap/x')"
[ "$(ls "$D/.snap")" = s1 ] || bad "the snapshots changed: $(ls "$D/.snap" | tr '\n' ' ')"

# --- rmdir and snapshots -----------------------------------------------------
mkdir "$MNT/e" "$MNT/e2" "$MNT/other" || fail "mkdir"
mkdir "$MNT/e/.snap/x" || fail "mkdir e/.snap/x"
expect ENOTEMPTY "rmdir of an empty directory with a snapshot" "os.rmdir('$MNT/e')"
expect ENOTEMPTY "rename of a directory over one with a snapshot" \
	"os.rename('$MNT/other', '$MNT/e')"
[ -d "$MNT/e/.snap/x" ] && [ -d "$MNT/other" ] || bad "the refused rmdir/rename changed something"
ls "$MNT/e2/.snap" >/dev/null || bad "ls e2/.snap failed"
rmdir "$MNT/e2" && ok "an empty .snap does not block rmdir" || bad "rmdir of a directory with an empty .snap failed"
rmdir "$MNT/e/.snap/x" && rmdir "$MNT/e" && ok "rmdir works once its snapshot is deleted" ||
	bad "rmdir after deleting the snapshot failed"

# --- who may ------------------------------------------------------------------
expect "EACCES|EPERM" "uid 65534: mkdir in .snap of a root directory" \
	"os.setgid(65534); os.setuid(65534); os.mkdir('$D/.snap/u1')"
nobody "$CTL" snapshot create "$D" u1 2>"$TMP/err" && bad "uid 65534 created a snapshot of root's directory"
grep -q "Operation not permitted" "$TMP/err" && ok "uid 65534: mmfsctl create on root's directory: EPERM" ||
	bad "uid 65534: mmfsctl create: $(cat "$TMP/err")"
expect "EACCES|EPERM" "uid 65534: rmdir of root's snapshot" \
	"os.setgid(65534); os.setuid(65534); os.rmdir('$D/.snap/s1')"
for op in delete rollback; do
	nobody "$CTL" snapshot $op "$D" s1 2>"$TMP/err" && bad "uid 65534: $op of root's snapshot succeeded"
	grep -q "Operation not permitted" "$TMP/err" && ok "uid 65534: mmfsctl $op on root's directory: EPERM" ||
		bad "uid 65534: mmfsctl $op: $(cat "$TMP/err")"
done
nobody "$CTL" snapshot schedule "$D" --every 1h --keep 1 2>/dev/null &&
	bad "uid 65534 scheduled snapshots of root's directory"
mkdir "$MNT/u" && chown 65534:65534 "$MNT/u" && echo hi >"$MNT/u/f" && chown 65534 "$MNT/u/f"
if nobody mkdir "$MNT/u/.snap/mine" && [ "$(cat "$MNT/u/.snap/mine/f")" = hi ] &&
	nobody "$CTL" snapshot create "$MNT/u" mine2 &&
	nobody "$CTL" snapshot rollback "$MNT/u" mine &&
	nobody "$CTL" snapshot delete "$MNT/u" mine2 && nobody rmdir "$MNT/u/.snap/mine"; then
	ok "uid 65534 snapshots, rolls back and deletes in its own directory"
else
	bad "uid 65534 could not manage snapshots of its own directory"
fi
[ "$(stat -c %U "$MNT/u/.snap")" = nobody ] || bad "u/.snap is not owned by u's owner"
[ -d "$D/.snap/s1" ] || bad "s1 vanished"

# --- rename carries .snap --------------------------------------------------
mv "$D" "$MNT/t2" || fail "mv DIR failed"
D=$MNT/t2
[ "$(ls "$D/.snap")" = s1 ] && ok "rename of DIR carries .snap along" ||
	bad "after the rename, .snap holds '$(ls "$D/.snap" | tr '\n' ' ')'"
manifest "$D/.snap/s1" s1.4
same live0 s1.4 "the carried snapshot is unchanged"

# --- deleting frees what it held alone ------------------------------------
"$CTL" snapshot list "$D" | sed 's/^/# /'
excl=$("$CTL" snapshot list "$D" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([s for s in j["snapshots"] if s["name"] == "s1"][0]["exclusive_bytes"])') ||
	fail "snapshot list --json"
n0=$("$CTL" stat --json "$MNT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["snapshots"])')
f0=$(free_bytes)
rmdir "$D/.snap/s1" || fail "rmdir DIR/.snap/s1 failed"
f1=$(free_bytes)
n1=$("$CTL" stat --json "$MNT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["snapshots"])')
freed=$((f1 - f0))
log "exclusive $excl, freed $freed"
[ "$excl" -gt 0 ] || bad "s1 held nothing exclusively after the tree changed"
d=$((freed - excl))
[ ${d#-} -lt $CHUNK ] && ok "rmdir of s1 freed $freed bytes, its exclusive bytes ($excl)" ||
	bad "rmdir of s1 freed $freed bytes, but snapshot list said $excl"
[ $((n0 - n1)) = 1 ] && ok "mmfsctl stat: one snapshot fewer" ||
	bad "mmfsctl stat: snapshots $n0 -> $n1"
[ -z "$(ls "$D/.snap")" ] || bad ".snap not empty after the delete"
manifest "$D" live2
same live1 live2 "deleting the snapshot did not touch the tree"

is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
mmfs_umount_checked
[ $errors = 0 ] || fail "$errors checks failed"
exit 0
