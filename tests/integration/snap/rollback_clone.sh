#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# rollback_clone.sh -- what only the daemon can do with snapshots
# (`mmfsctl snapshot rollback|clone|list|schedule`), on a volatile mount:
#   - rollback round trip: snapshot "old", change the tree, snapshot "new",
#     change it again; rollback to old: DIR's manifest is old's (through
#     the kernel's caches: names and attributes it had cached are
#     invalidated); old and new are both still there and intact; rollback
#     to new: DIR is new's; a snapshot of a subdirectory goes with the
#     subdirectory the rollback replaced (documented);
#   - an fd open on a file the rollback replaced (or removed) still reads
#     what it read before;
#   - clone round trip: the clone's manifest is the snapshot's, it is
#     writable, writes to it change neither the snapshot nor DIR, making it
#     costs no chunks and df drops by exactly the chunks written to it;
#     EEXIST, EROFS into a snapshot, EINVAL for a live directory;
#   - `snapshot list --json` parses; inodes and created make sense;
#     exclusive bytes: 0 while the tree still has the file, the file's
#     chunks once DIR deleted it; `mmfsctl stat --json` snapshots and
#     snap_bytes move by exactly that;
#   - schedule --every 2s --keep 3: after ~9 s exactly 3 @GMT- snapshots,
#     names in time order, a snapshot of another name left alone; list
#     shows the schedule; --off stops it.
#
# TIMEOUT: 90
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_mmfsctl
require_cmd python3 setfacl diff stat

HERE=$(cd "$(dirname "$0")" && pwd)
ST=$HERE/snaptree.py
CTL=$MMFSCTL_BIN
CHUNK=65536

. "$(dirname "$0")/lib.sh"

free_bytes() {
	python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_bfree * s.f_frsize)' "$MNT"
}

