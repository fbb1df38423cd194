#!/bin/sh
# Install dependencies, build, install and mount a volatile mmfs at
# ${MMFS_MNT:-/mnt/mm} with a DRAM budget of ${MMFS_DRAM:-25%} of RAM.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${MMFS_MNT:-/mnt/mm}
"$top/packaging/deps.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j"$(nproc)"
cmake --install "$top/build" >/dev/null
mkdir -p "$mnt"
if grep -q " $mnt fuse.mmfs " /proc/mounts; then
	echo "mmfs is already mounted at $mnt"
else
	mount -t fuse.mmfs none "$mnt" -o "dram=${MMFS_DRAM:-25%}"
fi
cat <<MSG
mmfs is mounted at $mnt (volatile: DRAM only, nothing survives unmount).
  use it:      cp -r /usr/share/doc $mnt/ && df -h $mnt && mmfsctl stat $mnt
  unmount it:  umount $mnt
MSG
