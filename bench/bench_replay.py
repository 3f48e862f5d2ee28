"""Replay speed and memory: 10,000 and 100,000 events on examples/smart_dunning.yaml.

    python bench/bench_replay.py [--customers 1500] [--sizes 10000,100000] [--hostile SEED]

Each size is a month from bench/gen_month.py with the same customers over more days (so the
runs in play are the same, and only the number of events grows), written as JSON Lines and
replayed from the file in a fresh process: events/s, the peak of Python allocations during
the replay (tracemalloc, a second run) and the process's peak RSS. Memory is flat when the
ratio of the peaks stays near 1 while the events grow tenfold. Target: 100,000 events well
under a minute.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_CUSTOMER_DAY = 0.225  # what gen_month.py makes, near enough, to pick the days

_CHILD = """
import json, resource, sys, time, tracemalloc
import dunning_rules as dr
from dunning_rules import replay
rules = dr.load_rules(sys.argv[1])
hostile = None if sys.argv[4] == "-" else int(sys.argv[4])
if sys.argv[3] == "trace":
    tracemalloc.start()
began = time.perf_counter()
report = replay(rules, sys.argv[2], hostile=hostile)
took = time.perf_counter() - began
peak = tracemalloc.get_traced_memory()[1] if sys.argv[3] == "trace" else None
# VmHWM is this process's own peak (ru_maxrss would carry the parent's over exec)
status = open("/proc/self/status").read()
hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if "VmHWM:" in status:
    hwm = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"events": report.events, "seconds": took, "peak": peak,
                  "rss_kb": hwm,
                  "runs": report.runs["started"], "violations": report.violation_count}))
"""


def _child(path: Path, mode: str, hostile: int | None) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(ROOT / "examples" / "smart_dunning.yaml"),
            str(path),
            mode,
            "-" if hostile is None else str(hostile),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--hostile", type=int, default=None, metavar="SEED")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gen_month

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            days = max(1, round(size / (args.customers * EVENTS_PER_CUSTOMER_DAY)))
            events, _ = gen_month.generate(7, args.customers, days)
            path = Path(folder) / f"events-{size}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for event in events:
                    handle.write(json.dumps(event, separators=(",", ":")) + "\n")
            del events
            timed = _child(path, "time", args.hostile)
            traced = _child(path, "trace", args.hostile)
            rows.append((size, days, path.stat().st_size, timed, traced))
            print(
                f"{timed['events']:>7.0f} events ({days} days, {args.customers} customers, "
                f"{path.stat().st_size / 1e6:.0f} MB): {timed['seconds']:.1f}s, "
                f"{timed['events'] / timed['seconds']:,.0f} events/s; peak traced "
                f"{traced['peak'] / 1e6:.1f} MB, peak RSS {timed['rss_kb'] / 1024:.0f} MB; "
                f"{timed['runs']:.0f} runs, {timed['violations']:.0f} violations",
                flush=True,
            )
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(
            f"events x{large[3]['events'] / small[3]['events']:.1f}: peak traced memory "
            f"x{large[4]['peak'] / small[4]['peak']:.2f}, peak RSS "
            f"x{large[3]['rss_kb'] / small[3]['rss_kb']:.2f}"
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process, which generated the events: peak RSS {own:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
