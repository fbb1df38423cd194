#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# badpool.sh -- a damaged, foreign or busy pool is refused cleanly, never a
# crash:
#   - refused (daemon exit 1, one line on stderr naming the pool, nothing
#     mounted, the file not modified; `mmfsctl fsck` exits 1): a pool
#     truncated to half and to 100 bytes, an empty file, random bytes, an
#     ext4 image (or another magic), both superblocks damaged, the active
#     checkpoint damaged.  Damaged mmfs pools must say "mmfsctl fsck".
#   - 16 random bytes flipped in each region of `mmfsctl info --json` (sb0,
#     sb1, log, ckpt0, ckpt1, data) of a small populated pool, cleanly
#     unmounted or killed (-9) after fsync, MMFS_BADPOOL_SEEDS (default 2)
#     seeds: the daemon refuses (exit 1, one line) or mounts, serves a
#     walk of the whole tree and exits 0 at unmount; never a signal or a
#     hang; fsck exits 0 or 1.  One superblock copy damaged (clean pool):
#     the mount must succeed and the data be intact.
#   - hostile images (poolmut.c, every variant of each class once,
#     MMFS_HOSTILE_ROUNDS rounds): the file cut short, regions swapped, a
#     plausible but wrong superblock field with valid checksums (both
#     copies), log records with lengths past the log or that overflow, or
#     payload/seq/commit mark changed under a valid hash, the active
#     checkpoint changed or cut under a valid hash. The mount refuses (one
#     line) or serves a walk reading every file and exits 0; fsck exits 0
#     or 1; fsck --repair exits 1 or 0, and a repaired pool checks clean and
#     mounts. No signal, hang or sanitizer report. Outcomes per class are
#     printed ("# hostile CLASS: N images; mount refused K; ...").
#   - a mounted pool: a second mount is refused ("in use"), fsck exits 2.
#   - bad options: pmem_size=garbage, too small, 0; a SOURCE that is a
#     directory: exit 1, one line, no pool file created.
#
# TIMEOUT: 900
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 truncate sha256sum
require_option pmem_size
require_mmfsctl

HERE=$(cd "$(dirname "$0")" && pwd)
SEEDS=${MMFS_BADPOOL_SEEDS:-2}
OPTS=pmem_size=32M,dram=8M

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# try_mount POOL [OPTS] -- start the daemon on POOL (stdout and stderr kept
# apart) on a fresh mountpoint; sets TM (mounted|exit|hang), TM_RC, TM_MNT,
# TM_PID, TM_ERR.  A hung daemon is killed.  A mounted one stays mounted.
try_mount() {
	local pool=$1 opts=${2:-$OPTS} i
	new_mnt
	TM_MNT=$NEW_MNT
	TM_ERR="$TEST_DIR/err.$_T_NMNT"
	"$MMFS_BIN" -f "$pool" "$TM_MNT" -o "$opts" >"$TM_ERR.out" 2>"$TM_ERR" &
	TM_PID=$!
	_register_pid "$TM_PID"
	_register_mount "$TM_MNT"
	TM=hang TM_RC=
	for i in $(seq 1 150); do
		if [ "$(mount_type "$TM_MNT")" = fuse.mmfs ]; then
			TM=mounted
			return
		fi
		if ! kill -0 "$TM_PID" 2>/dev/null; then
			wait "$TM_PID"
			TM_RC=$?
			TM=exit
			_forget_pid "$TM_PID"
			return
		fi
		sleep 0.1
	done
	mmfs_kill9 "$TM_MNT" "$TM_PID"
	TM_RC=$MMFS_RC
}

# end_mount -- unmount TM_MNT; returns the daemon's exit code (254: it
# had to be killed)
end_mount() {
	local i rc
	umount_one "$TM_MNT"
	for i in $(seq 1 100); do
		kill -0 "$TM_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$TM_PID" 2>/dev/null; then
		mmfs_kill9 "$TM_MNT" "$TM_PID"
		return 254
	fi
	wait "$TM_PID"
	rc=$?
	_forget_pid "$TM_PID"
	return $rc
}

