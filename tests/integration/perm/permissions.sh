#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# permissions.sh -- a root-mounted mmfs used by non-root users with ordinary
# tools (setpriv drops to uid/gid 65534 "nobody" or to 12345):
#   - nobody creates files in a 1777 directory and owns them (uid/gid);
#   - nobody cannot write root's 0644 file (EACCES) or create in root's 0755
#     directory; cannot chmod root's file (EPERM);
#   - in a sticky directory nobody cannot unlink or rename others' files;
#   - the umask is applied; group and supplementary-group access works;
#   - exec permission is honoured; root overrides DAC.
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
require_cmd setpriv stat

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }
# expect DESC CMD... -- CMD must succeed
expect() {
	local d=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$d"; else bad "$d: $(head -c 300 "$TMP/out")"; fi
}
# refuse DESC PATTERN CMD... -- CMD must fail with PATTERN in its message
refuse() {
	local d=$1 pat=$2
	shift 2
	if "$@" >"$TMP/out" 2>&1; then
		bad "$d: succeeded"
	elif grep -q "$pat" "$TMP/out"; then
		ok "$d ($pat)"
	else
		bad "$d: failed, but not with '$pat': $(head -c 300 "$TMP/out")"
	fi
}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
user2() { setpriv --reuid=12345 --regid=12345 --clear-groups -- "$@"; }
user2g() { setpriv --reuid=12345 --regid=12345 --groups=4242 -- "$@"; }
owner() { stat -c '%u:%g' "$1"; }
mode() { stat -c '%a' "$1"; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1 = $3"; else bad "$1: got '$2', expected '$3'"; fi; }

mmfs_mount dram=256M
cd "$MNT" || fail "cd"
chmod 755 "$MNT"
mkdir pub && chmod 1777 pub
mkdir priv && chmod 755 priv
echo root >pub/rootfile && chmod 644 pub/rootfile
printf '#!/bin/sh\necho ran\n' >pub/script && chmod 755 pub/script
printf '#!/bin/sh\necho ran\n' >pub/noexec && chmod 644 pub/noexec

# creating and owning
expect "nobody creates a file in a 1777 dir" nobody sh -c 'echo hi > pub/nfile'
check_eq "owner of nobody's file" "$(owner pub/nfile)" 65534:65534
expect "nobody makes a directory in a 1777 dir" nobody mkdir pub/ndir
check_eq "owner of nobody's directory" "$(owner pub/ndir)" 65534:65534
expect "nobody copies with cp" nobody cp pub/rootfile pub/ncopy
check_eq "owner of the copy" "$(owner pub/ncopy)" 65534:65534
check_eq "copy content" "$(cat pub/ncopy)" root
expect "nobody renames its own file" nobody mv pub/ncopy pub/ncopy2

# access to root's files
check_eq "nobody reads root's 0644 file" "$(nobody cat pub/rootfile 2>&1)" root
refuse "nobody appends to root's 0644 file" "Permission denied" \
	nobody sh -c 'echo x >> pub/rootfile'
refuse "nobody truncates root's 0644 file" "Permission denied" \
	nobody truncate -s 0 pub/rootfile
check_eq "root's file unchanged" "$(cat pub/rootfile)" root
refuse "nobody creates in root's 0755 dir" "Permission denied" \
	nobody touch priv/x
refuse "nobody chmods root's file" "Operation not permitted" \
	nobody chmod 666 pub/rootfile
refuse "nobody chowns its file to root" "Operation not permitted" \
	nobody chown 0 pub/nfile

# sticky directory
expect "user 12345 creates a file" user2 sh -c 'echo u > pub/ufile'
refuse "nobody unlinks 12345's file in a sticky dir" "Operation not permitted" \
	nobody rm -f pub/ufile
refuse "nobody unlinks root's file in a sticky dir" "Operation not permitted" \
	nobody rm -f pub/rootfile
refuse "nobody renames 12345's file in a sticky dir" "Operation not permitted" \
	nobody mv pub/ufile pub/stolen
refuse "nobody replaces 12345's file by rename" "Operation not permitted" \
	nobody mv -f pub/nfile pub/ufile
mkdir pub/rootdir
refuse "nobody removes root's empty dir in a sticky dir" "Operation not permitted" \
	nobody rmdir pub/rootdir
[ -e pub/ufile ] && [ -e pub/rootfile ] && ok "others' files still there" ||
	bad "a file in the sticky dir disappeared"
expect "user 12345 unlinks its own file" user2 rm pub/ufile
expect "nobody unlinks its own file" nobody rm pub/ncopy2

# umask
expect "nobody creates with umask 077" nobody sh -c 'umask 077; touch pub/u077; mkdir pub/d077'
check_eq "file mode under umask 077" "$(mode pub/u077)" 600
check_eq "dir mode under umask 077" "$(mode pub/d077)" 700
expect "nobody creates with umask 002" nobody sh -c 'umask 002; touch pub/u002; mkdir pub/d002'
check_eq "file mode under umask 002" "$(mode pub/u002)" 664
check_eq "dir mode under umask 002" "$(mode pub/d002)" 775
refuse "12345 cannot read nobody's 0600 file" "Permission denied" \
	user2 cat pub/u077
refuse "12345 cannot enter nobody's 0700 dir" "Permission denied" \
	user2 ls pub/d077/

# groups
echo g >pub/gfile && chown 0:65534 pub/gfile && chmod 660 pub/gfile
expect "nobody writes a group-writable file of its group" nobody sh -c 'echo w >> pub/gfile'
refuse "12345 cannot write the same file" "Permission denied" \
	user2 sh -c 'echo w >> pub/gfile'
echo s >pub/sfile && chown 0:4242 pub/sfile && chmod 640 pub/sfile
check_eq "12345 with supplementary group 4242 reads a 0640 root:4242 file" \
	"$(user2g cat pub/sfile 2>&1)" s
refuse "12345 without that group cannot" "Permission denied" user2 cat pub/sfile

# exec
check_eq "nobody runs a 0755 script" "$(nobody pub/script 2>&1)" ran
refuse "nobody cannot run a 0644 script" "Permission denied" nobody pub/noexec

# An unprivileged write drops setuid, and setgid on group-executables or
# when the writer is not in the file's group (current Linux; the whole
# matrix is perm/sgid.sh), through the page cache and through O_DIRECT
# alike.
nobody_write() { # FILE buffered|direct
	local flag=
	[ "$2" = direct ] && flag=oflag=direct
	nobody dd if=/dev/zero of="$1" bs=4096 count=1 conv=notrunc $flag \
		status=none
}
for how in buffered direct; do
	f=pub/suid-$how
	head -c 4096 /dev/zero >"$f" && chmod 6777 "$f"
	nobody_write "$f" $how
	check_eq "mode after a $how write by nobody to a 6777 file" \
		"$(mode "$f")" 777
	chmod 6767 "$f"
	nobody_write "$f" $how
	check_eq "mode after a $how write to a 6767 root:root file (no g+x)" \
		"$(mode "$f")" 767
	chgrp 65534 "$f" && chmod 6767 "$f"
	nobody_write "$f" $how
	check_eq "mode after a $how write to a 6767 root:nobody file" \
		"$(mode "$f")" 2767
done

# root overrides DAC on nobody's private file
check_eq "root reads nobody's 0600 file" "$(cat pub/u077)" ""
expect "root writes nobody's 0600 file" sh -c 'echo r >> pub/u077'
expect "root removes nobody's files in a sticky dir" rm -r pub/u077 pub/d077

cd / || true
is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
mmfs_umount_checked
[ $errors = 0 ] || fail "$errors permission check(s) failed"
exit 0
