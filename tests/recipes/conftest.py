"""Fixtures of the recipe tests: the apps' environment, fake adapters, a PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.recipes.support import SLACK_SECRET, STRIPE_SECRET, Fakes

POSTGRES_ENV = "DUNNING_RULES_TEST_POSTGRES"


@pytest.fixture
def fakes() -> Fakes:
    """Recording adapters and lookups for every step type of the example rules."""
    return Fakes()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite file of the test's own."""
    return f"sqlite:///{tmp_path / 'dunning.db'}"


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    """The environment an app reads: the signing secrets and ``DUNNING_STORE`` (returned)."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_SECRET)
    monkeypatch.setenv("DUNNING_STORE", store_url)
    monkeypatch.delenv("DUNNING_RULES_FILE", raising=False)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    return store_url


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema of the test server; skips without
    one (fails under CI, which always has one)."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: set {POSTGRES_ENV}")
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}")
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