# refused WHAT POOL [NEEDLE] -- mounting POOL must be refused cleanly (and
# leave it as it was, unless NOSUM=1: it is in use by another mount)
NOSUM=0
refused() {
	local what=$1 pool=$2 needle=${3:-} sum='' lines msg
	[ "$NOSUM" = 1 ] || sum=$(sha256sum <"$pool")
	try_mount "$pool"
	lines=$(wc -l <"$TM_ERR")
	msg=$(head -n1 "$TM_ERR")
	case $TM in
	mounted)
		bad "$what: mounted (should be refused)"
		end_mount
		return ;;
	hang)
		bad "$what: daemon neither mounted nor exited in 15 s" ;;
	exit)
		if [ "$TM_RC" != 1 ]; then
			bad "$what: daemon exit $TM_RC, expected 1 ($(head -c 300 "$TM_ERR"))"
		elif [ "$lines" != 1 ] || [ -z "$msg" ]; then
			bad "$what: $lines lines on stderr, expected one: $(head -c 400 "$TM_ERR")"
		elif ! grep -qF "$(basename "$pool")" "$TM_ERR"; then
			bad "$what: message does not name the pool: $msg"
		elif [ -n "$needle" ] && ! grep -qF "$needle" "$TM_ERR"; then
			bad "$what: message lacks '$needle': $msg"
		else
			ok "$what refused: $msg"
		fi ;;
	esac
	is_mounted "$TM_MNT" && { bad "$what: $TM_MNT mounted after refusal"; umount_one "$TM_MNT"; }
	[ -z "$sum" ] || [ "$(sha256sum <"$pool")" = "$sum" ] ||
		bad "$what: the refused pool was modified"
}

# fsck_rc WHAT POOL WANT... -- mmfsctl fsck POOL must exit with one of WANT
fsck_rc() {
	local what=$1 pool=$2 rc w
	shift 2
	timeout -k 5 60 "$MMFSCTL_BIN" fsck "$pool" >"$TMP/fsck.out" 2>&1
	rc=$?
	for w in "$@"; do
		if [ "$rc" = "$w" ]; then
			ok "$what: fsck exit $rc ($(head -n1 "$TMP/fsck.out"))"
			return
		fi
	done
	bad "$what: fsck exit $rc, expected $*: $(head -c 400 "$TMP/fsck.out")"
}

# flip FILE OFF LEN COUNT SEED -- xor COUNT random bytes of [OFF, OFF+LEN)
flip() {
	python3 - "$@" <<'EOF'
import random, sys
path, off, ln, count, seed = sys.argv[1], *map(int, sys.argv[2:])
rng = random.Random(seed)
with open(path, "r+b") as f:
    for p in sorted(rng.sample(range(ln), min(count, ln))):
        f.seek(off + p)
        b = f.read(1)
        f.seek(off + p)
        f.write(bytes([b[0] ^ rng.randrange(1, 256)]))
EOF
}

# info POOL -- "name offset bytes" per region, then "key value" of scalars
info() {
	"$MMFSCTL_BIN" info "$1" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
for r in j["regions"]:
    print(r["name"], r["offset"], r["bytes"])
for k, v in j.items():
    if not isinstance(v, (list, dict)):
        print(k, str(v).lower())'
}

# region NAME -- "offset bytes" of a region of the clean pool
region() { awk -v n="$1" '$1 == n { print $2, $3 }' "$TMP/info"; }
ival() { awk -v n="$1" '$1 == n && NF == 2 { print $2 }' "$TMP/info"; }

manifest() { python3 "$HERE/manifest.py" "$1"; }

# --- a small populated pool: mkfs, fill, clean unmount -------------------
CLEAN=$TMP/clean.pool
"$MMFSCTL_BIN" mkfs --size 32M --chunk 16K "$CLEAN" >"$TMP/mkfs.out" 2>&1 ||
	fail "mmfsctl mkfs --size 32M --chunk 16K failed: $(cat "$TMP/mkfs.out")"
MMFS_SOURCE=$CLEAN
mmfs_mount "$OPTS"
mkdir -p "$MNT/a/b/c" "$MNT/x"
for i in $(seq 1 40); do
	head -c $((i * 7919 % 400000)) /dev/urandom >"$MNT/a/f$i" || fail "fill"
