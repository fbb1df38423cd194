#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# hotset.sh -- the tiering engine on a real mount: DRAM (8 MiB) far below
# the data (48 MiB); a hot subset read repeatedly with O_DIRECT ends up in
# DRAM (>= 95%, by user.mmfs.residency) within a bounded number of epochs;
# the hot set moves and placement follows; pinned files never move
# (user.mmfs.tier pmem / dram), a directory's hint passes to new children,
# hints survive a remount; the virtual xattrs are read-only and unlisted;
# every byte is intact at the end.
#
# Usage: hotset.sh [numa]. With numa the mount is volatile and its slow
# tier is NUMA node 0's memory (SOURCE numa:0, the role CXL memory plays):
# the same placement checks, without the remount.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd getfattr setfattr sha256sum dd
require_option epoch_ms

POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL
OPTS=pmem_size=256M,dram=8M,epoch_ms=200
if [ "${1:-}" = numa ]; then
	require_option slow_nodes
	[ -d /sys/devices/system/node/node0 ] || skip "no NUMA support in this kernel"
	MMFS_SOURCE=numa:0 POOL=
	OPTS=slow_size=256M,dram=8M,epoch_ms=200
fi
EPOCHS=40 # the most epochs placement may take to follow (8 s)

mmfs_mount "$OPTS"
mkdir "$MNT/d" || fail "mkdir"
for i in $(seq 0 47); do
	head -c 1M /dev/urandom >"$MNT/d/f$i" || fail "write f$i"
done
(cd "$MNT/d" && sha256sum f*) >"$TMP/sums"

# bytes_in FILE TIER -- bytes of FILE in TIER (dram or pmem)
bytes_in() {
	getfattr --absolute-names --only-values -n user.mmfs.residency "$1" |
		tr ' ' '\n' | sed -n "s/^$2=//p"
}

# heat FILES... -- read them 3 times with O_DIRECT (every read reaches
# the daemon)
heat() {
	local f r
	for r in 1 2 3; do
		for f in "$@"; do
			dd if="$f" of=/dev/null bs=64k iflag=direct \
				status=none || fail "read $f"
		done
	done
}

# settle FILES... -- keep them hot until >= 95% of their bytes are in DRAM
settle() {
	local e total dram f
	for e in $(seq 1 $EPOCHS); do
		heat "$@"
		total=0 dram=0
		for f in "$@"; do
			total=$((total + $(stat -c %s "$f")))
			dram=$((dram + $(bytes_in "$f" dram)))
		done
		if [ $((dram * 100)) -ge $((total * 95)) ]; then
			log "hot set of $# files in DRAM after $e rounds ($dram of $total bytes)"
			return 0
		fi
		sleep 0.2
	done
	"$MMFSCTL_BIN" stat "$MNT" >&2
	fail "hot set not in DRAM after $EPOCHS rounds: $dram of $total bytes"
}

hot1="$MNT/d/f40 $MNT/d/f41 $MNT/d/f42 $MNT/d/f43"
hot2="$MNT/d/f3 $MNT/d/f4 $MNT/d/f5 $MNT/d/f6"
# shellcheck disable=SC2086
settle $hot1
# shellcheck disable=SC2086
settle $hot2 # the hot set moves: placement follows

# Pins: a hot file pinned to PMEM leaves DRAM; a cold one pinned to DRAM
# comes in and stays with no access at all.
setfattr -n user.mmfs.tier -v pmem "$MNT/d/f3" || fail "pin pmem"
setfattr -n user.mmfs.tier -v dram "$MNT/d/f20" || fail "pin dram"
for e in $(seq 1 $EPOCHS); do
	heat "$MNT/d/f3" "$MNT/d/f4"
	[ "$(bytes_in "$MNT/d/f3" dram)" = 0 ] &&
		[ "$(bytes_in "$MNT/d/f20" pmem)" = 0 ] && break
	sleep 0.2
done
[ "$(bytes_in "$MNT/d/f3" dram)" = 0 ] || fail "f3 pinned to pmem is in DRAM"
[ "$(bytes_in "$MNT/d/f20" pmem)" = 0 ] || fail "f20 pinned to dram is in PMEM"
sleep 1 # five epochs without access: the pin holds
[ "$(bytes_in "$MNT/d/f20" pmem)" = 0 ] || fail "f20 left DRAM while pinned"
setfattr -n user.mmfs.tier -v fast "$MNT/d/f3" 2>/dev/null && fail "bad hint accepted"

# A directory's hint passes to new children.
mkdir "$MNT/pinned" && setfattr -n user.mmfs.tier -v dram "$MNT/pinned" ||
	fail "pin a directory"
head -c 512K /dev/urandom >"$MNT/pinned/new" || fail "write in pinned dir"
[ "$(getfattr --absolute-names --only-values -n user.mmfs.tier "$MNT/pinned/new")" = dram ] ||
	fail "hint not inherited"

# user.mmfs.io=direct: buffered reads of that file reach the daemon every
# time, as its heat shows.
head -c 256K /dev/urandom >"$MNT/cached" || fail "write cached"
touch "$MNT/direct" && setfattr -n user.mmfs.io -v direct "$MNT/direct" ||
	fail "user.mmfs.io"
head -c 256K /dev/urandom >"$MNT/direct" || fail "write direct"
setfattr -n user.mmfs.io -v sometimes "$MNT/direct" 2>/dev/null &&
	fail "bad user.mmfs.io accepted"
for r in 1 2 3 4 5 6; do
	cat "$MNT/cached" "$MNT/direct" >/dev/null || fail "read"
done
hmax() {
	getfattr --absolute-names --only-values -n user.mmfs.heat "$1" |
		sed 's/.*max=//'
}
log "heat after 6 buffered reads: cached $(hmax "$MNT/cached"), direct $(hmax "$MNT/direct")"
[ "$(hmax "$MNT/direct")" -ge 3 ] || fail "user.mmfs.io=direct reads did not reach the daemon"

# The virtual xattrs: readable, unlisted, read-only.
getfattr --absolute-names -n user.mmfs.heat "$MNT/d/f4" | grep -q 'chunks=16' ||
	fail "user.mmfs.heat: $(getfattr -n user.mmfs.heat "$MNT/d/f4" 2>&1)"
getfattr --absolute-names -d -m - "$MNT/d/f4" | grep -q residency &&
	fail "virtual xattr listed"
setfattr -n user.mmfs.residency -v x "$MNT/d/f4" 2>/dev/null &&
	fail "virtual xattr writable"
"$MMFSCTL_BIN" stat "$MNT" | sed 's/^/# /'
(cd "$MNT/d" && sha256sum -c --quiet "$TMP/sums") || fail "data changed by migrations"
mmfs_umount_checked
[ -n "$POOL" ] || exit 0 # a volatile slow tier keeps nothing

# Hints persist: after a remount the pinned file comes back into DRAM.
mmfs_mount "$OPTS"
[ "$(getfattr --absolute-names --only-values -n user.mmfs.tier "$MNT/d/f20")" = dram ] ||
	fail "hint lost across a remount"
for e in $(seq 1 $EPOCHS); do
	[ "$(bytes_in "$MNT/d/f20" pmem)" = 0 ] && break
	sleep 0.2
done
[ "$(bytes_in "$MNT/d/f20" pmem)" = 0 ] || fail "pinned file not back in DRAM after remount"
(cd "$MNT/d" && sha256sum -c --quiet "$TMP/sums") || fail "data changed after remount"
mmfs_umount_checked
"$MMFSCTL_BIN" fsck "$POOL" || fail "fsck"
exit 0
