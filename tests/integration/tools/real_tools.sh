#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# real_tools.sh -- everyday tools on mmfs, checked against their source:
#   - cp -a and tar xp (with xattrs) of a tree holding files of many sizes,
#     sparse files, hard links, symlinks, a fifo, odd modes, user xattrs and
#     nanosecond timestamps: content, metadata and link structure preserved;
#   - cp --reflink=auto (copy_file_range) clones, then diverges on write;
#   - git init/add/commit/fsck/gc (renames, fsync, mmap, many small files);
#   - fio write+verify jobs with psync and mmap engines;
#   - rm -rf leaves the filesystem empty.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
require_cmd cp tar diff find getfattr setfattr sha256sum

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# --- a source tree on the local filesystem ---------------------------------
SRC="$TMP/src"
mkdir -p "$SRC/sub/deeper" "$SRC/empty"
for s in 0 1 511 4095 4096 4097 65535 65536 65537 1000000 3000001; do
	head -c "$s" /dev/urandom >"$SRC/f$s"
done
truncate -s 10M "$SRC/sparse"
printf 'middle' | dd of="$SRC/sparse" bs=1 seek=5000000 conv=notrunc status=none
cp -r /usr/include/linux "$SRC/sub/include" 2>/dev/null || true
echo hard >"$SRC/h1"
ln "$SRC/h1" "$SRC/sub/h2"
ln -s f4096 "$SRC/link"
ln -s ../nowhere "$SRC/sub/dangling"
mkfifo "$SRC/fifo"
chmod 600 "$SRC/f1"; chmod 755 "$SRC/f511"; chmod 4755 "$SRC/f0"
chmod 1777 "$SRC/empty"; chmod 700 "$SRC/sub/deeper"
chown 65534:65534 "$SRC/f4095"
setfattr -n user.color -v blue "$SRC/f4096"
setfattr -n user.empty "$SRC/f65536"
setfattr -n user.dir -v yes "$SRC/sub"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/f65535"
touch -h -d '1999-12-31 23:59:59.5' "$SRC/link"

# describe DIR -- one line per entry: path type mode nlink size (not for
# directories, whose st_size is filesystem-specific) owner mtime (ns) link
# target, then a sha256 of each regular file and the user.* xattrs; sorted
describe() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %n %s %U:%G %T@ %l\n' |
		awk '$2 == "d" { $5 = "-" } { print }' | sort &&
		find . -type f -exec sha256sum {} + | sort -k2 &&
		getfattr -R -h -d -m '^user\.' . 2>/dev/null | grep -v '^$' |
		sed 's/^# file: \.\///' | sort)
}
describe "$SRC" >"$TMP/src.desc"

mmfs_mount dram=1G

# --- cp -a ---------------------------------------------------------------
if cp -a "$SRC" "$MNT/cpa"; then
	describe "$MNT/cpa" >"$TMP/cpa.desc"
	if diff -u "$TMP/src.desc" "$TMP/cpa.desc" >"$TMP/cpa.diff"; then
		ok "cp -a preserves content, modes, owners, links, xattrs, ns mtimes"
	else
		bad "cp -a copy differs from its source:"
		head -n 40 "$TMP/cpa.diff"
	fi
	if [ "$(stat -c %i "$MNT/cpa/h1")" = "$(stat -c %i "$MNT/cpa/sub/h2")" ]; then
		ok "cp -a keeps hard links"
	else
		bad "cp -a lost the hard link"
	fi
	# informational: allocation is per chunk, so small files cost more
	echo "# du -sk: source $(du -sk "$SRC" | cut -f1)K," \
		"copy $(du -sk "$MNT/cpa" | cut -f1)K"
else
	bad "cp -a failed"
fi