done
for i in $(seq 1 20); do
	echo "small $i" >"$MNT/a/b/c/s$i"
	setfattr -n user.i -v "$i" "$MNT/a/b/c/s$i" 2>/dev/null
done
ln "$MNT/a/f1" "$MNT/x/hard" && ln -s ../a/f2 "$MNT/x/sym"
truncate -s 5M "$MNT/x/sparse" && echo tail >>"$MNT/x/sparse"
manifest "$MNT" >"$TMP/clean.manifest" || fail "manifest"
log "populated: $(df -h --output=used "$MNT" | tail -1) used"
mmfs_umount_checked
fsck_rc "the populated pool" "$CLEAN" 0
info "$CLEAN" >"$TMP/info" || fail "mmfsctl info --json failed or is not JSON"
sed 's/^/# info: /' "$TMP/info"
size=$(stat -c %s "$CLEAN")
python3 - "$TMP/info" "$size" <<'EOF' || bad "mmfsctl info --json regions"
import sys
want = ["sb0", "sb1", "log", "ckpt0", "ckpt1", "data"]
rs = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
names = [r[0] for r in rs]
assert names == want, "regions %s, expected %s" % (names, want)
end = 0
for n, o, b in rs:
    o, b = int(o), int(b)
    assert o >= end and b > 0 and o + b <= int(sys.argv[2]), (n, o, b)
    end = o + b
assert rs[0][1:] == ["0", "4096"], rs[0]
EOF
[ "$(ival clean)" = true ] && ok "info: clean after unmount" || bad "info: clean is '$(ival clean)'"

# --- a dirty pool: more work, fsync, kill -9 ------------------------------
DIRTY=$TMP/dirty.pool
cp --sparse=always "$CLEAN" "$DIRTY"
MMFS_SOURCE=$DIRTY
mmfs_mount "$OPTS"
manifest "$MNT" >"$TMP/reopen.manifest" || fail "manifest"
cmp -s "$TMP/reopen.manifest" "$TMP/clean.manifest" ||
	bad "the populated pool does not read back the same after a remount"
for i in $(seq 1 15); do
	head -c $((i * 3001)) /dev/urandom >"$MNT/a/b/d$i" || fail "fill"
done
rm "$MNT/a/f3" && mv "$MNT/a/f4" "$MNT/x/f4" && chmod 600 "$MNT/a/f5" ||
	fail "rm/mv/chmod in the mount"
python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' \
	"$MNT/a/b/d1" || fail "fsync"
manifest "$MNT" >"$TMP/dirty.manifest" || fail "manifest"
mmfs_kill9 "$MNT" "$MMFS_PID" || fail "dead mount not unmounted"
info "$DIRTY" >"$TMP/dirty.info" || bad "mmfsctl info on a pool killed with -9"
[ "$(awk '$1 == "clean" { print $2 }' "$TMP/dirty.info")" = false ] &&
	ok "info: not clean after kill -9" || bad "info of the killed pool: clean is not false"

# --- refused: damaged, foreign, garbage ------------------------------------
p=$TMP/half.pool
cp --sparse=always "$CLEAN" "$p" && truncate -s $((size / 2)) "$p"
refused "pool truncated to half" "$p" "mmfsctl fsck"
fsck_rc "pool truncated to half" "$p" 1

p=$TMP/tiny.pool
head -c 100 "$CLEAN" >"$p"
refused "pool truncated to 100 bytes" "$p"
fsck_rc "pool truncated to 100 bytes" "$p" 1

p=$TMP/empty.pool
: >"$p"
refused "empty file" "$p"
fsck_rc "empty file" "$p" 1

p=$TMP/random.pool
head -c $((32 << 20)) /dev/urandom >"$p"
refused "32 MiB of random bytes" "$p"
fsck_rc "random bytes" "$p" 1

p=$TMP/ext4.pool
if command -v mkfs.ext4 >/dev/null 2>&1; then
	if ! { truncate -s 32M "$p" && mkfs.ext4 -q -F "$p" >/dev/null 2>&1; }; then
		bad "mkfs.ext4 of a 32M file failed"
	fi
	what="an ext4 image"
