"""Store benchmark: what durability costs, against raw SQL doing the same work, in the same run.

    python bench/bench_store.py [--quick] [--events N] [--postgres URL]

1. ``Engine.handle`` (one rule of one no-op step; the fixture event
   ``tests/fixtures/stripe/events/invoice.payment_failed.json``, its ids varied per event) on a
   SQLite file and, with ``--postgres`` or DUNNING_RULES_TEST_POSTGRES, on PostgreSQL, against
   ``raw``: a loop written by hand with sqlite3 / psycopg that runs the statements the store
   runs for that event (the duplicate check; the event and its runs in one transaction; each
   step's start check; the step's save), in the same transactions, with the same pragmas and
   the same serialisation (the event's JSON text and each run body encoded alike; checked at
   the start: both write the same rows). CPU time, contenders interleaved
   (``bench/_measure.py``); the ratio is raw's CPU time over handle's (median of 5, spread).
   Goal on SQLite: >= 0.85x.
2. The same with 100 rules that all match (one no-op step each) and a 206 KB invoice (the
   fixture with line items added): ms per event (goal on SQLite: <= 15 ms), and per event the
   bytes of the statements' parameters, how many of them hold the event's JSON (goal: 1), and
   the bytes appended to SQLite's WAL (PostgreSQL: the growth of the tables).
3. PostgreSQL: ``run_due`` over the same runs with 1 and with 4 worker processes: steps per
   second and the scaling.
4. Memory: N events (default 100,000) through SQLite; RSS growth must stay under 50 MB.

Beside 1, the floor: raw again, raw on a connection that runs nothing (its Python alone) and
``handle`` on a store that only encodes the run bodies (the engine alone, no store layer). The
SQL's time (raw less its Python) plus the engine alone is the least ``handle`` on SQLite could
take if its store layer cost nothing; raw over that is the best ratio this engine allows.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _measure import Contender, Result, compare, print_table
from _store_raw import (
    ENCODE_EVENT,
    START,
    NoSQL,
    RawPostgres,
    RawSQLite,
    Tally,
    TallySQLite,
    encoding_only_store,
    noop,
    tally_postgres,
)

import dunning_rules as dr
from dunning_rules.store.postgres import PostgresStore
from dunning_rules.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
EVENT = ROOT / "tests" / "fixtures" / "stripe" / "events" / "invoice.payment_failed.json"
BIG_INVOICE = 206_000  # bytes of the large invoice's JSON

WORKER_RULES = """
version: 1
rules:
  - name: three-steps
    on: invoice.payment_failed
    actions:
      - {type: wait, duration: 1m}
      - {type: noop, n: 1}
      - {type: noop, n: 2}
      - {type: noop, n: 3}