# --- tar from the source into mmfs (independent of cp) -----------------
mkdir "$MNT/tarx"
if tar -C "$SRC" --xattrs --xattrs-include='user.*' -cf - . |
	tar -C "$MNT/tarx" --xattrs --xattrs-include='user.*' -xpf -; then
	describe "$MNT/tarx" >"$TMP/tar.desc"
	# tar sets directory mtimes from the archive too; compare all
	if diff -u "$TMP/src.desc" "$TMP/tar.desc" >"$TMP/tar.diff"; then
		ok "tar c | tar xp preserves everything"
	else
		bad "tar xp result differs from its source:"
		head -n 40 "$TMP/tar.diff"
	fi
else
	bad "tar c | tar xp failed"
fi

# --- reflink-style copies ------------------------------------------------
head -c $((8 << 20)) /dev/urandom >"$MNT/big"
if cp --reflink=auto "$MNT/big" "$MNT/clone" && cmp -s "$MNT/big" "$MNT/clone"; then
	ok "cp --reflink=auto copies"
	printf 'XXXX' | dd of="$MNT/clone" bs=1 seek=70000 conv=notrunc status=none
	printf 'YYYY' | dd of="$MNT/big" bs=1 seek=140000 conv=notrunc status=none
	sync
	a=$(dd if="$MNT/big" bs=1 skip=70000 count=4 status=none)
	b=$(dd if="$MNT/clone" bs=1 skip=140000 count=4 status=none)
	if [ "$a" != XXXX ] && [ "$b" != YYYY ]; then
		ok "clone and source diverge on write"
	else
		bad "a write to one copy showed up in the other"
	fi
else
	bad "cp --reflink=auto failed or differs"
fi
if cp --reflink=always "$MNT/big" "$MNT/clone2" 2>"$TMP/err"; then
	echo "# note: cp --reflink=always succeeded"
else
	echo "# note: cp --reflink=always fails as documented for FUSE: $(head -n1 "$TMP/err")"
fi

# --- git -----------------------------------------------------------------
if command -v git >/dev/null; then
	export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
	g() { git -C "$MNT/repo" -c user.name=t -c user.email=t@t -c gc.auto=0 "$@"; }
	mkdir "$MNT/repo"
	cp -r "$SRC/sub/include" "$MNT/repo/" 2>/dev/null
	if g init -q && g add -A && g commit -q -m one &&
		sed -i 's/#define/#  define/' "$MNT/repo/include/"*.h 2>/dev/null &&
		g commit -q -a -m two && g mv include inc && g commit -q -m three &&
		g gc -q && g fsck --full --strict 2>"$TMP/fsck.err" &&
		[ "$(g rev-list --count HEAD)" = 3 ] &&
		g diff --quiet HEAD~2 HEAD~1 -- . ; [ $? = 1 ]; then
		ok "git init/add/commit/mv/gc/fsck"
	else
		bad "git workload failed: $(tail -n3 "$TMP/fsck.err" 2>/dev/null)"
	fi
fi

# --- fio verify ------------------------------------------------------------
if command -v fio >/dev/null; then
	for engine in psync mmap; do
		if fio --name=verify-$engine --directory="$MNT" --size=32M \
			--bs=4k --rw=randwrite --ioengine=$engine --verify=crc32c \
			--do_verify=1 --verify_fatal=1 --randrepeat=1 \
			--output="$TMP/fio.$engine" >/dev/null 2>&1 &&
			! grep -q 'verify.*bad\|err= *[1-9]' "$TMP/fio.$engine"; then
			ok "fio randwrite + crc32c verify ($engine)"
		else
			bad "fio verify ($engine): $(grep -i 'err\|bad' "$TMP/fio.$engine" | head -n3)"
		fi
	done
fi

# --- rm -rf ------------------------------------------------------------------
rm -rf "${MNT:?}"/* 2>"$TMP/rm.err" || bad "rm -rf: $(head -n2 "$TMP/rm.err")"
left=$(ls -A "$MNT" | wc -l)
[ "$left" = 0 ] && ok "rm -rf empties the filesystem" ||
	bad "left after rm -rf: $(ls -A "$MNT" | head)"
df -k "$MNT" | sed 's/^/# /'

is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
mmfs_umount_checked
[ $errors = 0 ] || fail "$errors tool check(s) failed"
exit 0
