#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# snap_persist.sh -- snapshots on a pool (a file on /dev/shm, made with
# `mmfsctl mkfs`) survive unmounts and crashes:
#   1. a tree (snaptree.py), snapshots s1 (mmfsctl) and s2 (mkdir) of two
#      states, a rollback to s1, a clone of s2 (written to), a subdirectory
#      snapshot, a schedule (--every 2s --keep 2) on another directory;
#   2. clean unmount, `mmfsctl fsck` clean, remount: every manifest (tree,
#      s1, s2, clone) the same, s1 still EROFS for every change
#      (snaptree.py erofs), the schedule listed and taking snapshots again,
#      keeping 2;
#   3. more (s3, a delete of s2, a rollback to s3's state changed again),
#      `mmfsctl sync MNT`, kill -9, remount: the same manifests, still
#      EROFS, the schedule resumes (atimes the reads set are compared for
#      the snapshots only: a live file's may be older after a crash);
#      clean unmount, fsck clean;
#   4. three times: kill -9 of the daemon (commit=1) while a loop changes a
#      tree of 2000 files (gentree.py) and creates and deletes snapshots of
#      it; remount: every snapshot present is exactly the state it was
#      named after, the live tree a state; clean unmount, fsck clean.
#
# TIMEOUT: 150
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_mmfsctl
require_cmd python3 setfacl diff
require_option pmem_size

HERE=$(cd "$(dirname "$0")" && pwd)
ST=$HERE/snaptree.py
GT=$HERE/gentree.py
CTL=$MMFSCTL_BIN
CHUNK=65536
NGEN=${MMFS_SNAP_PERSIST_N:-2000}
[ -d /dev/shm ] && [ -w /dev/shm ] || fail "no writable /dev/shm"
POOL=$(mktemp /dev/shm/mmfs-snap-persist.XXXXXX) || fail "mktemp on /dev/shm"
at_exit rm -f "$POOL"
"$CTL" mkfs --size 384M --chunk 64K --force "$POOL" >/dev/null || fail "mmfsctl mkfs"
MMFS_SOURCE=$POOL
OPTS=dram=32M,commit=3600	# only syncs commit (and clean unmounts)

. "$(dirname "$0")/lib.sh"

fsck_clean() {
	local out rc
	out=$("$CTL" fsck "$POOL" 2>&1)
	rc=$?
	[ $rc = 0 ] && ok "fsck clean ($1)" || { echo "$out" | head -30; bad "mmfsctl fsck exited $rc ($1)"; }
}

# record NAME -- manifests of everything this test keeps, as NAME.*
record() {
	local p
	for p in t t/.snap/s1 t/.snap/s2 t/.snap/s3 c c3; do
		[ -d "$MNT/$p" ] || continue
		manifest "$MNT/$p" "$1.${p//\//_}"
	done
	ls "$MNT/t/.snap" >"$TMP/$1.snaps"
	ls "$MNT/t/sub/.snap" >"$TMP/$1.subsnaps"
}

# compare A B WHAT [noatime] -- every manifest recorded as A is the same as
# B; with noatime, the live tree's and the clones' atimes are left out (a
# read sets atime in memory only: after a crash it may be older, as
# persist/roundtrip.sh leaves it out); a snapshot's are always compared
compare() {
	local f n
	for f in "$TMP/$1".*; do
		n=${f##*/$1.}
		case ${4:-}:$n in
		noatime:t | noatime:c*)
			sed -i 's/\ta=[0-9]*//' "$f" "$TMP/$2.$n" ;;
		esac
		same "$(basename "$f")" "$2.$n" "$3: $n"
	done
}

# gmt -- the scheduled snapshots of $MNT/sch, oldest first
gmt() {
	ls "$MNT/sch/.snap" | grep '^@GMT-' | sort
}

# sched_resumes WHAT -- within ~5 s a newer @GMT- snapshot appears, and
# there are then at most 2 (--keep 2)
sched_resumes() {
	local last new n i
	last=$(gmt | tail -1)
	for i in $(seq 1 50); do
		new=$(gmt | tail -1)
		[ -n "$new" ] && [[ "$new" > "$last" ]] && break
		sleep 0.1
	done
	n=$(gmt | wc -l)
	if [ -n "$new" ] && [[ "$new" > "$last" ]] && [ "$n" -le 2 ]; then
		ok "the schedule resumes ($1): $last -> $new, $n kept"
	else
		bad "the schedule did not resume ($1): newest '$last' -> '$new', $n kept"
	fi
	"$CTL" snapshot list "$MNT/sch" | grep -q "schedule: every 2s, keep 2" ||
		bad "the schedule is not listed ($1)"
}

erofs_check() {
	if python3 "$ST" erofs "$MNT/t/.snap/$1" >"$TMP/erofs"; then
		ok "$1 is still read-only ($2): $(grep -c '^ok' "$TMP/erofs") checks"
	else
		bad "$1 not read-only ($2):"
		grep -v '^ok' "$TMP/erofs"
	fi
}

