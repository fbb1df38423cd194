# SPDX-License-Identifier: Apache-2.0
#
# common.sh -- shared helpers for the mmfs integration tests.
#
# Sourced by every tests/integration/<area>/<name>.sh.  It owns the life of
# whatever a test mounts: each test gets a private $TEST_DIR (with $TMP inside),
# every mountpoint lives below it, and an EXIT trap unmounts everything the
# test mounted and waits for (or, as a last resort, kills) only the daemon PIDs
# that this test started.  It does not know anything about what a test checks.
#
# Environment:
#   MMFS_BIN          path of the mmfs daemon (CTest: $<TARGET_FILE:mmfs>)
#   MMFSCTL_BIN       path of mmfsctl (CTest: $<TARGET_FILE:mmfsctl>)
#   MMFS_HELPER_DIR   directory holding the C helpers built from this dir
#   MMFS_SOURCE       SOURCE argument mmfs_start gives the daemon (default
#                     "none", a volatile filesystem; a pool file for the
#                     persistent tests)
#   MMFS_TEST_TARGET  "mmfs" (default) or "tmpfs": with "tmpfs", mmfs_mount
#                     mounts a tmpfs stand-in, so that a test can be checked
#                     against the reference filesystem itself.
#   MMFS_TEST_KEEP    if set to 1, keep $TEST_DIR (never a mount) for debugging
#   MMFS_TEST_TIMEOUT seconds before the internal watchdog tears the mounts
#                     down (default: the script's "# TIMEOUT:" header)
#
# Exit codes: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE 77).

set -u -o pipefail

MMFS_BIN=${MMFS_BIN:-}
MMFSCTL_BIN=${MMFSCTL_BIN:-}
MMFS_TEST_TARGET=${MMFS_TEST_TARGET:-mmfs}
MMFS_SOURCE=${MMFS_SOURCE:-none}
MMFS_HELPER_DIR=${MMFS_HELPER_DIR:-$(dirname "$0")/..}
SKIP_CODE=77

_T_MOUNTS=()		# mountpoints this test mounted, in order
_T_PIDS=()		# daemon PIDs this test started
_T_NMNT=0
_T_CLEANED=0
_T_WATCHDOG=
_T_AT_EXIT=()		# commands the EXIT trap runs last (at_exit)

log() { echo "# $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit "$SKIP_CODE"; }

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# require_cmd CMD... -- every command a test uses is one packaging/deps.sh
# installs: a missing one is a broken install, a failure, not a skip
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			fail "needs $c (packaging/deps.sh installs it)"
	done
}

# require_mmfs -- the daemon must be built (CTest sets MMFS_BIN); only a
# machine without /dev/fuse skips (or the tmpfs stand-in is used)
require_mmfs() {
	[ "$MMFS_TEST_TARGET" = tmpfs ] && return 0
	[ -e /dev/fuse ] || skip "no /dev/fuse on this machine"
	[ -n "$MMFS_BIN" ] || fail "MMFS_BIN not set (daemon not built)"
	[ -x "$MMFS_BIN" ] || fail "MMFS_BIN=$MMFS_BIN is not executable"
	require_cmd fusermount3
}

# require_mmfsctl -- mmfsctl must be built (CTest sets MMFSCTL_BIN)
require_mmfsctl() {
	[ -x "${MMFSCTL_BIN:-}" ] ||
		fail "MMFSCTL_BIN='${MMFSCTL_BIN:-}' is not an executable mmfsctl"
}

# require_real_mmfs -- for mmfs-only tests that make no sense on tmpfs
require_real_mmfs() {
	[ "$MMFS_TEST_TARGET" = tmpfs ] && skip "mmfs-specific test (target is tmpfs)"
	require_mmfs
}

# mmfs_has_option NAME -- does the daemon advertise option NAME in --help?
# (always true for the tmpfs stand-in, which ignores mmfs options)
mmfs_has_option() {
	[ "$MMFS_TEST_TARGET" = tmpfs ] && return 0
	"$MMFS_BIN" --help 2>&1 | grep -q -- "$1"
}