else
	{ printf 'XFSB\0\0\x10\0'; head -c $((32 << 20)) /dev/zero; } >"$p"
	what="a file with XFS's magic"
fi
refused "$what" "$p"
fsck_rc "$what" "$p" 1

read -r o0 _ < <(region sb0)
read -r o1 _ < <(region sb1)
p=$TMP/sbboth.pool
cp --sparse=always "$CLEAN" "$p"
flip "$p" "$o0" 64 16 1 && flip "$p" "$o1" 64 16 2
refused "both superblocks damaged" "$p" "mmfsctl fsck"
fsck_rc "both superblocks damaged" "$p" 1
p=$TMP/sbboth2.pool		# the magic intact: checksums must catch it
cp --sparse=always "$CLEAN" "$p"
flip "$p" $((o0 + 16)) 48 16 3 && flip "$p" $((o1 + 16)) 48 16 4
refused "both superblocks damaged past the magic" "$p" "mmfsctl fsck"
fsck_rc "both superblocks damaged past the magic" "$p" 1

# the active checkpoint: 16 bytes of its body (both, if info does not say
# which one is active)
act=$(ival active_checkpoint)
[ -n "$act" ] || act=$(ival active_ckpt)
clen=$(ival checkpoint_bytes)
[ -n "$clen" ] || clen=$(ival ckpt_len)
[ -n "$clen" ] && [ "$clen" -gt 0 ] 2>/dev/null || clen=4096
p=$TMP/ckpt.pool
cp --sparse=always "$CLEAN" "$p"
for c in 0 1; do
	[ -n "$act" ] && [ "$act" != "$c" ] && continue
	read -r o b < <(region ckpt$c)
	[ "$clen" -lt "$b" ] && b=$clen
	flip "$p" "$o" "$b" 16 $((10 + c))
done
refused "active checkpoint damaged${act:+ (ckpt$act)}" "$p" "mmfsctl fsck"
fsck_rc "active checkpoint damaged" "$p" 1

# --- random damage in every region ----------------------------------------
# flipcase BASE REGION SEED WHERE -- WHERE is "all" (anywhere in the
# region) or "head" (its first 64 KiB, where the log and checkpoints are);
# REGION "none" flips nothing (the baseline must mount, data intact)
flipcase() {
	local base=$1 reg=$2 seed=$3 where=$4 o b p what drc frc
	p=$TMP/flip.pool
	cp --sparse=always "$TMP/$base.pool" "$p"
	what="$base pool, 16 bytes flipped in $reg ($where, seed $seed)"
	if [ "$reg" = none ]; then
		what="$base pool, undamaged"
	else
		read -r o b < <(region "$reg")
		[ "$where" = head ] && [ "$b" -gt 65536 ] && b=65536
		flip "$p" "$o" "$b" 16 "$seed"
	fi
	try_mount "$p"
	case $TM in
	hang) bad "$what: hang (neither mounted nor exited in 15 s)" ;;
	exit)
		if [ "$TM_RC" = 1 ] && [ "$(wc -l <"$TM_ERR")" = 1 ]; then
			ok "$what: refused: $(cat "$TM_ERR")"
		else
			bad "$what: exit $TM_RC: $(head -c 400 "$TM_ERR")"
		fi ;;
	mounted)
		manifest "$TM_MNT" >"$TMP/flip.manifest" 2>"$TMP/flip.err"
		drc=0
		kill -0 "$TM_PID" 2>/dev/null || drc=dead
		end_mount || drc=$?
		if [ "$drc" != 0 ]; then
			bad "$what: mounted, but the daemon died/exited $drc while the tree was read: $(tail -5 "$TM_ERR" | tr '\n' ' ')"
		elif cmp -s "$TMP/flip.manifest" "$TMP/$base.manifest"; then
			ok "$what: mounted, data intact"
		elif [ "$reg" = none ] ||
			{ [ "$base" = clean ] && [ "${reg#sb}" != "$reg" ]; }; then
			bad "$what: must be intact, but the data differs:" \
				"$(diff "$TMP/$base.manifest" "$TMP/flip.manifest" | head -5 | tr '\n' ' ')"
		else
			ok "$what: mounted, data differs ($(diff "$TMP/$base.manifest" "$TMP/flip.manifest" | grep -c '^>') lines), no crash"
		fi ;;
	esac
	if [ "$TM" != mounted ] && { [ "$reg" = none ] ||
		{ [ "$base" = clean ] && [ "${reg#sb}" != "$reg" ]; }; }; then
		bad "$what: must mount (one superblock copy is enough)"
	fi
	timeout -k 5 60 "$MMFSCTL_BIN" fsck "$p" >"$TMP/fsck.out" 2>&1
	frc=$?
	case $frc in
	0 | 1) ;;
	*) bad "$what: fsck exit $frc: $(head -c 300 "$TMP/fsck.out")" ;;
	esac
}