# --- 1. snapshots, rollback, clone, schedule ----------------------------------
mmfs_mount "$OPTS"
D=$MNT/t
python3 "$ST" build "$D" "$CHUNK" >/dev/null || fail "build"
"$CTL" snapshot create "$D" s1 || fail "snapshot create s1"
python3 "$ST" mutate "$D" "$CHUNK" >/dev/null || fail "mutate"
mkdir "$D/.snap/s2" || fail "mkdir .snap/s2"
echo more >"$D/extra" && rm "$D/log"
"$CTL" snapshot rollback "$D" s1 || fail "rollback to s1"
"$CTL" snapshot clone "$D/.snap/s2" "$MNT/c" || fail "clone of s2"
echo "written to the clone" >"$MNT/c/newfile" && rm "$MNT/c/mid"
mkdir "$D/sub/.snap/subsnap" || fail "mkdir sub/.snap/subsnap"
mkdir "$MNT/sch" && echo s >"$MNT/sch/f"
"$CTL" snapshot schedule "$MNT/sch" --every 2s --keep 2 || fail "schedule"
sleep 2.5
[ "$(gmt | wc -l)" -ge 1 ] || bad "no scheduled snapshot within 2.5 s"
record a0	# reads everything once: atimes settle (relatime)
record a

# --- 2. clean unmount and remount ------------------------------------------
mmfs_umount_checked
fsck_clean "after a clean unmount"
mmfs_mount "$OPTS"
D=$MNT/t
record b
compare a b "clean unmount + remount"
erofs_check s1 "after a remount"
sched_resumes "after a clean remount"

# --- 3. changes, mmfsctl sync, kill -9 --------------------------------------
mkdir "$D/.snap/s3" || fail "mkdir .snap/s3"
"$CTL" snapshot delete "$D" s2 || fail "delete s2"
rm -rf "$D/a" && echo changed >"$D/chunk"
"$CTL" snapshot rollback "$D" s3 || fail "rollback to s3"
echo after-rollback >"$D/extra2"
"$CTL" snapshot clone "$D/.snap/s3" "$MNT/c3" || fail "clone of s3"
record c0
record c
"$CTL" sync "$MNT" || fail "mmfsctl sync"
mmfs_kill9 "$MNT" "$MMFS_PID" || fail "dead mount not unmounted"
[ "$MMFS_RC" = 137 ] || bad "killed daemon exited $MMFS_RC, not 137"
mmfs_mount "$OPTS"
D=$MNT/t
record d
compare c d "mmfsctl sync + kill -9 + remount" noatime
erofs_check s3 "after a crash"
sched_resumes "after a crash"
"$CTL" snapshot schedule "$MNT/sch" --off || bad "schedule --off"
mmfs_umount_checked
fsck_clean "after recovery and a clean unmount"

# --- 4. kill -9 during snapshot create/delete ----------------------------------
mmfs_mount dram=32M,commit=1
python3 "$GT" create "$MNT/g" "$NGEN" || fail "gentree create"
"$CTL" sync "$MNT" || fail "mmfsctl sync"
mmfs_umount_checked
for round in 1 2 3; do
	mmfs_mount dram=32M,commit=1
	start=$(python3 "$GT" check "$MNT/g" "$NGEN" live) || fail "round $round: the tree is not a state"
	(
		cd "$MNT/g" || exit 1
		i=$start
		while :; do
			i=$((i + 1))
			printf '%d\n' $i >"d$((i % NGEN % 20))/f$((i % NGEN))" || exit 0
			printf '%d' $i >gen || exit 0
			"$CTL" snapshot create . "g$i" 2>/dev/null || exit 0
			if [ $((i - start)) -gt 3 ]; then
				"$CTL" snapshot delete . "g$((i - 3))" 2>/dev/null || exit 0
			fi
		done
	) &
	lpid=$!
	sleep "$(awk -v r=$round 'BEGIN { srand(); printf "%.2f", 1 + rand() * 2 }')"
	mmfs_kill9 "$MNT" "$MMFS_PID" || fail "dead mount not unmounted"
	[ "$MMFS_RC" = 137 ] || bad "killed daemon exited $MMFS_RC, not 137"
	for i in $(seq 1 50); do kill -0 $lpid 2>/dev/null || break; sleep 0.1; done
	kill -0 $lpid 2>/dev/null && kill $lpid
	wait $lpid
	mmfs_mount dram=32M,commit=1
	g=$(python3 "$GT" check "$MNT/g" "$NGEN" live) || { echo "$g"; bad "round $round: the recovered tree is not a state"; }
	snaps=$(ls "$MNT/g/.snap")
	nok=0
	for s in $snaps; do
		case $s in
		g[0-9]*) ;;
		*) bad "round $round: unexpected snapshot $s"; continue ;;
		esac
		if out=$(python3 "$GT" check "$MNT/g/.snap/$s" "$NGEN" "${s#g}"); then
			nok=$((nok + 1))
		else
			echo "$out"
			bad "round $round: snapshot $s is not the state it was taken of"
		fi
	done
	log "round $round: loop started at state $start, recovered state $g, snapshots: $(echo $snaps)"
	[ "$nok" -ge 1 ] || bad "round $round: no snapshot survived (loop too slow?)"
	set -- $snaps
	[ $# -gt 0 ] && { e=$(python3 -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/g/.snap/$1/gen")
	[ "$e" = EROFS ] || bad "round $round: open for write in a recovered snapshot: $e"; }
	# the next round checks its own snapshots (and deletes after a crash)
	for s in $snaps; do
		"$CTL" snapshot delete "$MNT/g" "$s" || bad "round $round: delete $s"
	done
	"$CTL" sync "$MNT" || bad "mmfsctl sync"
	mmfs_umount_checked
	fsck_clean "round $round: after a crash during snapshot create/delete"
done

[ $errors = 0 ] || fail "$errors checks failed"
exit 0