# stat_field NAME -- a field of `mmfsctl stat --json`
stat_field() {
	"$CTL" stat --json "$MNT" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# excl DIR NAME -- exclusive bytes of DIR/.snap/NAME (snapshot list --json)
excl() {
	"$CTL" snapshot list "$1" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([s["exclusive_bytes"] for s in j["snapshots"] if s["name"] == sys.argv[1]][0])' "$2"
}

mmfs_mount dram=512M,chunk=64K
D=$MNT/t

# --- rollback round trip ---------------------------------------------------
python3 "$ST" build "$D" "$CHUNK" >/dev/null || fail "build"
manifest "$D" warm0
manifest "$D" L0
"$CTL" snapshot create "$D" old || fail "snapshot create old"
python3 "$ST" mutate "$D" "$CHUNK" >/dev/null || fail "mutate"
manifest "$D" warm1
manifest "$D" L1
mkdir "$D/.snap/new" || fail "mkdir .snap/new"
# change it again: what the rollback has to undo
rm -rf "$D/a" "$D/mid"
printf 'replaced-by-rollback' >"$D/chunk"
printf 'gone-after-rollback' >"$D/extra"
mkdir "$D/sub/more" && echo x >"$D/sub/more/y"
chmod 700 "$D"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.top", b"third")' "$D"
mkdir "$D/sub/.snap/subsnap" || fail "mkdir sub/.snap/subsnap"
# the kernel caches these names and attributes: the rollback must drop them
stat "$D/chunk" "$D/extra" "$D/sub/more/y" >/dev/null
ls -la "$D" "$D/sub" >/dev/null
exec 7<"$D/chunk" 8<"$D/extra" 9<"$D/log"
nsnap0=$(stat_field snapshots)

"$CTL" snapshot rollback "$D" old || fail "snapshot rollback old"
manifest "$D" R0
same L0 R0 "rollback to old: DIR is the tree as old took it"
manifest "$D/.snap/old" old.1
same L0 old.1 "old is intact after the rollback to it"
manifest "$D/.snap/new" new.1
same L1 new.1 "new (taken after old) is intact after the rollback to old"
[ "$(ls "$D/.snap" | tr '\n' ' ')" = "new old " ] && ok "both snapshots are still there" ||
	bad "after the rollback .snap holds: $(ls "$D/.snap" | tr '\n' ' ')"
[ -z "$(ls "$D/sub/.snap")" ] && [ "$(stat_field snapshots)" = $((nsnap0 - 1)) ] &&
	ok "the replaced subdirectory's snapshot went with it (documented)" ||
	bad "sub/.snap after the rollback: '$(ls "$D/sub/.snap" | tr '\n' ' ')', snapshots $nsnap0 -> $(stat_field snapshots)"
# the fds still read what their files held
c7=$(python3 -c 'import os; print(os.pread(7, 100, 0).decode())')
c8=$(python3 -c 'import os; print(os.pread(8, 100, 0).decode())')
[ "$c7" = replaced-by-rollback ] && ok "an fd of a file the rollback replaced reads its old contents" ||
	bad "an fd of a replaced file reads '$c7'"
[ "$c8" = gone-after-rollback ] && ok "an fd of a file the rollback removed reads its contents" ||
	bad "an fd of a removed file reads '$c8'"
python3 -c 'import os, sys
a = os.pread(9, 1 << 20, 0)
b = open(sys.argv[1], "rb").read()
sys.exit(a != b)' "$D/.snap/new/log" &&
	ok "an fd of a file the rollback copied reads the contents it had" ||
	bad "an fd of log reads something else after the rollback"
exec 7<&- 8<&- 9<&-
[ -e "$D/extra" ] && bad "extra survived the rollback (stale kernel entry?)"
[ "$(stat -c %a "$D")" = 755 ] || bad "DIR's mode after the rollback: $(stat -c %a "$D")"

"$CTL" snapshot rollback "$D" new || fail "snapshot rollback new"
manifest "$D" R1
same L1 R1 "rollback to new: DIR is the tree as new took it"
manifest "$D/.snap/old" old.2
same L0 old.2 "old is intact after the rollback to new"
manifest "$D/.snap/new" new.2
same L1 new.2 "new is intact after the rollback to it"
"$CTL" snapshot rollback "$D" nosuch 2>"$TMP/err" && bad "rollback to a missing snapshot succeeded"
grep -q "No such file" "$TMP/err" || bad "rollback to a missing snapshot: $(cat "$TMP/err")"

# --- clone round trip -----------------------------------------------------------
manifest "$D" R1w
f0=$(free_bytes)
"$CTL" snapshot clone "$D/.snap/old" "$MNT/c1" || fail "snapshot clone"
f1=$(free_bytes)
[ "$f0" = "$f1" ] && ok "a clone costs no chunks" || bad "the clone used $((f0 - f1)) bytes of chunks"
manifest "$MNT/c1" C0
same L0 C0 "the clone's manifest is the snapshot's"
[ "$(stat -c %i "$MNT/c1/hl1")" != "$(stat -c %i "$D/.snap/old/hl1")" ] &&
	[ "$(stat -c %i "$MNT/c1/hl1")" = "$(stat -c %i "$MNT/c1/sub/hl2")" ] &&
	ok "the clone has its own inodes, hard links kept" || bad "clone inode numbers"
# writable: write 3 new chunks and overwrite 2 shared ones
python3 - "$MNT/c1" "$CHUNK" <<'EOF' || bad "writing to the clone failed"
import os, sys
c, ch = sys.argv[1], int(sys.argv[2])
with open(os.path.join(c, "newfile"), "wb") as f:
    f.write(b"n" * (3 * ch))
fd = os.open(os.path.join(c, "big"), os.O_WRONLY)
os.pwrite(fd, b"o" * (2 * ch), 0)
os.close(fd)
os.chmod(os.path.join(c, "mid"), 0o604)
os.unlink(os.path.join(c, "small"))
os.mkdir(os.path.join(c, "a", "newdir"))
os.setxattr(os.path.join(c, "a"), "user.dir", b"clone")
os.rename(os.path.join(c, "hl1"), os.path.join(c, "hl1.moved"))
EOF
f2=$(free_bytes)
[ $((f1 - f2)) = $((5 * CHUNK)) ] && ok "df dropped by the 5 chunks written to the clone" ||
	bad "writing 5 chunks to the clone used $((f1 - f2)) bytes"
manifest "$D/.snap/old" old.3
same L0 old.3 "writes to the clone leave the snapshot alone"
manifest "$D" R1b
same R1w R1b "writes to the clone leave DIR alone"
"$CTL" snapshot clone "$D/.snap/old" "$MNT/c1" 2>"$TMP/err" && bad "a clone over an existing name succeeded"
grep -q "File exists" "$TMP/err" && ok "clone onto an existing name: EEXIST" || bad "clone onto c1: $(cat "$TMP/err")"
"$CTL" snapshot clone "$D/.snap/old" "$D/.snap/new/a/c2" 2>"$TMP/err" && bad "a clone into a snapshot succeeded"
grep -q "Read-only file system" "$TMP/err" && ok "clone into a snapshot: EROFS" || bad "clone into a snapshot: $(cat "$TMP/err")"
"$CTL" snapshot clone "$D" "$MNT/c3" 2>"$TMP/err" && bad "a clone of a live directory succeeded"
grep -q "Invalid argument" "$TMP/err" && ok "clone of a live directory: EINVAL" || bad "clone of a live directory: $(cat "$TMP/err")"
[ -e "$MNT/c3" ] && bad "a failed clone left c3"
rm -rf "$MNT/c1" || bad "rm -rf of the clone failed"
manifest "$D/.snap/old" old.4
same L0 old.4 "removing the clone leaves the snapshot alone"

# --- list --json, exclusive bytes, stat ------------------------------------
"$CTL" snapshot list "$D" --json >"$TMP/list.json" || fail "snapshot list --json"
python3 - "$TMP/list.json" "$D" <<'EOF' && ok "snapshot list --json parses, names, times and inode counts make sense" || bad "snapshot list --json: $(cat "$TMP/list.json")"
import json, os, sys, time
j = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert j["dir"] == d and j["schedule"] is None, j
names = [s["name"] for s in j["snapshots"]]
assert names == ["new", "old"], names
now = time.time()
for s in j["snapshots"]:
    assert now - 120 < s["created_epoch"] <= now + 1, s
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(s["created_epoch"])) == s["created"], s
    root = os.path.join(d, ".snap", s["name"])
    inos = {os.lstat(root).st_ino}
    for p, ds, fs in os.walk(root):
        for n in ds + fs:
            inos.add(os.lstat(os.path.join(p, n)).st_ino)
    assert s["inodes"] == len(inos), (s, len(inos))
    assert s["exclusive_bytes"] % 65536 == 0, s