"""


def rules_text(count: int) -> str:
    """``count`` rules that all match an ``invoice.payment_failed``, one no-op step each."""
    names = ["notify"] if count == 1 else [f"notify-{i}" for i in range(count)]
    return "version: 1\nrules:\n" + "".join(
        f"  - name: {name}\n"
        "    on: invoice.payment_failed\n"
        "    actions:\n"
        '      - {type: noop, to: "{{ data.object.customer_email }}"}\n'
        for name in names
    )


def base_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    return event


def big_invoice(size: int = BIG_INVOICE) -> dict[str, Any]:
    """The fixture event with copies of its line item added until its JSON is ``size`` bytes."""
    event = base_event()
    invoice = event["data"]["object"]
    template = invoice["lines"]["data"][0]
    lines = invoice["lines"]["data"] = []
    length = len(ENCODE_EVENT(event))
    for number in itertools.count():
        line = copy.deepcopy(template)
        line["id"] = f"il_bench_{number:06d}"
        lines.append(line)
        length += len(ENCODE_EVENT(line)) + (1 if number else 0)
        if length >= size:
            return event
    raise AssertionError("unreachable")


class Events:
    """New events from one template: new ids each time (the event's and the invoice's), the
    rest shared, so making one costs next to nothing beside handling it."""

    def __init__(self, template: dict[str, Any], prefix: str) -> None:
        self.template = template
        self.prefix = prefix
        self.numbers = itertools.count()

    def __call__(self) -> dict[str, Any]:
        number = next(self.numbers)
        data = self.template["data"]
        invoice = {**data["object"], "id": f"in_{self.prefix}_{number}"}
        return {
            **self.template,
            "id": f"evt_{self.prefix}_{number}",
            "data": {**data, "object": invoice},
        }


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- where the contenders write --------------------------------------------------------------


class Place:
    """One store kind for one measurement: a SQLite folder, or PostgreSQL schemas."""

    def __init__(self, kind: str, folder: str, postgres: str | None) -> None:
        self.kind = kind
        self.folder = folder
        self.postgres = postgres
        self.schemas: list[str] = []

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return os.path.join(self.folder, f"{name}_{uuid.uuid4().hex[:8]}.db")
        import psycopg

        assert self.postgres is not None
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return (
            f"{self.postgres}{'&' if '?' in self.postgres else '?'}options=-csearch_path%3D{schema}"
        )

    def store(self, url: str) -> SQLiteStore | PostgresStore:
        return SQLiteStore(url) if self.kind == "sqlite" else PostgresStore(url)

    def raw(self, url: str, rules: dr.RuleSet) -> RawSQLite | RawPostgres:
        return RawSQLite(url, rules) if self.kind == "sqlite" else RawPostgres(url, rules)

    def drop(self) -> None:
        if not self.schemas:
            return
        import psycopg

        assert self.postgres is not None
        with psycopg.connect(self.postgres, autocommit=True) as admin:
            for schema in self.schemas:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def places(folder: str, postgres: str | None) -> list[Place]:
    found = [Place("sqlite", folder, None)]
    if postgres:
        found.append(Place("postgres", folder, postgres))
    return found


def engine(rules: dr.RuleSet, store: Any) -> dr.Engine:
    return dr.Engine(rules, adapters={"noop": noop}, store=store, clock=lambda: START)


def rows_written(place: Place, url: str) -> list[tuple[Any, ...]]:
    """The run rows and event rows of a store, ids and owners aside (they differ by design)."""
    runs_sql = (
        "SELECT rule, key, status, next_at, lease_until, body, event, epoch, cursor, event_id"
        " FROM dunning_rules_runs ORDER BY rule"
    )
    events_sql = "SELECT id, type, created, received_at, body FROM dunning_rules_events ORDER BY id"
    if place.kind == "sqlite":
        with sqlite3.connect(url) as db:
            runs, events = db.execute(runs_sql).fetchall(), db.execute(events_sql).fetchall()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            runs, events = conn.execute(runs_sql).fetchall(), conn.execute(events_sql).fetchall()
    out = []
    for row in runs:
        body = json.loads(row[5])
        body.pop("id")
        out.append((*row[:5], body, *row[6:]))
    return out + [tuple(row) for row in events]


def check_same_rows(place: Place, rules: dr.RuleSet, template: dict[str, Any]) -> bool:
    """Raw and handle, given the same event, write the same rows."""
    urls = [place.url("check_engine"), place.url("check_raw")]
    event = Events(template, "check")()
    handler = engine(rules, place.store(urls[0]))
    handler.handle(copy.deepcopy(event))
    handler.close()
    raw = place.raw(urls[1], rules)
    raw.handle(copy.deepcopy(event))
    raw.close()
    return rows_written(place, urls[0]) == rows_written(place, urls[1])


# -- 1 and 2: handle against raw -------------------------------------------------------------


def contenders(
    found: Sequence[Place], rules: dr.RuleSet, template: dict[str, Any], per_call: int
) -> tuple[list[Contender], list[Callable[[], None]]]:
    made, closers = [], []
    for place in found:
        handler = engine(rules, place.store(place.url("handle")))
        raw = place.raw(place.url("raw"), rules)
        closers += [handler.close, raw.close]
        handle_events, raw_events = Events(template, "h"), Events(template, "r")

        def run_handle(handler: dr.Engine = handler, new: Events = handle_events) -> int:
            for _ in range(per_call):
                handler.handle(new())
            return per_call

        def run_raw(raw: RawSQLite | RawPostgres = raw, new: Events = raw_events) -> int:
            for _ in range(per_call):
                raw.handle(new())
            return per_call

        made += [Contender("raw", run_raw, place.kind), Contender("handle", run_handle, place.kind)]
    return made, closers


def floor_contenders(
    folder: str, rules: dr.RuleSet, template: dict[str, Any], per_call: int
) -> list[Contender]:
    """The least ``handle`` on SQLite could cost, measured beside it: ``raw`` again; ``raw,
    no SQL`` (raw on a connection that runs nothing: its Python alone); ``handle, no store``
    (handle on a store that only encodes the run bodies: the engine alone)."""
    made: list[Contender] = []
    for name, run in (
        ("raw", RawSQLite(os.path.join(folder, "floor_raw.db"), rules).handle),
        ("raw, no SQL", no_sql_raw(folder, rules).handle),
        ("handle, no store", engine(rules, encoding_only_store()).handle),
    ):
        events = Events(template, f"floor{len(made)}")

        def batch(run: Callable[[dict[str, Any]], Any] = run, new: Events = events) -> int:
            for _ in range(per_call):
                run(new())
            return per_call

        made.append(Contender(name, batch, "floor"))
    return made


def no_sql_raw(folder: str, rules: dr.RuleSet) -> RawSQLite:
    raw = RawSQLite(os.path.join(folder, "floor_nosql.db"), rules)
    raw.db.close()
    raw.db = NoSQL()  # type: ignore[assignment]
    return raw


def print_floor(results: Sequence[Result], handle: Result) -> None:
    """The floor's lines: its parts, and the best ratio it allows (median over the
    repetitions, with the spread)."""
    by_name = {r.name: r for r in results if r.group == "floor"}
    raw, no_sql, engine_only = by_name["raw"], by_name["raw, no SQL"], by_name["handle, no store"]
    best = []
    for raw_rate, py_rate, engine_rate in zip(
        raw.rates, no_sql.rates, engine_only.rates, strict=True
    ):
        sql = 1 / raw_rate - 1 / py_rate  # raw's seconds per event, its Python taken out
        best.append((1 / raw_rate) / (sql + 1 / engine_rate))
    median = sorted(best)[len(best) // 2]
    us = {name: r.seconds_per_item * 1e6 for name, r in by_name.items()}
    print(
        f"  the floor: the SQL alone {us['raw'] - us['raw, no SQL']:.1f} us/event"
        f" (raw {us['raw']:.1f} less its Python {us['raw, no SQL']:.1f}); the engine on a store"
        f" that only encodes {us['handle, no store']:.1f} us;\n  so with a store layer that"
        f" cost nothing, handle would be at best {median:.2f}x raw"
        f" ({min(best):.2f}-{max(best):.2f}); it is {handle.ratio:.2f}x"
    )


def measure(
    found: Sequence[Place],
    rules: dr.RuleSet,
    template: dict[str, Any],
    per_call: int,
    slices: int,
    extra: Sequence[Contender] = (),
) -> list[Result]:
    made, closers = contenders(found, rules, template, per_call)
    made += extra
    try:
        return compare(made, baseline="raw", slices=slices)
    finally:
        for close in closers:
            close()


# -- bytes written ---------------------------------------------------------------------------


def sqlite_wal(conn: Any, path: str) -> int:
    return os.path.getsize(f"{path}-wal") if os.path.exists(f"{path}-wal") else 0


def postgres_size(conn: Any) -> int:
    (size,) = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    ).fetchone()
    return int(size)


def bytes_written(
    place: Place, rules: dr.RuleSet, template: dict[str, Any], count: int
) -> dict[str, tuple[float, float, float]]:
    """Per event, for raw and handle: parameter bytes, parameters holding the event's JSON,
    and bytes appended to the WAL (SQLite, checkpoints off) or the tables' growth (PostgreSQL)."""
    needle = template["data"]["object"]["lines"]["data"][-1]["id"]  # only the event holds it
    out = {}
    for name in ("raw", "handle"):
        url = place.url(f"bytes_{name}")
        tally = Tally(needle)
        new = Events(template, f"b{name}")
        if name == "handle":
            store = place.store(url)
            handler = engine(rules, store)
            handler.handle(new())
            handle: Callable[[dict[str, Any]], Any] = handler.handle
            conn: Any = store._connection()  # a peek inside, to count what it sends
            close = handler.close
        else:
            raw = place.raw(url, rules)
            raw.handle(new())
            handle, close = raw.handle, raw.close
            conn = raw.db if isinstance(raw, RawSQLite) else raw.conn
        if place.kind == "sqlite":
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            wrapped = TallySQLite(conn, tally)
            if name == "handle":
                store._conn = wrapped  # type: ignore[union-attr]
            else:
                raw.db = wrapped  # type: ignore[union-attr]
            before = sqlite_wal(conn, url)
        else:
            before = postgres_size(conn)
            tally_postgres(conn, tally)
        for _ in range(count):
            handle(new())
        after = sqlite_wal(conn, url) if place.kind == "sqlite" else postgres_size(conn)
        if place.kind == "sqlite":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        close()
        out[name] = (tally.bytes / count, tally.copies / count, (after - before) / count)
    return out


