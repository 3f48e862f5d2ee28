"""The cases every web recipe passes, whatever its framework: each test module gives a ``web``
fixture that posts through its framework's own test client (see :class:`support.Web`)."""

from __future__ import annotations

import pytest

import dunning_rules as dr
from tests.recipes import support
from tests.recipes.support import FIRST_PASS, failed_body, slack_request, stripe_headers

__all__ = [
    "test_a_signed_event_is_stored_and_no_step_runs",
    "test_run_due_runs_what_the_webhook_deferred",
    "test_the_store_is_the_one_dunning_store_names",
    "test_an_unverified_event_is_refused",
    "test_a_signed_body_that_is_not_an_event_is_refused",
    "test_a_duplicate_delivery_starts_no_second_run",
    "test_a_forged_slack_interaction_is_refused",
    "test_a_slack_interaction_that_is_not_ours_is_ignored",
    "test_an_answer_for_an_unknown_run_is_not_found",
]


def test_a_signed_event_is_stored_and_no_step_runs(web, engine, fakes):
    """A signed invoice.payment_failed is answered 200 with its run stored, due, and no adapter
    called."""
    body = failed_body()
    response = web.post_event(body, stripe_headers(body))
    assert response.status_code == 200
    [run] = engine.runs()
    assert web.json(response) == {
        "event_id": support.EVENT_ID,
        "duplicate": False,
        "runs": [run.id],
    }
    assert (run.rule, run.status, run.steps) == ("standard-card-declined", "waiting", ())
    assert fakes.counts() == {}


def test_run_due_runs_what_the_webhook_deferred(web, engine, fakes):
    """``run_due`` after the webhook runs the deferred steps, up to the rule's 3-day wait."""
    body = failed_body()
    web.post_event(body, stripe_headers(body))
    [outcome] = engine.run_due()
    assert fakes.counts() == FIRST_PASS
    assert fakes.adapters["email"].params[0]["to"] == support.CUSTOMER_EMAIL
    assert outcome.runs[0].status == "waiting"


def test_the_store_is_the_one_dunning_store_names(web, app_env):
    """The run lands in the store that ``DUNNING_STORE`` names, where another engine finds it."""
    body = failed_body()
    web.post_event(body, stripe_headers(body))
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
def test_an_unverified_event_is_refused(web, engine, headers):
    """A forged, a 10-minute-old or a missing signature is answered 400 and stores nothing."""
    response = web.post_event(failed_body(), headers)
    assert response.status_code == 400
    assert engine.runs() == []


def test_a_signed_body_that_is_not_an_event_is_refused(web, engine):
    """A correctly signed JSON body that is not a Stripe event is answered 400."""
    body = b'{"id": "evt_1", "object": "event"}'
    response = web.post_event(body, stripe_headers(body))
    assert response.status_code == 400
    assert web.json(response) == {"error": "event 'evt_1' needs a string 'type'"}


def test_a_duplicate_delivery_starts_no_second_run(web, engine, fakes):
    """The same event delivered twice is answered 200 both times, the second as a duplicate
    that starts nothing."""
    body = failed_body()
    web.post_event(body, stripe_headers(body))
    again = web.post_event(body, stripe_headers(body))
    assert again.status_code == 200
    assert web.json(again) == {"event_id": support.EVENT_ID, "duplicate": True, "runs": []}
    assert len(engine.runs()) == 1


def test_a_forged_slack_interaction_is_refused(web):
    """A Slack request signed with another secret is answered 400."""
    body, headers = slack_request(secret="forged")
    response = web.post_slack(body, headers)
    assert response.status_code == 400
    assert web.json(response) == {"error": "Slack signature does not match"}


def test_a_slack_interaction_that_is_not_ours_is_ignored(web):
    """A signed click on another button of the Slack app is answered 200 with nothing in it."""
    body, headers = slack_request("another_button")
    response = web.post_slack(body, headers)
    assert (response.status_code, web.content(response)) == (200, b"")


def test_an_answer_for_an_unknown_run_is_not_found(web):
    """A signed approval click that names no stored run is answered 404."""
    body, headers = slack_request()
    response = web.post_slack(body, headers)
    assert response.status_code == 404
