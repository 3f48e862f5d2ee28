"""examples/django_app through ``django.test.Client`` (CSRF checks on, as in production): the
Stripe webhook defers, the ``dunning_worker`` command runs what it stored, both endpoints
refuse what is not signed, and the command stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import dunning_rules as dr
from tests.recipes import support
from tests.recipes.support import (
    FIRST_PASS,
    SLACK_SECRET,
    STRIPE_SECRET,
    failed_body,
    slack_request,
    stripe_headers,
)

PROJECT = support.EXAMPLES / "django_app"


@pytest.fixture(scope="module")
def django_site() -> Any:
    """Django configured for the example app (once per process, as Django allows)."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="recipes-test-key",
            DEBUG=False,
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=["dunning_hooks"],
            MIDDLEWARE=[
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
            ],
            ROOT_URLCONF="billing_site.urls",
            DATABASES={},
            USE_TZ=True,
            DUNNING_RULES_FILE=str(support.EXAMPLES / "smart_dunning.yaml"),
            DUNNING_STORE="memory:",
            DUNNING_ENGINE_OPTIONS={},
            STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
        )
        django.setup()
    return settings


@pytest.fixture
def engine(django_site: Any, store_url: str, fakes: support.Fakes) -> Iterator[dr.Engine]:
    """The app's engine, built by its factory from settings that name a SQLite file of the
    test's own and recording adapters."""
    from django.test import override_settings
    from dunning_hooks.engine import get_engine

    with override_settings(DUNNING_STORE=store_url, DUNNING_ENGINE_OPTIONS=fakes.options):
        yield get_engine()


@pytest.fixture
def client(engine: dr.Engine) -> Any:
    from django.test import Client

    return Client(enforce_csrf_checks=True)


def post_event(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/dunning/stripe/webhook", data=body, content_type="application/json", headers=headers
    )


def post_slack(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/dunning/slack/interactions",
        data=body,
        content_type=headers.pop("Content-Type"),
        headers=headers,
    )


def test_a_signed_event_is_stored_and_no_step_runs(client, engine, fakes):
    """A signed invoice.payment_failed is answered 200 with its run stored, due, and no adapter
    called (the view is exempt from CSRF)."""
    body = failed_body()
    response = post_event(client, body, stripe_headers(body))
    assert response.status_code == 200
    [run] = engine.runs()
    assert response.json() == {"event_id": support.EVENT_ID, "duplicate": False, "runs": [run.id]}
    assert (run.rule, run.status, run.steps) == ("standard-card-declined", "waiting", ())
    assert fakes.counts() == {}


def test_the_worker_command_runs_what_the_webhook_deferred(client, engine, fakes):
    """``manage.py dunning_worker --once`` runs the deferred steps, up to the 3-day wait."""
    from django.core.management import call_command
    from dunning_hooks.engine import get_engine

    body = failed_body()
    post_event(client, body, stripe_headers(body))
    call_command("dunning_worker", "--once", stdout=(out := _Text()))
    assert fakes.counts() == FIRST_PASS
    assert fakes.adapters["email"].params[0]["to"] == support.CUSTOMER_EMAIL
    assert out.text.splitlines() == [
        "carried on 1 runs, 5 steps",
        "dunning worker stopped after 1 runs",
    ]
    assert [run.status for run in get_engine().runs()] == ["waiting"]


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


def test_a_duplicate_delivery_starts_no_second_run(client, engine):
    """The same event delivered twice is answered 200 both times, the second as a duplicate
    that starts nothing."""
    body = failed_body()
    post_event(client, body, stripe_headers(body))
    again = post_event(client, body, stripe_headers(body))
    assert again.status_code == 200
    assert again.json() == {"event_id": support.EVENT_ID, "duplicate": True, "runs": []}
    assert len(engine.runs()) == 1


def test_a_get_is_not_allowed(client):
    """The webhook takes POST only."""
    assert client.get("/dunning/stripe/webhook").status_code == 405


def test_a_forged_slack_interaction_is_refused(client):
    """A Slack request signed with another secret is answered 400."""
    response = post_slack(client, *slack_request(secret="forged"))
    assert response.status_code == 400
    assert response.json() == {"error": "Slack signature does not match"}


def test_a_slack_interaction_that_is_not_ours_is_ignored(client):
    """A signed click on another button of the Slack app is answered 200 with nothing in it."""
    response = post_slack(client, *slack_request("another_button"))
    assert (response.status_code, response.content) == (200, b"")


def test_an_answer_for_an_unknown_run_is_not_found(client):
    """A signed approval click that names no stored run is answered 404."""
    assert post_slack(client, *slack_request()).status_code == 404


def test_the_worker_command_stops_cleanly_on_sigterm(tmp_path):
    """``python manage.py dunning_worker``, with the project's settings read from the
    environment, exits 0 soon after SIGTERM."""
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "recipes-test-key",
        "DUNNING_STORE": f"sqlite:///{tmp_path / 'dunning.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "dunning_worker", "--idle", "0.2"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "dunning worker started\n"
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=10)
    finally:
        worker.kill()
        worker.wait()
    assert (worker.returncode, out, err) == (0, "dunning worker stopped after 0 runs\n", "")


class _Text:
    """A stdout for ``call_command`` that keeps what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass
