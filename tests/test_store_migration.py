"""A store written by an earlier main opens with today's code, in place, with nothing lost
(tests/fixtures/README.md says how the fixture was made)."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from topicbert.config import RunConfig
from topicbert.runs.store import MIGRATIONS, Store

FIXTURE = Path(__file__).parent / "fixtures" / "store_4aa56cf.db"
TABLES = ("corpora", "runs", "metrics", "energy", "topics", "workers", "migrations")  # the fixture's


def table_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def row_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}


def schema(path: Path) -> dict[str, dict]:
    """Each table's columns, foreign keys and indexes, as SQLite reports them (names of
    indexes aside: an inline UNIQUE and a unique index are the same constraint)."""
    with sqlite3.connect(path) as conn:
        shape = {}
        for table in sorted(table_names(path)):
            columns = {row[1]: (row[2].upper(), row[3], row[4], row[5])
                       for row in conn.execute(f"PRAGMA table_info({table})")}
            keys = {(row[3], row[2], row[4], row[6]) for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
            indexes = set()
            for row in conn.execute(f"PRAGMA index_list({table})"):
                if row[3] == "pk":
                    continue  # the primary key is in the columns already
                indexed = tuple(r[2] for r in conn.execute(f"PRAGMA index_info('{row[1]}')"))
                indexes.add((indexed, bool(row[2])))
            shape[table] = {"columns": columns, "foreign keys": keys, "indexes": indexes}
        return shape


@pytest.fixture
def old_store(tmp_path) -> Path:
    path = tmp_path / "topicbert.db"
    shutil.copy(FIXTURE, path)
    return path


def test_an_old_store_opens_with_every_row(old_store):
    before = row_counts(old_store)
    with Store(old_store) as store:
        assert [m["id"] for m in store.applied_migrations()] == [number for number, _, _ in MIGRATIONS]
        runs = store.list_runs()
        assert [run["status"] for run in runs] == ["failed", "done", "done"]
        topicbert, baseline = runs[2], runs[1]
        assert topicbert["paired_run_id"] == baseline["id"]
        assert RunConfig.from_dict(topicbert["config"]).name == "TopicBERT-128"
        assert [row["val_macro_f1"] for row in store.metrics_table(topicbert["id"])] == [0.55, 0.6]
        assert store.last_energy(baseline["id"])["kwh"] == pytest.approx(1.1e-4)
        assert store.get_topics(topicbert["id"])[0] == [("oil", 1.5), ("price", 1.2)]
        assert store.list_corpora()[0]["counts"]["train"] == {"a": 20, "b": 20}
        assert "boom" in runs[0]["error"]
    after = row_counts(old_store)
    assert {t: after[t] for t in TABLES if t != "migrations"} == {t: before[t] for t in TABLES if t != "migrations"}
    assert after["migrations"] == len(MIGRATIONS)


def test_an_old_store_migrates_to_the_schema_of_a_new_one(old_store, tmp_path):
    Store(old_store).close()
    fresh = tmp_path / "fresh" / "topicbert.db"
    Store(fresh).close()
    assert schema(old_store) == schema(fresh)


def test_a_migrated_store_takes_new_runs_and_keeps_its_constraints(old_store):
    with Store(old_store) as store:
        corpus = store.list_corpora()[0]
        run_id = store.create_run(RunConfig(corpus=corpus["path"]), corpus["id"])
        assert store.claim_next_run(None, "cpu")["id"] == run_id
        with pytest.raises(sqlite3.IntegrityError):
            store.add_corpus(corpus["name"], "elsewhere", 1, 2, {})
        store.finish_run(run_id, "done")
        assert store.delete_corpus(corpus["id"])
        assert all(run["corpus_id"] is None for run in store.list_runs())  # runs stay, unlinked
