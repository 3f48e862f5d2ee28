"""The ``dunning-rules`` command: validate, simulate, schema, run-due, history.

Exit codes: 0 fine, 1 problems found, 2 bad usage (click's convention). Output cut short by
a closed pipe (``dunning-rules history | head``) ends quietly with 141, the status of a program
that SIGPIPE ends, as ``git`` does.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ._cli_common import UsageError, jsonable, parse_time, plural, step_table
from ._cli_history import COUNT_LIMIT, history_command
from ._cli_replay import add_replay_parser, run_replay
from ._cli_worker import run_due_command
from .errors import DunningRulesError, EventError, RuleFileError
from .outcome import RUN_STATUSES

__all__ = ["main"]

BROKEN_PIPE = 141
"""The exit status when the reader of the output went away: 128 + SIGPIPE (13)."""

INTERRUPTED = 130
"""The exit status after Ctrl-C outside a worker loop: 128 + SIGINT (2)."""

_EXAMPLES = {
    "validate": "dunning-rules validate rules/*.yaml\n  dunning-rules validate --strict rules.yaml",
    "simulate": (
        "dunning-rules simulate rules.yaml --event examples/events/invoice.payment_failed.json\n"
        "  dunning-rules simulate rules.yaml --event event.json --at 2026-01-01T09:00Z --json"
    ),
    "schema": "dunning-rules schema > rules.schema.json",
    "run-due": (
        "dunning-rules run-due rules.yaml --store sqlite:///dunning.db\n"
        "  dunning-rules run-due --engine myapp.dunning:engine --loop --interval 1m"
    ),
    "history": (
        "dunning-rules history --store sqlite:///dunning.db --status failed\n"
        "  dunning-rules history --store postgresql://billing@db/billing --key in_123 --json"
    ),
}

_EXIT_CODES = "exit status: 0 fine, 1 problems found, 2 bad usage"


def _add(
    sub: Any, name: str, summary: str, description: str, *, codes: str = _EXIT_CODES
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {_EXAMPLES[name]}\n\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dunning-rules",
        description="Turn Stripe webhook events into dunning steps, by YAML rules.",
        epilog=(
            "example:\n  dunning-rules simulate rules.yaml --event event.json\n\n"
            f"{_EXIT_CODES}; 141 when the output pipe closed early.\n"
            "`dunning-rules COMMAND --help` describes each command."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of:")

    validate = _add(
        sub,
        "validate",
        "check rule files; print every problem",
        "Load the rule files together and build an engine on them with the built-in\n"
        "adapters: every problem (YAML, schema, expressions, unknown step types, bad\n"
        "parameters, steps., settings. and vars. that name nothing) is printed as\n"
        "file:line:column. Warnings (an event type Stripe does not send, a field the\n"
        "event's object does not have, a comparison of different types) are printed too;\n"
        "--strict fails on them.",
        codes="exit status: 0 fine, 1 problems found (or warnings, with --strict), 2 bad usage",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a rule file (YAML)")
    validate.add_argument(
        "--strict", action="store_true", help="exit 1 when there are warnings, as for errors"
    )

    simulate = _add(
        sub,
        "simulate",
        "show what an event would do, doing nothing",
        "Plan every step each matching rule would run for one Stripe event, past waits\n"
        "and approvals. Nothing is sent, stored or fetched. Given several events (--event\n"
        "more than once, a directory, or a JSON Lines file), they run in `created` order on\n"
        "a simulated clock with the same dedupe, waits and cancels as production, and each\n"
        "invoice's messages are listed.",
    )
    simulate.add_argument("files", nargs="+", metavar="FILE", help="a rule file (YAML)")
    simulate.add_argument(
        "--event",
        required=True,
        action="append",
        metavar="EVENT",
        help="a Stripe event as JSON; again for more events, or a directory or a .jsonl file",
    )
    simulate.add_argument(
        "--lookup",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a lookup's value, e.g. ltv='{\"amount\": 120000}' (lookups are null otherwise)",
    )
    simulate.add_argument("--json", action="store_true", help="print the Outcome as JSON")
    simulate.add_argument(
        "--at",
        metavar="TIME",
        help="the clock, ISO 8601, UTC unless it has an offset (default: now)",
    )

    _add(
        sub,
        "schema",
        "print the JSON Schema of rule files",
        "Print the JSON Schema of rule files (version 1), for editors that validate as you type.",
        codes="exit status: 0",
    )

    run_due = _add(
        sub,
        "run-due",
        "carry on the runs whose wait is over",
        "Resume every stored run whose wait is over, until nothing is due. Either give the\n"
        "rule files and the store, or name your app's Engine with --engine: the worker then\n"
        "sends with the adapters, store and clock your app configured in Python.\n\n"
        "It prints what it did: 'resumed 3 runs, 5 steps: 1 step failed, 1 run failed',\n"
        "then each failure. Exit status 1 when a step or a run failed; with --loop, 0 when\n"
        "a signal stopped it (each round prints its failures).",
        codes="exit status: 0 fine, 1 a step or run failed, 2 bad usage",
    )
    run_due.add_argument(
        "files", nargs="*", metavar="FILE", help="a rule file (YAML); needs --store"
    )
    run_due.add_argument(
        "--store", metavar="URL", help="the runs: sqlite:///path.db or postgresql://..."
    )
    run_due.add_argument(
        "--engine",
        metavar="MODULE:ATTR",
        help="your app's Engine, or a function that returns one, as in myapp.dunning:engine"
        " (the module is looked for in the current directory too); instead of FILE --store",
    )
    run_due.add_argument(
        "--at",
        metavar="TIME",
        help="resume what is due at this moment, ISO 8601 (default: the engine's clock);"
        " for tests and catching up",
    )
    run_due.add_argument(
        "--loop",
        action="store_true",
        help="keep going until SIGTERM or Ctrl-C; the round in progress finishes first",
    )
    run_due.add_argument(
        "--interval",
        default="30s",
        metavar="DURATION",
        help="with --loop, the longest wait between rounds: 30s, 5m, 1h (default: 30s);"
        " a worker wakes sooner when a run falls due or, on PostgreSQL, is deferred",
    )

    history = _add(
        sub,
        "history",
        "list runs with their steps",
        "List the runs in a store, newest first, with their steps: status, how long each\n"
        "took, rendered parameters (secret-looking ones redacted), errors and warnings,\n"
        "approvals, and why a run was cancelled or failed.",
    )
    history.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the runs: sqlite:///path.db (an existing file) or postgresql://...",
    )
    history.add_argument("--key", metavar="KEY", help="only runs of this key (an invoice id)")
    history.add_argument(
        "--status",
        choices=RUN_STATUSES,
        metavar="STATUS",
        help=f"only runs in this status: {', '.join(RUN_STATUSES)}",
    )
    history.add_argument("--rule", metavar="RULE", help="only runs of this rule")
    history.add_argument(
        "--account",
        metavar="ACCOUNT",
        help="only runs of this connected account's events (Stripe Connect: acct_...)",
    )
    history.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help=f"show at most N runs, 0 for all (default: 50); a cut list says how many match"
        f" (counted up to {COUNT_LIMIT})",
    )
    history.add_argument("--json", action="store_true", help="print the runs as JSON")
    add_replay_parser(sub)
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
        code = _COMMANDS[args.command](args, out)
        out.flush()
        return code
    except BrokenPipeError:
        _silence(out)
        return BROKEN_PIPE
    except KeyboardInterrupt:
        print("dunning-rules: interrupted", file=sys.stderr)
        return INTERRUPTED
    except RuleFileError as exc:
        print(exc, file=sys.stderr)
        for warning in exc.warnings:  # found in the same pass: every problem shown at once
            print(f"warning: {warning}", file=sys.stderr)
        summary = f"{plural(len(exc.problems), 'problem')} found"
        if exc.warnings:
            summary += f", {plural(len(exc.warnings), 'warning')}"
        print(summary, file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"dunning-rules: error: {exc}", file=sys.stderr)
        return 2
    except DunningRulesError as exc:
        print(f"dunning-rules: {exc}", file=sys.stderr)
        return 1


def _silence(out: TextIO) -> None:
    """Point the closed output at devnull, so that the flush at exit does not fail again
    (the advice of Python's documentation on SIGPIPE)."""
    try:
        fileno = out.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a StringIO in tests): nothing will flush it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def _engine(files: Sequence[str], **options: Any) -> Any:
    from . import Engine, load_rules

    return Engine(load_rules(files), **options)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args.files)
    rules = engine.rules
    files = len(rules.sources)
    for warning in rules.warnings:
        print(f"warning: {warning}", file=out)
    summary = f"{plural(len(rules), 'rule')} in {plural(files, 'file')}"
    count = len(rules.warnings)
    if count:
        summary += f", {plural(count, 'warning')}"
    if count and args.strict:
        print(f"{summary}: --strict fails on warnings", file=out)
        return 1
    print(f"ok: {summary}", file=out)
    return 0