def print_big(
    results: Sequence[Result], written: dict[str, dict[str, tuple[float, float, float]]]
) -> None:
    print(
        f"{'':<8} {'':>8} {'ms/event':>9} {'vs raw':>8} {'spread':>12}"
        f" {'param KB/event':>15} {'event copies':>13} {'written KB/event':>17}"
    )
    for result in results:
        low, high = result.spread
        params, copies, grown = written.get(result.group, {}).get(result.name, (0.0, 0.0, 0.0))
        print(
            f"{result.name:<8} {result.group:>8} {result.seconds_per_item * 1e3:>9.2f}"
            f" {result.ratio:>7.2f}x {low:>5.2f}-{high:<6.2f}"
            f" {params / 1e3:>15.1f} {copies:>13.1f} {grown / 1e3:>17.1f}"
        )
    print("  (written: bytes appended to the WAL on SQLite, growth of the tables on PostgreSQL)")


# -- 3: PostgreSQL run_due with 1 and 4 workers ----------------------------------------------


def bench_postgres(url: str, runs: int) -> dict[int, float]:
    """Steps per second with 1 and 4 worker processes on fresh schemas."""
    import psycopg

    results = {}
    template = base_event()
    for workers in (1, 4):
        schema = f"bench_{workers}_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{schema}"')
        scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        handler = dr.Engine(
            dr.load_rules(WORKER_RULES), adapters={"noop": noop}, store=scoped, clock=lambda: START
        )
        new = Events(template, f"pg{workers}")
        for _ in range(runs):
            handler.handle(new())
        handler.close()
        later = (START + dt.timedelta(minutes=2)).isoformat()
        began = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, __file__, "--worker", scoped, later])
            for _ in range(workers)
        ]
        for proc in procs:
            proc.wait()
        results[workers] = 3 * runs / (time.perf_counter() - began)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return results


