"""The ``dunning-rules`` command: validate, simulate, schema, run-due, history.

Exit codes: 0 fine, 1 problems found, 2 bad usage (click's convention).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .errors import DunningRulesError, EventError, RuleFileError

__all__ = ["main"]

_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "authorization")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dunning-rules",
        description="Turn Stripe webhook events into dunning steps, by YAML rules.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check rule files; print every problem")
    validate.add_argument("files", nargs="+", metavar="FILE")

    simulate = sub.add_parser("simulate", help="show what an event would do, doing nothing")
    simulate.add_argument("files", nargs="+", metavar="FILE")
    simulate.add_argument("--event", required=True, metavar="EVENT.json")
    simulate.add_argument("--json", action="store_true", help="print JSON for machines")
    simulate.add_argument("--at", metavar="TIME", help="the clock, ISO 8601 (default: now)")

    sub.add_parser("schema", help="print the JSON Schema of rule files")

    run_due = sub.add_parser("run-due", help="resume runs whose wait is over")
    run_due.add_argument("files", nargs="+", metavar="FILE")
    run_due.add_argument("--store", required=True, metavar="URL")
    run_due.add_argument("--loop", action="store_true", help="keep going until SIGTERM")
    run_due.add_argument("--interval", default="30s", metavar="DURATION")

    history = sub.add_parser("history", help="list runs with their steps")
    history.add_argument("--store", required=True, metavar="URL")
    history.add_argument("--key", metavar="KEY")
    history.add_argument("--status", metavar="STATUS")
    history.add_argument("--rule", metavar="RULE")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--json", action="store_true", help="print JSON for machines")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; return the exit code."""
    out = out or sys.stdout
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        handler = _COMMANDS[args.command]
        return handler(args, out)
    except RuleFileError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
        return 1
    except _UsageError as exc:
        print(f"dunning-rules: error: {exc}", file=sys.stderr)
        return 2
    except DunningRulesError as exc:
        print(f"dunning-rules: {exc}", file=sys.stderr)
        return 1


class _UsageError(Exception):
    pass


def _engine(files: Sequence[str], **options: Any) -> Any:
    from . import Engine, load_rules

    return Engine(load_rules(files), **options)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args.files)
    rules = engine.rules
    files = len(rules.sources)
    print(
        f"ok: {len(rules)} rule{'s' if len(rules) != 1 else ''} in {files} "
        f"file{'s' if files != 1 else ''}",
        file=out,
    )
    return 0


def _read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise _UsageError(f"cannot read --event {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise _UsageError(f"--event {path} is not JSON: {exc}") from None


def _clock(at: str | None) -> Any:
    if at is None:
        return None
    try:
        moment = _dt.datetime.fromisoformat(at)
    except ValueError:
        raise _UsageError(f"--at {at!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return lambda: moment


def _simulate(args: argparse.Namespace, out: TextIO) -> int:
    event = _read_event(args.event)
    engine = _engine(args.files, clock=_clock(args.at))
    try:
        outcome = engine.simulate(event)
    except EventError as exc:
        raise _UsageError(f"--event {args.event}: {exc}") from None
    if args.json:
        json.dump(_jsonable(outcome), out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    print(f"event {outcome.event_id} ({outcome.event_type})", file=out)
    if not outcome.matched:
        print("no rule matched", file=out)
    for number, run in enumerate(outcome.runs, 1):
        after = f"{run.status}"
        if run.next_at is not None:
            after += f" until {run.next_at.isoformat()}"
        print(f"\nrun {number}: rule {run.rule}  key {run.key}  -> {after}", file=out)
        _table(run.steps, out)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=out)
    return 0


def _table(steps: Sequence[Any], out: TextIO) -> None:
    rows = [("#", "step", "status", "params")]
    for step in steps:
        name = step.type + (f" ({step.id})" if step.id else "")
        detail = _params_text(step.params)
        if step.error:
            detail = f"{detail}  error: {step.error}" if detail else f"error: {step.error}"
        rows.append((str(step.index), name, step.status, detail))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        print("  " + "  ".join(cells) + "  " + row[3], file=out)


def _params_text(params: Any, limit: int = 70) -> str:
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text = " ".join(str(text).split())
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        parts.append(f"{key}={text}")
    return "  ".join(parts)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(w in k.lower() for w in _SECRET_WORDS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return value


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    from .rules.loader import rules_schema

    json.dump(rules_schema(1), out, indent=2, ensure_ascii=False)
    out.write("\n")
    return 0


def _seconds(text: str) -> float:
    from .rules.model import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise _UsageError(f"--interval: {exc}") from None


def _run_due(args: argparse.Namespace, out: TextIO) -> int:
    interval = _seconds(args.interval)
    engine = _engine(args.files, store=args.store)
    stop = threading.Event()
    if args.loop:
        # SIGTERM ends the loop between runs: a step in progress finishes and is saved first.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while True:
            outcomes = engine.run_due()
            steps = sum(len(o.actions) for o in outcomes)
            if outcomes or not args.loop:
                print(f"resumed {len(outcomes)} runs, {steps} steps", file=out, flush=True)
            if not args.loop or stop.wait(interval):
                break
    finally:
        if args.loop:
            signal.signal(signal.SIGTERM, previous)
        engine.close()
    return 0


def _history(args: argparse.Namespace, out: TextIO) -> int:
    from .store import open_store

    store = open_store(args.store)
    try:
        runs = store.list_runs(key=args.key, status=args.status, rule=args.rule, limit=args.limit)
    finally:
        store.close()
    if args.json:
        data = [_redact(_jsonable(dataclasses.replace(r, event={}))) for r in runs]
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    if not runs:
        print("no runs", file=out)
    for run in runs:
        line = f"{run.id}  rule {run.rule}  key {run.key}  {run.status}"
        if run.next_at is not None:
            line += f" until {run.next_at.isoformat()}"
        created = run.created_at.isoformat() if run.created_at else "?"
        print(f"{line}  (event {run.event_id}, started {created})", file=out)
        if run.reason:
            print(f"  reason: {run.reason}", file=out)
        if run.approval:
            print(f"  approval: {json.dumps(_jsonable(run.approval))}", file=out)
        steps = [
            dataclasses.replace(s, params=_redact(dict(s.params)) if s.params else s.params)
            for s in run.steps
        ]
        if steps:
            _table(steps, out)
    return 0


_COMMANDS = {
    "validate": _validate,
    "simulate": _simulate,
    "schema": _schema,
    "run-due": _run_due,
    "history": _history,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
