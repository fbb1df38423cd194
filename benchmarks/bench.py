#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench.py -- metric extraction and summary table for benchmarks/run.sh

Owns the list of table rows each workload produces, their units and which
direction is better; run.sh owns mounting and running. Subcommands:

  bench.py rows WORKLOAD                     row names of a workload
  bench.py fio WORKLOAD KIND REP JSON        metric lines from fio JSON
  bench.py md KIND REP TXT                   metric lines from mdbench output
  bench.py fail WORKLOAD KIND REP REASON     placeholder lines (n/a, fail)
  bench.py summary METRICS SUBJECT KIND...   medians of the kinds side by
                                             side, SUBJECT's ratio to each
  bench.py table METRICS KIND...             medians of several kinds side
                                             by side, ratios to the first

Metric lines are 'kind;rep;row;unit;better;value' where better is 'hi'
(throughput: ratio = subject/other) or 'lo' (latency: ratio = other/subject),
so that a ratio > 1 always means the subject (mmfs) is better.
"""
import json
import statistics
import sys

MIB = 1024 * 1024

# workload -> [(row, unit, better, extractor key)]
ROWS = {
    "seq_write": [("seq_write", "MiB/s", "hi", "bw")],
    "seq_read_cold": [("seq_read_cold", "MiB/s", "hi", "bw")],
    "seq_read_warm": [("seq_read_warm", "MiB/s", "hi", "bw")],
    "seq_read_direct": [("seq_read_direct", "MiB/s", "hi", "bw")],
    "rand_read_direct": [
        ("rand_read_direct", "IOPS", "hi", "iops"),
        ("rand_read_direct_p50", "us", "lo", "p50"),
    ],
    "rand_write_direct": [
        ("rand_write_direct", "IOPS", "hi", "iops"),
        ("rand_write_direct_p50", "us", "lo", "p50"),
    ],
    "mmap_randrw": [("mmap_randrw", "IOPS", "hi", "iops")],
    "metadata": [
        ("md_create", "ops/s", "hi", "create"),
        ("md_stat", "ops/s", "hi", "stat"),
        ("md_unlink", "ops/s", "hi", "unlink"),
    ],
}


def fio_values(path):
    """fio_values -- bw (MiB/s), iops and p50 (us) summed over jobs/dirs"""
    with open(path) as f:
        text = f.read()
    # fio may print warnings before the JSON document
    doc = json.loads(text[text.index("{"):])
    bw = iops = 0.0
    p50 = None
    p50_ios = -1
    for job in doc["jobs"]:
        if job.get("error"):
            raise ValueError("fio job %s: error %d" % (job["jobname"],
                                                      job["error"]))
        for ddir in ("read", "write", "trim"):
            d = job.get(ddir)
            if not d or not d.get("total_ios"):
                continue
            bw += d["bw_bytes"] / MIB
            iops += d["iops"]
            # latency of the direction that did the most I/O
            pct = d.get("clat_ns", {}).get("percentile", {})
            if "50.000000" in pct and d["total_ios"] > p50_ios:
                p50 = pct["50.000000"] / 1000.0
                p50_ios = d["total_ios"]
    if iops == 0:
        raise ValueError("fio did no I/O")
    return {"bw": bw, "iops": iops, "p50": p50}


def md_values(path):
    """md_values -- ops/s per phase from mdbench output"""
    vals = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(";")
            if len(parts) == 4 and parts[0] in ("create", "stat", "unlink"):
                vals[parts[0]] = float(parts[3])
    if len(vals) != 3:
        raise ValueError("mdbench output incomplete")
    return vals


def emit(workload, kind, rep, vals):
    for row, unit, better, key in ROWS[workload]:
        v = vals.get(key) if isinstance(vals, dict) else vals
        if isinstance(v, float):
            v = "%.3f" % v
        elif v is None:
            v = "n/a"
        print(";".join([kind, rep, row, unit, better, v]))


def fmt(v, unit):
    if unit == "us":
        return "%.1f" % v
    if unit == "MiB/s" and v < 100:
        return "%.1f" % v
    return "%.0f" % v


def load(metrics):
    """load -- a metrics file: rows (row -> (unit, better)), their order,
    and vals ((row, kind) -> [values or tokens, as written])"""
    rows, order, vals = {}, [], {}
    with open(metrics) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _rep, row, unit, better, v = line.split(";")
            if row not in rows:
                rows[row] = (unit, better)
                order.append(row)
            vals.setdefault((row, kind), []).append(v)
    return rows, order, vals


def summary(metrics, subject, kinds):
    """summary -- one column of medians per kind, then SUBJECT's ratio to
    each other kind (> 1: SUBJECT is better), and a note for each median
    that left failed or n/a runs out"""
    rows, order, vals = load(metrics)
    others = [k for k in kinds if k != subject]
    print(";".join(["workload"] + kinds + ["unit"] +
                   ["%s/%s" % (subject, k) for k in others]))
    notes = []
    for row in order:
        unit, better = rows[row]
        med = {}
        cells = []
        for kind in kinds:
            got = vals.get((row, kind), [])
            nums = [float(v) for v in got if _isnum(v)]
            if nums:
                med[kind] = statistics.median(nums)
                cells.append(fmt(med[kind], unit))
                bad = sorted(set(v for v in got if not _isnum(v)))
                if bad:
                    notes.append("# %s %s: median of %d of %d runs (others: %s)"
                                 % (kind, row, len(nums), len(got),
                                    ",".join(bad)))
            else:
                cells.append(got[0] if got else "-")
        ratios = []
        for k in others:
            a, b = med.get(k, 0), med.get(subject, 0)
            if a > 0 and b > 0:
                ratios.append("%.2f" % (b / a if better == "hi" else a / b))
            else:
                ratios.append("-")
        print(";".join([row] + cells + [unit] + ratios))
    for n in notes:
        print(n)


def table(metrics, kinds):
    """table -- one column per kind (medians), then each kind's ratio to
    the first (same direction rule as summary: > 1 means better)"""
    rows, order, raw = load(metrics)
    vals = {key: [float(v) for v in got if _isnum(v)]
            for key, got in raw.items()}
    print(";".join(["workload"] + kinds + ["unit"] +
                   ["%s/%s" % (k, kinds[0]) for k in kinds[1:]]))
    for row in order:
        unit, better = rows[row]
        med = {k: statistics.median(vals[(row, k)])
               for k in kinds if vals.get((row, k))}
        cells = [fmt(med[k], unit) if k in med else "-" for k in kinds]
        ratios = []
        for k in kinds[1:]:
            a, b = med.get(kinds[0], 0), med.get(k, 0)
            if a > 0 and b > 0:
                ratios.append("%.2f" % (b / a if better == "hi" else a / b))
            else:
                ratios.append("-")
        print(";".join([row] + cells + [unit] + ratios))


def _isnum(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "rows" and len(argv) == 3:
        for row, _u, _b, _k in ROWS[argv[2]]:
            print(row)
    elif cmd == "fio" and len(argv) == 6:
        w, kind, rep, path = argv[2:]
        try:
            vals = fio_values(path)
        except (OSError, ValueError, KeyError) as e:
            print("bench.py: %s: %s" % (path, e), file=sys.stderr)
            vals = "fail"
        emit(w, kind, rep, vals)
    elif cmd == "md" and len(argv) == 5:
        kind, rep, path = argv[2:]
        try:
            vals = md_values(path)
        except (OSError, ValueError) as e:
            print("bench.py: %s: %s" % (path, e), file=sys.stderr)
            vals = "fail"
        emit("metadata", kind, rep, vals)
    elif cmd == "fail" and len(argv) == 6:
        w, kind, rep, reason = argv[2:]
        emit(w, kind, rep, reason)
    elif cmd == "summary" and len(argv) >= 5:
        summary(argv[2], argv[3], argv[4:])
    elif cmd == "table" and len(argv) >= 4:
        table(argv[2], argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
