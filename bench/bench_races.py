"""Stress the run guarantees with real processes: N workers x M runs, slow steps, short leases,
payments racing the reminders, every failure delivered twice.

    python bench/bench_races.py --store sqlite:///tmp/races.db --workers 2 --runs 200
    python bench/bench_races.py --store postgresql://... --workers 4 --runs 1000 --json

Two webhook processes hand the same ``invoice.payment_failed`` events to ``handle(defer=True)``
(so each event arrives twice, at once), then pay a third of the invoices at random moments,
writing down when each payment's cancel had committed. Worker processes loop on ``run_due``.
Each step appends one line to a file opened with O_APPEND, from outside the engine: which run
and step, when its start check began, and when the adapter ran. One run in ten has a step that
lasts longer than two leases (the heartbeat must keep it). The counts, which must all be 0:

- ``after_cancel``: steps whose start check began after their run's cancel had committed;
- ``twice``: steps delivered more than once;
- ``lost``: runs not completed or cancelled at the end, unpaid runs missing a step, or
  invoices with no run.

``window`` reports the steps that went out after the cancel committed although their check came
first (the documented window between the check and the provider call), with the longest gap.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
EVENTS = HERE.parents[1] / "examples" / "events"

RULES = """
version: 1
rules:
  - name: remind
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    actions:
      - {type: send, n: 0}
      - {type: send, n: 1}
      - {type: send, n: 2}
"""


def invoice(number: int) -> str:
    return f"in_race_{number:06d}"


def events(runs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    failed = json.loads((EVENTS / "invoice.payment_failed.json").read_text())
    paid = json.loads((EVENTS / "invoice.paid.json").read_text())
    failures, payments = [], []
    for number in range(runs):
        event = copy.deepcopy(failed)
        event["id"], event["created"] = f"evt_fail_{number}", 1_700_000_000 + number
        event["data"]["object"]["id"] = invoice(number)
        failures.append(event)
        if number % 3 == 0:
            payment = copy.deepcopy(paid)
            payment["id"], payment["created"] = f"evt_paid_{number}", 1_700_100_000 + number
            payment["data"]["object"]["id"] = invoice(number)
            payments.append(payment)
    return failures, payments


def append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


# -- roles (child processes) --------------------------------------------------------------------


def webhook(args: argparse.Namespace) -> None:
    import dunning_rules as dr

    rng = random.Random(args.seed)
    failures, payments = events(args.runs)
    rng.shuffle(failures)
    engine = dr.Engine(dr.load_rules(RULES), adapters={"send": lambda p, c: None}, store=args.store)
    for event in failures:
        engine.handle(event, defer=True)
    rng.shuffle(payments)
    for payment in payments:
        time.sleep(rng.uniform(0, args.step_seconds * 3))
        outcome = engine.handle(payment, defer=True)
        key = payment["data"]["object"]["id"]
        if not outcome.duplicate:  # the cancel has committed: steps checked later must not run
            append(args.out / "cancels.txt", f"{key} {time.time():.6f}\n")
    engine.close()


def worker(args: argparse.Namespace) -> None:
    import datetime as dt

    import dunning_rules as dr

    checks: dict[tuple[str, int], float] = {}
    store = dr.store.open_store(args.store)

    class Timed:
        """The store, noting when each step's start check began."""

        def start_step(self, run: Any, **kwargs: Any) -> bool:
            checks[run.id, run.cursor] = time.time()
            return bool(store.start_step(run, **kwargs))

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

    rng = random.Random(args.seed)

    def send(params: dict[str, Any], ctx: Any) -> None:
        sent = time.time()
        slow = params["n"] == 1 and int(ctx.event["data"]["object"]["id"][-6:]) % 10 == 7
        checked = checks[ctx.run_id, ctx.index]
        key = ctx.event["data"]["object"]["id"]
        append(
            args.out / "deliveries.txt",
            f"{key} {ctx.run_id} {params['n']} {checked:.6f} {sent:.6f} {os.getpid()}\n",
        )
        time.sleep(args.lease_seconds * 2.5 if slow else rng.uniform(0, args.step_seconds))

    engine = dr.Engine(
        dr.load_rules(RULES),
        adapters={"send": send},
        store=Timed(),
        lease=dt.timedelta(seconds=args.lease_seconds),
    )
    stop = args.out / "stop"
    while not stop.exists():
        if not engine.run_due():
            time.sleep(0.02)
    engine.close()


