"""examples/flask_app.py through Flask's test client: the Stripe webhook defers, the engine's
``run_due`` runs what it stored, and both endpoints refuse what is not signed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import dunning_rules as dr
from tests.recipes import support
from tests.recipes.support import FIRST_PASS, failed_body, slack_request, stripe_headers

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


def test_a_signed_event_is_stored_and_no_step_runs(client, engine, fakes):
    """A signed invoice.payment_failed is answered 200 with its run stored, due, and no adapter
    called."""
    body = failed_body()
    response = post_event(client, body, stripe_headers(body))
    assert response.status_code == 200
    [run] = engine.runs()
    assert response.get_json() == {
        "event_id": support.EVENT_ID,
        "duplicate": False,
        "runs": [run.id],
    }
    assert (run.rule, run.status, run.steps) == ("standard-card-declined", "waiting", ())
    assert fakes.counts() == {}


def test_run_due_runs_what_the_webhook_deferred(client, engine, fakes):
    """``run_due`` after the webhook runs the deferred steps, up to the rule's 3-day wait."""
    body = failed_body()
    post_event(client, body, stripe_headers(body))
    [outcome] = engine.run_due()
    assert fakes.counts() == FIRST_PASS
    assert fakes.adapters["email"].params[0]["to"] == support.CUSTOMER_EMAIL
    assert outcome.runs[0].status == "waiting"


def test_the_store_is_the_one_dunning_store_names(client, app_env):
    """The run lands in the store that ``DUNNING_STORE`` names, where another engine finds it."""
    body = failed_body()
    post_event(client, body, stripe_headers(body))
    other = dr.Engine(dr.load_rules(support.EXAMPLES / "smart_dunning.yaml"), store=app_env)
    try:
        assert [run.status for run in other.runs()] == ["waiting"]
    finally:
        other.close()


@pytest.mark.parametrize(
    "headers",
    [
        stripe_headers(failed_body(), secret="whsec_forged"),
        stripe_headers(failed_body(), age=600),
        {},
    ],
    ids=["forged", "stale", "missing"],
)
def test_an_unverified_event_is_refused(client, engine, headers):
    """A forged, a 10-minute-old or a missing signature is answered 400 and stores nothing."""
    response = post_event(client, failed_body(), headers)
    assert response.status_code == 400
    assert engine.runs() == []


def test_a_signed_body_that_is_not_an_event_is_refused(client, engine):
    """A correctly signed JSON body that is not a Stripe event is answered 400."""
    body = b'{"id": "evt_1", "object": "event"}'
    response = post_event(client, body, stripe_headers(body))
    assert response.status_code == 400
    assert response.get_json() == {"error": "event 'evt_1' needs a string 'type'"}


def test_a_duplicate_delivery_starts_no_second_run(client, engine, fakes):
    """The same event delivered twice is answered 200 both times, the second as a duplicate
    that starts nothing."""
    body = failed_body()
    post_event(client, body, stripe_headers(body))
    again = post_event(client, body, stripe_headers(body))
    assert again.status_code == 200
    assert again.get_json() == {"event_id": support.EVENT_ID, "duplicate": True, "runs": []}
    assert len(engine.runs()) == 1


def test_a_forged_slack_interaction_is_refused(client):
    """A Slack request signed with another secret is answered 400."""
    body, headers = slack_request(secret="forged")
    response = client.post("/slack/interactions", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {"error": "Slack signature does not match"}


def test_a_slack_interaction_that_is_not_ours_is_ignored(client):
    """A signed click on another button of the Slack app is answered 200 with nothing in it."""
    body, headers = slack_request("another_button")
    response = client.post("/slack/interactions", data=body, headers=headers)
    assert (response.status_code, response.data) == (200, b"")


def test_an_answer_for_an_unknown_run_is_not_found(client):
    """A signed approval click that names no stored run is answered 404."""
    body, headers = slack_request()
    response = client.post("/slack/interactions", data=body, headers=headers)
    assert response.status_code == 404
