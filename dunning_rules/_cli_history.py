"""``dunning-rules history``: the runs in a store, newest first, with their steps."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ._cli_common import (
    UsageError,
    check_store_url,
    jsonable,
    plural,
    redact_params,
    step_table,
)

if TYPE_CHECKING:
    from .outcome import Run
    from .store import RunStore

__all__ = ["COUNT_LIMIT", "history_command"]

COUNT_LIMIT = 10_000
"""When ``--limit`` cuts the list short, history counts the matching runs up to this many."""


def _find(store: RunStore, args: argparse.Namespace) -> tuple[list[Run], int | None]:
    """The runs to show, and how many match in all when that is more (None when more than
    :data:`COUNT_LIMIT`, 0 when every match is shown)."""
    filters: dict[str, Any] = {"key": args.key, "status": args.status, "rule": args.rule}
    account = getattr(args, "account", None)
    if account is not None:  # stores filter by key, status and rule; the account is in the run
        found = [run for run in store.list_runs(**filters) if run.account == account]
        if args.limit == 0 or len(found) <= args.limit:
            return found, 0
        return found[: args.limit], len(found)
    if args.limit == 0:
        return store.list_runs(**filters), 0
    runs = store.list_runs(**filters, limit=args.limit + 1)
    if len(runs) <= args.limit:
        return runs, 0
    counted = len(store.list_runs(**filters, limit=COUNT_LIMIT + 1))
    return runs[: args.limit], None if counted > COUNT_LIMIT else counted


def history_command(args: argparse.Namespace, out: TextIO) -> int:
    """``history``: exit 0; a missing database or a bad filter is bad usage (2)."""
    if args.limit < 0:
        raise UsageError(f"--limit {args.limit}: give a number of runs, or 0 for all")
    from .store import open_store

    check_store_url(args.store, must_exist=True)
    store = open_store(args.store)
    try:
        runs, total = _find(store, args)
    finally:
        store.close()
    notice = ""
    if total != 0:
        shown = f"{len(runs)} of {total}" if total else f"{len(runs)} of more than {COUNT_LIMIT}"
        notice = f"showing {shown} runs; use --limit N for more (0 = all)"
    if args.json:
        data = [redact_params(jsonable(dataclasses.replace(r, event={}))) for r in runs]
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
        if notice:
            print(notice, file=sys.stderr)
        return 0
    if not runs:
        print("no runs", file=out)
    for run in runs:
        _print_run(run, out)
    if notice:
        print(f"\n{notice}", file=out)
    return 0


def _print_run(run: Run, out: TextIO) -> None:
    line = f"{run.id}  rule {run.rule}  key {run.key}"
    if run.variant is not None:
        line += f"  variant {run.variant}"
    if run.account is not None:
        line += f"  account {run.account}"
    line += f"  {run.status}"
    if run.next_at is not None:
        line += f" until {run.next_at.isoformat()}"
    created = run.created_at.isoformat() if run.created_at else "?"
    print(f"{line}  (event {run.event_id}, started {created})", file=out)
    if run.reason:
        print(f"  reason: {' '.join(run.reason.split())}", file=out)
    if run.approval:
        print(f"  approval: {json.dumps(jsonable(run.approval), ensure_ascii=False)}", file=out)
    failed = [s for s in run.steps if s.status == "failed"]
    if failed:
        print(f"  {plural(len(failed), 'step')} failed", file=out)
    steps = [
        dataclasses.replace(s, params=redact_params(dict(s.params)) if s.params else s.params)
        for s in run.steps
    ]
    if steps:
        step_table(steps, out, times=True)
