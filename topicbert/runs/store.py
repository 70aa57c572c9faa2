"""The SQLite store: schema, migrations and every query of the project (sqlite-utils).

One database file under TOPICBERT_HOME, shared by the app, the worker, the runners and the
command line, each in its own process. The schema is made and changed with sqlite-utils' table
API (create, add_column, transform, create_index), and rows are written with it (insert, update,
delete_where). WAL lets readers go on while one process writes; write transactions take the
write lock up front (BEGIN IMMEDIATE) and are retried with backoff, so writers in several
processes never fail with "database is locked".
"""
from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlite_utils
from sqlite_utils.db import ForeignKey, NotFoundError, Table

from ..config import RunConfig

if TYPE_CHECKING:
    import pandas as pd
from ..paths import home

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
RESUMABLE = ("interrupted", "cancelled", "failed")
ENDED = ("done", "failed", "cancelled", "interrupted")
BUSY_TIMEOUT_MS = 30_000
WRITE_ATTEMPTS = 12
ERROR_CHARS = 8_000  # keep the tail of a traceback or log, not megabytes of it
DELETED_KINDS = {"runs": "run", "corpora": "corpus"}  # table -> the kind its deleted ids are kept as
JOB_JSON = ("options", "energy_info")  # a prediction job's columns stored as JSON
METRICS_COLUMNS = ["run_id", "run_name", "step", "epoch", "wall_seconds", "name", "value"]

T = TypeVar("T")


def default_db_path() -> Path:
    return home() / "topicbert.db"


def run_folder(run_id: int, root: Path | None = None) -> Path:
    """A run's folder: its config.json, log, checkpoints and result files."""
    return (root or home()) / "runs" / str(run_id)


def hostname() -> str:
    return socket.gethostname()


