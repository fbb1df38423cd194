# SPDX-License-Identifier: Apache-2.0
#
# atime.sh -- the atime rule as a test sees it; sourced after common.sh by
# the tests that compare mmfs's noatime/relatime/strictatime with tmpfs's.

# atime_trace DIR -- "U U", "U -", "- -": did each of two reads of a fresh
# file set atime? The file's atime is set far back first, so relatime
# must update at the first read and not at the second. Reads go O_DIRECT:
# a read served from the page cache never reaches a FUSE daemon.
atime_trace() {
	local f=$1/atime a0 a1 a2
	echo data >"$f"
	touch -a -d '2020-01-01 00:00:00' "$f"
	# touch set ctime: the first read must come a clock tick later (tmpfs
	# keeps coarse times, and relatime updates when atime <= ctime)
	sleep 0.1
	a0=$(stat -c %X "$f")
	dd if="$f" of=/dev/null iflag=direct bs=4096 status=none
	a1=$(stat -c %X "$f")
	sleep 1.1
	dd if="$f" of=/dev/null iflag=direct bs=4096 status=none
	a2=$(stat -c %X "$f")
	echo "$([ "$a1" != "$a0" ] && echo U || echo -)" \
		"$([ "$a2" != "$a1" ] && echo U || echo -)"
}
