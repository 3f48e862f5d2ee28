"""examples/fastapi_app.py through FastAPI's TestClient: the Stripe webhook defers, the
engine's ``run_due`` runs what it stored, and both endpoints refuse what is not signed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import dunning_rules as dr
from tests.recipes import support
from tests.recipes.support import failed_body, stripe_headers
from tests.recipes.web_cases import (  # noqa: F401 (run here, on this module's `web`)
    test_a_duplicate_delivery_starts_no_second_run,
    test_a_forged_slack_interaction_is_refused,
    test_a_signed_body_that_is_not_an_event_is_refused,
    test_a_signed_event_is_stored_and_no_step_runs,
    test_a_slack_interaction_that_is_not_ours_is_ignored,
    test_an_answer_for_an_unknown_run_is_not_found,
    test_an_unverified_event_is_refused,
    test_run_due_runs_what_the_webhook_deferred,
    test_the_store_is_the_one_dunning_store_names,
)

fastapi_app = support.load_example("fastapi_app")


@pytest.fixture
def engine(app_env: str, fakes: support.Fakes) -> Iterator[dr.Engine]:
    """The app's own engine factory, with recording adapters."""
    engine = fastapi_app.build_engine(**fakes.options)
    yield engine
    engine.close()


@pytest.fixture
def client(engine: dr.Engine) -> Iterator[TestClient]:
    with TestClient(fastapi_app.create_app(engine)) as client:  # runs the app's lifespan
        yield client


def post_event(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/stripe/webhook", content=body, headers={**headers, "Content-Type": "application/json"}
    )


@pytest.fixture
def web(client: TestClient) -> support.Web:
    return support.Web(
        post_event=lambda body, headers: post_event(client, body, headers),
        post_slack=lambda body, headers: client.post(
            "/slack/interactions", content=body, headers=headers
        ),
        json=lambda response: response.json(),
        content=lambda response: response.content,
    )


def test_handle_runs_in_the_thread_pool_not_on_the_event_loop(app_env, fakes):
    """The webhook's ``handle`` (here, the lookup that a condition reads) runs in a thread with
    no running event loop: it blocks a pool thread, never the loop."""
    loops: list[bool] = []

    def ltv(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:
            loops.append(False)
        return support.customer_ltv(args, ctx)

    options = fakes.options
    options["lookups"]["stripe.customer_ltv"] = ltv
    engine = fastapi_app.build_engine(**options)
    body = failed_body()
    with TestClient(fastapi_app.create_app(engine)) as client:
        assert post_event(client, body, stripe_headers(body)).status_code == 200
    assert loops == [False]