def _read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read --event {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"--event {path} is not JSON: {exc}") from None


def _fixed_clock(at: str | None) -> Callable[[], _dt.datetime] | None:
    if at is None:
        return None
    moment = parse_time(at, "--at")
    return lambda: moment


def _lookups(given: Sequence[str]) -> dict[str, Any] | None:
    if not given:
        return None
    values = {}
    for item in given:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"--lookup {item!r}: write NAME=JSON, e.g. ltv='{{\"amount\": 1}}'")
        try:
            values[name.strip()] = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--lookup {name}: not JSON: {exc}") from None
    return values


def _simulate(args: argparse.Namespace, out: TextIO) -> int:
    lookups = _lookups(args.lookup)
    paths = args.event
    if len(paths) > 1 or os.path.isdir(paths[0]) or paths[0].endswith(".jsonl"):
        return _simulate_stream(args, paths, lookups, out)
    event = _read_event(paths[0])
    engine = _engine(args.files, clock=_fixed_clock(args.at))
    try:
        outcome = engine.simulate(event, lookups=lookups)
    except EventError as exc:
        raise UsageError(f"--event {paths[0]}: {exc}") from None
    if args.json:
        json.dump(jsonable(outcome), out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    print(f"event {outcome.event_id} ({outcome.event_type})", file=out)
    cancels = [run for run in outcome.runs if run.id.startswith("simulated-cancel-")]
    for run in cancels:
        print(f"cancels the live run of rule {run.rule}  key {run.key}, if any", file=out)
    if not outcome.matched:
        print("no rule matched", file=out)
    started = [run for run in outcome.runs if run not in cancels]
    for number, run in enumerate(started, 1):
        after = f"{run.status}"
        if run.next_at is not None:
            after += f" until {run.next_at.isoformat()}"
        print(f"\nrun {number}: rule {run.rule}  key {run.key}  -> {after}", file=out)
        step_table(run.steps, out)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=out)
    failed = [a for a in outcome.actions if a.status == "failed"]
    return 1 if failed else 0


