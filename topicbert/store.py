"""The SQLite store: schema, migrations and every query of the project (sqlite-utils).

One database file under TOPICBERT_HOME, shared by the app, the worker, the runners and the
command line, each in its own process. WAL lets readers go on while one process writes;
write transactions take the write lock up front (BEGIN IMMEDIATE) and are retried with
backoff, so writers in several processes never fail with "database is locked".
"""
from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

import sqlite_utils

from .config import RunConfig
from .paths import home  # re-exported: callers know the store as where data lives

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
RESUMABLE = ("interrupted", "cancelled", "failed")
BUSY_TIMEOUT_MS = 30_000
WRITE_ATTEMPTS = 12
ERROR_CHARS = 8_000  # keep the tail of a traceback or log, not megabytes of it

T = TypeVar("T")


def default_db_path() -> Path:
    return home() / "topicbert.db"


def run_folder(run_id: int, root: Optional[Path] = None) -> Path:
    """A run's folder: its config.json, log, checkpoints and result files."""
    return (root or home()) / "runs" / str(run_id)


def hostname() -> str:
    return socket.gethostname()


def _is_lock_error(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _loads(value: Optional[str]) -> Any:
    return json.loads(value) if value else None


# ---------------------------------------------------------------- migrations
# Numbered, applied once each, in order; the `migrations` table records which ran.
# Never edit one that has shipped: add the next.

def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript("""
    CREATE TABLE corpora (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        source TEXT,
        n_docs INTEGER,
        n_classes INTEGER,
        counts TEXT,
        path TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        config TEXT NOT NULL,
        corpus_id INTEGER REFERENCES corpora(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        variant TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        resume INTEGER NOT NULL DEFAULT 0,
        worker_id INTEGER,
        pid INTEGER,
        pgid INTEGER,
        host TEXT,
        device TEXT,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        heartbeat_at REAL,
        error TEXT,
        best_metrics TEXT,
        final_metrics TEXT,
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER,
        checkpoint_step INTEGER,
        paired_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        run_dir TEXT,
        log_path TEXT,
        energy_info TEXT
    );
    CREATE INDEX runs_by_status ON runs(status, id);
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch REAL,
        wall_seconds REAL,
        name TEXT NOT NULL,
        value REAL
    );
    CREATE INDEX metrics_by_run ON metrics(run_id, name, step);
    CREATE TABLE energy (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch REAL,
        wall_seconds REAL,
        created_at REAL NOT NULL,
        duration_s REAL,
        cpu_kwh REAL,
        gpu_kwh REAL,
        ram_kwh REAL,
        kwh REAL,
        kg_co2e REAL,
        cpu_power_w REAL,
        gpu_power_w REAL,
        ram_power_w REAL,
        country TEXT,
        country_name TEXT,
        carbon_intensity REAL,
        cpu_measured INTEGER,
        gpu_measured INTEGER,
        ram_measured INTEGER,
        measured TEXT,
        codecarbon TEXT
    );
    CREATE INDEX energy_by_run ON energy(run_id, step);
    CREATE TABLE topics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        topic INTEGER NOT NULL,
        words TEXT NOT NULL,
        PRIMARY KEY (run_id, topic)
    );
    CREATE TABLE workers (
        id INTEGER PRIMARY KEY,
        pid INTEGER,
        host TEXT NOT NULL,
        device TEXT,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        state TEXT NOT NULL
    );
    """)


MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = [
    (1, "initial schema", _m001_initial),
]


# ---------------------------------------------------------------- the store

class Store:
    """One connection to the database; open one per process, thread or Streamlit call."""

    def __init__(self, path: Optional[Path | str] = None) -> None:
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

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing

    def _enable_wal(self) -> None:
        if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self.db.execute("PRAGMA journal_mode = WAL")

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
        # the write lock is taken at BEGIN, so a transaction never fails half-way on an upgrade
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

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        return self._retry(lambda: list(self.db.query(sql, params)))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Optional[dict]:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen; returns their numbers."""
        def apply(db: sqlite_utils.Database) -> list[int]:
            db.execute("CREATE TABLE IF NOT EXISTS migrations "
                       "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
            done = {row[0] for row in db.execute("SELECT id FROM migrations").fetchall()}
            applied = []
            for number, name, migration in MIGRATIONS:
                if number not in done:
                    migration(db)
                    db.execute("INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)",
                               (number, name, time.time()))
                    applied.append(number)
            return applied
        # checked first without the write lock: the common case is a database already up to date
        if self.db["migrations"].exists():
            done = {row["id"] for row in self._rows("SELECT id FROM migrations")}
            if all(number in done for number, _, _ in MIGRATIONS):
                return []
        return self._write(apply)

    def applied_migrations(self) -> list[dict]:
        return self._rows("SELECT id, name, applied_at FROM migrations ORDER BY id")

    # -- corpora

    def add_corpus(self, name: str, source: str, n_docs: int, n_classes: int, counts: dict,
                   path: Optional[str] = None) -> int:
        return self._write(lambda db: db.execute(
            "INSERT INTO corpora (name, source, n_docs, n_classes, counts, path, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, source, n_docs, n_classes, json.dumps(counts), path, time.time())).lastrowid)

    def set_corpus_path(self, corpus_id: int, path: str) -> None:
        self._write(lambda db: db.execute("UPDATE corpora SET path = ? WHERE id = ?", (path, corpus_id)))

    def corpus_file(self, corpus_id: int) -> Path:
        """Where the corpus module keeps the parsed copy of a corpus."""
        folder = self.path.parent / "corpora"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{corpus_id}.jsonl"

    @staticmethod
    def _corpus(row: Optional[dict]) -> Optional[dict]:
        if row is not None:
            row["counts"] = _loads(row["counts"])
        return row

    def get_corpus(self, corpus_id: int) -> Optional[dict]:
        return self._corpus(self._one("SELECT * FROM corpora WHERE id = ?", (corpus_id,)))

    def find_corpus(self, name_or_path: str) -> Optional[dict]:
        """The corpus a run's `corpus` setting names: by name, or by its parsed copy's path."""
        return self._corpus(self._one(
            "SELECT * FROM corpora WHERE name = ? OR path = ? ORDER BY id LIMIT 1", (name_or_path, name_or_path)))

    def list_corpora(self) -> list[dict]:
        return [self._corpus(row) for row in self._rows("SELECT * FROM corpora ORDER BY id")]

    def delete_corpus(self, corpus_id: int) -> None:
        """Runs stay; their corpus_id becomes NULL."""
        self._write(lambda db: db.execute("DELETE FROM corpora WHERE id = ?", (corpus_id,)))

    # -- runs

    def create_run(self, config: RunConfig, corpus_id: Optional[int] = None,
                   paired_run_id: Optional[int] = None) -> int:
        def insert(db: sqlite_utils.Database) -> int:
            now = time.time()
            run_id = db.execute(
                "INSERT INTO runs (config, corpus_id, name, variant, status, created_at, queued_at, "
                "paired_run_id) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
                (config.to_json(), corpus_id, config.name, config.variant, now, now, paired_run_id)).lastrowid
            run_dir = run_folder(run_id, self.path.parent)
            db.execute("UPDATE runs SET run_dir = ?, log_path = ? WHERE id = ?",
                       (str(run_dir), str(run_dir / "run.log"), run_id))
            # also beside the run: torchrun ranks on other nodes read it there, not from SQLite
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.json").write_text(config.to_json())
            return run_id
        return self._write(insert)

    def set_paired(self, run_id: int, paired_run_id: int) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET paired_run_id = ? WHERE id = ?",
                                          (paired_run_id, run_id)))

    @staticmethod
    def _run(row: Optional[dict]) -> Optional[dict]:
        if row is not None:
            for key in ("config", "best_metrics", "final_metrics", "energy_info"):
                row[key] = _loads(row[key])
            row["resume"] = bool(row["resume"])
        return row

    def get_run(self, run_id: int) -> Optional[dict]:
        """The run's row; config, best_metrics, final_metrics and energy_info decoded to dicts."""
        return self._run(self._one("SELECT * FROM runs WHERE id = ?", (run_id,)))

    def run_config(self, run_id: int) -> RunConfig:
        row = self._one("SELECT config FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise KeyError(f"no run {run_id}")
        return RunConfig.from_json(row["config"])

    def list_runs(self, status: Optional[str | Sequence[str]] = None, limit: Optional[int] = None) -> list[dict]:
        """Newest first."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        where = f"WHERE status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        sql = f"SELECT * FROM runs {where} ORDER BY id DESC" + (" LIMIT ?" if limit else "")
        params = statuses + ([limit] if limit else [])
        return [self._run(row) for row in self._rows(sql, params)]

    def run_overview(self, run_id: Optional[int] = None, limit: int = 50) -> list[dict]:
        """One row per run for status lists: progress, latest val macro-F1, cumulative kWh and CO2."""
        where = "WHERE r.id = ?" if run_id is not None else ""
        params: list[Any] = [run_id] if run_id is not None else []
        return self._rows(
            "SELECT r.id, r.status, r.name, r.variant, r.step, r.total_steps, r.device, r.host, "
            "r.paired_run_id, r.created_at, r.started_at, r.finished_at, r.error, "
            "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'val_macro_f1' "
            " ORDER BY m.step DESC LIMIT 1) AS val_macro_f1, "
            "(SELECT kwh FROM energy e WHERE e.run_id = r.id ORDER BY e.step DESC, e.created_at DESC LIMIT 1) AS kwh, "
            "(SELECT kg_co2e FROM energy e WHERE e.run_id = r.id ORDER BY e.step DESC, e.created_at DESC LIMIT 1) "
            "AS kg_co2e "
            f"FROM runs r {where} ORDER BY r.id DESC LIMIT ?", params + [limit])

    def claim_next_run(self, worker_id: Optional[int], device: str, host: Optional[str] = None,
                       max_running: int = 1) -> Optional[dict]:
        """Atomically take the oldest queued run this device can serve, or None.

        At most `max_running` runs go at once on one host and device kind, whichever
        worker claimed them. A `cpu` run may go to any device; `auto` goes anywhere.
        """
        host = host or hostname()
        accepted = sorted({"auto", "cpu", device})

        def claim(db: sqlite_utils.Database) -> Optional[int]:
            # the runner refines the device to e.g. cuda:0: still the same kind
            busy = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running' AND host = ? "
                              "AND (device = ? OR device LIKE ?)", (host, device, f"{device}:%")).fetchone()[0]
            if busy >= max_running:
                return None
            row = db.execute(
                f"SELECT id FROM runs WHERE status = 'queued' AND json_extract(config, '$.device') IN "
                f"({', '.join('?' * len(accepted))}) ORDER BY id LIMIT 1", accepted).fetchone()
            if row is None:
                return None
            self._mark_running(db, row[0], worker_id, device, host)
            return row[0]

        run_id = self._write(claim)
        return self.get_run(run_id) if run_id is not None else None

    def claim_run(self, run_id: int, worker_id: Optional[int], device: str, pid: Optional[int] = None,
                  host: Optional[str] = None) -> bool:
        """Take one given queued run (a torchrun launched by hand claims its own run)."""
        host = host or hostname()

        def claim(db: sqlite_utils.Database) -> bool:
            row = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row[0] != "queued":
                return False
            self._mark_running(db, run_id, worker_id, device, host)
            if pid is not None:
                db.execute("UPDATE runs SET pid = ?, pgid = ? WHERE id = ?", (pid, os.getpgid(pid), run_id))
            return True
        return self._write(claim)

    @staticmethod
    def _mark_running(db: sqlite_utils.Database, run_id: int, worker_id: Optional[int], device: str,
                      host: str) -> None:
        now = time.time()
        db.execute("UPDATE runs SET status = 'running', worker_id = ?, device = ?, host = ?, pid = NULL, "
                   "pgid = NULL, started_at = ?, heartbeat_at = ?, finished_at = NULL, error = NULL "
                   "WHERE id = ?", (worker_id, device, host, now, now, run_id))

    def set_process(self, run_id: int, pid: int, pgid: int) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET pid = ?, pgid = ?, heartbeat_at = ? WHERE id = ?",
                                          (pid, pgid, time.time(), run_id)))

    def set_status(self, run_id: int, status: str, error: Optional[str] = None,
                   only_from: Sequence[str] = ()) -> bool:
        """Move a run to `status`; with `only_from`, only if it is in one of those now. True if it moved."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        finished = time.time() if status in ("done", "failed", "cancelled", "interrupted") else None
        guard = f" AND status IN ({', '.join('?' * len(only_from))})" if only_from else ""
        error = error[-ERROR_CHARS:] if error else error
        return self._write(lambda db: db.execute(
            f"UPDATE runs SET status = ?, error = COALESCE(?, error), finished_at = COALESCE(?, finished_at) "
            f"WHERE id = ?{guard}", (status, error, finished, run_id, *only_from)).rowcount > 0)

    def finish_run(self, run_id: int, status: str, error: Optional[str] = None) -> bool:
        """The end of a running run; does nothing if it was cancelled (or ended) meanwhile."""
        return self.set_status(run_id, status, error, only_from=("running",))

    def cancel(self, run_id: int) -> Optional[dict]:
        """Mark a queued or running run cancelled; returns its row as it was before, or None."""
        def cancel(db: sqlite_utils.Database) -> Optional[dict]:
            cursor = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cursor.fetchone()
            if row is None:
                return None
            before = dict(zip([c[0] for c in cursor.description], row))
            if before["status"] not in ACTIVE:
                return None
            db.execute("UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ?", (time.time(), run_id))
            return before
        return self._write(cancel)

    def requeue(self, run_id: int, resume: bool = True) -> bool:
        """Put an interrupted, cancelled or failed run back in the queue, flagged to resume."""
        return self._write(lambda db: db.execute(
            f"UPDATE runs SET status = 'queued', resume = ?, queued_at = ?, finished_at = NULL, error = NULL, "
            f"pid = NULL, pgid = NULL WHERE id = ? AND status IN ({', '.join('?' * len(RESUMABLE))})",
            (int(resume), time.time(), run_id, *RESUMABLE)).rowcount > 0)

    def mark_interrupted(self, run_id: int, reason: str) -> bool:
        return self.set_status(run_id, "interrupted", reason, only_from=("running",))

    def heartbeat_run(self, run_id: int) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id)))

    def set_progress(self, run_id: int, step: int, total_steps: int) -> None:
        self._write(lambda db: db.execute(
            "UPDATE runs SET step = ?, total_steps = ?, heartbeat_at = ? WHERE id = ?",
            (step, total_steps, time.time(), run_id)))

    def set_device(self, run_id: int, device: str) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET device = ? WHERE id = ?", (device, run_id)))

    def set_checkpoint(self, run_id: int, step: int) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET checkpoint_step = ? WHERE id = ?", (step, run_id)))

    def set_best_metrics(self, run_id: int, metrics: Optional[dict]) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET best_metrics = ? WHERE id = ?",
                                          (json.dumps(metrics) if metrics is not None else None, run_id)))

    def set_final_metrics(self, run_id: int, metrics: dict) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET final_metrics = ? WHERE id = ?",
                                          (json.dumps(metrics), run_id)))

    def set_energy_info(self, run_id: int, info: dict) -> None:
        self._write(lambda db: db.execute("UPDATE runs SET energy_info = ? WHERE id = ?",
                                          (json.dumps(info), run_id)))

    def truncate_history(self, run_id: int, after_step: int) -> None:
        """Forget what a run recorded past `after_step` (a resume restarts there) and its end results."""
        def truncate(db: sqlite_utils.Database) -> None:
            db.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, after_step))
            db.execute("DELETE FROM energy WHERE run_id = ? AND step > ?", (run_id, after_step))
            db.execute("DELETE FROM topics WHERE run_id = ?", (run_id,))
            db.execute("UPDATE runs SET final_metrics = NULL WHERE id = ?", (run_id,))
        self._write(truncate)

    # -- metrics (long form: one row per run, step and name)

    def add_metrics(self, run_id: int, step: int, epoch: float, wall_seconds: float,
                    metrics: dict[str, float]) -> None:
        rows = [(run_id, step, epoch, wall_seconds, name, float(value)) for name, value in metrics.items()
                if value is not None]
        self._write(lambda db: db.conn.executemany(
            "INSERT INTO metrics (run_id, step, epoch, wall_seconds, name, value) VALUES (?, ?, ?, ?, ?, ?)", rows))

    def list_metrics(self, run_id: int, name: Optional[str] = None) -> list[dict]:
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

    def metrics_frame(self, run_ids: Sequence[int]):
        """Long-form pandas DataFrame of several runs' metrics, with each run's name (for plots)."""
        import pandas as pd
        if not run_ids:
            return pd.DataFrame(columns=["run_id", "run_name", "step", "epoch", "wall_seconds", "name", "value"])
        marks = ", ".join("?" * len(run_ids))
        rows = self._rows(
            f"SELECT m.run_id, r.name AS run_name, m.step, m.epoch, m.wall_seconds, m.name, m.value "
            f"FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.run_id IN ({marks}) "
            f"ORDER BY m.run_id, m.step", list(run_ids))
        return pd.DataFrame(rows, columns=["run_id", "run_name", "step", "epoch", "wall_seconds", "name", "value"])

    def best_evaluation(self, run_id: int, name: str = "val_macro_f1") -> Optional[dict]:
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
                   created_at=time.time())
        row["codecarbon"] = json.dumps(row.get("codecarbon") or {})
        self._write(lambda db: db["energy"].insert(row))

    @staticmethod
    def _energy(row: dict) -> dict:
        row["codecarbon"] = _loads(row["codecarbon"]) or {}
        return row

    def list_energy(self, run_id: int) -> list[dict]:
        return [self._energy(row) for row in
                self._rows("SELECT * FROM energy WHERE run_id = ? ORDER BY step, created_at", (run_id,))]

    def last_energy(self, run_id: int) -> Optional[dict]:
        row = self._one("SELECT * FROM energy WHERE run_id = ? ORDER BY step DESC, created_at DESC LIMIT 1",
                        (run_id,))
        return self._energy(row) if row is not None else None

    # -- topics

    def set_topics(self, run_id: int, topics: Sequence[Sequence[tuple[str, float]]]) -> None:
        rows = [(run_id, k, json.dumps([[word, float(weight)] for word, weight in words]))
                for k, words in enumerate(topics)]

        def replace(db: sqlite_utils.Database) -> None:
            db.execute("DELETE FROM topics WHERE run_id = ?", (run_id,))
            db.conn.executemany("INSERT INTO topics (run_id, topic, words) VALUES (?, ?, ?)", rows)
        self._write(replace)

    def get_topics(self, run_id: int) -> list[list[tuple[str, float]]]:
        rows = self._rows("SELECT words FROM topics WHERE run_id = ? ORDER BY topic", (run_id,))
        return [[(word, weight) for word, weight in json.loads(row["words"])] for row in rows]

    # -- workers

    def register_worker(self, pid: Optional[int], device: Optional[str], state: str = "idle",
                        host: Optional[str] = None) -> int:
        now = time.time()
        return self._write(lambda db: db.execute(
            "INSERT INTO workers (pid, host, device, started_at, heartbeat_at, state) VALUES (?, ?, ?, ?, ?, ?)",
            (pid, host or hostname(), device, now, now, state)).lastrowid)

    def reserve_worker_start(self, max_age: float) -> Optional[int]:
        """Atomically: if no worker is alive, record one as 'starting' and return its id (the caller
        then starts it); else None. Two callers at once never both start one."""
        def reserve(db: sqlite_utils.Database) -> Optional[int]:
            fresh = db.execute("SELECT COUNT(*) FROM workers WHERE heartbeat_at >= ? AND state != 'stopped'",
                               (time.time() - max_age,)).fetchone()[0]
            if fresh:
                return None
            now = time.time()
            return db.execute("INSERT INTO workers (pid, host, device, started_at, heartbeat_at, state) "
                              "VALUES (NULL, ?, NULL, ?, ?, 'starting')", (hostname(), now, now)).lastrowid
        return self._write(reserve)

    def update_worker(self, worker_id: int, state: str, pid: Optional[int] = None,
                      device: Optional[str] = None) -> None:
        """Heartbeat, with the worker's state (and pid/device once known)."""
        self._write(lambda db: db.execute(
            "UPDATE workers SET state = ?, heartbeat_at = ?, pid = COALESCE(?, pid), device = COALESCE(?, device) "
            "WHERE id = ?", (state, time.time(), pid, device, worker_id)))

    def get_worker(self, worker_id: int) -> Optional[dict]:
        return self._one("SELECT * FROM workers WHERE id = ?", (worker_id,))

    def alive_workers(self, max_age: float = 15.0) -> list[dict]:
        return self._rows("SELECT * FROM workers WHERE heartbeat_at >= ? AND state != 'stopped' ORDER BY id",
                          (time.time() - max_age,))
