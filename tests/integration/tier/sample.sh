#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sample.sh -- page-cache sampling (sample=PCT) on a real mount: a process
# that only loads from shared mappings of a hot set (no request reaches
# the daemon once the pages are cached) still gets that hot set into DRAM
# (>= 95%, by user.mmfs.residency), because the sampler drops chosen
# chunks from the page cache and the faults that refill them count as
# heat. Also: the mapped bytes stay right throughout, the counters of
# mmfsctl stat move, sample= is refused without a slow tier, and an
# unlinked file held by the sampler gives its memory back after its last
# close.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd getfattr python3 sha256sum
require_option sample=

# Refused without a slow tier, with one line.
out=$("$MMFS_BIN" -f none "$TEST_DIR" -o sample=10 2>&1) &&
	fail "sample= accepted on a DRAM-only mount"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q 'sample=10' ||
	fail "refusal not one line naming the option: $out"

POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL
mmfs_mount pmem_size=256M,dram=8M,epoch_ms=200,sample=25
mkdir "$MNT/d" || fail "mkdir"
for i in $(seq 0 23); do
	head -c 1M /dev/urandom >"$MNT/d/f$i" || fail "write f$i"
done
(cd "$MNT/d" && sha256sum f*) >"$TMP/sums"
hot="$MNT/d/f20 $MNT/d/f21 $MNT/d/f22 $MNT/d/f23"

dram_of() {
	getfattr --absolute-names --only-values -n user.mmfs.residency "$1" |
		tr ' ' '\n' | sed -n 's/^dram=//p'
}

# The mapper: maps the hot files shared, then loads one byte of every
# page, round after round, for as long as $TMP/run exists; each round
# checks the bytes against the first one's (nothing changes them).
touch "$TMP/run"
# shellcheck disable=SC2086
python3 - "$TMP/run" $hot <<'EOF' &
import mmap, os, sys
run, files = sys.argv[1], sys.argv[2:]
maps = []
for f in files:
    fd = os.open(f, os.O_RDONLY)
    maps.append(mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ))
    os.close(fd)
first = [bytes(m[i] for i in range(0, len(m), 4096)) for m in maps]
while os.path.exists(run):
    for m, want in zip(maps, first):
        if bytes(m[i] for i in range(0, len(m), 4096)) != want:
            sys.exit("mapped bytes changed")
EOF
mapper=$!

e=0 total=0 dram=0
for e in $(seq 1 60); do
	sleep 0.2
	kill -0 $mapper 2>/dev/null || fail "the mapper died"
	total=0 dram=0
	for f in $hot; do
		total=$((total + $(stat -c %s "$f")))
		dram=$((dram + $(dram_of "$f")))
	done
	[ $((dram * 100)) -ge $((total * 95)) ] && break
done
rm -f "$TMP/run"
wait $mapper || fail "mapper: mapped bytes wrong or a load failed"
"$MMFSCTL_BIN" stat "$MNT" | sed 's/^/# /'
[ $((dram * 100)) -ge $((total * 95)) ] ||
	fail "mmap'd hot set not in DRAM after $e rounds: $dram of $total bytes"
log "mmap'd hot set in DRAM after $e rounds of 0.2 s ($dram of $total bytes)"
json=$("$MMFSCTL_BIN" stat --json "$MNT")
echo "$json" | python3 -c '
import json, sys
s = json.load(sys.stdin)["sample"]
sys.exit(0 if s["passes"] > 0 and s["dropped"] > 0 else 1)' ||
	fail "sampling counters did not move: $json"

# An unlinked file's memory comes back once its last opener is gone,
# although the sampler held it too.
used_before=$(df -k --output=used "$MNT" | tail -1)
head -c 4M /dev/urandom >"$MNT/gone" || fail "write gone"
exec 3<"$MNT/gone"
rm "$MNT/gone" || fail "unlink"
sleep 0.5 # a sampler pass or two while it is open
exec 3<&-
for e in $(seq 1 25); do
	used=$(df -k --output=used "$MNT" | tail -1)
	[ "$used" -le "$used_before" ] && break
	sleep 0.2
done
[ "$used" -le "$used_before" ] ||
	fail "unlinked file's memory not back: $used KiB used, $used_before before"
(cd "$MNT/d" && sha256sum -c --quiet "$TMP/sums") || fail "data changed"
mmfs_umount_checked
"$MMFSCTL_BIN" fsck "$POOL" || fail "fsck"
exit 0