def _is_lock_error(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _loads(value: str | None) -> Any:
    return json.loads(value) if value else None


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _inserted_id(table: Table) -> int:
    """The id the table's last insert gave (sqlite-utils types last_pk as Any | None; here it is the integer pk)."""
    row_id = table.last_pk
    assert isinstance(row_id, int), f"no integer id from the insert into {table.name}: {row_id!r}"
    return row_id


def _fk(table: str, column: str, other: str, on_delete: str) -> ForeignKey:
    return ForeignKey(table=table, column=column, other_table=other, other_column="id", on_delete=on_delete)


# ---------------------------------------------------------------- migrations
# Numbered, applied once each, in order; the `migrations` table records which ran.
# Never change what one that has shipped does to a database: add the next.

def _m001_initial(db: sqlite_utils.Database) -> None:
    db.table("corpora").create({"id": int, "name": str, "source": str, "n_docs": int, "n_classes": int,
                                "counts": str, "path": str, "created_at": float},
                               pk="id", not_null={"name", "created_at"})
    db.table("corpora").create_index(["name"], index_name="corpora_by_name", unique=True)
    db.table("runs").create(
        {"id": int, "config": str, "corpus_id": int, "name": str, "variant": str, "status": str, "resume": int,
         "worker_id": int, "pid": int, "pgid": int, "host": str, "device": str, "created_at": float,
         "queued_at": float, "started_at": float, "finished_at": float, "heartbeat_at": float, "error": str,
         "best_metrics": str, "final_metrics": str, "step": int, "total_steps": int, "checkpoint_step": int,
         "paired_run_id": int, "run_dir": str, "log_path": str, "energy_info": str},
        pk="id", not_null={"config", "name", "variant", "status", "resume", "created_at", "queued_at", "step"},
        defaults={"status": "queued", "resume": 0, "step": 0},
        foreign_keys=[_fk("runs", "corpus_id", "corpora", "SET NULL"),
                      _fk("runs", "paired_run_id", "runs", "SET NULL")])
    db.table("runs").create_index(["status", "id"], index_name="runs_by_status")
    db.table("metrics").create({"run_id": int, "step": int, "epoch": float, "wall_seconds": float, "name": str,
                                "value": float},
                               not_null={"run_id", "step", "name"},
                               foreign_keys=[_fk("metrics", "run_id", "runs", "CASCADE")])
    db.table("metrics").create_index(["run_id", "name", "step"], index_name="metrics_by_run")
    db.table("energy").create(
        {"run_id": int, "step": int, "epoch": float, "wall_seconds": float, "created_at": float,
         "duration_s": float, "cpu_kwh": float, "gpu_kwh": float, "ram_kwh": float, "kwh": float,
         "kg_co2e": float, "cpu_power_w": float, "gpu_power_w": float, "ram_power_w": float, "country": str,
         "country_name": str, "carbon_intensity": float, "cpu_measured": int, "gpu_measured": int,
         "ram_measured": int, "measured": str, "codecarbon": str},
        not_null={"run_id", "step", "created_at"}, foreign_keys=[_fk("energy", "run_id", "runs", "CASCADE")])
    db.table("energy").create_index(["run_id", "step"], index_name="energy_by_run")
    db.table("topics").create({"run_id": int, "topic": int, "words": str}, pk=("run_id", "topic"),
                              not_null={"run_id", "topic", "words"},
                              foreign_keys=[_fk("topics", "run_id", "runs", "CASCADE")])
    db.table("workers").create({"id": int, "pid": int, "host": str, "device": str, "started_at": float,
                                "heartbeat_at": float, "state": str},
                               pk="id", not_null={"host", "started_at", "heartbeat_at", "state"})


def _m002_attempt_start(db: sqlite_utils.Database) -> None:
    # where and when this attempt began stepping: a resumed run's pace counts only its own steps
    db.table("runs").add_column("attempt_step", int)
    db.table("runs").add_column("attempt_started_at", float)


def _m003_deleted(db: sqlite_utils.Database) -> None:
    # the ids of deleted runs and corpora, never given out again: a new run never meets a deleted
    # one's leftover folder, and a run of a deleted corpus never reads a newer corpus's file
    db.table("deleted").create({"kind": str, "id": int, "deleted_at": float}, pk=("kind", "id"),
                               not_null={"kind", "id", "deleted_at"})


def _m004_topic_quality(db: sqlite_utils.Database) -> None:
    db.table("topics").add_column("npmi", float)
    db.table("runs").add_column("topic_reference", str)
    db.table("topic_references").create({"key": str, "n_topics": int, "npmi": float, "diversity": float, "topics": str,
                                         "fit_seconds": float, "created_at": float},
                                        pk="key", not_null={"n_topics", "topics", "created_at"})


def _m005_run_costs(db: sqlite_utils.Database) -> None:
    # when the topic model's pretraining ended (wall seconds), how busy other processes kept the
    # machine's CPUs while the run trained, and what classifying documents with the finished model costs
    db.table("runs").add_column("pretrained_seconds", float)
    db.table("runs").add_column("machine_load", str)
    db.table("runs").add_column("inference", str)


def _m006_placement(db: sqlite_utils.Database) -> None:
    # where a run trained: the GPUs it held (as nvidia-smi numbers them, comma-separated) and, for a run
    # that Ray placed, the Ray node (its id); NULL for a run without a GPU, or trained by the local worker
    db.table("runs").add_column("gpus", str)
    db.table("runs").add_column("node", str)


def _m007_reference_coherence(db: sqlite_utils.Database) -> None:
    # the LDA reference scored as runs now are: NPMI over the held-out (test) documents, and the
    # literature's NPMI over 10-word windows of the training texts
    db.table("topic_references").add_column("npmi_test", float)
    db.table("topic_references").add_column("npmi_window", float)


def _m008_prediction_jobs(db: sqlite_utils.Database) -> None:
    # a prediction over a file, queued as a run is: `model` is a run id or a model folder; `chunks_done` is the
    # ledger of chunk files written whole (a resumed job starts at the first chunk not counted here)
    db.table("jobs").create(
        {"id": int, "model": str, "corpus": str, "out": str, "options": str, "status": str, "worker_id": int,
         "pid": int, "pgid": int, "host": str, "created_at": float, "queued_at": float, "started_at": float,
         "finished_at": float, "heartbeat_at": float, "error": str, "chunks_done": int, "documents_done": int,
         "documents_total": int, "kwh": float, "kg_co2e": float, "energy_info": str, "job_dir": str,
         "log_path": str},
        pk="id", not_null={"model", "corpus", "out", "options", "status", "created_at", "queued_at", "chunks_done",
                           "documents_done"},
        defaults={"status": "queued", "chunks_done": 0, "documents_done": 0})
    db.table("jobs").create_index(["status", "id"], index_name="jobs_by_status")


MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial schema", _m001_initial),
    (2, "the step and time each attempt of a run began stepping", _m002_attempt_start),
    (3, "the ids of deleted runs and corpora, never reused", _m003_deleted),
    (4, "topic quality: each topic's NPMI, the LDA reference", _m004_topic_quality),
    (5, "what a run's costs rest on: pretraining's end, the machine's load, the cost of classifying",
     _m005_run_costs),
    (6, "where a run trained: its GPUs, its Ray node", _m006_placement),
    (7, "the LDA reference's NPMI on held-out documents and over 10-word windows", _m007_reference_coherence),
    (8, "prediction jobs: a file classified in the background, chunk by chunk", _m008_prediction_jobs),
]


# ---------------------------------------------------------------- the store