# require_option NAME... -- the daemon must advertise each option in --help.
# A missing one is a broken build or help text, a failure: a skip here would
# turn a whole suite into "Skipped" while CI stays green.
require_option() {
	local o
	for o in "$@"; do
		mmfs_has_option "$o" ||
			fail "mmfs --help does not list $o (help text or build broken)"
	done
}

# helper NAME -- path of a C helper built from tests/integration
helper() {
	local p="$MMFS_HELPER_DIR/$1"
	[ -x "$p" ] || fail "helper $1 not found in $MMFS_HELPER_DIR (build first)"
	echo "$p"
}

# mount_type MNT -- filesystem type of MNT in /proc/mounts, empty if none
mount_type() {
	awk -v m="$1" '$2 == m { t = $3 } END { if (t != "") print t }' /proc/mounts
}

is_mounted() {
	[ -n "$(mount_type "$1")" ]
}

# new_mnt -- make a fresh, unused mountpoint below $TEST_DIR; sets NEW_MNT.
# (Not used as $(new_mnt): the counter must live in this shell.)
new_mnt() {
	_T_NMNT=$((_T_NMNT + 1))
	NEW_MNT="$TEST_DIR/mnt$_T_NMNT"
	mkdir "$NEW_MNT" || fail "mkdir $NEW_MNT"
}

_register_mount() {
	_T_MOUNTS+=("$1")
	echo "M $1" >>"$TEST_DIR/.registry"
}

_register_pid() {
	_T_PIDS+=("$1")
	echo "P $1" >>"$TEST_DIR/.registry"
}

# tmpfs_mount [OPTS] -- mount a fresh tmpfs; sets MNT
tmpfs_mount() {
	local opts=${1:-size=1G}
	new_mnt
	MNT=$NEW_MNT
	mount -t tmpfs -o "$opts" tmpfs "$MNT" || fail "mount tmpfs -o $opts"
	_register_mount "$MNT"
	MMFS_PID=
}

# _dram_to_tmpfs OPTS -- map mmfs options onto tmpfs options (stand-in mode)
_dram_to_tmpfs() {
	local o out=size=1G
	local IFS=,
	for o in $1; do
		case $o in
		dram=*) out="size=${o#dram=}" ;;
		esac
	done
	echo "$out"
}

# mmfs_start MNT OPTS -- start the daemon on MNT from $MMFS_SOURCE; sets
# MMFS_PID and MMFS_LOG; returns 1 if the daemon died before the mount
# appeared (its exit code in MMFS_RC), 2 if it did not mount within 10 s.
mmfs_start() {
	local mnt=$1 opts=$2 i
	MMFS_LOG="$TEST_DIR/mmfs.$_T_NMNT.log"
	if [ -n "$opts" ]; then
		"$MMFS_BIN" -f "$MMFS_SOURCE" "$mnt" -o "$opts" >"$MMFS_LOG" 2>&1 &
	else
		"$MMFS_BIN" -f "$MMFS_SOURCE" "$mnt" >"$MMFS_LOG" 2>&1 &
	fi
	MMFS_PID=$!
	_register_pid "$MMFS_PID"
	_register_mount "$mnt"
	for i in $(seq 1 100); do
		# fuse.mmfs, or what fsname=/subtype= made of it
		case $(mount_type "$mnt") in
		fuse | fuse.*) return 0 ;;
		esac
		if ! kill -0 "$MMFS_PID" 2>/dev/null; then
			wait "$MMFS_PID" 2>/dev/null
			MMFS_RC=$?
			return 1
		fi
		sleep 0.1
	done
	return 2
}

# mmfs_mount [OPTS] -- mount a fresh mmfs (or tmpfs stand-in); sets MNT,
# MMFS_PID (empty for tmpfs).  Fails the test if it does not come up.
mmfs_mount() {
	local opts=${1:-dram=1G}
	if [ "$MMFS_TEST_TARGET" = tmpfs ]; then
		tmpfs_mount "$(_dram_to_tmpfs "$opts")"
		return
	fi
	new_mnt
	MNT=$NEW_MNT
	local rc=0
	mmfs_start "$MNT" "$opts" || rc=$?
	case $rc in
	0) ;;
	1) cat "$MMFS_LOG" >&2
	   fail "mmfs -o $opts exited ($MMFS_RC) before mounting" ;;
	*) cat "$MMFS_LOG" >&2
	   fail "mmfs -o $opts: $MNT not a FUSE mount within 10 s" ;;
	esac
	log "mounted mmfs on $MNT (-o $opts, pid $MMFS_PID)"
}

