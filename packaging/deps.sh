#!/bin/sh
# Install what mmfs needs to build, run and test on Debian 12 (run as root).
# The one list of packages: README, CI and packaging all use this script.
set -eu
PKGS="build-essential cmake pkg-config fuse3 libfuse3-dev libpmem2-dev
libnuma-dev libxxhash-dev libcmocka-dev fio attr acl python3 util-linux"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
