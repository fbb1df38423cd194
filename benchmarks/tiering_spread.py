#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tiering_spread.py -- several tiering.sh invocations side by side.

usage: tiering_spread.py RESULTS_DIR...   (each holds a metrics.csv)

For every request size, mix and mount: the ratio to dram100 of each
invocation (the mount's median IOPS over its runs to dram100's), their spread (max - min), and whether every invocation meets
issue 14's targets (dram67 >= 0.98, dram33 >= 0.93, spread <= 0.05) and
more DRAM is never measurably slower (each mount's ratio at least that of
every mount with less DRAM, within 0.02, in the same invocation). Exit 0
when all hold, 1 when one does not, 2 on bad input.
"""
import os
import statistics
import sys

TARGET = {"dram67": 0.98, "dram33": 0.93}
SPREAD = 0.05
SLACK = 0.02
ORDER = ["dram100", "dram90", "dram67", "dram33", "dram0"]


def load(path):
    """(bs, mix, mount) -> median IOPS over the runs / dram100's median."""
    runs = {}
    with open(os.path.join(path, "metrics.csv")) as f:
        for line in f:
            cells = line.rstrip("\n").split(";")
            if len(cells) < 5:
                continue
            try:
                iops = float(cells[4])
            except ValueError:
                continue
            runs.setdefault((cells[0], cells[2], cells[1]), []).append(iops)
    rows = {}
    for (bs, mix, m), xs in runs.items():
        ref = runs.get((bs, mix, "dram100"))
        if ref:
            rows[(bs, mix, m)] = statistics.median(xs) / statistics.median(ref)
    return rows


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        runs = [load(d) for d in sys.argv[1:]]
    except OSError as e:
        print("tiering_spread.py: %s" % e, file=sys.stderr)
        return 2
    keys = []
    for r in runs:
        keys += [k for k in r if k not in keys]
    ok = True
    print("bs;get%%;mount;%s;min;max;spread;target;verdict" %
          ";".join("inv%d" % (i + 1) for i in range(len(runs))))
    for k in keys:
        vals = [r.get(k) for r in runs]
        nums = [v for v in vals if v is not None]
        lo, hi = (min(nums), max(nums)) if nums else (None, None)
        tgt = TARGET.get(k[2])
        verdict = "-"
        if tgt is not None:
            good = (len(nums) == len(runs) and lo >= tgt and
                    hi - lo <= SPREAD)
            verdict = "ok" if good else "MISS"
            ok = ok and good
        print("%s;%s;%s;%s;%s;%s;%s;%s;%s" % (
            k[0], k[1], k[2],
            ";".join("-" if v is None else "%.3f" % v for v in vals),
            "-" if lo is None else "%.3f" % lo,
            "-" if hi is None else "%.3f" % hi,
            "-" if lo is None else "%.3f" % (hi - lo),
            "-" if tgt is None else ">=%.2f" % tgt, verdict))
    # monotone: within one invocation, more DRAM never slower
    for i, r in enumerate(runs):
        for bs, mix in sorted({(k[0], k[1]) for k in r}):
            have = [(m, r.get((bs, mix, m))) for m in ORDER
                    if r.get((bs, mix, m)) is not None]
            for a in range(len(have)):
                for b in range(a + 1, len(have)):
                    if have[a][1] < have[b][1] - SLACK:
                        ok = False
                        print("# inv%d %s get%s: %s %.3f below %s %.3f "
                              "(less DRAM)" % (i + 1, bs, mix, have[a][0],
                                               have[a][1], have[b][0],
                                               have[b][1]))
    print("# %s" % ("every target met" if ok else "targets missed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
