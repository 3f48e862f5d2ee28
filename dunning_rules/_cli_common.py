"""What the ``dunning-rules`` subcommands share: bad usage, bounded times and durations, and
the text and JSON forms of runs and steps."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .errors import DunningRulesError

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "UsageError",
    "check_store_url",
    "format_seconds",
    "jsonable",
    "params_text",
    "parse_interval",
    "parse_time",
    "plural",
    "redact_params",
    "step_table",
]

MIN_YEAR = 2000
MAX_YEAR = 9000
"""A time the command line reads lies in these years: far from the ends of ``datetime``, so
that adding the longest duration a rule file allows (400 days) cannot overflow."""

_SCHEMES = ("sqlite:", "postgresql:", "postgres:")
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "authorization")


class UsageError(DunningRulesError):
    """The command line was used wrongly: ``dunning-rules`` prints it and exits 2."""


def check_store_url(url: str, *, must_exist: bool) -> None:
    """Refuse a ``--store`` that cannot hold the runs of another process: not a store URL,
    or in memory (empty in a new process); with ``must_exist``, also a SQLite file that does
    not exist yet (opening it would create an empty one)."""
    if url in ("memory:", "memory://"):
        raise UsageError(
            "--store memory: is empty in a new process: give the sqlite:/// or "
            "postgresql:// URL your app uses"
        )
    if not url.startswith(_SCHEMES):
        from ._redact import redact_url

        raise UsageError(
            f"--store {redact_url(url)!r} is not a store URL: use 'sqlite:///path.db' "
            "or 'postgresql://...'"
        )
    if url.startswith("sqlite:"):
        from .store.sqlite import sqlite_path

        path = sqlite_path(url)
        if path == ":memory:":
            raise UsageError(f"--store {url} is empty in a new process: give a file")
        if must_exist and not os.path.isfile(path):
            raise UsageError(f"no such database file: {path}; run-due or your app creates it")


def plural(count: int, noun: str) -> str:
    """``plural(1, 'run')`` is ``'1 run'``, ``plural(2, 'run')`` is ``'2 runs'``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def parse_time(text: str, option: str) -> _dt.datetime:
    """An ISO 8601 time (UTC when it names no offset) between :data:`MIN_YEAR` and
    :data:`MAX_YEAR`; anything else is a :class:`UsageError` naming ``option``."""
    # Python 3.10's fromisoformat takes no "Z"; it means UTC, as +00:00 does.
    written = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        moment = _dt.datetime.fromisoformat(written)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    if not MIN_YEAR <= moment.year < MAX_YEAR:
        raise UsageError(
            f"{option} {text!r} is out of bounds: give a time from the year {MIN_YEAR} "
            f"up to {MAX_YEAR}"
        )
    return moment


def parse_interval(text: str, option: str) -> float:
    """A duration such as ``30s`` or ``5m``, in seconds: more than zero, and at most the
    longest duration a rule file allows; anything else is a :class:`UsageError`."""
    from .rules.model import parse_duration

    try:
        seconds = parse_duration(text).total_seconds()
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"{option}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{option}: {text.strip()} is not more than zero")
    return seconds


def format_seconds(seconds: float) -> str:
    """A short human form of a duration: ``850ms``, ``2.4s``, ``3m 05s``, ``2h 10m``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def redact_params(value: Any) -> Any:
    """``value`` with the values of secret-looking keys (token, password, ...) replaced."""
    if isinstance(value, Mapping):
        return {
            k: "[redacted]" if any(w in str(k).lower() for w in _SECRET_WORDS) else redact_params(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_params(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """Dataclasses, mappings, sequences and datetimes as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return value


def params_text(params: Any, limit: int = 70) -> str:
    """``key=value`` pairs on one line, each value cut at ``limit`` characters."""
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


def _took(step: Any) -> str:
    started, finished = step.started_at, step.finished_at
    if started is None or finished is None or finished <= started:
        return ""
    return format_seconds((finished - started).total_seconds())


def step_table(steps: Sequence[Any], out: TextIO, *, times: bool = False) -> None:
    """One row per step (index, type and id, status, params), with its error and warnings
    on lines of their own under it; ``times`` adds how long each step took, where known."""
    header = ["#", "step", "status"] + (["took"] if times else []) + ["params"]
    rows: list[tuple[list[str], list[str]]] = [(header, [])]
    for step in steps:
        name = step.type + (f" ({step.id})" if step.id else "")
        cells = [str(step.index), name, step.status]
        if times:
            cells.append(_took(step))
        cells.append(params_text(step.params))
        notes = [f"error: {_one_line(step.error)}"] if step.error else []
        notes += [f"warning: {_one_line(w)}" for w in getattr(step, "warnings", ())]
        rows.append((cells, notes))
    columns = len(header) - 1
    widths = [max(len(cells[i]) for cells, _ in rows) for i in range(columns)]
    indent = "  " + " " * (widths[0] + 2)
    for cells, notes in rows:
        line = "  " + "  ".join(cells[i].ljust(widths[i]) for i in range(columns))
        print(f"{line}  {cells[-1]}".rstrip(), file=out)
        for note in notes:
            print(f"{indent}{note}", file=out)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