flipcase clean none 0 -
flipcase dirty none 0 -
for base in clean dirty; do
	for reg in sb0 sb1 log ckpt0 ckpt1 data; do
		for ((s = 1; s <= SEEDS; s++)); do
			where=all
			[ $((s % 2)) = 1 ] && where=head
			flipcase "$base" "$reg" "$s" "$where"
		done
	done
done

# --- hostile images: poolmut.c's classes, each answered by mount and fsck --
# hostcase BASE CLASS SEED -- one mutated image. The mount refuses it (exit
# 1, one line) or mounts and serves a walk that reads every file, then
# exits 0 at unmount; fsck exits 0 or 1; fsck --repair exits 0 (and the
# pool then checks clean and mounts) or 1 (it refuses). Never a signal, a
# hang or a sanitizer report. Outcomes are tallied per class in $TMP/tally.
MUT=$(helper poolmut)
: >"$TMP/tally"
san() { grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$@"; }
hostcase() {
	local base=$1 cls=$2 seed=$3 p=$TMP/host.pool what desc m f r drc
	cp --sparse=always "$TMP/$base.pool" "$p"
	if ! desc=$("$MUT" "$p" "$cls" "$seed" 2>&1); then
		bad "poolmut $base $cls $seed: $desc"
		return
	fi
	what="$base pool, $desc (seed $seed)"
	try_mount "$p"
	case $TM in
	hang) m=hang; bad "$what: hang (neither mounted nor exited in 15 s)" ;;
	exit)
		m=refused
		if [ "$TM_RC" != 1 ] || [ "$(wc -l <"$TM_ERR")" != 1 ]; then
			m=crash
			bad "$what: exit $TM_RC: $(head -c 400 "$TM_ERR")"
		fi ;;
	mounted)
		m=mounted drc=0
		timeout -k 5 120 find "$TM_MNT" -type f -exec cat {} + \
			>/dev/null 2>"$TMP/walk.err"
		ls -lR "$TM_MNT" >/dev/null 2>>"$TMP/walk.err"
		kill -0 "$TM_PID" 2>/dev/null || drc=dead
		end_mount || drc=$?
		if [ "$drc" != 0 ] || san "$TM_ERR"; then
			m=crash
			bad "$what: mounted, then the daemon died/exited $drc: $(tail -5 "$TM_ERR" | tr '\n' ' ')"
		fi ;;
	esac
	timeout -k 5 60 "$MMFSCTL_BIN" fsck "$p" >"$TMP/fsck.out" 2>&1
	f=$?
	case $f in
	0) f=clean ;;
	1) f=findings ;;
	*) f=crash ;;
	esac
	san "$TMP/fsck.out" && f=crash
	[ $f = crash ] && bad "$what: fsck: $(head -c 300 "$TMP/fsck.out")"
	timeout -k 5 60 "$MMFSCTL_BIN" fsck --repair "$p" >"$TMP/repair.out" 2>&1
	r=$?
	san "$TMP/repair.out" && r=san
	case $r in
	0)
		r=repaired
		if ! timeout -k 5 60 "$MMFSCTL_BIN" fsck "$p" >"$TMP/fsck2.out" 2>&1; then
			r=crash
			bad "$what: repaired, but fsck then says: $(head -c 300 "$TMP/fsck2.out")"
		else
			try_mount "$p"
			if [ "$TM" != mounted ]; then
				r=crash
				bad "$what: repaired and clean, but the mount: $TM $TM_RC $(head -c 300 "$TM_ERR")"
			elif ! end_mount; then
				r=crash
				bad "$what: the repaired pool's daemon did not exit 0"
			fi
		fi ;;
	1) r=refused ;;
	*) r=crash; bad "$what: fsck --repair exit $r: $(head -c 300 "$TMP/repair.out")" ;;
	esac
	echo "$cls $m $f $r" >>"$TMP/tally"
	[ $m != crash ] && [ $f != crash ] && [ $r != crash ] && [ $m != hang ] &&
		ok "$what: mount $m, fsck $f, repair $r"
}

