"""How long ``import dunning_rules`` takes, against a bare interpreter start in the same run.

    python bench/bench_import.py [--runs N]

Each sample is a fresh interpreter (``python -c ...``); the import's cost is the difference
between the median of ``import dunning_rules`` and the median of ``pass``. Target: <= 150 ms,
with neither stripe nor litellm imported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def sample(code: str) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bare, ours = [], []
    for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
        bare.append(sample("pass"))
        ours.append(sample("import dunning_rules"))
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dunning_rules; "
            "print(','.join(m for m in ('stripe', 'litellm', 'psycopg') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cost = (statistics.median(ours) - statistics.median(bare)) * 1000
    print(f"python -c pass                {statistics.median(bare) * 1000:7.1f} ms (median)")
    print(f"python -c 'import dunning_rules' {statistics.median(ours) * 1000:5.1f} ms (median)")
    print(f"import dunning_rules costs    {cost:7.1f} ms  (target <= 150 ms)")
    print(f"heavy modules imported: {heavy or 'none'}")
    return 0 if cost <= 150 and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
