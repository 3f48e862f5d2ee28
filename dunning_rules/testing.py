"""Fakes for testing code that embeds dunning_rules: no network, no real time.

- :class:`RecordingAdapter` records every call and answers what it is told (or fails).
- :class:`FixedClock` is a clock you move by hand: ``clock.advance(days=3)``.
- :class:`~dunning_rules.store._contract.StoreContract` is the run-store contract suite:
  subclass it for your own store (it needs pytest).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .actions.base import ActionContext
from .errors import AdapterError

if TYPE_CHECKING:
    from .store._contract import StoreContract

__all__ = ["Call", "FixedClock", "RecordingAdapter", "StoreContract"]


def __getattr__(name: str) -> Any:
    if name == "StoreContract":  # imports pytest: only for whoever asks
        from .store._contract import StoreContract

        return StoreContract
    raise AttributeError(name)


class FixedClock:
    """A clock that stands still until moved: ``FixedClock("2026-01-01T00:00:00Z")``."""

    def __init__(self, start: _dt.datetime | str = "2026-01-01T00:00:00+00:00") -> None:
        moment = _dt.datetime.fromisoformat(start) if isinstance(start, str) else start
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.now = moment

    def __call__(self) -> _dt.datetime:
        return self.now

    def advance(self, **delta: float) -> _dt.datetime:
        """Move forward by ``timedelta(**delta)``; return the new time."""
        self.now += _dt.timedelta(**delta)
        return self.now


@dataclass(frozen=True, slots=True)
class Call:
    """One call an adapter received."""

    params: dict[str, Any]
    ctx: ActionContext


@dataclass
class RecordingAdapter:
    """An adapter that records its calls and returns ``output`` (or whatever ``respond`` says).

    ``fail_times`` makes the first calls raise ``AdapterError`` (``retryable`` as given);
    ``params_schema`` is checked at build. As the adapter of an ``approval`` step it announces
    nothing, and the engine pauses the run after it as after any approval adapter.
    """

    output: Mapping[str, Any] | None = None
    respond: Callable[[dict[str, Any], ActionContext], Mapping[str, Any] | None] | None = None
    fail_times: int = 0
    retryable: bool = True
    params_schema: Mapping[str, Any] | None = None
    calls: list[Call] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        self.calls.append(Call(params, ctx))
        if len(self.calls) <= self.fail_times:
            raise AdapterError(
                f"recorded failure {len(self.calls)} of {self.fail_times}",
                retryable=self.retryable,
            )
        answer = self.respond(params, ctx) if self.respond is not None else self.output
        return dict(answer) if answer is not None else None

    @property
    def params(self) -> list[dict[str, Any]]:
        """The params of every call, in order."""
        return [c.params for c in self.calls]
