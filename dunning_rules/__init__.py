"""dunning_rules: turn Stripe webhook events into failed-payment recovery steps, by YAML rules.

import dunning_rules as dr

engine = dr.Engine(dr.load_rules("rules.yaml"), store="sqlite:///dunning.db")
outcome = engine.handle(event)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import actions, errors, store
from ._engine import Engine
from ._webhooks import verify_stripe_event
from .actions.base import ActionContext, Adapter
from .errors import (
    AdapterError,
    ApprovalNotPendingError,
    DunningRulesError,
    EventError,
    ExpressionError,
    InteractionError,
    PluginError,
    RuleFileError,
    RunNotFoundError,
    SignatureError,
    StoreError,
)
from .outcome import ActionRecord, Outcome, Run

if TYPE_CHECKING:
    from ._replay import ReplayComparison, ReplayError, ReplayReport
from .rules.loader import load_rules
from .rules.model import Rule, RuleSet

_REPLAY_NAMES = ("ReplayComparison", "ReplayError", "ReplayReport")


def replay(rules: RuleSet, events: Any, **options: Any) -> ReplayReport:
    """Run a past stream of events through ``rules`` on a simulated clock, sending nothing;
    see :func:`dunning_rules._replay.replay` for the options."""
    from ._replay import replay as run

    return run(rules, events, **options)


def replay_compare(
    before: RuleSet, after: RuleSet, events: Any, **options: Any
) -> ReplayComparison:
    """The same events through two rule sets; see :func:`dunning_rules._replay.replay_compare`."""
    from ._replay import replay_compare as run

    return run(before, after, events, **options)


def __getattr__(name: str) -> Any:
    """The replay report's classes, imported on first use (handling events needs none)."""
    if name in _REPLAY_NAMES:
        from . import _replay

        return getattr(_replay, name)
    raise AttributeError(f"module 'dunning_rules' has no attribute {name!r}")


# A library's loggers get no handler but this one, as the logging docs advise: warnings reach
# whatever the application configured, and print nothing by themselves where it configured none.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "ActionContext",
    "ActionRecord",
    "actions",
    "Adapter",
    "AdapterError",
    "ApprovalNotPendingError",
    "DunningRulesError",
    "Engine",
    "errors",
    "EventError",
    "ExpressionError",
    "InteractionError",
    "load_rules",
    "Outcome",
    "PluginError",
    "replay",
    "replay_compare",
    "ReplayComparison",
    "ReplayError",
    "ReplayReport",
    "Rule",
    "RuleFileError",
    "RuleSet",
    "Run",
    "RunNotFoundError",
    "SignatureError",
    "store",
    "StoreError",
    "verify_stripe_event",
]
