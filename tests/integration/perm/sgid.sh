#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sgid.sh -- which of setuid/setgid each privilege-dropping operation
# clears, as current Linux has it (fs/priv.c), with tmpfs on this kernel as
# the oracle: the same matrix runs on a tmpfs, on an mmfs, on an mmfs
# `-o direct_io` (FOPEN_DIRECT_IO: there the kernel clears nothing on a
# write and the daemon does it all) and on an mmfs `-o writeback` (whose
# WRITEs come from writeback, without the writer's credentials), and
# every line must match.
#
#   modes    6666 6766 6777 6755 2755 2745 2775 2666 4755 (file 12345:4242)
#   ops      write, write O_DIRECT, truncate, ftruncate, open(O_TRUNC),
#            fallocate (0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE),
#            copy_file_range into it, chown, chgrp, setfacl -m u:...
#   callers  the owner in the group by a supplementary group, the owner
#            in it by its fsgid, the owner outside it, root
#
# tmpfs has no ZERO_RANGE (EOPNOTSUPP, checked): there the kernel's rule
# for it is the one for every fallocate, so the expected line is tmpfs's
# PUNCH_HOLE line with "ok". A setgid directory keeps its bit on chgrp.
# Users are numeric (setpriv), so none is created.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
require_cmd setpriv setfacl stat
PRIVOP=$(helper privop) || exit 1

MODES="6666 6766 6777 6755 2755 2745 2775 2666 4755"
OPS="write dwrite truncate ftruncate otrunc falloc keep punch zero cfr chown chgrp acl"
CALLERS="supp fsgid out root"

as_supp() { setpriv --reuid=12345 --regid=12345 --groups=4242 -- "$@"; }
as_fsgid() { setpriv --reuid=12345 --regid=4242 --clear-groups -- "$@"; }
as_out() { setpriv --reuid=12345 --regid=12345 --clear-groups -- "$@"; }
as_root() { "$@"; }

# run_op CALLER OP FILE SRC -- prints ok or the error
run_op() {
	local c=$1 op=$2 f=$3 src=$4
	case $op in
	chown) as_$c chown 12345 "$f" >/dev/null 2>&1 && echo ok || echo EPERM ;;
	chgrp) as_$c chgrp 12345 "$f" >/dev/null 2>&1 && echo ok || echo EPERM ;;
	acl) as_$c setfacl -m u:65534:r "$f" >/dev/null 2>&1 && echo ok ||
		echo EPERM ;;
	*) as_$c "$PRIVOP" "$op" "$f" "$src" ;;
	esac
}

# matrix DIR OUT -- one line per case: mode op caller result new-mode
matrix() {
	local d=$1 out=$2 m op c f r
	mkdir "$d/m" && chmod 755 "$d/m" || fail "mkdir $d/m"
	head -c 8192 /dev/urandom >"$d/m/src" && chmod 644 "$d/m/src"
	: >"$out"
	for m in $MODES; do
		for op in $OPS; do
			for c in $CALLERS; do
				f=$d/m/f
				rm -f "$f"
				head -c 8192 /dev/zero >"$f" || fail "create $f"
				chown 12345:4242 "$f" && chmod "$m" "$f" ||
					fail "chmod $m $f"
				r=$(run_op "$c" "$op" "$f" "$d/m/src")
				echo "$m $op $c $r $(stat -c %a "$f")" >>"$out"
			done
		done
	done
	# a setgid directory: chgrp leaves its bits alone
	for c in $CALLERS; do
		mkdir "$d/m/dir" && chown 12345:4242 "$d/m/dir" &&
			chmod 2775 "$d/m/dir" || fail "mkdir dir"
		r=$(run_op "$c" chgrp "$d/m/dir" "")
		echo "dir-2775 chgrp $c $r $(stat -c %a "$d/m/dir")" >>"$out"
		rmdir "$d/m/dir"
	done
	rm -rf "$d/m"
}

# The four matrices run at once (each its own mount): the test is
# thousands of short processes, and that halves it on two cores.
# MMFS_SGID_OPTS: the mmfs variants (the ASan pass runs direct_io alone,
# where the daemon itself drops every bit).
OPTS=${MMFS_SGID_OPTS:-dram=256M dram=256M,direct_io dram=256M,writeback}
tmpfs_mount size=64M
mnts=("$MNT") pids=("")
for opts in $OPTS; do
	mmfs_mount "$opts"
	mnts+=("$MNT")
	pids+=("$MMFS_PID")
done
jobs=()
for i in "${!mnts[@]}"; do
	matrix "${mnts[$i]}" "$TMP/m$i.txt" &
	jobs+=($!)
done
for j in "${jobs[@]}"; do
	wait "$j" || fail "a matrix failed"
done
mv "$TMP/m0.txt" "$TMP/tmpfs.txt"
n=$(wc -l <"$TMP/tmpfs.txt")
log "tmpfs: $n cases"
grep -q ' zero .* ok ' "$TMP/tmpfs.txt" &&
	log "tmpfs has ZERO_RANGE here: compared as is"
# Expected: tmpfs, with its EOPNOTSUPP ZERO_RANGE lines replaced by what the
# kernel's rule gives every fallocate (its PUNCH_HOLE line).
awk '$2 == "punch" { p[$1 " " $3] = $5 }
     $2 == "zero" && $4 == "EOPNOTSUPP" { $4 = "ok"; $5 = p[$1 " " $3] }
     { print }' "$TMP/tmpfs.txt" >"$TMP/expected.txt"
# The oracle itself must show the rule of current Linux (else the kernel
# is older than the rule this test is about): an outsider's write drops
# setgid from a 2745 file, an ACL set by an outsider drops it from 6666.
grep -qx '2745 write out ok 745' "$TMP/expected.txt" ||
	fail "tmpfs keeps setgid on an outsider's write: kernel too old?"
grep -qx '6666 acl out ok 4666' "$TMP/expected.txt" ||
	fail "tmpfs keeps setgid on an outsider's setfacl: kernel too old?"

errors=0
i=0
for opts in $OPTS; do
	i=$((i + 1))
	MNT=${mnts[$i]} MMFS_PID=${pids[$i]}
	is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
	mmfs_umount_checked
	if diff -u "$TMP/expected.txt" "$TMP/m$i.txt" >"$TMP/diff"; then
		echo "ok - -o $opts: all $n cases as tmpfs"
	else
		echo "not ok - -o $opts differs from tmpfs (- tmpfs, + mmfs):"
		grep '^[-+][0-9d]' "$TMP/diff"
		errors=$((errors + 1))
	fi
done
[ $errors = 0 ] || fail "setuid/setgid rules differ from tmpfs"
exit 0
