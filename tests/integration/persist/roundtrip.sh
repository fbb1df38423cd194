#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# roundtrip.sh -- a persistent pool gives back exactly the tree it was
# given, after a clean unmount and after kill -9 following syncfs:
#   1. build a tree of MMFS_ROUNDTRIP_N (default 5000) files (mktree.py:
#      nested dirs, sparse files, user.* xattrs, hard links, symlinks,
#      fifos, other owners, setuid/sticky modes, nanosecond mtimes, some
#      set with touch -d); manifest (manifest.py: type, mode, uid, gid,
#      size, nlink, st_ino, mtime_ns, link target, xattrs, content sha,
#      SEEK_DATA/SEEK_HOLE extents);
#   2. clean unmount, `mmfsctl fsck` clean, remount: same manifest;
#   3. for each way to sync in MMFS_ROUNDTRIP_SYNC (default "fsync fsyncdir
#      mmfsctl"; also "syncfs"): change the tree (add, unlink, rename,
#      chmod, xattrs, truncate), sync (fsync of one file, of one directory,
#      `mmfsctl sync MNT`, `sync -f MNT`: each commits the whole
#      filesystem), manifest, kill -9, remount: same manifest; clean
#      unmount, fsck clean, remount: still the same.
# syncfs is not in the default: Linux does not send it to /dev/fuse servers
# (fc->sync_fs is set for virtiofs only), so `sync -f` cannot commit.
#
# TIMEOUT: 900
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 touch sync diff
require_option pmem_size
require_mmfsctl

HERE=$(cd "$(dirname "$0")" && pwd)
N=${MMFS_ROUNDTRIP_N:-5000}
SYNC=${MMFS_ROUNDTRIP_SYNC:-fsync fsyncdir mmfsctl}
SEED=${MMFS_ROUNDTRIP_SEED:-$(($(date +%s) % 100000))}
POOL=$TEST_DIR/pool
OPTS=pmem_size=512M,dram=64M,chunk=4K,commit=3600	# only syncs commit
MMFS_SOURCE=$POOL
log "seed $SEED, $N files, -o $OPTS"

# manifest NAME -- manifest of the mounted tree into $TMP/NAME
manifest() {
	python3 "$HERE/manifest.py" "$MNT" >"$TMP/$1" ||
		fail "manifest $1 failed (daemon alive: $(kill -0 "$MMFS_PID" 2>/dev/null && echo yes || echo no))"
	log "manifest $1: $(wc -l <"$TMP/$1") entries"
}

# same A B WHAT -- manifests A and B must be identical
same() {
	if ! diff -u "$TMP/$1" "$TMP/$2" >"$TMP/diff"; then
		echo "--- manifest differences ($1 -> $2), first 60 lines:" >&2
		head -60 "$TMP/diff" | cut -c1-240 >&2
		echo "--- $(grep -c '^-[^-]' "$TMP/diff") lines lost or changed," \
			"$(grep -c '^+[^+]' "$TMP/diff") new" >&2
		[ -n "${4:-}" ] && echo "$4" >&2
		tail -20 "$MMFS_LOG" >&2
		fail "$3"
	fi
	log "ok - $3"
}

fsck_clean() {
	local out rc
	out=$("$MMFSCTL_BIN" fsck "$POOL" 2>&1)
	rc=$?
	[ $rc = 0 ] || { echo "$out" >&2; fail "mmfsctl fsck exited $rc ($1)"; }
	log "ok - fsck clean ($1)"
}

# 1. build
mmfs_mount "$OPTS"
[ -f "$POOL" ] || fail "pmem_size= did not create $POOL"
t0=$(date +%s)
python3 "$HERE/mktree.py" create "$MNT/t" "$SEED" "$N" ||
	fail "building the tree failed"
# a few nanosecond mtimes the way users set them
touch -d "2001-02-03 04:05:06.123456789 UTC" "$MNT/t"
mkdir "$MNT/touched" && echo a >"$MNT/touched/a" && ln -s a "$MNT/touched/l"
touch -d "1969-07-20 20:17:40.000000001 UTC" "$MNT/touched/a"
touch -h -d "2038-01-19 03:14:08.999999999 UTC" "$MNT/touched/l"
touch -d "@1700000000.5" "$MNT/touched"
log "tree built in $(($(date +%s) - t0)) s; $(df -h --output=used "$MNT" | tail -1) used"
manifest live

# 2. clean unmount, fsck, remount
mmfs_umount_checked
fsck_clean "after a clean unmount"
mmfs_mount "$OPTS"
manifest remount
same live remount "clean unmount + remount keeps the tree"

# 3. for each way to sync: change, sync, manifest, kill -9, remount
k=0
for how in $SYNC; do
	k=$((k + 1))
	python3 "$HERE/mktree.py" mutate "$MNT/t" "$((SEED + k))" ||
		fail "mutate failed"
	case $how in
	syncfs) sync -f "$MNT" || fail "sync -f $MNT failed" ;;
	mmfsctl) "$MMFSCTL_BIN" sync "$MNT" || fail "mmfsctl sync $MNT failed" ;;
	fsync) python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' \
		"$MNT/touched/a" || fail "fsync failed" ;;
	fsyncdir) python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' \
		"$MNT/touched" || fail "fsync of a directory failed" ;;
	*) fail "MMFS_ROUNDTRIP_SYNC: unknown '$how'" ;;
	esac
	manifest "synced.$how"
	mmfs_kill9 "$MNT" "$MMFS_PID" || fail "dead mount not unmounted"
	[ "$MMFS_RC" = 137 ] || fail "killed daemon exited $MMFS_RC, not 137"
	mmfs_mount "$OPTS"
	manifest "crashed.$how"
	note=
	[ "$how" = syncfs ] && note="(note: Linux sends syncfs to a /dev/fuse server only if fc->sync_fs is set, which mainline sets for virtiofs only: sync -f may never reach the daemon)"
	same "synced.$how" "crashed.$how" \
		"$how + kill -9 + remount keeps the changed tree" "$note"
	mmfs_umount_checked
	fsck_clean "after recovery and a clean unmount"
	mmfs_mount "$OPTS"
	manifest "again.$how"
	same "synced.$how" "again.$how" \
		"the recovered tree survives another clean remount"
done
mmfs_umount_checked
fsck_clean "at the end"
"$MMFSCTL_BIN" info "$POOL" --json | sed 's/^/# info: /'
exit 0
