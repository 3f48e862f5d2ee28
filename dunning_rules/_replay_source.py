"""Where replay's events come from, and in what order they arrive.

:func:`open_events` reads the events of a replay: an iterable of event dicts, or a path (a JSON
Lines file, a directory of event files, a Stripe list response, a JSON array) and yields them
in ``created`` order, ties in file order. A list response is newest first, as the events API
returns it, so its items are read in reverse. Anything that is not a Stripe event is counted in
:attr:`EventSource.skipped` by reason, not replayed.

A JSON Lines file is read twice and never held whole: the first pass keeps each line's
``created`` and offset (16 bytes an event), the second reads the lines in order.

:class:`Deliveries` turns that ordered stream into deliveries. Plainly, each event arrives once,
at its ``created``. Hostile (a seed), it arrives as Stripe may deliver it: late by up to an hour
(so events of the same hour swap places), now and then much later, and now and then twice, the
copy up to :data:`MAX_LATE` after the original. Either way the events are also kept in
``created`` order for :meth:`Deliveries.happened`, which says what had happened by a moment,
whether or not it was delivered yet.
"""

from __future__ import annotations

import array
import heapq
import json
import os
import random
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EventError

__all__ = ["MAX_LATE", "Deliveries", "Delivery", "EventSource", "open_events"]

SHUFFLE_WINDOW = 3600.0
"""Hostile: every event arrives up to this many seconds after its ``created``."""
LATE_RATE = 0.03
LATE_MAX = 6 * 3600.0
"""Hostile: this share of events arrives up to ``LATE_MAX`` seconds later still."""
DUPLICATE_RATE = 0.1
DUPLICATE_MEAN = 1800.0
MAX_LATE = 3 * 86400.0
"""Hostile: this share of events arrives a second time, on average ``DUPLICATE_MEAN`` seconds
after the first, never more than ``MAX_LATE`` (Stripe retries a delivery for up to 3 days)."""

_JSON_LINES = (".jsonl", ".ndjson")

Item = tuple[int, int, Mapping[str, Any]]
"""``(created, sequence, event)``: ``sequence`` is the event's place in the input."""


def _reason(value: Any) -> str | None:
    """Why ``value`` is not a replayable Stripe event, or None when it is one."""
    if not isinstance(value, Mapping):
        return "not a Stripe event"
    data = value.get("data")
    if (
        not isinstance(value.get("id"), str)
        or not isinstance(value.get("type"), str)
        or not isinstance(data, Mapping)
        or not isinstance(data.get("object"), Mapping)
    ):
        return "not a Stripe event"
    created = value.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return "no created time"
    return None


def _is_list(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and value.get("object") == "list"
        and isinstance(value.get("data"), list)
    )


@dataclass
class EventSource:
    """The events of one replay, in order; ``total`` when known before reading them."""

    items: Iterable[Item]
    total: int | None
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count


def only_account(source: EventSource, account: str) -> EventSource:
    """``source`` with only the events of connected account ``account``."""
    items = (item for item in source.items if item[2].get("account") == account)
    return EventSource(items=items, total=None, skipped=source.skipped)


