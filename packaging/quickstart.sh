#!/bin/sh
# Install dependencies, build, install and mount mmfs at ${MMFS_MNT:-/mnt/mm}
# on a persistent pool file, ${MMFS_POOL:-/var/lib/mmfs/pool} (emulated
# PMEM: any file works), created on first use with ${MMFS_POOL_SIZE}
# (default: 8G, or a quarter of the free disk space if that is less), and a
# DRAM budget of ${MMFS_DRAM:-25%} of RAM.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${MMFS_MNT:-/mnt/mm}
pool=${MMFS_POOL:-/var/lib/mmfs/pool}
"$top/packaging/deps.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j"$(nproc)"
cmake --install "$top/build" >/dev/null
mkdir -p "$mnt" "$(dirname "$pool")"
size=${MMFS_POOL_SIZE:-}
if [ -z "$size" ]; then
	free_k=$(df -Pk "$(dirname "$pool")" | awk 'NR == 2 { print $4 }')
	size_m=$((free_k / 4 / 1024))
	[ "$size_m" -gt 8192 ] && size_m=8192
	[ "$size_m" -lt 64 ] && size_m=64
	size=${size_m}M
fi
if grep -q " $mnt fuse.mmfs " /proc/mounts; then
	echo "mmfs is already mounted at $mnt"
else
	mount -t fuse.mmfs "$pool" "$mnt" \
		-o "dram=${MMFS_DRAM:-25%},pmem_size=$size"
fi
cat <<MSG
mmfs is mounted at $mnt, on the pool $pool: files survive unmount,
crashes and reboots (fsync or 'sync $mnt' makes them durable at once).
  use it:      cp -r /usr/share/doc $mnt/ && df -h $mnt && mmfsctl stat $mnt
  unmount it:  umount $mnt      (mount again: mount -t fuse.mmfs $pool $mnt)
  check it:    mmfsctl fsck $pool   (while unmounted)
MSG
