"""The adapter contract: what a step type's implementation receives and returns.

An adapter is any callable ``adapter(params, ctx) -> dict | None``. ``params`` are the step's
parameters with every ``{{ }}`` placeholder rendered; ``ctx`` is an :class:`ActionContext`.
Returning a dict makes it the step's output (``steps.<id>`` for later steps); raising is
failure. Raise :class:`~dunning_rules.errors.AdapterError` with ``retryable`` to say whether
the engine's ``retry`` policy may try again; any other exception counts as retryable.

A class adapter may declare ``params_schema`` (a JSON Schema, draft 2020-12): the engine checks
every step of its type against it when it is built, so a missing ``to:`` is a
:class:`~dunning_rules.errors.RuleFileError` with the step's line, not a failure on the first
customer.

The adapter of the ``approval`` type only announces the request; the engine pauses the run
after it, whatever adapter it is, until ``Engine.resume`` answers that approval: name it in the
answer with ``ctx.index`` and ``ctx.approval_nonce`` (Slack buttons carry both).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import stripe

__all__ = ["ActionContext", "Adapter", "LookupContext", "approval_nonce"]


def approval_nonce(run_id: str, index: int) -> str:
    """The nonce that names the approval at step ``index`` of run ``run_id`` (16 hex digits):
    an answer must carry it, so that an old button cannot answer a later approval."""
    return hashlib.sha256(f"{run_id}\x1fapproval\x1f{index}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionContext:
    """What an adapter knows about the step it runs.

    ``idempotency_key`` is stable for one step of one run: a step that runs again after a crash
    or a retry gets the same key, so pass it to every provider that accepts one.
    ``warnings`` collects what :meth:`warn` was told; the engine adds them to the outcome.
    """

    event: Mapping[str, Any]
    run_id: str
    rule: str
    action_id: str | None
    idempotency_key: str
    stripe_client: stripe.StripeClient | None
    now: _dt.datetime
    index: int = 0
    step_type: str = ""
    attempt: int = 1
    simulate: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def approval_nonce(self) -> str:
        """For an ``approval`` step: the nonce its answer must carry (with ``index``)."""
        return approval_nonce(self.run_id, self.index)

    def warn(self, message: str) -> None:
        """Add a warning to the step's outcome (the step still succeeds)."""
        self.warnings.append(message)


@runtime_checkable
class Adapter(Protocol):
    """A step type's implementation: ``(params, ctx) -> dict | None``; raising is failure."""

    def __call__(self, params: dict[str, Any], ctx: ActionContext, /) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupContext:
    """What a lookup (``lookups:`` in a rule file) knows: the event and the Stripe client."""

    event: Mapping[str, Any]
    name: str
    stripe_client: stripe.StripeClient | None
    now: _dt.datetime