EOF
X=$MNT/x
mkdir "$X" || fail "mkdir"
python3 -c 'import sys; open(sys.argv[1], "wb").write(b"z" * (10 * 65536))' "$X/ten" || fail "write"
echo small >"$X/keep"
"$CTL" snapshot create "$X" xs || fail "snapshot create xs"
sb0=$(stat_field snap_bytes)
e0=$(excl "$X" xs)
[ "$e0" = 0 ] && ok "a snapshot of an unchanged tree holds nothing exclusively" ||
	bad "exclusive bytes of an unchanged tree's snapshot: $e0"
rm "$X/ten"
e1=$(excl "$X" xs)
sb1=$(stat_field snap_bytes)
[ "$e1" = $((10 * CHUNK)) ] && ok "a file deleted in DIR is the snapshot's exclusively ($e1 bytes)" ||
	bad "exclusive bytes after deleting a 10-chunk file: $e1, want $((10 * CHUNK))"
[ $((sb1 - sb0)) = $((10 * CHUNK)) ] && ok "mmfsctl stat: snap_bytes grew by the file's chunks" ||
	bad "snap_bytes $sb0 -> $sb1, want +$((10 * CHUNK))"
n0=$(stat_field snapshots)
f0=$(free_bytes)
"$CTL" snapshot delete "$X" xs || fail "snapshot delete xs"
f1=$(free_bytes)
[ $((f1 - f0)) = "$e1" ] && [ "$(stat_field snapshots)" = $((n0 - 1)) ] &&
	[ "$(stat_field snap_bytes)" = "$sb0" ] &&
	ok "snapshot delete freed its exclusive bytes; stat counts one snapshot fewer" ||
	bad "delete freed $((f1 - f0)) (want $e1), snapshots $n0 -> $(stat_field snapshots), snap_bytes -> $(stat_field snap_bytes)"

