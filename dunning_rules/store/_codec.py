"""Runs to and from JSON, for stores that keep them as text."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from ..errors import StoreError
from ..outcome import ActionRecord, Run

__all__ = ["dump_event", "dump_run", "from_iso", "load_run", "to_iso"]

_RECORD_TIMES = ("started_at", "finished_at")
_RUN_TIMES = ("next_at", "due_at", "created_at", "updated_at")
_RECORD_FIELDS = tuple(f.name for f in fields(ActionRecord))
_RUN_FIELDS = tuple(f.name for f in fields(Run) if f.name not in ("event", "steps", "epoch"))


def _plain(value: object) -> object:
    """What JSON cannot hold as it is: a read-only mapping as an object; the rest as text."""
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_ENCODE = json.JSONEncoder(
    separators=(",", ":"), default=_plain, ensure_ascii=False, check_circular=False
).encode


def to_iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def from_iso(value: str | None) -> _dt.datetime | None:
    return _dt.datetime.fromisoformat(value) if value is not None else None


def dump_event(run: Run) -> str:
    """The run's event as JSON text: stores keep it apart, written once when the run starts."""
    return _ENCODE(run.event)


_last_iso: tuple[_dt.datetime | None, str | None] = (None, None)


def _iso(value: _dt.datetime | None) -> str | None:
    """:func:`to_iso`, remembering the last time it wrote: the times of a run are mostly one
    moment (created, updated, due and next at the event's ``now``), and every save of the run
    writes them all. The pair is read and replaced whole, so threads can share it; it holds
    the time itself, so no other object can take its identity."""
    global _last_iso
    if value is None:
        return None
    last = _last_iso
    if value is last[0]:
        return last[1]
    text = value.isoformat()
    _last_iso = (value, text)
    return text


def _item(name: str, obj: str, times: tuple[str, ...]) -> str:
    value = f"{obj}.{name}"
    if name in times:
        value = f"_iso({value})"
    return f"{name!r}: {value}"


def _dumper() -> Callable[[Run], str]:
    """:func:`dump_run`, built from the fields of :class:`Run` and :class:`ActionRecord`: one
    dict display per run and per step, read straight from the attributes, encoded once. (A
    dict built field by field, times converted in a second pass, costs a third more, and every
    save of a run encodes it.)"""
    run_items = ", ".join(_item(name, "run", _RUN_TIMES) for name in _RUN_FIELDS)
    step_items = ", ".join(_item(name, "s", _RECORD_TIMES) for name in _RECORD_FIELDS)
    source = (
        "def dump_run(run):\n"
        f"    return _encode({{{run_items}, 'steps': [{{{step_items}}} for s in run.steps]}})\n"
    )
    namespace: dict[str, Any] = {"_encode": _ENCODE, "_iso": _iso}
    exec(source, namespace)
    dump: Callable[[Run], str] = namespace["dump_run"]
    return dump


_dump_run = _dumper()


def dump_run(run: Run) -> str:
    """The run as JSON text, steps included, its event aside (see :func:`dump_event`)."""
    return _dump_run(run)


def load_run(
    text: str | bytes | dict[str, Any], event: str | bytes | None = None, epoch: int = 0
) -> Run:
    """The inverse of :func:`dump_run` (and :func:`dump_event`); ``epoch`` is the lease's
    fencing token, kept by stores in a column of its own."""
    try:
        data = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        if event is not None:
            data["event"] = json.loads(event)
        steps = []
        for raw in data.pop("steps", []):
            for name in _RECORD_TIMES:
                raw[name] = from_iso(raw.get(name))
            raw["warnings"] = tuple(raw.get("warnings") or ())
            steps.append(ActionRecord(**raw))
        for name in _RUN_TIMES:
            data[name] = from_iso(data.get(name))
        data.pop("epoch", None)
        return Run(steps=tuple(steps), epoch=epoch, **data)
    except (TypeError, ValueError, KeyError) as exc:
        raise StoreError(f"a stored run cannot be read: {exc}") from exc
