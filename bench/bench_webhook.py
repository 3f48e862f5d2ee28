"""Webhook latency: ``handle(event, defer=True)`` against a raw insert of the same event on the
same store, measured in the same run.

    python bench/bench_webhook.py [--events N] [--postgres URL] [--slow-step SECONDS]

For each store (a SQLite file; PostgreSQL with ``--postgres`` or DUNNING_RULES_TEST_POSTGRES):

- ``defer``: ``Engine.handle(event, defer=True)`` with the example rule file's rules, whose
  first steps would call a model and Slack (``--slow-step`` seconds each, default 3 s, as a
  model does): none of them runs, the endpoint only stores the event and its run;
- ``raw``: the same event written by hand in one transaction, JSON-encoded once: the event row
  and one run row holding the event;
- ``inline``: for contrast, plain ``handle(event)``, which runs the first steps (a few events
  only: each takes the slow step's time).

It prints each one's median and 99th-percentile latency and the ratio defer / raw (the cost of
planning, dedupe, cancels and markers on top of the bare write).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dunning_rules as dr

ROOT = Path(__file__).resolve().parents[1]
EVENT = ROOT / "examples" / "events" / "invoice.payment_failed.json"
RULES = ROOT / "examples" / "smart_dunning.yaml"


def events(count: int, prefix: str) -> list[dict[str, Any]]:
    base = json.loads(EVENT.read_text())
    out = []
    for number in range(count):
        event = copy.deepcopy(base)
        event["id"] = f"evt_{prefix}_{number}"
        event["data"]["object"]["id"] = f"in_{prefix}_{number}"
        out.append(event)
    return out


def slow_adapters(seconds: float) -> dict[str, Any]:
    def slow(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        time.sleep(seconds)
        return {"text": "Hello", "fallback": False, "id": "x", "url": "https://x.example"}

    types = {a.type for rule in dr.load_rules(RULES) for a in rule.actions}
    return {t: slow for t in types if t not in ("wait", "guard")}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_defer(url: str, count: int, slow: float) -> list[float]:
    engine = dr.Engine(
        dr.load_rules(RULES), adapters=slow_adapters(slow), store=url, lookups=_lookups()
    )
    engine.handle(events(1, "warm")[0], defer=True)
    samples = []
    for event in events(count, f"defer{uuid.uuid4().hex[:6]}"):
        began = time.perf_counter()
        engine.handle(event, defer=True)
        samples.append(time.perf_counter() - began)
    engine.close()
    return samples


def time_inline(url: str, count: int, slow: float) -> list[float]:
    engine = dr.Engine(
        dr.load_rules(RULES), adapters=slow_adapters(slow), store=url, lookups=_lookups()
    )
    samples = []
    for event in events(count, f"inline{uuid.uuid4().hex[:6]}"):
        began = time.perf_counter()
        engine.handle(event)
        samples.append(time.perf_counter() - began)
    engine.close()
    return samples


def _lookups() -> dict[str, Any]:
    return {
        "stripe.customer": lambda args, ctx: {"preferred_locales": ["en"]},
        "stripe.customer_ltv": lambda args, ctx: {"usd": 1000},
    }


def time_raw_sqlite(path: str, count: int) -> list[float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    samples = []
    for event in events(count, f"raw{uuid.uuid4().hex[:6]}"):
        began = time.perf_counter()
        text = json.dumps(event, separators=(",", ":"))
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO dunning_rules_events (id, type, created, received_at) VALUES (?, ?, ?, ?)",
            (event["id"], event["type"], event["created"], time.time()),
        )
        db.execute(
            "INSERT INTO dunning_rules_runs (id, rule, key, status, next_at, body, event)"
            " VALUES (?, 'raw', ?, 'waiting', ?, '{}', ?)",
            (uuid.uuid4().hex, event["data"]["object"]["id"], time.time(), text),
        )
        db.execute("COMMIT")
        samples.append(time.perf_counter() - began)
    db.close()
    return samples


def time_raw_postgres(url: str, count: int) -> list[float]:
    import psycopg

    samples = []
    with psycopg.connect(url, autocommit=True) as conn:
        for event in events(count, f"raw{uuid.uuid4().hex[:6]}"):
            began = time.perf_counter()
            text = json.dumps(event, separators=(",", ":"))
            with conn.transaction():
                conn.execute(
                    "INSERT INTO dunning_rules_events (id, type, created, received_at)"
                    " VALUES (%s, %s, %s, now())",
                    (event["id"], event["type"], event["created"]),
                )
                conn.execute(
                    "INSERT INTO dunning_rules_runs (id, rule, key, status, next_at, body, event)"
                    " VALUES (%s, 'raw', %s, 'waiting', now(), '{}', %s)",
                    (uuid.uuid4().hex, event["data"]["object"]["id"], text),
                )
            samples.append(time.perf_counter() - began)
    return samples


def report(name: str, defer: list[float], raw: list[float], inline: list[float]) -> None:
    d50, d99 = percentiles(defer)
    r50, r99 = percentiles(raw)
    i50, _ = percentiles(inline)
    print(f"{name}:")
    print(f"  defer=True   median {d50 * 1000:7.2f} ms   p99 {d99 * 1000:7.2f} ms")
    print(f"  raw insert   median {r50 * 1000:7.2f} ms   p99 {r99 * 1000:7.2f} ms")
    print(f"  inline       median {i50 * 1000:7.2f} ms   (runs the first steps)")
    print(f"  defer / raw  {d50 / r50:.2f}x at the median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events per measurement")
    parser.add_argument("--postgres", default=os.environ.get("DUNNING_RULES_TEST_POSTGRES"))
    parser.add_argument("--slow-step", type=float, default=3.0, help="seconds per slow step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "webhook.db")
        url = f"sqlite:///{path}"
        defer = time_defer(url, args.events, args.slow_step)
        raw = time_raw_sqlite(path, args.events)
        inline = time_inline(url, 2, args.slow_step)
        report("SQLite", defer, raw, inline)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        url = (
            f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{schema}"
        )
        try:
            defer = time_defer(url, args.events, args.slow_step)
            raw = time_raw_postgres(url, args.events)
            inline = time_inline(url, 2, args.slow_step)
            report("PostgreSQL", defer, raw, inline)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