def worker(url: str, clock_iso: str) -> None:
    moment = dt.datetime.fromisoformat(clock_iso)
    handler = dr.Engine(
        dr.load_rules(WORKER_RULES), adapters={"noop": noop}, store=url, clock=lambda: moment
    )
    handler.run_due()
    handler.close()


# -- 4: memory -------------------------------------------------------------------------------


def bench_memory(count: int) -> tuple[float, float]:
    """RSS before and after ``count`` events through a SQLite store."""
    template = base_event()
    with tempfile.TemporaryDirectory() as folder:
        handler = engine(dr.load_rules(rules_text(1)), f"sqlite:///{folder}/memory.db")
        new = Events(template, "warm")
        for _ in range(1000):
            handler.handle(new())
        before = rss_mb()
        new = Events(template, "mem")
        for _ in range(count):
            handler.handle(new())
        after = rss_mb()
        handler.close()
    return before, after


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None, help="events of the memory test")
    parser.add_argument("--postgres", default=os.environ.get("DUNNING_RULES_TEST_POSTGRES"))
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    slices = 3 if args.quick else 6
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        found = places(folder, args.postgres)
        try:
            one, hundred = dr.load_rules(rules_text(1)), dr.load_rules(rules_text(100))
            small, big = base_event(), big_invoice()
            same = all(check_same_rows(place, one, small) for place in found)
            same &= all(check_same_rows(place, hundred, big) for place in found)
            print(f"raw writes the same rows as handle: {'yes' if same else 'NO'}")
            ok &= same

            print(
                f"\n1. handle vs raw, one rule of one no-op step, {EVENT.name}"
                f" ({len(ENCODE_EVENT(small)):,} bytes); ratio = raw CPU time / handle CPU time"
            )
            floor = floor_contenders(folder, one, small, per_call=10)
            results = measure(found, one, small, per_call=10, slices=slices, extra=floor)
            print_table([r for r in results if r.group != "floor"], unit="events", against="raw")
            handles = {r.group: r for r in results if r.name == "handle"}
            ok &= handles["sqlite"].ratio >= 0.85
            print(f"  SQLite goal >= 0.85x: {verdict(handles['sqlite'].ratio >= 0.85)}")
            print_floor(results, handles["sqlite"])

            print(
                f"\n2. 100 rules that all match, one no-op step each; an invoice of"
                f" {len(ENCODE_EVENT(big)):,} bytes ({len(big['data']['object']['lines']['data'])}"
                " line items)"
            )
            results = measure(found, hundred, big, per_call=1, slices=slices)
            written = {
                p.kind: bytes_written(p, hundred, big, 3 if args.quick else 10) for p in found
            }
            print_big(results, written)
            ms = {r.group: r.seconds_per_item * 1e3 for r in results if r.name == "handle"}
            copies = {kind: rows["handle"][1] for kind, rows in written.items()}
            ok &= ms["sqlite"] <= 15 and all(c == 1 for c in copies.values())
            print(
                f"  SQLite goal <= 15 ms/event: {verdict(ms['sqlite'] <= 15)};"
                f" the event's JSON written once per event: "
                f"{verdict(all(c == 1 for c in copies.values()))}"
            )
        finally:
            for place in found:
                place.drop()

    if args.postgres:
        runs = 200 if args.quick else 1000
        rates = bench_postgres(args.postgres, runs)
        print(f"\n3. PostgreSQL run_due, {runs} runs of 3 steps")
        for workers, rate in rates.items():
            print(f"  {workers} worker(s)          {rate:9.0f} steps/s")
        print(f"  scaling 4 vs 1       {rates[4] / rates[1]:9.2f}x  (2 cores on this machine)")
    else:
        print("\nPostgreSQL: skipped (set --postgres or DUNNING_RULES_TEST_POSTGRES)")

    total = args.events or (10_000 if args.quick else 100_000)
    before, after = bench_memory(total)
    growth = after - before
    ok &= growth < 50
    print(f"\n4. Memory, {total} events through SQLite")
    print(f"  RSS {before:.1f} MB -> {after:.1f} MB, growth {growth:.1f} MB (target < 50 MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
