#!/bin/sh
# Install dependencies, build three times (release, ASan+UBSan,
# ThreadSanitizer) and run every test: unit (cmocka) and integration (real
# FUSE mounts) under ctest. Run as root: integration tests mount
# filesystems and switch users.
#
# The release and ASan passes run at the same time, one ctest each: most
# integration tests wait on FUSE round trips, mounts and sleeps more than
# they compute, so two of them share two cores well (CI time: about 16
# minutes for both instead of 28 one after the other). Tests labelled
# `global` change what is outside their own directory (mount(8)'s PATH)
# and run after, one pass at a time.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$top/packaging/deps.sh"

# no_skips DIR -- a test that skips is a failure unless MMFS_ALLOW_SKIP
# (test names, space-separated) names it: a broken probe or a missing
# install step must not turn a suite into "Skipped" while the run is green.
no_skips() {
	bad=
	for t in $(cat "$1"/ctest*.log | sed -n \
		's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p'); do
		case " ${MMFS_ALLOW_SKIP:-} " in
		*" $t "*) echo "skipped (allowed by MMFS_ALLOW_SKIP): $t" ;;
		*) bad="$bad $t" ;;
		esac
	done
	[ -z "$bad" ] || { echo "unexpected skips:$bad" >&2; exit 1; }
}

# release_ctest ARGS... / asan_ctest ARGS... -- one ctest of each pass.
# Sanitized daemons are slower: the ASan pass scales the long-running
# sizes down (the release pass does the full 100 power-loss crash points
# and every allocation site of fault_alloc_sites).
release_ctest() {
	(cd "$top/build" && ctest --output-on-failure --timeout 900 "$@")
}
asan_ctest() {
	(cd "$top/build-asan" &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_abort=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		MMFS_BIGDIR_N=${MMFS_BIGDIR_N_ASAN:-50000} \
		MMFS_STRESS_SECONDS=${MMFS_STRESS_SECONDS_ASAN:-10} \
		MMFS_CRASH_ITERS=${MMFS_CRASH_ITERS_ASAN:-20} \
		MMFS_FAULT_SITES=${MMFS_FAULT_SITES_ASAN:-12} \
		ctest --output-on-failure --timeout 1200 "$@")
}

echo "== builds: release, ASan+UBSan, ThreadSanitizer"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j"$jobs"
cmake -S "$top" -B "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug \
	-DMMFS_SANITIZE=ON >/dev/null
cmake --build "$top/build-asan" -j"$jobs"
cmake -S "$top" -B "$top/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DMMFS_TSAN=ON >/dev/null
cmake --build "$top/build-tsan" -j"$jobs"
rm -f "$top"/build/ctest*.log "$top"/build-asan/ctest*.log \
	"$top"/build-tsan/ctest*.log

echo "== release and ASan+UBSan passes, at once (output: each pass whole, when both are done)"
release_ctest -LE global -O ctest.log >"$top/build/ctest.out" 2>&1 &
rel=$!
asan_ctest -LE global -O ctest.log >"$top/build-asan/ctest.out" 2>&1 &
asan=$!
rrc=0 arc=0
wait $rel || rrc=$?
wait $asan || arc=$?
echo "== release pass (exit $rrc)"
cat "$top/build/ctest.out"
echo "== ASan+UBSan pass (exit $arc)"
cat "$top/build-asan/ctest.out"
[ $rrc -eq 0 ] && [ $arc -eq 0 ] || exit 1

echo "== tests labelled global, one pass at a time"
release_ctest -L global -O ctest-global.log
asan_ctest -L global -O ctest-global.log
no_skips "$top/build"
no_skips "$top/build-asan"

echo "== ThreadSanitizer pass (the race run)"
# The stress tests (label race); any report makes the daemon exit 66 and
# fails its test. tests/tsan.supp explains each suppression.
(cd "$top/build-tsan" &&
	TSAN_OPTIONS="suppressions=$top/tests/tsan.supp:history_size=7" \
	ctest --output-on-failure --timeout 900 -L race -O ctest.log)
no_skips "$top/build-tsan"