# wait_pid PID SECS -- wait for our own child to exit; kill it if it doesn't
wait_pid() {
	local pid=$1 secs=${2:-5} i
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "WARN: daemon pid $pid did not exit after unmount; SIGTERM" >&2
		kill -TERM "$pid" 2>/dev/null
		sleep 2
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# umount_one MNT -- unmount one of our mounts (whatever type it is)
umount_one() {
	local m=$1 t
	t=$(mount_type "$m")
	[ -n "$t" ] || return 0
	case $t in
	fuse*) fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null ;;
	*) umount "$m" 2>/dev/null ;;
	esac
	if is_mounted "$m"; then
		sleep 0.5
		case $t in
		fuse*) fusermount3 -u "$m" 2>/dev/null ;;
		*) umount "$m" 2>/dev/null ;;
		esac
	fi
	if is_mounted "$m"; then
		echo "WARN: $m busy, lazy unmount" >&2
		case $t in
		fuse*) fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" ;;
		*) umount -l "$m" ;;
		esac
	fi
	! is_mounted "$m"
}

# mmfs_umount [MNT] -- unmount a mmfs mount and wait for its daemon.
# Returns 1 if the daemon had to be killed or exited non-zero.
mmfs_umount() {
	local m=${1:-$MNT} pid=${2:-${MMFS_PID:-}} rc=0 prc
	umount_one "$m" || rc=1
	if [ -n "$pid" ]; then
		local i
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			wait_pid "$pid" 1
			rc=1
		else
			wait "$pid" 2>/dev/null
			prc=$?
			if [ "$prc" != 0 ] && [ "$prc" != 127 ]; then
				echo "WARN: daemon $pid exited with $prc" >&2
				rc=1
			fi
		fi
	fi
	return $rc
}

# mmfs_umount_checked -- unmount $MNT; a daemon that does not exit 0 (a
# crash, or a sanitizer's report at exit) fails the test, with its log.
mmfs_umount_checked() {
	if ! mmfs_umount "$MNT" "$MMFS_PID"; then
		[ -f "${MMFS_LOG:-}" ] && tail -40 "$MMFS_LOG" >&2
		fail "daemon did not exit cleanly"
	fi
}

