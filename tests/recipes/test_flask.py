"""examples/flask_app.py through Flask's test client: the Stripe webhook defers, the engine's
``run_due`` runs what it stored, and both endpoints refuse what is not signed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import dunning_rules as dr
from tests.recipes import support
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

flask_app = support.load_example("flask_app")


@pytest.fixture
def engine(app_env: str, fakes: support.Fakes) -> Iterator[dr.Engine]:
    """The app's own engine factory, with recording adapters."""
    engine = flask_app.build_engine(**fakes.options)
    yield engine
    engine.close()


@pytest.fixture
def client(engine: dr.Engine) -> Any:
    return flask_app.create_app(engine).test_client()


def post_event(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/stripe/webhook", data=body, headers=headers, content_type="application/json"
    )


@pytest.fixture
def web(client: Any) -> support.Web:
    return support.Web(
        post_event=lambda body, headers: post_event(client, body, headers),
        post_slack=lambda body, headers: client.post(
            "/slack/interactions", data=body, headers=headers
        ),
        json=lambda response: response.get_json(),
        content=lambda response: response.data,
    )
