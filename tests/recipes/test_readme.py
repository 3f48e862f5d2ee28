"""The README's "In your app" snippet runs as written: a Flask app, driven by Flask's test client
in a folder holding ``rules.yaml`` (the example rules), with its environment set."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.recipes import support
from tests.recipes.support import failed_body, stripe_headers

README = support.ROOT / "README.md"


def in_your_app() -> str:
    """The first Python block of the README's "In your app" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## In your app\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert found is not None, "no Python snippet in the README's 'In your app' section"
    return found.group(1)


@pytest.fixture
def readme_app(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The names the snippet defines, executed in a folder with rules.yaml."""
    shutil.copy(support.EXAMPLES / "smart_dunning.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(in_your_app(), str(README), "exec"), names)
    yield names
    names["engine"].close()


def test_the_snippet_is_a_flask_app_reading_the_raw_body(readme_app):
    """The snippet is the Flask recipe's webhook: it reads request.get_data() and defers."""
    source = in_your_app()
    assert "request.get_data()" in source
    assert "request.headers" in source
    assert "defer=True" in source
    assert readme_app["app"].url_map.bind("localhost").match("/stripe/webhook", "POST")


def test_a_signed_event_is_answered_200_and_deferred(readme_app):
    """A signed event gets 200, and its run is stored in the ``DUNNING_STORE`` with no step
    run yet."""
    client = readme_app["app"].test_client()
    body = failed_body()
    response = client.post("/stripe/webhook", data=body, headers=stripe_headers(body))
    assert response.status_code == 200
    [run] = readme_app["engine"].runs()
    assert response.get_json() == {"duplicate": False, "runs": [run.id]}
    assert (run.status, run.steps) == ("waiting", ())


def test_a_duplicate_is_answered_200_as_a_duplicate(readme_app):
    """The same event twice: the second answer says duplicate and starts no run."""
    client = readme_app["app"].test_client()
    body = failed_body()
    client.post("/stripe/webhook", data=body, headers=stripe_headers(body))
    again = client.post("/stripe/webhook", data=body, headers=stripe_headers(body))
    assert again.get_json() == {"duplicate": True, "runs": []}
    assert len(readme_app["engine"].runs()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        stripe_headers(failed_body(), secret="whsec_forged"),
        stripe_headers(failed_body(), age=600),
        {},
    ],
    ids=["forged", "stale", "missing"],
)
def test_an_unverified_event_is_answered_400(readme_app, headers):
    """A forged, stale or missing signature gets 400 and stores nothing."""
    client = readme_app["app"].test_client()
    assert client.post("/stripe/webhook", data=failed_body(), headers=headers).status_code == 400
    assert readme_app["engine"].runs() == []