# running PID -- is PID alive? A child of ours that was killed stays a
# zombie until we reap it, and kill -0 still succeeds on a zombie.
running() {
	kill -0 "$1" 2>/dev/null || return 1
	[ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# _forget_pid PID / _forget_mount MNT -- drop from the registry (the EXIT
# trap and the watchdog): a reaped PID may be reused by someone else.
_forget_pid() {
	local p keep=()
	for p in "${_T_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_T_PIDS=("${keep[@]}")
	sed -i "/^P $1\$/d" "$TEST_DIR/.registry"
}

_forget_mount() {
	local m keep=()
	for m in "${_T_MOUNTS[@]}"; do
		[ "$m" = "$1" ] || keep+=("$m")
	done
	_T_MOUNTS=("${keep[@]}")
	grep -vxF "M $1" "$TEST_DIR/.registry" >"$TEST_DIR/.registry.new"
	mv "$TEST_DIR/.registry.new" "$TEST_DIR/.registry"
}

# mmfs_kill9 [MNT [PID]] -- crash our daemon: SIGKILL it by PID, reap it
# (exit status in MMFS_RC), lazily unmount the dead mount, and forget both.
# Returns 1 if MNT is still mounted afterwards.
mmfs_kill9() {
	local m=${1:-$MNT} pid=${2:-${MMFS_PID:-}}
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		MMFS_RC=$?
		_forget_pid "$pid"
	fi
	if is_mounted "$m"; then
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	fi
	is_mounted "$m" && return 1
	_forget_mount "$m"
	return 0
}

# sanitizer_logs -- daemons this test lets fork into the background (as
# mount(8) runs them) have no stderr: send ASan/UBSan reports to files in
# $TEST_DIR instead, for sanitizer_check
sanitizer_logs() {
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TEST_DIR/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TEST_DIR/ubsan"
}

# sanitizer_check -- fail if a background daemon left a sanitizer report
sanitizer_check() {
	local f
	for f in "$TEST_DIR"/asan.* "$TEST_DIR"/ubsan.*; do
		[ -e "$f" ] || continue
		head -40 "$f" >&2
		fail "sanitizer report from a background daemon: $f"
	done
}

# at_exit CMD... -- run CMD when the test ends, after the unmounts (for what
# a test changed outside $TEST_DIR, e.g. a helper it put on the PATH)
at_exit() {
	_T_AT_EXIT+=("$*")
}

# _cleanup -- EXIT trap: unmount everything we mounted, reap our PIDs
_cleanup() {
	local rc=$? i m p
	[ "$_T_CLEANED" = 1 ] && return
	_T_CLEANED=1
	trap - EXIT INT TERM
	cd / || true
	if [ -n "$_T_WATCHDOG" ]; then
		kill "$_T_WATCHDOG" 2>/dev/null
		wait "$_T_WATCHDOG" 2>/dev/null
	fi
	for ((i = ${#_T_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${_T_MOUNTS[$i]}
		umount_one "$m" || { echo "ERROR: could not unmount $m" >&2; rc=1; }
	done
	for p in "${_T_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && wait_pid "$p" 5
	done
	for m in "${_T_MOUNTS[@]}"; do
		if is_mounted "$m"; then
			echo "ERROR: $m still mounted" >&2
			rc=1
		fi
	done
	for m in "${_T_AT_EXIT[@]}"; do
		eval "$m" || echo "WARN: at exit: '$m' failed" >&2
	done
	if ! grep -q " $TEST_DIR/" /proc/mounts; then
		if [ "${MMFS_TEST_KEEP:-0}" = 1 ]; then
			echo "# kept $TEST_DIR" >&2
		else
			rm -rf --one-file-system "$TEST_DIR"
		fi
	fi
	exit "$rc"
}

# _watchdog SECS PARENT -- fires shortly before the CTest TIMEOUT: it lazily
# unmounts our mounts and stops our daemons (so that a test blocked inside
# the filesystem is released), then TERMs the test script.
_watchdog() {
	local secs=$1 parent=$2 kind x sp
	sleep "$secs" </dev/null >/dev/null 2>&1 &
	sp=$!
	trap 'kill $sp 2>/dev/null; exit 0' TERM
	wait $sp
	trap - TERM
	echo "FAIL: internal timeout (${secs}s) -- tearing down mounts" >&2
	kill -TERM "$parent" 2>/dev/null
	sleep 3
	while read -r kind x; do
		case $kind in
		M) if is_mounted "$x"; then umount -l "$x" 2>/dev/null; fi ;;
		P) kill -TERM "$x" 2>/dev/null ;;
		esac
	done <"$TEST_DIR/.registry"
	exit 0
}

# test_init -- create the private dirs, the trap and the watchdog
test_init() {
	TEST_DIR=$(mktemp -d /tmp/mmfs-it.XXXXXX) || fail "mktemp"
	chmod 755 "$TEST_DIR"	# the non-root checks must reach the mounts
	TMP="$TEST_DIR/tmp"
	mkdir "$TMP"
	: >"$TEST_DIR/.registry"
	trap _cleanup EXIT
	trap 'exit 1' INT TERM
	local t
	t=${MMFS_TEST_TIMEOUT:-$(sed -n 's/^# TIMEOUT: *\([0-9][0-9]*\).*/\1/p' "$0" | head -n1)}
	if [ -n "$t" ] && [ "$t" -gt 10 ]; then
		_watchdog "$((t - 5))" "$$" </dev/null &
		_T_WATCHDOG=$!
	fi
	log "test $(basename "$0") target=$MMFS_TEST_TARGET dir=$TEST_DIR"
}

test_init