# every variant of each class once (poolmut: SEED 1..N), MMFS_HOSTILE_ROUNDS
# times (later rounds: other random bytes); superblock fields on the clean
# pool only (the log does not change what they break)
ROUNDS=${MMFS_HOSTILE_ROUNDS:-1}
for ((r = 0; r < ROUNDS; r++)); do
	for v in $(seq 1 18); do hostcase clean field $((r * 18 + v)); done
	for base in clean dirty; do
		for v in 1 2 3; do hostcase "$base" trunc $((r * 3 + v)); done
		for v in 1 2 3; do hostcase "$base" ckpt $((r * 3 + v)); done
		for v in $(seq 1 5); do hostcase "$base" swap $((r * 5 + v)); done
		for v in $(seq 1 7); do hostcase "$base" record $((r * 7 + v)); done
	done
done
# the report: per class, images and each outcome's count, in a fixed order
awk '{ n[$1]++; c[$1, "mount", $2]++; c[$1, "fsck", $3]++; c[$1, "repair", $4]++ }
     END { split("mount refused mounted crash hang fsck clean findings crash " \
                 "repair repaired refused crash", w, " ");
           for (k in n) { line = "# hostile " k ": " n[k] " images;"; step = "";
             for (i = 1; i in w; i++) {
               if (w[i] == "mount" || w[i] == "fsck" || w[i] == "repair") {
                 step = w[i]; continue }
               if ((k, step, w[i]) in c)
                 line = line " " step " " w[i] " " c[k, step, w[i]] ";" }
             print line } }' "$TMP/tally" | sort
log "hostile images: $(wc -l <"$TMP/tally") tried"

# --- in use ---------------------------------------------------------------
p=$TMP/busy.pool
cp --sparse=always "$CLEAN" "$p"
MMFS_SOURCE=$p
mmfs_mount "$OPTS"
first=$MNT first_pid=$MMFS_PID
NOSUM=1 refused "a pool mounted elsewhere" "$p" "in use"
fsck_rc "a mounted pool" "$p" 2
[ -f "$first/a/f1" ] && ok "first mount still serves" || bad "first mount broken"
MNT=$first MMFS_PID=$first_pid
mmfs_umount_checked

# --- bad option values and sources ----------------------------------------
# badopt WHAT SOURCE OPTS -- exit 1, one line, nothing mounted or created
badopt() {
	local what=$1 src=$2 opts=$3 existed=0
	[ -e "$src" ] && existed=1
	try_mount "$src" "$opts"
	case $TM in
	exit)
		if [ "$TM_RC" = 1 ] && [ "$(wc -l <"$TM_ERR")" = 1 ]; then
			ok "$what: refused: $(cat "$TM_ERR")"
		else
			bad "$what: exit $TM_RC, stderr: $(head -c 300 "$TM_ERR")"
		fi ;;
	mounted) bad "$what: mounted"; end_mount ;;
	hang) bad "$what: hang" ;;
	esac
	[ $existed = 0 ] && [ -e "$src" ] && bad "$what: $src was created"
	rm -f "$src" 2>/dev/null
}

badopt "pmem_size=garbage" "$TMP/new1.pool" pmem_size=garbage,dram=8M
badopt "pmem_size=1M (too small)" "$TMP/new2.pool" pmem_size=1M,dram=8M
badopt "pmem_size=0" "$TMP/new3.pool" pmem_size=0,dram=8M
mkdir "$TMP/adir"
badopt "a directory as SOURCE" "$TMP/adir" "$OPTS"
[ -d "$TMP/adir" ] || bad "the directory SOURCE was removed"

[ $errors = 0 ] || fail "$errors bad-pool check(s) failed"
exit 0
