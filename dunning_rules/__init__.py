"""dunning_rules: turn Stripe webhook events into failed-payment recovery steps, by YAML rules.

import dunning_rules as dr

engine = dr.Engine(dr.load_rules("rules.yaml"), store="sqlite:///dunning.db")
outcome = engine.handle(event)
"""

from __future__ import annotations

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
from .rules.loader import load_rules
from .rules.model import Rule, RuleSet

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
