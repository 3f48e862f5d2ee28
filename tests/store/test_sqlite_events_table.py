"""SQLite schema version 4: events live in a rowid table, so a duplicate check reads the id's
index alone, never an event's body; a version 3 file is upgraded with its events kept."""

from __future__ import annotations

import json
import sqlite3

from dunning_rules.store._contract_data import batch, make_run
from dunning_rules.store.sqlite import SQLiteStore


class ThirdSQLiteStore(SQLiteStore):
    """The store as schema version 3 left it: events in a WITHOUT ROWID table."""

    migrations = SQLiteStore.migrations[:3]


def events_table_sql(path) -> str:
    with sqlite3.connect(path) as db:
        (sql,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'dunning_rules_events'"
        ).fetchone()
    return str(sql)


def duplicate_check_plan(path) -> str:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM dunning_rules_events WHERE id = ?", ("evt_1",)
        ).fetchall()
    return " ".join(str(row[-1]) for row in rows)


def test_a_duplicate_check_reads_the_index_of_ids_alone(tmp_path):
    """The events table has rowids, and looking an id up is a search of a covering index:
    the rows, with their bodies, are not read."""
    path = tmp_path / "runs.db"
    store = SQLiteStore(path)
    store.has_event("evt_1")
    store.close()
    assert "WITHOUT ROWID" not in events_table_sql(path).upper()
    assert "COVERING INDEX" in duplicate_check_plan(path)


def test_a_version_3_file_is_upgraded_with_its_events(tmp_path):
    """Events written under version 3, bodies included, are kept by the upgrade: they are still
    known (a second ingest is a duplicate) and their runs read their event back whole."""
    path = tmp_path / "runs.db"
    event = {"id": "evt_1", "type": "invoice.payment_failed", "data": {"object": {"id": "in_1"}}}
    runs = (make_run("run_1", event=event), make_run("run_2", rule="other", event=event))
    old = ThirdSQLiteStore(path)
    old.ingest(batch("evt_1", *runs, event=event, event_body=json.dumps(event), created=7))
    old.ingest(batch("evt_2"))
    old.close()
    assert "WITHOUT ROWID" in events_table_sql(path).upper()
    store = SQLiteStore(path)
    assert store.ingest(batch("evt_1")).duplicate
    assert store.has_event("evt_2")
    assert [store.get("run_1"), store.get("run_2")] == list(runs)
    assert store.get("run_1").event == event  # type: ignore[union-attr]
    store.close()
    assert "WITHOUT ROWID" not in events_table_sql(path).upper()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, type, created FROM dunning_rules_events ORDER BY id")
        assert rows.fetchall() == [
            ("evt_1", "invoice.payment_failed", 7),
            ("evt_2", "invoice.payment_failed", 1714564800),
        ]
        version = db.execute("SELECT value FROM dunning_rules_meta").fetchone()
    assert version == ("4",)
