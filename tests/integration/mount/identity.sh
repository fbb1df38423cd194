#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# identity.sh -- what a mount says it is, and the generic mount options:
#   1. fsname= and subtype= are the user's: /proc/mounts, findmnt (-S too)
#      and df -T show SOURCE and fuse.mmfs by default, X and "fuse" (what
#      libfuse sets) with fsname=X alone, fuse.Y with subtype=Y; a SOURCE
#      with a comma stays whole; the BDI tuning and mmfsctl work whatever
#      the type;
#   2. generic options libfuse 3.14 refuses (relatime, strictatime,
#      nodiratime, nosymfollow, lazytime, iversion, ...) and fstab words
#      (defaults, nofail, _netdev, x-*, comment=) mount; the flags that
#      /proc/mounts shows match a tmpfs mounted with the same option;
#   3. the atime rule of noatime, relatime and strictatime: reads that
#      reach the filesystem set atime as they do on tmpfs.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/atime.sh"

require_root
require_real_mmfs
require_cmd findmnt df mountpoint stat dd touch
require_mmfsctl

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# 1. identity
# identity OPTS SOURCE WANT_SRC WANT_TYPE
identity() {
	local opts=$1 src=$2 want_src=$3 want_type=$4 got dev ratio
	MMFS_SOURCE=$src mmfs_mount "$opts"
	got=$(findmnt -n -o SOURCE,FSTYPE "$MNT" | tr -s ' ')
	[ "$got" = "$want_src $want_type" ] ||
		bad "-o $opts: findmnt says '$got', want '$want_src $want_type'"
	got=$(df --output=source,fstype "$MNT" | tail -n1 | tr -s ' ' |
		sed 's/ *$//')
	[ "$got" = "$want_src $want_type" ] ||
		bad "-o $opts: df says '$got', want '$want_src $want_type'"
	findmnt -n -S "$want_src" -o TARGET | grep -qxF "$MNT" ||
		bad "-o $opts: findmnt -S '$want_src' does not find $MNT"
	dev=$(mountpoint -d "$MNT")
	ratio=$(cat "/sys/class/bdi/$dev/max_ratio" 2>/dev/null)
	[ "$ratio" = 100 ] ||
		bad "-o $opts: BDI $dev max_ratio is '$ratio', not tuned to 100"
	"$MMFSCTL_BIN" stat "$MNT" >/dev/null 2>&1 ||
		bad "-o $opts: mmfsctl stat does not know the mount"
	ok "-o $opts: $want_src $want_type (findmnt, df -T, findmnt -S, BDI, mmfsctl)"
	mmfs_umount_checked
}

identity dram=64M none none fuse.mmfs
identity dram=64M,fsname=myfs none myfs fuse
identity dram=64M,subtype=other none none fuse.other
identity dram=64M,fsname=a,subtype=b none a fuse.b
identity dram=64M,pmem_size=64M "$TEST_DIR/po,ol" "$TEST_DIR/po,ol" fuse.mmfs

# 2. generic options, against tmpfs with the same option
# flag_words LINE -- the generic flags a /proc/mounts options field shows
flag_words() {
	tr ',' '\n' <<<"$1" |
		grep -xE 'ro|noatime|relatime|nodiratime|nosymfollow|sync|dirsync' |
		tr '\n' ' '
}

opts_of() { awk -v m="$1" '$2 == m { o = $4 } END { print o }' /proc/mounts; }

for o in relatime norelatime strictatime nostrictatime noatime atime \
	nodiratime diratime nosymfollow symfollow lazytime nolazytime \
	iversion noiversion silent loud sync async dirsync ro rw defaults \
	nofail _netdev auto noauto x-systemd.automount comment=fstab \
	relatime,nodiratime,nosymfollow; do
	tmpfs_mount "size=64M,$o"
	T=$MNT
	want=$(flag_words "$(opts_of "$T")")
	mmfs_mount "dram=64M,$o"
	got=$(flag_words "$(opts_of "$MNT")")
	if [ "$got" = "$want" ]; then
		ok "-o $o mounts; flags '${got% }' as tmpfs"
	else
		bad "-o $o: flags '$got', tmpfs has '$want'"
	fi
	mmfs_umount_checked
	umount "$T" && _forget_mount "$T"
done

# 3. the atime rule (lib/atime.sh)
for o in relatime strictatime noatime; do
	tmpfs_mount "size=64M,$o"
	want=$(atime_trace "$MNT")
	umount "$MNT" && _forget_mount "$MNT"
	mmfs_mount "dram=64M,$o"
	got=$(atime_trace "$MNT")
	mmfs_umount_checked
	if [ "$got" = "$want" ]; then
		ok "-o $o: two reads set atime as on tmpfs ($got)"
	else
		bad "-o $o: two reads set atime '$got', tmpfs '$want'"
	fi
done

[ $errors = 0 ] || fail "$errors identity/option check(s) failed"
exit 0
