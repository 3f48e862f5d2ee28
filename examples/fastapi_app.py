"""A FastAPI app that takes Stripe's webhook and Slack's approval buttons.

Run it with uvicorn's factory mode, and a worker beside it that carries the runs on::

    export STRIPE_WEBHOOK_SECRET=whsec_...  SLACK_SIGNING_SECRET=...
    export DUNNING_STORE=sqlite:///dunning.db        # or postgresql://... for several machines
    uvicorn --factory fastapi_app:create_app --app-dir examples --port 8000
    python examples/worker.py

Point Stripe at ``POST /stripe/webhook`` and the Slack app's Interactivity Request URL at
``POST /slack/interactions``. The webhook stores the event and starts its runs without running
a step (``defer=True``), so it answers in milliseconds; the worker sends the messages.

Configuration comes from the environment, as in flask_app.py: ``DUNNING_RULES_FILE``,
``DUNNING_STORE`` (default ``sqlite:///dunning.db``), ``STRIPE_WEBHOOK_SECRET`` (required),
``SLACK_SIGNING_SECRET``, and the adapters' own variables (``STRIPE_API_KEY``, ...).

Why the endpoints are plain ``def`` functions: ``engine.handle`` and
``engine.handle_slack_interaction`` block on the store (SQLite or PostgreSQL, and a Stripe
lookup when a condition reads ``vars.``). FastAPI runs a ``def`` endpoint in its thread pool,
so that blocking holds one worker thread and never the event loop. The signature covers the
exact bytes of the body, and reading them needs ``await``: the small ``async`` dependency
:func:`raw_body` reads them on the event loop, and the endpoint gets them as ``bytes``. (The
other way round works too: an ``async def`` endpoint that does ``await request.body()`` and
then calls ``handle`` through ``starlette.concurrency.run_in_threadpool``. Never call
``handle`` directly from an ``async def`` endpoint: it would stall every other request.)
Never declare the body as a pydantic model or ``dict``: FastAPI would parse it, and the bytes
that were signed would be gone.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

import dunning_rules as dr

RULES = Path(__file__).with_name("smart_dunning.yaml")


def build_engine(**options: Any) -> dr.Engine:
    """The app's engine: rules and store from the environment; ``options`` go to
    :class:`dunning_rules.Engine` (``adapters=``, ``lookups=``, ``clock=``, ``store=``)."""
    rules = dr.load_rules(os.environ.get("DUNNING_RULES_FILE", str(RULES)))
    options.setdefault("store", os.environ.get("DUNNING_STORE", "sqlite:///dunning.db"))
    return dr.Engine(rules, **options)


async def raw_body(request: Request) -> bytes:
    """The request body exactly as it arrived (what the sender signed)."""
    return await request.body()


def create_app(engine: dr.Engine | None = None) -> FastAPI:
    """The FastAPI app, on ``engine`` (default: :func:`build_engine`); closed on shutdown."""
    engine = engine if engine is not None else build_engine()
    stripe_secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    slack_secret = os.environ.get("SLACK_SIGNING_SECRET", "")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.close()

    app = FastAPI(lifespan=lifespan)
    app.state.engine = engine

    @app.post("/stripe/webhook")
    def stripe_webhook(
        body: Annotated[bytes, Depends(raw_body)],
        stripe_signature: Annotated[str, Header()] = "",
    ) -> JSONResponse:
        try:
            event = dr.verify_stripe_event(body, stripe_signature, stripe_secret)
        except (dr.SignatureError, dr.EventError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)  # forged, stale, not v1
        outcome = engine.handle(event, defer=True)  # stored in one transaction; no step runs
        return JSONResponse(
            {
                "event_id": outcome.event_id,
                "duplicate": outcome.duplicate,  # delivered before: nothing else happened
                "runs": [run.id for run in outcome.runs],
            }
        )

    @app.post("/slack/interactions")
    def slack_interaction(request: Request, body: Annotated[bytes, Depends(raw_body)]) -> Response:
        try:
            engine.handle_slack_interaction(body, request.headers, slack_secret)
        except dr.SignatureError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except dr.InteractionError:
            return Response(status_code=200)  # signed by Slack, another button of the app
        except dr.RunNotFoundError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except dr.ApprovalNotPendingError as exc:
            # Already answered, timed out or moved on: Slack shows the reason to who clicked.
            answer = {"response_type": "ephemeral", "replace_original": False, "text": exc.reason}
            return JSONResponse(answer)
        return Response(status_code=200)

    return app