def open_events(events: Any) -> EventSource:
    """The events of ``events`` (see the module docstring), in ``created`` order."""
    if isinstance(events, (str, os.PathLike)):
        path = Path(events)
        if path.is_dir():
            return _from_values(_directory_values(path))
        if not path.is_file():
            raise EventError(f"no such events file or directory: {path}")
        if path.suffix.lower() in _JSON_LINES:
            return _json_lines(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":  # one JSON value a line, whatever the name says
                return _json_lines(path)
            raise EventError(f"{path} is not JSON: {exc}") from None
        return _from_values(_document_values(document))
    if isinstance(events, Mapping):
        return _from_values(_document_values(events))
    return _from_values(iter(events))


def _document_values(document: Any) -> Iterator[Any]:
    """The events a parsed JSON document holds: itself, a list response's items (oldest
    first), or an array's items."""
    if _is_list(document):
        yield from reversed(document["data"])
    elif isinstance(document, list):
        yield from document
    else:
        yield document


def _directory_values(path: Path) -> Iterator[Any]:
    """Every event in the ``.json`` and JSON Lines files under ``path``, by file name."""
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        suffix = file.suffix.lower()
        if suffix in _JSON_LINES:
            with file.open("rb") as handle:
                for line in handle:
                    if line.strip():
                        yield _parse(line)
        elif suffix == ".json":
            yield from _document_values(_parse(file.read_bytes()))


class _NotJSON:
    """Stands for a file or line that does not parse."""


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _NotJSON()


def _from_values(values: Iterator[Any]) -> EventSource:
    source = EventSource(items=(), total=None)
    items: list[Item] = []
    for value in values:
        if isinstance(value, _NotJSON):
            source.skip("not JSON")
            continue
        reason = _reason(value)
        if reason is not None:
            source.skip(reason)
            continue
        items.append((value["created"], len(items), value))
    items.sort(key=lambda item: (item[0], item[1]))
    source.items = items
    source.total = len(items)
    return source


def _json_lines(path: Path) -> EventSource:
    created = array.array("q")
    offsets = array.array("q")
    source = EventSource(items=(), total=None)
    in_order = True
    with path.open("rb") as handle:
        offset = 0
        for line in handle:
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            value = _parse(line)
            if isinstance(value, _NotJSON):
                source.skip("not JSON")
                continue
            reason = _reason(value)
            if reason is not None:
                source.skip(reason)
                continue
            if created and value["created"] < created[-1]:
                in_order = False
            created.append(value["created"])
            offsets.append(start)
    source.total = len(created)
    if in_order:  # read the file again from the top: no index to keep
        source.items = _read_lines(path, None, array.array("q"), array.array("q"))
    else:
        order = array.array("q", sorted(range(len(created)), key=created.__getitem__))
        source.items = _read_lines(path, order, created, offsets)
    return source


def _read_lines(
    path: Path, order: array.array[int] | None, created: array.array[int], offsets: array.array[int]
) -> Iterator[Item]:
    with path.open("rb") as handle:
        if order is None:
            number = 0
            for line in handle:  # the same lines as the first pass kept, in the same order
                if not line.strip():
                    continue
                value = _parse(line)
                if isinstance(value, _NotJSON) or _reason(value) is not None:
                    continue
                yield value["created"], number, value
                number += 1
            return
        for number in order:
            handle.seek(offsets[number])
            yield created[number], number, json.loads(handle.readline())


@dataclass(frozen=True, slots=True)
class Delivery:
    """One arrival of an event at ``at`` (epoch seconds); ``copy`` 1 is a second arrival."""

    at: float
    event: Mapping[str, Any]
    created: int
    sequence: int
    copy: int = 0


@dataclass
class Deliveries:
    """The arrivals of ``source``'s events: each once at its ``created``, or, with a ``seed``,
    as a hostile network delivers them (see the module docstring)."""

    source: EventSource
    seed: int | None = None
    duplicates: int = 0
    late: int = 0
    reordered: int = 0
    _happened: deque[Item] = field(default_factory=deque)
    _newest: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[Delivery]:
        if self.seed is None:
            for created, sequence, event in self.source.items:
                self._happened.append((created, sequence, event))
                yield Delivery(float(created), event, created, sequence)
            return
        yield from self._hostile(random.Random(self.seed))

    def _hostile(self, rng: random.Random) -> Iterator[Delivery]:
        waiting: list[tuple[float, int, Delivery]] = []
        order = 0
        for created, sequence, event in self.source.items:
            while waiting and waiting[0][0] < created:  # nothing read later can come sooner
                yield self._release(heapq.heappop(waiting)[2])
            self._happened.append((created, sequence, event))
            delay = rng.uniform(0.0, SHUFFLE_WINDOW)
            if rng.random() < LATE_RATE:
                delay += rng.uniform(0.0, LATE_MAX)
                self.late += 1
            first = Delivery(created + delay, event, created, sequence)
            heapq.heappush(waiting, (first.at, order, first))
            order += 1
            if rng.random() < DUPLICATE_RATE:
                again = min(rng.expovariate(1.0 / DUPLICATE_MEAN), MAX_LATE)
                copy = Delivery(first.at + again, event, created, sequence, copy=1)
                heapq.heappush(waiting, (copy.at, order, copy))
                order += 1
                self.duplicates += 1
        while waiting:
            yield self._release(heapq.heappop(waiting)[2])

    def _release(self, delivery: Delivery) -> Delivery:
        """``delivery``, counted as reordered when a later event arrived before it."""
        place = (delivery.created, delivery.sequence)
        if self._newest is not None and place < self._newest:
            self.reordered += 1
        else:
            self._newest = place
        return delivery

    def happened(self, moment: float, upto: int | None = None) -> Iterator[Mapping[str, Any]]:
        """The events, in ``created`` order, that happened by ``moment`` and were not given
        before; with ``upto``, of those created exactly at ``moment`` only the ones up to that
        sequence number."""
        queue = self._happened
        while queue:
            created, sequence, event = queue[0]
            if created > moment or (created == moment and upto is not None and sequence > upto):
                return
            queue.popleft()
            yield event
