"""The PostgreSQL store: the contract, plus schema versions, SKIP LOCKED, concurrent table
creation, reconnection and the missing extra. Needs DUNNING_RULES_TEST_POSTGRES (conftest)."""

from __future__ import annotations

import re
import socket
import sys
import uuid

import pytest

from dunning_rules.errors import MissingExtraError, StoreError
from dunning_rules.store import open_store
from dunning_rules.store._contract import T0, StoreContract, at, batch, concurrently, make_run
from dunning_rules.store.postgres import PostgresStore, redact

CURRENT = str(len(PostgresStore.migrations))
NEXT = str(len(PostgresStore.migrations) + 1)

FAR = at(60 * 24)


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_schema_url):
        self.url = postgres_schema_url

    def make_store(self):
        return PostgresStore(self.url)

    def reopen(self):
        return PostgresStore(self.url)


@pytest.fixture
def url(postgres_schema_url):
    return postgres_schema_url


@pytest.fixture
def admin(postgres_url, url):
    """A plain psycopg connection in the test's schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_store(url):
    store = PostgresStore(url)
    yield store
    store.close()


def schema_version(admin) -> str:
    row = admin.execute(
        "SELECT value FROM dunning_rules_meta WHERE name = 'schema_version'"
    ).fetchone()
    return row[0]


@pytest.mark.postgres
def test_tables_are_prefixed_and_versioned(pg_store, admin):
    """First use creates the dunning_rules_* tables in the schema and records version 1."""
    pg_store.has_event("evt_1")
    tables = {
        row[0]
        for row in admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert tables == {
        "dunning_rules_meta",
        "dunning_rules_events",
        "dunning_rules_runs",
        "dunning_rules_markers",
        "dunning_rules_rule_versions",
    }
    assert schema_version(admin) == CURRENT


@pytest.mark.postgres
def test_live_runs_have_a_partial_unique_index(pg_store, admin):
    """The database itself refuses a second live run for one (rule, key)."""
    import psycopg

    pg_store.ingest(batch("evt_1", make_run("run_1")))
    with pytest.raises(psycopg.errors.UniqueViolation, match="dunning_rules_runs_live"):
        admin.execute(
            "INSERT INTO dunning_rules_runs (id, rule, key, status, body, event) "
            "VALUES ('run_2', 'card-declined', 'in_1', 'awaiting_approval', '{}', '{}')"
        )


@pytest.mark.postgres
def test_newer_schema_is_refused(pg_store, admin, url):
    """A database written by a newer version raises StoreError on first use."""
    pg_store.has_event("evt_1")
    admin.execute("UPDATE dunning_rules_meta SET value = %s WHERE name = 'schema_version'", (NEXT,))
    with pytest.raises(StoreError, match=rf"has schema version {NEXT}, but .* up to {CURRENT}"):
        PostgresStore(url).has_event("evt_1")


class NextPostgresStore(PostgresStore):
    """The store as a future release with one more schema version would ship it."""

    migrations = (
        *PostgresStore.migrations,
        ("ALTER TABLE dunning_rules_runs ADD COLUMN note text",),
    )


@pytest.mark.postgres
def test_older_schema_is_upgraded(pg_store, admin, url):
    """A database opened by code that knows a newer version is migrated, data kept."""
    run = make_run("run_1")
    pg_store.ingest(batch("evt_1", run))
    upgraded = NextPostgresStore(url)
    try:
        assert upgraded.get("run_1") == run
    finally:
        upgraded.close()
    assert schema_version(admin) == NEXT
    columns = [
        row[0]
        for row in admin.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'dunning_rules_runs'"
        )
    ]
    assert "note" in columns


@pytest.mark.postgres
def test_processes_create_tables_at_once(url, admin):
    """Many stores opening an empty database at the same moment create the tables once."""
    stores = [PostgresStore(url) for _ in range(6)]
    try:
        results = concurrently(
            [(lambda s=s, i=i: s.has_event(f"evt_{i}")) for i, s in enumerate(stores)]
        )
    finally:
        for store in stores:
            store.close()
    assert results == [False] * 6
    assert schema_version(admin) == CURRENT


@pytest.mark.postgres
def test_claim_due_skips_locked_runs(pg_store, url):
    """A run locked by another transaction is skipped at once, not waited for."""
    import psycopg

    pg_store.ingest(batch("evt_1", make_run("run_1", key="k1", next_at=at(-2))))
    pg_store.ingest(batch("evt_2", make_run("run_2", key="k2", next_at=at(-1))))
    with psycopg.connect(url) as other:
        other.execute("SET lock_timeout = '5s'")
        other.execute("SELECT 1 FROM dunning_rules_runs WHERE id = 'run_1' FOR UPDATE")
        impatient = PostgresStore(url.replace("options=", "options=-clock_timeout%3D2s%20"))
        try:
            due = impatient.claim_due(T0, owner="w1", lease_until=FAR, limit=10)
        finally:
            impatient.close()
        other.rollback()
    assert [r.id for r in due] == ["run_2"]


@pytest.mark.postgres
def test_reconnects_when_the_server_closed_the_connection(url, admin):
    """A connection that the server terminated is replaced once, and the call succeeds."""
    name = f"victim_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(url, connect_kwargs={"application_name": name})
    try:
        store.ingest(batch("evt_1", make_run("run_1")))
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (name,),
        ).fetchone()
        assert killed == (1,)
        assert store.has_event("evt_1")
        assert store.ingest(batch("evt_2", make_run("run_2", key="in_2"))).started
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_a_store_error_without_password():
    """A server that cannot be reached raises StoreError; the password is never shown."""
    store = PostgresStore(f"postgresql://app:s3cret@127.0.0.1:{free_port()}/db")
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreError) as caught:
        store.has_event("evt_1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:<redacted>@db:5432/x"),
        ("postgresql://app@db/x?password=s3cret&sslmode=require", "password=<redacted>&sslmode"),
        ("host=db user=app password='s3 cret' dbname=x", "password=<redacted> dbname=x"),
        ("postgresql://db/x", "postgresql://db/x"),
    ],
    ids=["userinfo", "query", "libpq", "none"],
)
def test_redact_hides_passwords(url, shown):
    """Passwords in the URL, in user info, in the query or a libpq keyword string, are masked
    in messages."""
    assert shown in redact(url)
    assert "s3cret" not in redact(url)
    assert "cret" not in redact(url)


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://app:hunter2@db/x", "host=db password=hunter2", "mysql://a:hunter2@b"],
    ids=["sqlalchemy-url", "libpq", "other-scheme"],
)
def test_an_unknown_store_url_is_named_without_its_password(url):
    """open_store's "unknown store URL" error never echoes a password."""
    with pytest.raises(StoreError, match="unknown store URL") as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


def test_open_store_picks_postgres():
    """``open_store('postgresql://...')`` returns a PostgresStore, without connecting."""
    store = open_store(f"postgresql://app@127.0.0.1:{free_port()}/db")
    assert isinstance(store, PostgresStore)


def test_missing_psycopg_names_the_extra(monkeypatch):
    """Without psycopg, the store raises MissingExtraError naming the postgres extra."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    wanted = re.escape("pip install 'psycopg[binary]' (the 'postgres' extra of dunning-rules)")
    with pytest.raises(MissingExtraError, match=wanted):
        PostgresStore("postgresql://db/x")
