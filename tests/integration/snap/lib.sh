# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh -- what the snapshot tests share; sourced after lib/common.sh,
# never run. ST must name snaptree.py. It owns the counted findings
# (ok/bad, errors) and the tree manifests compared across snapshots,
# remounts and crashes (manifest, same).

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# manifest ROOT NAME -- manifest of ROOT into $TMP/NAME
manifest() {
	python3 "$ST" manifest "$1" >"$TMP/$2" || fail "manifest of $1 failed"
}

# same A B WHAT -- manifests A and B must be identical
same() {
	if diff -u "$TMP/$1" "$TMP/$2" >"$TMP/diff"; then
		ok "$3"
	else
		bad "$3 ($1 -> $2):"
		head -40 "$TMP/diff" | cut -c1-300
	fi
}