class Store:
    """One connection to the database; open one per process, thread or Streamlit call."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write below opens its own
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._retry(self._enable_wal)
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing

    def _enable_wal(self) -> None:
        if self.db.journal_mode != "wal":
            self.db.enable_wal()

    @staticmethod
    def _retry(fn: Callable[[], T]) -> T:
        """busy_timeout already waits; this covers what it does not (lock upgrades, WAL recovery)."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return fn()
            except sqlite3.OperationalError as error:
                if not _is_lock_error(error) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(min(2.0, 0.02 * 2 ** attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    @contextmanager
    def _immediate(self) -> Iterator[sqlite_utils.Database]:
        # the write lock is taken at BEGIN, so a transaction never fails half-way on an upgrade;
        # sqlite-utils' own writes inside it become savepoints
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        def attempt() -> T:
            with self._immediate() as db:
                return fn(db)
        return self._retry(attempt)

    def _update(self, table: str, pk: Any, values: dict) -> bool:
        """Set `values` on one row; False (and nothing written) if the row is gone."""
        def update(db: sqlite_utils.Database) -> bool:
            try:
                db.table(table).update(pk, values)
                return True
            except NotFoundError:
                return False
        return self._write(update)

    @staticmethod
    def _next_id(db: sqlite_utils.Database, table: str) -> int:
        """One past every id the table ever gave, deleted ones included (call inside a write)."""
        kind = DELETED_KINDS[table]
        row = next(db.query(f"SELECT max(coalesce((SELECT max(id) FROM {table}), 0), "
                            "coalesce((SELECT max(id) FROM deleted WHERE kind = ?), 0)) AS last", [kind]))
        return row["last"] + 1

    def _delete(self, table: str, row_id: int, may_delete: Callable[[sqlite_utils.Database], bool]) -> bool:
        """Delete one row (its dependants go by foreign key) and keep its id from ever being given
        again, in one transaction, if `may_delete(db)` agrees there; True if it was deleted."""
        def delete(db: sqlite_utils.Database) -> bool:
            if not db.table(table).count_where("id = ?", [row_id]) or not may_delete(db):
                return False
            db.table(table).delete_where("id = ?", [row_id])
            db.table("deleted").insert({"kind": DELETED_KINDS[table], "id": row_id, "deleted_at": time.time()},
                                       replace=True)
            return True
        return self._write(delete)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        return self._retry(lambda: list(self.db.query(sql, params)))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen; returns their numbers."""
        def apply(db: sqlite_utils.Database) -> list[int]:
            db.table("migrations").create({"id": int, "name": str, "applied_at": float}, pk="id",
                                          not_null={"name", "applied_at"}, if_not_exists=True)
            done = {row["id"] for row in db.table("migrations").rows}
            applied = []
            for number, name, migration in MIGRATIONS:
                if number not in done:
                    migration(db)
                    db.table("migrations").insert({"id": number, "name": name, "applied_at": time.time()})
                    applied.append(number)
            return applied
        # checked first without the write lock: the common case is a database already up to date
        if self.db.table("migrations").exists():
            done = {row["id"] for row in self._rows("SELECT id FROM migrations")}
            if all(number in done for number, _, _ in MIGRATIONS):
                return []
        return self._write(apply)

    def another_connection(self) -> Store:
        """A connection of its own to the same database, for another thread (a sqlite connection stays
        in the thread that made it)."""
        return Store(self.path)

    def integrity_check(self) -> str:
        """SQLite's own check of the file: "ok", or what is wrong."""
        return "; ".join(row["integrity_check"] for row in self._rows("PRAGMA integrity_check"))

    def applied_migrations(self) -> list[dict]:
        return self._rows("SELECT id, name, applied_at FROM migrations ORDER BY id")

    # -- corpora

    def add_corpus(self, name: str, source: str, n_docs: int, n_classes: int, counts: dict,
                   path: str | None = None) -> int:
        return self._write(lambda db: _inserted_id(db.table("corpora").insert(
            {"id": self._next_id(db, "corpora"), "name": name, "source": source, "n_docs": n_docs,
             "n_classes": n_classes, "counts": json.dumps(counts), "path": path, "created_at": time.time()})))

    def set_corpus_path(self, corpus_id: int, path: str) -> None:
        self._update("corpora", corpus_id, {"path": path})

    def corpus_file(self, corpus_id: int) -> Path:
        """Where the corpus module keeps the parsed copy of a corpus."""
        folder = self.path.parent / "corpora"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{corpus_id}.jsonl"

    @staticmethod
    def _corpus(row: dict) -> dict:
        row["counts"] = _loads(row["counts"])
        return row

    def get_corpus(self, corpus_id: int) -> dict | None:
        row = self._one("SELECT * FROM corpora WHERE id = ?", (corpus_id,))
        return self._corpus(row) if row is not None else None

    def find_corpus(self, name_or_path: str) -> dict | None:
        """The corpus a run's `corpus` setting names: by name, or by its parsed copy's path."""
        row = self._one("SELECT * FROM corpora WHERE name = ? OR path = ? ORDER BY id LIMIT 1",
                        (name_or_path, name_or_path))
        return self._corpus(row) if row is not None else None

    def list_corpora(self) -> list[dict]:
        return [self._corpus(row) for row in self._rows("SELECT * FROM corpora ORDER BY id")]

    def delete_corpus(self, corpus_id: int) -> bool:
        """Unlist a corpus no queued or running run reads; its runs stay (their corpus_id becomes
        NULL). False if it is not listed, or a run still needs it."""
        def unused(db: sqlite_utils.Database) -> bool:
            path = db.table("corpora").get(corpus_id)["path"]
            return not db.table("runs").count_where(
                f"status IN ({_marks(ACTIVE)}) AND (corpus_id = ? OR json_extract(config, '$.corpus') = ?)",
                [*ACTIVE, corpus_id, path])
        return self._delete("corpora", corpus_id, unused)

    def corpus_runs(self, corpus_id: int, status: Sequence[str] = ACTIVE) -> list[int]:
        """Ids of the runs in `status` that read this corpus."""
        path = (self.get_corpus(corpus_id) or {}).get("path")
        return [row["id"] for row in self._rows(
            f"SELECT id FROM runs WHERE status IN ({_marks(status)}) "
            "AND (corpus_id = ? OR json_extract(config, '$.corpus') = ?) ORDER BY id",
            [*status, corpus_id, path])]

    # -- runs

    def create_run(self, config: RunConfig, corpus_id: int | None = None,
                   paired_run_id: int | None = None) -> int:
        def insert(db: sqlite_utils.Database) -> int:
            now = time.time()
            run_id = _inserted_id(db.table("runs").insert(
                {"id": self._next_id(db, "runs"), "config": config.to_json(), "corpus_id": corpus_id,
                 "name": config.name, "variant": config.variant, "status": "queued", "created_at": now,
                 "queued_at": now, "paired_run_id": paired_run_id}))
            run_dir = run_folder(run_id, self.path.parent)
            db.table("runs").update(run_id, {"run_dir": str(run_dir), "log_path": str(run_dir / "run.log")})
            # also beside the run: torchrun ranks on other nodes read it there, not from SQLite
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.json").write_text(config.to_json())
            return run_id
        return self._write(insert)

    def delete_run(self, run_id: int) -> bool:
        """Delete an ended run's rows: metrics, energy and topics with it, in one transaction.
        False if it is gone already, or queued or running (cancel it first)."""
        return self._delete("runs", run_id, lambda db: self._status(db, run_id) not in ACTIVE)

    def deleted_ids(self, kind: str) -> set[int]:
        """Ids of deleted rows of `kind` ("run" or "corpus"): their files, if any are left, are garbage."""
        return {row["id"] for row in self._rows("SELECT id FROM deleted WHERE kind = ?", (kind,))}

    def set_paired(self, run_id: int, paired_run_id: int) -> None:
        self._update("runs", run_id, {"paired_run_id": paired_run_id})

    @staticmethod
    def _run(row: dict) -> dict:
        for key in ("config", "best_metrics", "final_metrics", "energy_info", "machine_load", "inference"):
            row[key] = _loads(row[key])
        row["resume"] = bool(row["resume"])
        return row

    def get_run(self, run_id: int) -> dict | None:
        """The run's row; config, best_metrics, final_metrics, energy_info, machine_load and inference
        decoded to dicts."""
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return self._run(row) if row is not None else None

    def run_config(self, run_id: int) -> RunConfig:
        row = self._one("SELECT config FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise KeyError(f"no run {run_id}")
        return RunConfig.from_json(row["config"])

    def list_runs(self, status: str | Sequence[str] | None = None, limit: int | None = None) -> list[dict]:
        """Newest first."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        where = f"WHERE status IN ({_marks(statuses)})" if statuses else ""
        sql = f"SELECT * FROM runs {where} ORDER BY id DESC" + (" LIMIT ?" if limit else "")
        params = statuses + ([limit] if limit else [])
        return [self._run(row) for row in self._rows(sql, params)]

    def run_choices(self, limit: int = 200) -> list[dict]:
        """id, name, variant and status of the newest runs: enough to pick one, no JSON decoded."""
        return self._rows("SELECT id, name, variant, status FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    def run_folders(self) -> dict[int, str | None]:
        """Every run's id and folder."""
        return {row["id"]: row["run_dir"] for row in self._rows("SELECT id, run_dir FROM runs")}

    def run_overview(self, run_id: int | None = None, limit: int = 50) -> list[dict]:
        """One row per run for status lists: progress, where it trains (device, host, GPUs, Ray node), the kept
        (best) val macro-F1, cumulative kWh and CO2, what its energy rests on (energy_info, machine_load, and the
        last reading's measured flags) and, once finished, whether it trained in bf16 (None before, and for runs
        without an encoder)."""
        where = "WHERE r.id = ?" if run_id is not None else ""
        params: list[Any] = [run_id] if run_id is not None else []
        rows = self._rows(
            "SELECT r.id, r.status, r.name, r.variant, r.step, r.total_steps, r.device, r.host, r.gpus, r.node, "
            "r.paired_run_id, r.created_at, r.started_at, r.finished_at, r.error, r.attempt_step, "
            "r.attempt_started_at, r.energy_info, r.machine_load, json_extract(r.final_metrics, '$.bf16') AS bf16, "
            # the run keeps its best evaluation's model: that is the validation F1 it has, not its latest
            "(SELECT MAX(value) FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_macro_f1') AS val_macro_f1, "
            "e.kwh, e.kg_co2e, e.cpu_measured, e.gpu_measured, e.ram_measured, e.measured "
            "FROM runs r LEFT JOIN energy e ON e.rowid = (SELECT rowid FROM energy WHERE run_id = r.id "
            " ORDER BY step DESC, created_at DESC LIMIT 1) "
            f"{where} ORDER BY r.id DESC LIMIT ?", params + [limit])
        for row in rows:
            row["energy_info"], row["machine_load"] = _loads(row["energy_info"]), _loads(row["machine_load"])
            row["bf16"] = None if row["bf16"] is None else bool(row["bf16"])  # SQLite's JSON true is 1
        return rows

    def claim_next_run(self, worker_id: int | None, device: str, host: str | None = None,
                       max_running: int = 1) -> dict | None:
        """Atomically take the oldest queued run this device can serve, or None.

        At most `max_running` runs go at once on one host and device kind, whichever
        worker claimed them. A `cpu` run may go to any device; `auto` goes anywhere.
        """
        host = host or hostname()
        accepted = sorted({"auto", "cpu", device})

        def claim(db: sqlite_utils.Database) -> int | None:
            # the runner refines the device to e.g. cuda:0: still the same kind
            busy = db.table("runs").count_where("status = 'running' AND host = ? AND (device = ? OR device LIKE ?)",
                                                [host, device, f"{device}:%"])
            if busy >= max_running:
                return None
            row = next(db.table("runs").rows_where(
                f"status = 'queued' AND json_extract(config, '$.device') IN ({_marks(accepted)})", accepted,
                order_by="id", select="id", limit=1), None)
            if row is None:
                return None
            self._mark_running(db, row["id"], worker_id, device, host)
            return row["id"]

        run_id = self._write(claim)
        return self.get_run(run_id) if run_id is not None else None

    def claim_run(self, run_id: int, worker_id: int | None, device: str, pid: int | None = None,
                  host: str | None = None, gpus: Sequence[str] = (), runs_per_gpu: int = 1) -> bool:
        """Take one given queued run (a torchrun launched by hand claims its own run; a worker with GPUs
        claims the run its assignment chose, with those `gpus`). False if the run is not queued, or one of
        `gpus` already holds `runs_per_gpu` runs on this host."""
        host = host or hostname()

        def claim(db: sqlite_utils.Database) -> bool:
            if self._status(db, run_id) != "queued":
                return False
            held = self._gpus_held(db, host)
            if any(held.count(gpu) >= runs_per_gpu for gpu in gpus):
                return False
            self._mark_running(db, run_id, worker_id, device, host)
            if pid is not None:
                db.table("runs").update(run_id, {"pid": pid, "pgid": os.getpgid(pid)})
            if gpus:
                db.table("runs").update(run_id, {"gpus": ",".join(gpus)})
            return True
        return self._write(claim)

    @staticmethod
    def _gpus_held(db: sqlite_utils.Database, host: str) -> list[str]:
        """The GPUs of `host` that running runs placed by a local worker hold, once per run (Ray keeps
        the count of its own runs' GPUs)."""
        rows = db.table("runs").rows_where("status = 'running' AND host = ? AND node IS NULL AND gpus IS NOT NULL",
                                           [host], select="gpus")
        return [gpu for row in rows for gpu in row["gpus"].split(",")]

    def gpus_held(self, host: str | None = None) -> list[str]:
        """The GPUs of this host (or `host`) held by running runs, once per run that holds each."""
        return self._retry(lambda: self._gpus_held(self.db, host or hostname()))

    def set_placement(self, run_id: int, node: str, host: str, gpus: Sequence[str]) -> None:
        """Where Ray placed the run: the node's id, its host name and the GPUs Ray gave the run."""
        self._update("runs", run_id, {"node": node, "host": host, "gpus": ",".join(gpus) or None,
                                      "heartbeat_at": time.time()})

    @staticmethod
    def _status(db: sqlite_utils.Database, run_id: int, table: str = "runs") -> str | None:
        try:
            return db.table(table).get(run_id)["status"]
        except NotFoundError:
            return None

    @staticmethod
    def _mark_running(db: sqlite_utils.Database, run_id: int, worker_id: int | None, device: str,
                      host: str) -> None:
        now = time.time()
        db.table("runs").update(run_id, {"status": "running", "worker_id": worker_id, "device": device, "host": host,
                                         "pid": None, "pgid": None, "started_at": now, "heartbeat_at": now,
                                         "finished_at": None, "error": None, "attempt_step": None,
                                         "attempt_started_at": None, "gpus": None, "node": None})

    def set_process(self, run_id: int, pid: int, pgid: int) -> None:
        self._update("runs", run_id, {"pid": pid, "pgid": pgid, "heartbeat_at": time.time()})

    def set_status(self, run_id: int, status: str, error: str | None = None,
                   only_from: Sequence[str] = (), table: str = "runs") -> bool:
        """Move a run (with table="jobs", a prediction job) to `status`; with `only_from`, only if it is in one of
        those now. True if it moved."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        values: dict[str, Any] = {"status": status}
        if error:
            values["error"] = error[-ERROR_CHARS:]
        if status in ENDED:
            values["finished_at"] = time.time()

        def move(db: sqlite_utils.Database) -> bool:
            now = self._status(db, run_id, table)
            if now is None or (only_from and now not in only_from):
                return False
            db.table(table).update(run_id, values)
            return True
        return self._write(move)

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> bool:
        """The end of a running run; does nothing if it was cancelled (or ended) meanwhile."""
        return self.set_status(run_id, status, error, only_from=("running",))

    def cancel(self, run_id: int) -> dict | None:
        """Mark a queued or running run cancelled; returns its row as it was before, or None."""
        return self._cancel("runs", run_id)

    def _cancel(self, table: str, row_id: int) -> dict | None:
        """Mark a queued or running run or job (`table`) cancelled; its row as it was before, or None."""
        def cancel(db: sqlite_utils.Database) -> dict | None:
            try:
                before = db.table(table).get(row_id)
            except NotFoundError:
                return None
            if before["status"] not in ACTIVE:
                return None
            db.table(table).update(row_id, {"status": "cancelled", "finished_at": time.time()})
            return before
        return self._write(cancel)

    def requeue(self, run_id: int, resume: bool = True) -> bool:
        """Put an interrupted, cancelled or failed run back in the queue, flagged to resume."""
        return self._requeue("runs", run_id, {"resume": int(resume)})

    def _requeue(self, table: str, row_id: int, extra: dict | None = None) -> bool:
        """Queue an interrupted, cancelled or failed run or job (`table`) again, with `extra` columns set."""
        def requeue(db: sqlite_utils.Database) -> bool:
            if self._status(db, row_id, table) not in RESUMABLE:
                return False
            db.table(table).update(row_id, {"status": "queued", "queued_at": time.time(), "finished_at": None,
                                            "error": None, "pid": None, "pgid": None, **(extra or {})})
            return True
        return self._write(requeue)

    def mark_interrupted(self, run_id: int, reason: str) -> bool:
        return self.set_status(run_id, "interrupted", reason, only_from=("running",))

    def heartbeat_run(self, run_id: int) -> None:
        self._update("runs", run_id, {"heartbeat_at": time.time()})

    def set_progress(self, run_id: int, step: int, total_steps: int) -> None:
        self._update("runs", run_id, {"step": step, "total_steps": total_steps, "heartbeat_at": time.time()})

    def set_attempt_start(self, run_id: int, step: int) -> None:
        """This attempt begins stepping now, at `step` (0, or a resumed run's checkpoint)."""
        self._update("runs", run_id, {"attempt_step": step, "attempt_started_at": time.time()})

    def set_device(self, run_id: int, device: str) -> None:
        self._update("runs", run_id, {"device": device})

    def set_checkpoint(self, run_id: int, step: int) -> None:
        self._update("runs", run_id, {"checkpoint_step": step})

    def set_best_metrics(self, run_id: int, metrics: dict | None) -> None:
        self._update("runs", run_id, {"best_metrics": json.dumps(metrics) if metrics is not None else None})

    def set_final_metrics(self, run_id: int, metrics: dict) -> None:
        self._update("runs", run_id, {"final_metrics": json.dumps(metrics)})

    def set_energy_info(self, run_id: int, info: dict) -> None:
        self._update("runs", run_id, {"energy_info": json.dumps(info)})

    def set_pretrained(self, run_id: int, wall_seconds: float) -> None:
        """The topic model's pretraining ended `wall_seconds` into the run."""
        self._update("runs", run_id, {"pretrained_seconds": wall_seconds})

    def set_machine_load(self, run_id: int, summary: dict) -> None:
        """How busy the machine's CPUs were while the run trained (runs/machine_load.py's summary)."""
        self._update("runs", run_id, {"machine_load": json.dumps(summary)})

    def set_inference(self, run_id: int, cost: dict) -> None:
        """What classifying the test documents with the finished model cost (seconds, kWh, documents)."""
        self._update("runs", run_id, {"inference": json.dumps(cost)})

    def truncate_history(self, run_id: int, after_step: int) -> None:
        """Forget what a run recorded past `after_step` (a resume restarts there) and its end results."""
        def truncate(db: sqlite_utils.Database) -> None:
            db.table("metrics").delete_where("run_id = ? AND step > ?", [run_id, after_step])
            db.table("energy").delete_where("run_id = ? AND step > ?", [run_id, after_step])
            db.table("topics").delete_where("run_id = ?", [run_id])
            with suppress(NotFoundError):
                db.table("runs").update(run_id, {"final_metrics": None, "inference": None})
        self._write(truncate)

    # -- prediction jobs (a file classified in the background: the same statuses as runs)

    def create_job(self, model: str, corpus: str, out: str, options: dict) -> int:
        """Queue a prediction of `corpus` into `out` by `model` (a run id or a model folder)."""
        def insert(db: sqlite_utils.Database) -> int:
            now = time.time()
            job_id = _inserted_id(db.table("jobs").insert(
                {"model": model, "corpus": corpus, "out": out, "options": json.dumps(options), "status": "queued",
                 "created_at": now, "queued_at": now}))
            job_dir = self.path.parent / "jobs" / str(job_id)
            db.table("jobs").update(job_id, {"job_dir": str(job_dir), "log_path": str(job_dir / "job.log")})
            return job_id
        return self._write(insert)

    @staticmethod
    def _job(row: dict) -> dict:
        for key in JOB_JSON:
            row[key] = _loads(row[key])
        return row

    def get_job(self, job_id: int) -> dict | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return self._job(row) if row is not None else None

    def list_jobs(self, status: str | Sequence[str] | None = None, limit: int = 200) -> list[dict]:
        """Newest first."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        where = f"WHERE status IN ({_marks(statuses)})" if statuses else ""
        return [self._job(row) for row in self._rows(f"SELECT * FROM jobs {where} ORDER BY id DESC LIMIT ?",
                                                     [*statuses, limit])]

    def claim_job(self, job_id: int | None, worker_id: int | None, pid: int | None = None,
                  host: str | None = None) -> dict | None:
        """Take the queued job `job_id` (None: the oldest queued one); its row, or None if there is none to take."""
        def claim(db: sqlite_utils.Database) -> int | None:
            where, params = (("id = ? AND status = 'queued'", [job_id]) if job_id is not None
                             else ("status = 'queued'", []))
            row = next(db.table("jobs").rows_where(where, params, order_by="id", select="id", limit=1), None)
            if row is None:
                return None
            now = time.time()
            db.table("jobs").update(row["id"], {
                "status": "running", "worker_id": worker_id, "host": host or hostname(), "pid": pid,
                "pgid": os.getpgid(pid) if pid is not None else None, "started_at": now, "heartbeat_at": now,
                "finished_at": None, "error": None})
            return row["id"]
        claimed = self._write(claim)
        return self.get_job(claimed) if claimed is not None else None

    def set_job_process(self, job_id: int, pid: int, pgid: int) -> None:
        self._update("jobs", job_id, {"pid": pid, "pgid": pgid, "heartbeat_at": time.time()})

    def set_job_total(self, job_id: int, documents: int, energy_info: dict) -> None:
        """How many documents the file holds, and what this attempt's energy meter rests on."""
        self._update("jobs", job_id, {"documents_total": documents, "energy_info": json.dumps(energy_info),
                                      "heartbeat_at": time.time()})

    def record_job_chunk(self, job_id: int, chunk: int, documents: int, kwh: float | None,
                         kg_co2e: float | None) -> bool:
        """Chunk `chunk`'s output is written whole: count it done, with the job's cumulative energy, in one step.
        False (nothing written) unless it is the next chunk the ledger expects."""
        def record(db: sqlite_utils.Database) -> bool:
            try:
                job = db.table("jobs").get(job_id)
            except NotFoundError:
                return False
            if job["chunks_done"] != chunk:
                return False
            values: dict[str, Any] = {"chunks_done": chunk + 1, "documents_done": job["documents_done"] + documents,
                                      "heartbeat_at": time.time()}
            if kwh is not None:
                values.update(kwh=kwh, kg_co2e=kg_co2e)
            db.table("jobs").update(job_id, values)
            return True
        return self._write(record)

    def heartbeat_job(self, job_id: int) -> None:
        self._update("jobs", job_id, {"heartbeat_at": time.time()})

    def cancel_job(self, job_id: int) -> dict | None:
        """Mark a queued or running job cancelled; its row as it was before, or None if it was neither."""
        return self._cancel("jobs", job_id)

    def requeue_job(self, job_id: int) -> bool:
        """Queue an interrupted, cancelled or failed job again: it goes on from its first chunk not done."""
        return self._requeue("jobs", job_id)

    # -- metrics (long form: one row per run, step and name)

    def add_metrics(self, run_id: int, step: int, epoch: float, wall_seconds: float,
                    metrics: dict[str, float]) -> None:
        rows = [{"run_id": run_id, "step": step, "epoch": epoch, "wall_seconds": wall_seconds, "name": name,
                 "value": float(value)} for name, value in metrics.items() if value is not None]
        self._write(lambda db: db.table("metrics").insert_all(rows))

    def list_metrics(self, run_id: int, name: str | None = None) -> list[dict]:
        if name is None:
            return self._rows("SELECT * FROM metrics WHERE run_id = ? ORDER BY step, name", (run_id,))
        return self._rows("SELECT * FROM metrics WHERE run_id = ? AND name = ? ORDER BY step", (run_id, name))

    def metrics_table(self, run_id: int) -> list[dict]:
        """Wide form: one dict per evaluation with step, epoch, wall_seconds and every metric."""
        table: dict[int, dict] = {}
        for row in self.list_metrics(run_id):
            entry = table.setdefault(row["step"], {"step": row["step"], "epoch": row["epoch"],
                                                   "wall_seconds": row["wall_seconds"]})
            entry[row["name"]] = row["value"]
        return [table[step] for step in sorted(table)]

    def metrics_frame(self, run_ids: Sequence[int]) -> pd.DataFrame:
        """Long-form DataFrame of several runs' metrics, with each run's name (for plots)."""
        import pandas as pd  # the pages' plots need it; the command line's status does not

        if not run_ids:
            return pd.DataFrame(columns=METRICS_COLUMNS)
        rows = self._rows(
            f"SELECT m.run_id, r.name AS run_name, m.step, m.epoch, m.wall_seconds, m.name, m.value "
            f"FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.run_id IN ({_marks(run_ids)}) "
            f"ORDER BY m.run_id, m.step", list(run_ids))
        return pd.DataFrame(rows, columns=METRICS_COLUMNS)

    def best_evaluation(self, run_id: int, name: str = "val_macro_f1") -> dict | None:
        """All metrics of the evaluation where `name` was highest (earliest on ties)."""
        best = self._one("SELECT step FROM metrics WHERE run_id = ? AND name = ? ORDER BY value DESC, step "
                         "LIMIT 1", (run_id, name))
        if best is None:
            return None
        rows = self._rows("SELECT * FROM metrics WHERE run_id = ? AND step = ?", (run_id, best["step"]))
        result = {"step": best["step"], "epoch": rows[0]["epoch"], "wall_seconds": rows[0]["wall_seconds"]}
        result.update({row["name"]: row["value"] for row in rows})
        return result

    # -- energy (cumulative readings)

    def add_energy(self, run_id: int, step: int, epoch: float, wall_seconds: float, reading: dict) -> None:
        """`reading`: EnergyReading.to_row(); cumulative since the run began."""
        row = dict(reading, run_id=run_id, step=step, epoch=epoch, wall_seconds=wall_seconds,
                   created_at=time.time(), codecarbon=json.dumps(reading.get("codecarbon") or {}))
        self._write(lambda db: db.table("energy").insert(row))

    @staticmethod
    def _energy(row: dict) -> dict:
        row["codecarbon"] = _loads(row["codecarbon"]) or {}
        return row

    def validation_curves(self, run_ids: Sequence[int]) -> dict[int, list[tuple[float, float | None, float]]]:
        """Each run's evaluations in order, in one query: (wall seconds, cumulative kWh at that step or None,
        validation macro-F1); time to accuracy reads them."""
        if not run_ids:
            return {}
        rows = self._rows(
            "SELECT m.run_id, m.wall_seconds, m.value AS f1, (SELECT e.kwh FROM energy e WHERE e.run_id = m.run_id "
            " AND e.step = m.step ORDER BY e.created_at DESC LIMIT 1) AS kwh FROM metrics m "
            f"WHERE m.name = 'val_macro_f1' AND m.run_id IN ({_marks(run_ids)}) ORDER BY m.run_id, m.step",
            list(run_ids))
        curves: dict[int, list[tuple[float, float | None, float]]] = {}
        for row in rows:
            curves.setdefault(row["run_id"], []).append((row["wall_seconds"], row["kwh"], row["f1"]))
        return curves

    def list_energy(self, run_id: int) -> list[dict]:
        return [self._energy(row) for row in
                self._rows("SELECT * FROM energy WHERE run_id = ? ORDER BY step, created_at", (run_id,))]

    def last_energies(self, run_ids: Sequence[int]) -> dict[int, dict]:
        """Each run's last reading, in one query: run id -> reading (runs without one left out)."""
        if not run_ids:
            return {}
        rows = self._rows(
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY step DESC, created_at DESC) "
            f"AS newest FROM energy WHERE run_id IN ({_marks(run_ids)})) WHERE newest = 1", list(run_ids))
        return {row["run_id"]: self._energy(row) for row in rows}

    def last_energy(self, run_id: int) -> dict | None:
        row = self._one("SELECT * FROM energy WHERE run_id = ? ORDER BY step DESC, created_at DESC LIMIT 1",
                        (run_id,))
        return self._energy(row) if row is not None else None

    # -- topics

    def set_topics(self, run_id: int, topics: Sequence[Sequence[tuple[str, float]]],
                   npmi: Sequence[float] | None = None) -> None:
        """Each topic's words with their weights, and its NPMI over the run's training documents."""
        scores = list(npmi) if npmi is not None else [None] * len(topics)
        rows = [{"run_id": run_id, "topic": k, "words": json.dumps([[word, float(weight)] for word, weight in words]),
                 "npmi": score} for k, (words, score) in enumerate(zip(topics, scores, strict=True))]

        def replace(db: sqlite_utils.Database) -> None:
            db.table("topics").delete_where("run_id = ?", [run_id])
            db.table("topics").insert_all(rows)
        self._write(replace)

    def get_topics(self, run_id: int) -> list[list[tuple[str, float]]]:
        rows = self._rows("SELECT words FROM topics WHERE run_id = ? ORDER BY topic", (run_id,))
        return [[(word, weight) for word, weight in json.loads(row["words"])] for row in rows]

    def get_topic_npmi(self, run_id: int) -> list[float | None]:
        """Each topic's stored NPMI, in topic order (None where the run predates it)."""
        return [row["npmi"] for row in self._rows("SELECT npmi FROM topics WHERE run_id = ? ORDER BY topic",
                                                  (run_id,))]

    # -- the LDA reference a run's topics are judged against (one per corpus, vocabulary and K)

    def get_topic_reference(self, key: str) -> dict | None:
        row = self._one("SELECT * FROM topic_references WHERE key = ?", (key,))
        if row is not None:
            row["topics"] = json.loads(row["topics"])
        return row

    def add_topic_reference(self, key: str, n_topics: int, npmi: float, diversity: float,
                            topics: Sequence[Sequence[str]], fit_seconds: float, npmi_test: float | None = None,
                            npmi_window: float | None = None) -> None:
        """Kept once: a second worker that fitted the same reference meanwhile leaves the first.
        npmi: over the training documents; npmi_test: over the test ones; npmi_window: over 10-word
        windows of the training texts."""
        self._write(lambda db: db.table("topic_references").insert(
            {"key": key, "n_topics": n_topics, "npmi": npmi, "diversity": diversity,
             "topics": json.dumps([list(words) for words in topics]), "fit_seconds": fit_seconds,
             "npmi_test": npmi_test, "npmi_window": npmi_window, "created_at": time.time()}, ignore=True))

    def set_run_topic_reference(self, run_id: int, key: str) -> None:
        self._update("runs", run_id, {"topic_reference": key})

    # -- workers

    def register_worker(self, pid: int | None, device: str | None, state: str = "idle",
                        host: str | None = None) -> int:
        now = time.time()
        return self._write(lambda db: _inserted_id(db.table("workers").insert(
            {"pid": pid, "host": host or hostname(), "device": device, "started_at": now, "heartbeat_at": now,
             "state": state})))

    def reserve_worker_start(self, max_age: float) -> int | None:
        """Atomically: if no worker is alive, record one as 'starting' and return its id (the caller
        then starts it); else None. Two callers at once never both start one."""
        def reserve(db: sqlite_utils.Database) -> int | None:
            if db.table("workers").count_where("heartbeat_at >= ? AND state != 'stopped'", [time.time() - max_age]):
                return None
            now = time.time()
            return _inserted_id(db.table("workers").insert({"pid": None, "host": hostname(), "device": None,
                                                            "started_at": now, "heartbeat_at": now,
                                                            "state": "starting"}))
        return self._write(reserve)

    def update_worker(self, worker_id: int, state: str, pid: int | None = None,
                      device: str | None = None) -> None:
        """Heartbeat, with the worker's state (and pid/device once known)."""
        values: dict[str, Any] = {"state": state, "heartbeat_at": time.time()}
        values.update({key: value for key, value in (("pid", pid), ("device", device)) if value is not None})
        self._update("workers", worker_id, values)

    def get_worker(self, worker_id: int) -> dict | None:
        return self._one("SELECT * FROM workers WHERE id = ?", (worker_id,))

    def alive_workers(self, max_age: float = 15.0) -> list[dict]:
        return self._rows("SELECT * FROM workers WHERE heartbeat_at >= ? AND state != 'stopped' ORDER BY id",
                          (time.time() - max_age,))
