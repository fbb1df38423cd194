#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# alloc_sites.sh -- allocation failure at every call site of the daemon,
# one site per mount. mmfs-fault (tests/integration/faultinj.c) routes
# every malloc, calloc, realloc, strdup, strndup and aligned_alloc that
# mmfs's own code makes (so map nodes, directory entries, xattrs, the
# staged log...) and every chunk allocation through a switch. A first run
# records the sites the workload reaches; then, for each site, a pool is
# mounted, a base tree written and fsync'd, the fault armed (SIGUSR2), and
# the workload (fault/workload.py) run: the first call from that site
# fails (ENOMEM, or ENOSPC for a chunk). Each request may fail only with
# ENOMEM or ENOSPC (EIO from a sync that reports an unloggable change);
# the daemon must survive, exit 0 at unmount, leave a pool fsck finds
# clean, and the base tree must read back intact before and after a
# remount with the ordinary daemon. Reports sites found, fired, findings.
#
# MMFS_FAULT_SITES (default all) caps the sites tried, spread evenly.
#
# TIMEOUT: 900
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 sha256sum addr2line
require_option pmem_size
require_mmfsctl

FAULT_BIN=$(helper mmfs-fault)
WORKLOAD=$(dirname "$0")/workload.py
REAL_BIN=$MMFS_BIN
POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL
OPTS=pmem_size=96M,dram=8M,commit=1
CAP=${MMFS_FAULT_SITES:-0}

# base -- files made and synced before the fault is armed: "earlier" data
base() {
	mkdir "$MNT/base" || fail "mkdir base"
	python3 - "$MNT/base" <<'PY' || fail "base tree"
import os, random, sys
r = random.Random(7)
for i in range(8):
    with open(os.path.join(sys.argv[1], "b%d" % i), "wb") as f:
        f.write(r.randbytes(r.randrange(1, 300000)))
        os.fsync(f.fileno())
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d)
os.close(d)
PY
	(cd "$MNT" && sha256sum base/*) >"$TMP/base.sum"
}

# mount_fault SPEC -- a fresh pool on mmfs-fault with MMFS_FAULT=SPEC
mount_fault() {
	rm -f "$POOL"
	MMFS_BIN=$FAULT_BIN MMFS_FAULT=$1 mmfs_mount "$OPTS"
	export -n MMFS_FAULT 2>/dev/null
}

# discovery
mount_fault "record:$TMP/sites"
base
kill -USR2 "$MMFS_PID"
python3 "$WORKLOAD" "$MNT" 1 >"$TMP/w0.out" || {
	cat "$TMP/w0.out" >&2
	fail "the workload fails with no fault injected"
}
mmfs_umount_checked
[ -s "$TMP/sites" ] || fail "mmfs-fault recorded no allocation sites"
sort "$TMP/sites" | awk '{ print $1 }' >"$TMP/list"
nsites=$(wc -l <"$TMP/list")
if [ "$CAP" -gt 0 ] && [ "$nsites" -gt "$CAP" ]; then
	awk -v n="$nsites" -v c="$CAP" 'int((NR - 1) * c / n) != int(NR * c / n)' \
		"$TMP/list" >"$TMP/list.cap"
	mv "$TMP/list.cap" "$TMP/list"
fi
log "$nsites allocation sites reached by the workload; trying $(wc -l <"$TMP/list")"

fired=0 notreached=0 findings=0 tried=0
while read -r site; do
	tried=$((tried + 1))
	# the call, not the return address: inlined callers named too
	where=$(addr2line -f -i -s -e "$FAULT_BIN" "$(printf 0x%x $((site - 1)))" |
		paste -sd' ')
	rm -f "$TMP/fired"
	mount_fault "fail:$site:$TMP/fired"
	base
	kill -USR2 "$MMFS_PID"
	python3 "$WORKLOAD" "$MNT" 1 >"$TMP/w.out" 2>&1
	wrc=$?
	why=
	if ! is_mounted "$MNT" || ! kill -0 "$MMFS_PID" 2>/dev/null; then
		why="daemon died"
	elif [ $wrc != 0 ]; then
		why="$(grep -m3 '^BAD\|Error' "$TMP/w.out" | paste -sd';')"
	elif ! (cd "$MNT" && sha256sum -c --quiet "$TMP/base.sum") >/dev/null 2>&1; then
		why="base tree changed while mounted"
	fi
	if [ -z "$why" ]; then
		mmfs_umount "$MNT" "$MMFS_PID" || why="daemon did not exit cleanly"
	else
		tail -20 "$MMFS_LOG" | sed 's/^/#   /'
		mmfs_kill9 || true
	fi
	if [ -z "$why" ]; then
		"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck.out" 2>&1 ||
			why="fsck: $(head -3 "$TMP/fsck.out" | paste -sd';')"
	fi
	if [ -z "$why" ]; then
		MMFS_BIN=$REAL_BIN mmfs_mount "$OPTS"
		(cd "$MNT" && sha256sum -c --quiet "$TMP/base.sum") >/dev/null 2>&1 ||
			why="base tree changed after remount"
		mmfs_umount "$MNT" "$MMFS_PID" || why="remounted daemon did not exit cleanly"
	fi
	if [ -f "$TMP/fired" ]; then
		fired=$((fired + 1))
		state=fired
	else
		notreached=$((notreached + 1))
		state="not reached"
	fi
	if [ -n "$why" ]; then
		findings=$((findings + 1))
		log "FINDING at $site ($where), $state: $why"
	else
		log "site $site ($where): $state, $(grep -c 'failed as allowed' "$TMP/w.out") requests failed as allowed"
	fi
done <"$TMP/list"
log "allocation sites: $nsites reached, $tried tried, $fired fired, $notreached not reached again, $findings findings"
[ "$findings" = 0 ] || fail "$findings allocation sites lose data or crash"
[ "$fired" -gt 0 ] || fail "no injected failure fired"
exit 0
