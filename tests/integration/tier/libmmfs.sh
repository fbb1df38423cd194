#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# libmmfs.sh -- the application library (fs/mmfs.h) and `mmfsctl top` on a
# pool mount with the tiering engine:
#   - libmmfs_check (linked to libmmfs): pins move a file's bytes out of and
#     into DRAM within a bound, get/set round-trip, directory pins pass to
#     children, heat and stat parse, and a bad fd or a tmpfs file give the
#     documented errors;
#   - `mmfsctl top MNT --count 2` prints two plain snapshots (no ANSI when
#     piped) with rates, and fails clearly on bad usage or a foreign path;
#   - the public header compiles alone (C99, C++) and together with the
#     daemon's tier/tier.h (no name clash);
#   - `cmake --install` into a temp prefix gives a working pkg-config file:
#     a tiny program builds with `pkg-config --cflags --libs mmfs` and runs.
#
# Usage: libmmfs.sh BUILD_DIR SOURCE_DIR
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

BUILD=${1:-}
SRC=${2:-}

require_root
require_real_mmfs
require_cmd cc pkg-config cmake
require_mmfsctl
[ -d "$BUILD" ] && [ -d "$SRC" ] || fail "usage: libmmfs.sh BUILD_DIR SOURCE_DIR"
require_option epoch_ms

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# A tmpfs for the "not on mmfs" checks (first: tmpfs_mount clears MMFS_PID).
tmpfs_mount size=16M
FOREIGN=$MNT
MMFS_SOURCE=$TEST_DIR/pool
mmfs_mount pmem_size=128M,dram=4M,epoch_ms=200

# 1. The library against the mount.
"$(helper libmmfs_check)" "$MNT" "$FOREIGN" 20 ||
	bad "libmmfs_check (the 'not ok' lines above)"

# 2. mmfsctl top, piped: N plain snapshots, then exit 0.
out=$("$MMFSCTL_BIN" top "$MNT" --count 2 --interval 0.3); rc=$?
echo "$out" | sed 's/^/# /'
[ $rc = 0 ] && ok "mmfsctl top --count 2: exit 0" || bad "top: rc=$rc"
[ "$(echo "$out" | grep -c '^mmfs top ')" = 2 ] &&
	ok "two snapshots" || bad "top: not two snapshots"
echo "$out" | grep -q $'\033' && bad "ANSI codes in piped output" ||
	ok "no ANSI codes when piped"
echo "$out" | grep -q '^  dram .*of 4.0M' && ok "dram line" ||
	bad "top: no dram line"
[ "$(echo "$out" | grep -c '^  tiering .*promoted')" = 2 ] &&
	ok "tiering lines" || bad "top: no tiering line"
# The first snapshot has no rates yet, the second one has.
echo "$out" | grep '^  tiering' | head -1 | grep -q -- '- promoted' &&
	echo "$out" | grep '^  tiering' | tail -1 |
	grep -Eq '[0-9.]+/s epochs' && ok "rates from the second snapshot" ||
	bad "top: rates"
[ "$(echo "$out" | grep -cE '^ +(0|1|2-3|4-7|8-15|16-31|32-63|64\+) +[0-9]+')" = 16 ] &&
	ok "heat histogram: 8 buckets a snapshot" || bad "top: heat histogram"
