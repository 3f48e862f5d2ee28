"""Fixtures of the store tests: the PostgreSQL server named by DUNNING_RULES_TEST_POSTGRES.

Start a throwaway server with ``export DUNNING_RULES_TEST_POSTGRES=$(.ci/postgres.sh start)``.
Without it the PostgreSQL tests skip, except under CI (env ``CI`` set), where they fail.
Each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .races import Backend, sqlite_url

POSTGRES_ENV = "DUNNING_RULES_TEST_POSTGRES"


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its connections using ``schema``."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the test server; skips (fails under CI) when it is not set."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        how = f"set {POSTGRES_ENV}, e.g. `export {POSTGRES_ENV}=$(.ci/postgres.sh start)`"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {how}")
        pytest.skip(f"no PostgreSQL server: {how}")
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield with_search_path(postgres_url, schema)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The same test on the memory store, a SQLite file and a PostgreSQL schema."""
    kind = request.param
    url = None
    if kind == "sqlite":
        url = sqlite_url(tmp_path)
    elif kind == "postgres":
        url = request.getfixturevalue("postgres_schema_url")
    opened = Backend(kind, url)
    yield opened
    opened.close()
