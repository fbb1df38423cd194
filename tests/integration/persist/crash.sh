#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# crash.sh -- kill -9 of the daemon loses only un-synced work, and the pool
# always mounts again.  MMFS_CRASH_ITERS (default 30; 100 with powerloss)
# iterations on one pool (pmem_size=256M, more for long runs; dram=8M:
# data lands in both tiers and the tiering engine migrates every 100 ms;
# commit=1):
#   mount; put a fsync'd marker file for this iteration; start the workload
#   (crashload.c: durable files fsync'd then journaled outside the mount,
#   plus namespace/data/xattr churn); after a random 0.05-1.0 s SIGKILL the
#   daemon; stop the workload; lazily unmount; `mmfsctl fsck POOL` exit 0
#   on the crashed pool; remount; every journaled file
#   must read back with its size and xxh64, every marker so far must exist,
#   the tree must be consistent (nlinks, sizes); unmount cleanly (daemon
#   exit 0); `mmfsctl fsck POOL` exit 0.
# The journal accumulates over the iterations.  MMFS_CRASH_SEED repeats a
# run (each iteration's seed is SEED*1000+ITER; both are printed).
#
# Usage: crash.sh [powerloss]. With powerloss every mount has
# -o powerloss_sim: a store reaches the pool file only through mmfs's
# persist points (flushed but undrained ones in a random subset), so the
# kill -9 is a power loss, not just a process crash whose stores the
# host's page cache keeps. Default iterations: 50, powerloss 100.
#
# TIMEOUT: 1500
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_option pmem_size
[ -x "${MMFSCTL_BIN:-}" ] || fail "MMFSCTL_BIN not set (run under ctest)"
LOAD=$(helper crashload)

MODE=${1:-}
case $MODE in
'') ITERS=${MMFS_CRASH_ITERS:-30} ;;
powerloss) ITERS=${MMFS_CRASH_ITERS:-100} ;;
*) fail "usage: crash.sh [powerloss]" ;;
esac
SEED=${MMFS_CRASH_SEED:-$(($(date +%s%N) / 1000 % 1000000))}
POOL=$TEST_DIR/pool
JOURNAL=$TEST_DIR/journal
# A small DRAM tier and short epochs keep the tiering engine migrating
# while the daemon is killed: a crash during a migration must lose nothing.
require_option epoch_ms
# durable bytes per iteration: ~128 MiB over the whole run, 256 KiB..4 MiB
BUDGET=$((131072 / ITERS))
[ $BUDGET -gt 4096 ] && BUDGET=4096
[ $BUDGET -lt 256 ] && BUDGET=256
# The pool keeps everything the run makes durable: every iteration's
# marker (a 64 KiB chunk) and durable files (BUDGET, counted in chunks),
# plus the churn tree (~64 MiB) and the workload's 48 MiB of headroom. A
# 1,000-point run fills 256 MiB near point 770 (the marker's write then
# fails with ENOSPC): the pool grows with the iterations.
POOL_MB=$(((ITERS * (64 + BUDGET) / 1024 + 128 + 63) / 64 * 64))
[ $POOL_MB -lt 256 ] && POOL_MB=256
OPTS=pmem_size=${POOL_MB}M,dram=8M,commit=1,epoch_ms=100
if [ "$MODE" = powerloss ]; then
	require_option powerloss_sim
	OPTS=$OPTS,powerloss_sim
fi
MMFS_SOURCE=$POOL
log "seed $SEED, $ITERS iterations, -o $OPTS, $BUDGET KiB durable per run"

it=0 iseed=0 crash_log='' remount_log='' wpid=''
# die MSG -- fail with everything needed to reproduce and debug
die() {
	[ -n "$wpid" ] && kill -KILL "$wpid" 2>/dev/null
	{
		echo "iteration $it, seed $iseed (MMFS_CRASH_SEED=$SEED)"
		echo "--- workload stderr:"
		cat "$TEST_DIR/load.err" 2>/dev/null
		if [ -n "$crash_log" ]; then
			echo "--- daemon log of the killed mount ($crash_log):"
			tail -40 "$crash_log"
		fi
		if [ -n "$remount_log" ]; then
			echo "--- daemon log of the remount ($remount_log):"
			tail -40 "$remount_log"
		fi
	} >&2
	fail "$*"
}

