"""What the recipe tests share: the example modules, signed requests and fake adapters.

The recipes in ``examples/`` are loaded from their files (they are not a package). Stripe bodies
are signed as tests/test_webhooks.py signs them, Slack requests as
tests/test_slack_interaction.py does, with the time of now (the apps check it).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dunning_rules.testing import RecordingAdapter
from tests.paths import FIXTURES
from tests.test_slack_interaction import form, payload_of, signed
from tests.test_webhooks import sign

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STRIPE_SECRET = "whsec_test_recipes_secret"
SLACK_SECRET = "slack_test_recipes_signing_secret"
EVENT_ID = "evt_1PgdA1B7WZ01zgkWdunn0001"  # the id in the fixture below
CUSTOMER_EMAIL = "jenny.rosen@example.com"
UNKNOWN_RUN = "run_" + "ab" * 16


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as the module ``examples_<name>`` (loaded once)."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def failed_body() -> bytes:
    """The fixture invoice.payment_failed event, as Stripe sends it."""
    return (FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_bytes()


def load_event() -> dict[str, Any]:
    """The fixture invoice.payment_failed event, parsed."""
    event: dict[str, Any] = json.loads(failed_body())
    return event


def stripe_headers(body: bytes, *, secret: str = STRIPE_SECRET, age: int = 0) -> dict[str, str]:
    """A ``Stripe-Signature`` header for ``body``, signed ``age`` seconds ago."""
    return {"Stripe-Signature": sign(body, secret, int(time.time()) - age)}


def slack_request(
    action_id: str = "dunning_approve",
    value: str = f"{UNKNOWN_RUN}:2:0123456789abcdef",
    *,
    secret: str = SLACK_SECRET,
) -> tuple[bytes, dict[str, str]]:
    """A Slack block_actions request (body and signature headers), signed now."""
    body = form(payload_of(action_id, value))
    headers = signed(body, stamp=int(time.time()), secret=secret)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return body, headers


def customer_ltv(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``stripe.customer_ltv`` lookup of a small customer."""
    return {"amount": 2000, "currency": "usd"}


def customer(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``stripe.customer`` lookup: a customer who reads English."""
    return {"id": args.get("customer"), "preferred_locales": ["en"]}


@dataclass
class Fakes:
    """A RecordingAdapter for every step type of examples/smart_dunning.yaml, and its lookups."""

    adapters: dict[str, RecordingAdapter] = field(
        default_factory=lambda: {
            "stripe.invoice": RecordingAdapter(output={"id": "in_1", "status": "open"}),
            "llm": RecordingAdapter(output={"text": "Hi Jenny, your card was declined."}),
            "email": RecordingAdapter(output={"id": "msg_1"}),
            "sms": RecordingAdapter(output={"sid": "SM1"}),
            "slack": RecordingAdapter(output={"ts": "1.1"}),
            "ticket": RecordingAdapter(output={"id": "T1"}),
        }
    )

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments for an app's engine factory."""
        lookups = {"stripe.customer_ltv": customer_ltv, "stripe.customer": customer}
        return {"adapters": dict(self.adapters), "lookups": lookups}

    def counts(self) -> dict[str, int]:
        """How many calls each adapter received, for those that received any."""
        return {name: len(a.calls) for name, a in self.adapters.items() if a.calls}


# What the first pass of the standard rule calls, up to its 3-day wait.
FIRST_PASS = {"stripe.invoice": 1, "llm": 1, "email": 1}


@dataclass(frozen=True)
class Web:
    """How one framework's test client posts to the recipe's endpoints and reads answers (the
    shared cases of :mod:`tests.recipes.web_cases` run through it)."""

    post_event: Callable[[bytes, dict[str, str]], Any]
    post_slack: Callable[[bytes, dict[str, str]], Any]
    json: Callable[[Any], Any]
    content: Callable[[Any], bytes]
