"""A Flask app that takes Stripe's webhook and Slack's approval buttons.

Run it (Flask finds ``create_app`` by itself), and a worker beside it that carries the runs on::

    export STRIPE_WEBHOOK_SECRET=whsec_...  SLACK_SIGNING_SECRET=...
    export DUNNING_STORE=sqlite:///dunning.db        # or postgresql://... for several machines
    flask --app examples/flask_app.py run --port 8000
    python examples/worker.py

Point Stripe at ``POST /stripe/webhook`` and the Slack app's Interactivity Request URL at
``POST /slack/interactions``. The webhook stores the event and starts its runs without running
a step (``defer=True``), so it answers in milliseconds; the worker sends the messages.

Configuration, all from the environment:

- ``DUNNING_RULES_FILE``: the rule file (default: smart_dunning.yaml beside this file);
- ``DUNNING_STORE``: the store URL (default ``sqlite:///dunning.db``);
- ``STRIPE_WEBHOOK_SECRET``: the endpoint's signing secret (required);
- ``SLACK_SIGNING_SECRET``: the Slack app's signing secret (without it every interaction is
  refused with 400);
- the adapters' own variables: ``STRIPE_API_KEY``, ``SLACK_BOT_TOKEN``, ``SENDGRID_API_KEY``, ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, request

import dunning_rules as dr

RULES = Path(__file__).with_name("smart_dunning.yaml")
ENGINE = "dunning_rules"  # the key of the engine in app.extensions


def build_engine(**options: Any) -> dr.Engine:
    """The app's engine: rules and store from the environment; ``options`` go to
    :class:`dunning_rules.Engine` (``adapters=``, ``lookups=``, ``clock=``, ``store=``)."""
    rules = dr.load_rules(os.environ.get("DUNNING_RULES_FILE", str(RULES)))
    options.setdefault("store", os.environ.get("DUNNING_STORE", "sqlite:///dunning.db"))
    return dr.Engine(rules, **options)


def create_app(engine: dr.Engine | None = None) -> Flask:
    """The Flask app, on ``engine`` (default: :func:`build_engine`).

    One engine serves every request thread: the stores are thread-safe and connect on first
    use, so the app can be created before a server such as gunicorn forks its workers.
    """
    app = Flask(__name__)
    app.extensions[ENGINE] = engine = engine if engine is not None else build_engine()
    stripe_secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    slack_secret = os.environ.get("SLACK_SIGNING_SECRET", "")

    @app.post("/stripe/webhook")
    def stripe_webhook() -> tuple[dict[str, Any], int]:
        # The signature covers the exact bytes Stripe sent: read them raw, never re-encode JSON.
        # get(), not [...]: a missing header is a SignatureError (400), not a KeyError (500).
        body, signature = request.get_data(), request.headers.get("Stripe-Signature", "")
        try:
            event = dr.verify_stripe_event(body, signature, stripe_secret)
        except (dr.SignatureError, dr.EventError) as exc:
            return {"error": str(exc)}, 400  # forged, stale, or not a v1 event
        outcome = engine.handle(event, defer=True)  # stored in one transaction; no step runs
        return {
            "event_id": outcome.event_id,
            "duplicate": outcome.duplicate,  # Stripe delivered it before: nothing else happened
            "runs": [run.id for run in outcome.runs],
        }, 200

    @app.post("/slack/interactions")
    def slack_interaction() -> tuple[dict[str, Any] | str, int]:
        try:
            engine.handle_slack_interaction(request.get_data(), dict(request.headers), slack_secret)
        except dr.SignatureError as exc:
            return {"error": str(exc)}, 400
        except dr.InteractionError:
            return "", 200  # signed by Slack, but another button of the app: not ours to answer
        except dr.RunNotFoundError as exc:
            return {"error": str(exc)}, 404
        except dr.ApprovalNotPendingError as exc:
            # Already answered, timed out or moved on: Slack shows the reason to who clicked.
            answer = {"response_type": "ephemeral", "replace_original": False, "text": exc.reason}
            return answer, 200
        return "", 200

    return app