"$MMFSCTL_BIN" top "$MNT" --count 0 >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "top --count 0: exit 2" || bad "top --count 0: rc=$rc"
"$MMFSCTL_BIN" top >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "top without a mount: exit 2" || bad "top usage: rc=$rc"
out=$("$MMFSCTL_BIN" top "$FOREIGN" --count 1 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "not on an mmfs mount" &&
	ok "top on tmpfs: exit 1, '$out'" || bad "top on tmpfs: rc=$rc '$out'"
if command -v script >/dev/null 2>&1; then
	out=$(script -qec "$MMFSCTL_BIN top $MNT --count 1" /dev/null)
	echo "$out" | grep -q $'\033\[H\033\[2J' &&
		ok "a terminal gets the screen cleared" ||
		bad "top on a tty: no clear"
fi
mmfs_umount_checked

# 3. The public header: alone in C99 and C++, and beside tier/tier.h.
printf '#include "fs/mmfs.h"\nint main(void) { return MMFS_PLACE_DRAM; }\n' \
	>"$TMP/alone.c"
cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$SRC" -fsyntax-only \
	"$TMP/alone.c" && ok "mmfs.h: C99 -pedantic" || bad "mmfs.h in C99"
if command -v c++ >/dev/null 2>&1; then
	c++ -Wall -Wextra -Werror -I"$SRC" -fsyntax-only -x c++ "$TMP/alone.c" &&
		ok "mmfs.h: C++" || bad "mmfs.h in C++"
fi
printf '#include "tier/tier.h"\n#include "fs/mmfs.h"\nint x = MMFS_PLACE_DRAM + MMFS_TIER_DRAM + MMFS_HINT_DRAM;\n' \
	>"$TMP/both.c"
cc -Wall -Wextra -Werror -I"$SRC" -fsyntax-only "$TMP/both.c" &&
	ok "mmfs.h and tier/tier.h together" || bad "mmfs.h clashes with tier/tier.h"

# 4. Installed: pkg-config finds the library and a tiny program builds.
PREFIX=$TMP/prefix
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log" >&2; fail "cmake --install"; }
pc=$(find "$PREFIX" -name mmfs.pc)
[ -n "$pc" ] || fail "mmfs.pc not installed"
[ -f "$PREFIX/include/mmfs/mmfs.h" ] && [ -f "$PREFIX/include/mmfs/mmfs_ioctl.h" ] &&
	ok "headers in include/mmfs" || bad "headers not installed"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs mmfs) && ok "pkg-config mmfs: $flags" ||
	bad "pkg-config --cflags --libs mmfs"
# The paths are relative to the .pc file (${pcfiledir}): resolve them.
inc=$(echo "$flags" | tr ' ' '\n' | sed -n 's/^-I//p')
lib=$(echo "$flags" | tr ' ' '\n' | sed -n 's/^-L//p')
[ "$(realpath "$inc")" = "$(realpath "$PREFIX/include")" ] &&
	[ -e "$lib/libmmfs.so" ] && echo "$flags" | grep -q -- "-lmmfs" &&
	ok "flags point into the prefix" || bad "flags: $flags"
cat >"$TMP/tiny.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <mmfs/mmfs.h>

int main(int argc, char *argv[])
{
	struct mmfs_ioc_stat st;
	int fd = open(argc > 1 ? argv[1] : "/", O_RDONLY);

	/* Not on mmfs: the documented error. */
	return mmfs_stat(fd, &st) == -ENOTTY ? 0 : 1;
}
EOF
# shellcheck disable=SC2086
cc -o "$TMP/tiny" "$TMP/tiny.c" $flags && ok "a program builds with pkg-config" ||
	bad "tiny program does not build"
libdir=$(pkg-config --variable=libdir mmfs)
# An ASan build's library needs the runtime first in the program's list.
asan=$(ldd "$libdir/libmmfs.so" 2>/dev/null | awk '/libasan/ { print $3 }')
LD_LIBRARY_PATH=$libdir LD_PRELOAD=$asan "$TMP/tiny" "$FOREIGN" &&
	ok "it runs against the installed libmmfs.so.0" || bad "tiny program run"
readelf -d "$libdir/libmmfs.so" | grep -q 'SONAME.*libmmfs.so.0' &&
	ok "SONAME libmmfs.so.0" || bad "SONAME"
readelf -d "$libdir/libmmfs.so" | grep NEEDED | grep -Ev 'libc\.so|libasan|libubsan' &&
	bad "libmmfs needs more than libc" || ok "libmmfs needs libc only"

[ $errors = 0 ] || fail "$errors libmmfs check(s) failed"
exit 0