# -- the conductor ------------------------------------------------------------------------------


def spawn(role: str, args: argparse.Namespace, seed: int) -> subprocess.Popen[str]:
    command = [sys.executable, str(HERE), "--role", role, "--store", args.store]
    command += ["--out", str(args.out), "--runs", str(args.runs), "--seed", str(seed)]
    command += [
        "--lease-seconds",
        str(args.lease_seconds),
        "--step-seconds",
        str(args.step_seconds),
    ]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


def count(args: argparse.Namespace) -> dict[str, Any]:
    import dunning_rules as dr

    cancels = {}
    for line in (args.out / "cancels.txt").read_text().splitlines():
        key, at = line.split()
        cancels[key] = float(at)
    deliveries = [line.split() for line in (args.out / "deliveries.txt").read_text().splitlines()]
    per_step = Counter((key, n) for key, _, n, *_ in deliveries)
    after_cancel = [d for d in deliveries if d[0] in cancels and float(d[3]) > cancels[d[0]]]
    window = [
        float(d[4]) - cancels[d[0]]
        for d in deliveries
        if d[0] in cancels and float(d[4]) > cancels[d[0]] >= float(d[3])
    ]
    store = dr.store.open_store(args.store)
    runs = store.list_runs()
    store.close()
    by_key = {run.key: run for run in runs}
    lost = [r for r in runs if r.status not in ("completed", "cancelled")]
    lost += [
        by_key[key]
        for key in by_key
        if key not in cancels and any(per_step[key, str(n)] != 1 for n in range(3))
    ]
    missing = [invoice(n) for n in range(args.runs) if invoice(n) not in by_key]
    return {
        "workers": args.workers,
        "runs": args.runs,
        "steps_sent": len(deliveries),
        "cancelled": len(cancels),
        "after_cancel": len(after_cancel),
        "twice": sum(1 for times in per_step.values() if times > 1),
        "lost": len(lost) + len(missing),
        "window": {"steps": len(window), "longest_ms": round(max(window, default=0) * 1000, 3)},
        "statuses": dict(Counter(r.status for r in runs)),
    }


def conduct(args: argparse.Namespace) -> dict[str, Any]:
    import dunning_rules as dr

    args.out = Path(args.out or tempfile.mkdtemp(prefix="dunning-races-"))
    (args.out / "deliveries.txt").touch()
    (args.out / "cancels.txt").touch()
    store = dr.store.open_store(args.store)
    store.has_event("evt_create_the_tables")
    store.close()
    began = time.monotonic()
    workers = [spawn("worker", args, 100 + i) for i in range(args.workers)]
    hooks = [spawn("webhook", args, 1), spawn("webhook", args, 2)]
    for hook in hooks:
        _, err = hook.communicate(timeout=args.timeout)
        if hook.returncode:
            raise SystemExit(f"a webhook process failed:\n{err}")
    deadline = time.monotonic() + args.timeout
    store = dr.store.open_store(args.store)
    try:
        while store.list_runs(status="waiting", limit=1) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        store.close()
    (args.out / "stop").touch()
    for proc in workers:
        _, err = proc.communicate(timeout=args.timeout)
        if proc.returncode:
            raise SystemExit(f"a worker process failed:\n{err}")
    result = count(args)
    result["seconds"] = round(time.monotonic() - began, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="sqlite:///path or postgresql://...")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--runs", type=int, default=200, help="invoices that fail")
    parser.add_argument("--lease-seconds", type=float, default=0.5, help="each run's lease")
    parser.add_argument("--step-seconds", type=float, default=0.02, help="longest plain step")
    parser.add_argument("--timeout", type=float, default=300, help="give up after (seconds)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--role", choices=["webhook", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        args.out = Path(args.out)
        (webhook if args.role == "webhook" else worker)(args)
        return
    result = conduct(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.workers} workers x {args.runs} runs on {args.store.split(':')[0]}")
    for name in ("steps_sent", "cancelled", "after_cancel", "twice", "lost", "seconds"):
        print(f"  {name:<13} {result[name]}")
    window = result["window"]
    print(f"  window        {window['steps']} steps, longest {window['longest_ms']} ms")
    print(f"  statuses      {result['statuses']}")


if __name__ == "__main__":
    main()