# mount_pool -- mount $POOL on a fresh mountpoint; sets MNT, MMFS_PID
mount_pool() {
	local rc=0

	new_mnt
	MNT=$NEW_MNT
	mmfs_start "$MNT" "$OPTS" || rc=$?
	case $rc in
	0) ;;
	1) remount_log=$MMFS_LOG; die "mount of the pool exited $MMFS_RC" ;;
	*) remount_log=$MMFS_LOG; die "pool not mounted within 10 s" ;;
	esac
}

# stop_workload -- the daemon is dead: the workload must notice (ENOTCONN,
# exit 3) within 5 s, else it is killed (by its PID).  Exit 1 is a
# workload error.
stop_workload() {
	local i rc

	for i in $(seq 1 50); do
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$wpid" 2>/dev/null; then
		echo "# iteration $it: workload still running 5 s after the" \
			"kill; SIGKILL" >&2
		kill -KILL "$wpid" 2>/dev/null
	fi
	wait "$wpid"
	rc=$?
	wpid=
	case $rc in
	0 | 3 | 137) ;;
	*) die "workload exited $rc" ;;
	esac
}

t0=$(date +%s)
for ((it = 0; it < ITERS; it++)); do
	iseed=$((SEED * 1000 + it))
	crash_log='' remount_log=''
	mount_pool
	crash_log=$MMFS_LOG
	[ $it = 0 ] && { [ -f "$POOL" ] || die "pmem_size= did not create $POOL"; }
	"$LOAD" mark "$MNT" "$it" 2>"$TEST_DIR/load.err" ||
		die "marker of iteration $it could not be written"
	# this iteration's durable files' bytes, for verify to diff against
	rm -rf "$JOURNAL.model" && mkdir "$JOURNAL.model" ||
		die "cannot make $JOURNAL.model"
	"$LOAD" run "$MNT" "$JOURNAL" "$iseed" "$it" 60 "$BUDGET" \
		2>"$TEST_DIR/load.err" &
	wpid=$!
	sleep "$(awk -v s="$iseed" 'BEGIN { srand(s); printf "%.3f", 0.05 + rand() * 0.95 }')"
	kill -0 "$MMFS_PID" 2>/dev/null || die "daemon died before the kill"
	if ! kill -0 "$wpid" 2>/dev/null; then
		wait "$wpid"
		rc=$?
		wpid=
		die "workload stopped (exit $rc) while the daemon was alive"
	fi
	# the workload works below its cwd on the dead mount: it sees
	# ENOTCONN, never the empty mountpoint, after the lazy unmount
	mmfs_kill9 "$MNT" "$MMFS_PID" || die "dead mount $MNT not unmounted"
	[ "$MMFS_RC" = 137 ] || die "killed daemon exited $MMFS_RC, not 137"
	stop_workload
	# the pool as the crash left it is consistent (read-only fsck:
	# it replays the log in memory, as the next mount will)
	out=$("$MMFSCTL_BIN" fsck "$POOL" 2>&1)
	rc=$?
	[ $rc = 0 ] || { echo "$out" >&2; die "mmfsctl fsck exited $rc on the crashed pool"; }

	mount_pool
	remount_log=$MMFS_LOG
	"$LOAD" verify "$MNT" "$JOURNAL" "$it" >"$TEST_DIR/verify.out" \
		2>"$TEST_DIR/verify.err"
	vrc=$?
	if [ $vrc != 0 ]; then
		cat "$TEST_DIR/verify.out" "$TEST_DIR/verify.err" >&2
		die "recovered pool lost fsync'd data or is inconsistent"
	fi
	is_mounted "$MNT" || die "mount vanished during verify (daemon crash?)"
	if ! mmfs_umount "$MNT" "$MMFS_PID"; then
		die "daemon did not exit 0 after a clean unmount"
	fi
	out=$("$MMFSCTL_BIN" fsck "$POOL" 2>&1)
	rc=$?
	[ $rc = 0 ] || { echo "$out" >&2; die "mmfsctl fsck exited $rc after a clean unmount"; }
	log "iteration $it ok: $(sed 's/^# verify: //' "$TEST_DIR/verify.out")" \
		"[$(tail -n1 "$TEST_DIR/load.err")]"
done
"$MMFSCTL_BIN" info "$POOL" --json | sed 's/^/# info: /'
log "$ITERS crashes survived in $(($(date +%s) - t0)) s," \
	"$(wc -l <"$JOURNAL" 2>/dev/null || echo 0) durable files verified"
exit 0
