#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# shared_pin.sh -- tiering of shared chunks on a real mount (a pool, DRAM
# 8 MiB, the engine running):
#   - a reflink copy starts exactly as warm as its source and in the same
#     place: one chunk, one placement, one heat (user.mmfs.residency and
#     user.mmfs.heat equal);
#   - a user.mmfs.tier pin set on the copy moves the chunks it shares with
#     the source too (the rule tier/README.md and fs/README.md state: a
#     shared chunk follows the hint applied last by any sharer); releasing
#     the pin (auto) releases them;
#   - a chunk copied on write starts with the heat of the chunk it came
#     from, not cold;
#   - every byte is intact at the end.
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd getfattr setfattr sha256sum dd cp
require_option epoch_ms

MMFS_SOURCE=$TEST_DIR/pool
EPOCHS=40 # the most epochs placement may take to follow (200 ms each)
mmfs_mount pmem_size=256M,dram=8M,epoch_ms=200

xattr() { getfattr --absolute-names --only-values -n "user.mmfs.$2" "$1"; }
bytes_in() { xattr "$1" residency | tr ' ' '\n' | sed -n "s/^$2=//p"; }
heat_max() { xattr "$1" heat | tr ' ' '\n' | sed -n 's/^max=//p'; }

head -c 4M /dev/urandom >"$MNT/a" || fail "write a"
sum=$(sha256sum <"$MNT/a")
cp "$MNT/a" "$MNT/b" || fail "cp a b"
[ "$(xattr "$MNT/a" residency)" = "$(xattr "$MNT/b" residency)" ] ||
	fail "a copy is placed apart from its source: $(xattr "$MNT/a" residency) vs $(xattr "$MNT/b" residency)"
# same_heat -- a's heat equals b's, read between two equal reads of a's:
# an epoch that halves every heat between the two files' reads is no
# difference between them (the engine runs every 200 ms here)
same_heat() {
	local i h1 h2 hb
	for ((i = 0; i < 5; i++)); do
		h1=$(xattr "$MNT/a" heat)
		hb=$(xattr "$MNT/b" heat)
		h2=$(xattr "$MNT/a" heat)
		[ "$h1" = "$h2" ] || continue
		[ "$h1" = "$hb" ]
		return
	done
	return 1
}
same_heat ||
	fail "a copy is not as warm as its source: $(xattr "$MNT/a" heat) vs $(xattr "$MNT/b" heat)"
log "ok - the copy shares placement and heat: $(xattr "$MNT/b" residency)"

# wait_tier FILE TIER -- all of FILE in TIER within EPOCHS
wait_tier() {
	local i
	for ((i = 0; i < EPOCHS; i++)); do
		[ "$(bytes_in "$1" "$2")" = 4194304 ] && return 0
		sleep 0.2
	done
	return 1
}

setfattr -n user.mmfs.tier -v pmem "$MNT/b" || fail "pin b to pmem"
wait_tier "$MNT/b" pmem || fail "b pinned to pmem: $(xattr "$MNT/b" residency)"
wait_tier "$MNT/a" pmem || fail "the shared chunks did not follow b's pin: a: $(xattr "$MNT/a" residency)"
log "ok - a pin on one sharer moves the chunks it shares"
setfattr -n user.mmfs.tier -v dram "$MNT/a" || fail "pin a to dram"
wait_tier "$MNT/b" dram || fail "the hint applied last (a: dram) does not rule: b: $(xattr "$MNT/b" residency)"
log "ok - the hint applied last by any sharer rules"
setfattr -n user.mmfs.tier -v auto "$MNT/a" || fail "release a"
setfattr -n user.mmfs.tier -v auto "$MNT/b" || fail "release b"

# Heat: read a chunk of a hard (every read reaches the daemon), then copy
# b's same chunk on write: the copy must start as warm as its source.
# After the copy both decay alike (b's got one access more, its write), so
# b's heat is at least a's when no epoch decays them between the reads: a
# is read before and after b, and a pair that straddles a decay (a's two
# reads differ) is tried again on the next chunk. Only a chunk at least 2
# warm tells "inherited" from "cold" (a new chunk has the one access): on
# a loaded machine the epochs may cool a first, so try a few chunks.
cow_ok=
for k in 1 2 3 4 5 6 7 8; do
	for r in $(seq 1 16); do
		dd if="$MNT/a" of=/dev/null bs=64k skip=$k count=1 iflag=direct \
			status=none || fail "read a"
	done
	dd if=/dev/zero of="$MNT/b" bs=1 count=1 seek=$((k * 65536)) \
		conv=notrunc status=none || fail "write b"
	src=$(heat_max "$MNT/a")
	got=$(heat_max "$MNT/b")
	[ "$(heat_max "$MNT/a")" = "$src" ] || continue # an epoch between
	[ "${src%.*}" -ge 2 ] || continue # cooled before it was copied
	[ "${got%.*}" -ge "${src%.*}" ] ||
		fail "a copied-on-write chunk started colder than its source: heat $got, its source $src"
	cow_ok=1
	break
done
[ -n "$cow_ok" ] || fail "no chunk of a read at heat 2 or more between two epochs (last: $src)"
log "ok - a copied-on-write chunk keeps its source's heat ($got, source $src)"

[ "$(sha256sum <"$MNT/a")" = "$sum" ] || fail "a changed"
python3 - "$MNT/a" "$MNT/b" "$k" <<'PY' || fail "b is not a with its writes"
import sys
a, b, k = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
want = bytearray(a)
for i in range(1, k + 1):
    want[i * 65536] = 0
sys.exit(0 if bytes(want) == b else 1)
PY
log "ok - every byte intact"
mmfs_umount_checked
"$MMFSCTL_BIN" fsck "$MMFS_SOURCE" || fail "fsck"
exit 0
