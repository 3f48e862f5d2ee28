"""``dunning-rules replay``: what the rules would have done with a past stream of events.

Exit status: 0 fine; 1 when the replay found violations (a message sent twice for one step,
or after the engine knew of the payment), or, with ``--fail-on-difference``, when ``--compare``
found invoices that would get other messages; 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ._cli_common import UsageError
from .errors import EventError

__all__ = ["add_replay_parser", "run_replay"]

_DESCRIPTION = """\
Run a past stream of Stripe events through the rules on a simulated clock, with the
engine of production and stubs instead of every provider: nothing is sent, fetched
or stored. Prints runs, messages per channel, the invoices paid after a run started
(the recovered estimate), steps that would have failed and violations.

--events takes a JSON Lines file (one event a line), a directory of event JSON files,
or a Stripe list response ({"object": "list", "data": [...]}, newest first)."""

_EPILOG = """\
examples:
  dunning-rules replay rules.yaml --events march.jsonl
  dunning-rules replay rules.yaml --events march.jsonl --html replay.html
  dunning-rules replay new.yaml --compare old.yaml --events march.jsonl --fail-on-difference

exit status: 0 fine, 1 violations found (or differences, with --fail-on-difference),
2 bad usage"""


def add_replay_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``replay`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="what the rules would have done with past events",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="a rule file (YAML)")
    parser.add_argument(
        "--events",
        required=True,
        metavar="PATH",
        help="the events: JSON Lines, a directory of event files, or a Stripe list response",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", metavar="REPORT.html", help="also write one HTML page")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="FILE",
        help="the other rule set: replay both on the same events and list the invoices"
        " that would get other messages (FILE... is 'after', --compare 'before')",
    )
    parser.add_argument(
        "--fail-on-difference",
        action="store_true",
        help="with --compare, exit 1 when some invoice would get other messages",
    )
    parser.add_argument(
        "--approvals",
        choices=("pending", "approve", "reject"),
        default="pending",
        help="answer approval steps: leave them pending (default), approve or reject at once",
    )
    parser.add_argument(
        "--lookups",
        metavar="FILE",
        help='lookup values as JSON: {"ltv": {...}} for everyone, or {"cus_123": {"ltv":'
        " {...}}} per customer; otherwise stripe.customer and stripe.customer_ltv come from"
        " the events",
    )
    parser.add_argument(
        "--hostile",
        type=int,
        metavar="SEED",
        help="deliver the events as Stripe may: late, out of order, some twice (seeded)",
    )
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help="with --compare, list N invoices"
    )
    parser.add_argument(
        "--account",
        metavar="ACCOUNT",
        help="only the events of this connected account (Stripe Connect: acct_...)",
    )
    return parser


class _Bar:
    """A progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._drawn = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and done != total:
            return
        self._drawn = now
        if total:
            filled = round(30 * done / total)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"\r{self._label} [{bar}] {done}/{total} events"
        else:
            text = f"\r{self._label} {done} events"
        self._stream.write(text)
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()


def _progress(label: str) -> tuple[Callable[[int, int | None], None] | None, _Bar | None]:
    if not sys.stderr.isatty():
        return None, None
    bar = _Bar(sys.stderr, label)
    return bar, bar


def _load(files: list[str]) -> Any:
    from .rules.loader import load_rules

    return load_rules(files)


def run_replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``replay`` as parsed by :func:`add_replay_parser`; return the exit status."""
    from ._replay import ReplayError, replay, replay_compare

    out = out or sys.stdout
    if not Path(args.events).exists():
        raise UsageError(f"--events {args.events}: no such file or directory")
    if args.lookups is not None and not Path(args.lookups).is_file():
        raise UsageError(f"--lookups {args.lookups}: no such file")
    if args.fail_on_difference and not args.compare:
        raise UsageError("--fail-on-difference needs --compare")
    if args.limit < 0:
        raise UsageError(f"--limit {args.limit}: give a number of invoices")
    options: dict[str, Any] = {
        "approvals": args.approvals,
        "lookups": args.lookups,
        "hostile": args.hostile,
        "account": args.account,
    }
    after = _load(args.files)
    try:
        if args.compare:
            before = _load(args.compare)
            progress, bar = _progress("replay (before, then after)")
            try:
                result: Any = replay_compare(
                    before, after, args.events, limit=args.limit, progress=progress, **options
                )
            finally:
                if bar is not None:
                    bar.close()
            report = result.after
        else:
            progress, bar = _progress("replay")
            try:
                result = report = replay(after, args.events, progress=progress, **options)
            finally:
                if bar is not None:
                    bar.close()
    except (EventError, ReplayError) as exc:
        raise UsageError(str(exc)) from None
    if args.html:
        try:
            Path(args.html).write_text(result.to_html(), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--html {args.html}: {exc.strerror}") from None
    if args.json:
        json.dump(result.to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(result.to_text())
        if args.html:
            out.write(f"\nwrote {args.html}\n")
    violations = report.violation_count or (
        args.compare is not None and result.before.violation_count
    )
    if violations:
        return 1
    if args.compare and args.fail_on_difference and result.different:
        return 1
    return 0