# --- schedules ------------------------------------------------------------
E=$MNT/sched
mkdir "$E" && echo data >"$E/f" || fail "mkdir sched"
mkdir "$E/.snap/manual" || fail "mkdir sched/.snap/manual"
"$CTL" snapshot schedule "$E" --every 2s --keep 3 || fail "snapshot schedule"
t0=$(date +%s)
"$CTL" snapshot list "$E" | grep -q "schedule: every 2s, keep 3" &&
	ok "snapshot list shows the schedule" || bad "no schedule line: $("$CTL" snapshot list "$E")"
sleep 9
"$CTL" snapshot list "$E" --json >"$TMP/sched.json" || fail "list --json"
python3 - "$TMP/sched.json" "$t0" "$E" <<'EOF' && ok "after 9 s of --every 2s --keep 3: exactly 3 @GMT- snapshots, in time order, complete" || bad "scheduled snapshots: $(cat "$TMP/sched.json")"
import calendar, json, os, sys, time
j = json.load(open(sys.argv[1]))
t0 = int(sys.argv[2])
assert j["schedule"] == {"every_secs": 2, "keep": 3}, j["schedule"]
names = [s["name"] for s in j["snapshots"]]
assert "manual" in names, names
g = [s for s in j["snapshots"] if s["name"].startswith("@GMT-")]
assert len(g) == 3, names
for s in g:
    t = calendar.timegm(time.strptime(s["name"], "@GMT-%Y.%m.%d-%H.%M.%S"))
    assert abs(t - s["created_epoch"]) <= 1, s
    assert t >= t0 - 1, (s, t0)
    try:
        assert open(os.path.join(sys.argv[3], ".snap", s["name"], "f")).read() == "data\n"
    except FileNotFoundError:
        # the schedule pruned it (keep 3) since the listing, and only that
        assert s["name"] not in os.listdir(os.path.join(sys.argv[3], ".snap")), s
by_name = [s["name"] for s in sorted(g, key=lambda s: s["name"])]
by_time = [s["name"] for s in sorted(g, key=lambda s: s["created_epoch"])]
assert by_name == by_time, (by_name, by_time)
# the newest three of a 2 s period: the oldest at most ~3 periods back
assert g and max(s["created_epoch"] for s in g) - min(s["created_epoch"] for s in g) <= 6, g
EOF
"$CTL" snapshot schedule "$E" --off || fail "schedule --off"
sleep 1 # a tick already running may still finish
before=$(ls "$E/.snap" | tr '\n' ' ')
sleep 4
after=$(ls "$E/.snap" | tr '\n' ' ')
[ "$before" = "$after" ] && ok "--off stops the schedule" || bad "after --off: '$before' -> '$after'"
"$CTL" snapshot list "$E" --json | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["schedule"] is not None)' &&
	ok "list --json: schedule null after --off" || bad "the schedule is still listed after --off"
"$CTL" snapshot schedule "$E" --every 0s --keep 3 2>/dev/null && bad "--every 0s accepted"
"$CTL" snapshot schedule "$E" --every 2s 2>/dev/null && bad "--every without --keep accepted"

is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
mmfs_umount_checked
[ $errors = 0 ] || fail "$errors checks failed"
exit 0