def _simulate_stream(
    args: argparse.Namespace, paths: Sequence[str], lookups: dict[str, Any] | None, out: TextIO
) -> int:
    """Several events: a replay with each invoice's messages kept, printed in order."""
    from ._replay import replay

    rules = _engine(args.files).rules
    events: Any = paths[0] if len(paths) == 1 else [_read_event(path) for path in paths]
    try:
        report = replay(rules, events, lookups=lookups, sequences=True)
    except DunningRulesError as exc:
        raise UsageError(f"--event: {exc}") from None
    sequences = report.sequences or {}
    if args.json:
        listing = {
            subject: [{"at": _iso(at), "step": kind, "rule": rule} for at, kind, rule in steps]
            for subject, steps in sequences.items()
        }
        json.dump({"messages": listing, "report": report.to_dict()}, out, indent=2)
        out.write("\n")
        return 0
    print(f"{report.events} events in created order, on a simulated clock", file=out)
    for subject, steps in sorted(sequences.items()):
        print(f"\n{subject}", file=out)
        for at, kind, rule in steps:
            print(f"  {_iso(at)}  {kind:<12} rule {rule}", file=out)
    runs = report.runs
    print(
        f"\nruns: {runs['started']} started, {runs['completed']} completed, "
        f"{runs['cancelled']} cancelled, {runs['failed']} failed, {runs['waiting']} waiting",
        file=out,
    )
    return 1 if runs["failed"] else 0


def _iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).isoformat()


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    from .rules._schema_build import generate_schema, schema_text

    out.write(schema_text(generate_schema()))
    return 0


_COMMANDS = {
    "validate": _validate,
    "simulate": _simulate,
    "schema": _schema,
    "run-due": run_due_command,
    "history": history_command,
    "replay": run_replay,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
