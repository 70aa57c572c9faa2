"""The store's side of runs that train on a Ray cluster: the one writer of their rows and files.

The Ray worker makes a StoreService an actor on its own machine's node (worker.py), beside the
SQLite file; a run's task on any node calls it (through node.RemoteStore) for every read and write
its runner makes, and sends the run's files with the calls that need them here: the resumable
checkpoint with the step the store records for it, the log with each heartbeat, the rest at the end.
So SQLite is never shared over a network, and the run folder here is what every page reads. A file of
shipping.CHUNK_BYTES or more (a checkpoint's weights) is sent ahead of the call that names it, chunk by
chunk, to `chunk` and `file_sent`, and a node starting a run fetches such files from `file_chunk` and
`file_digest`; the Ray worker runs these four in a concurrency group of their own (FILES, a thread beside
the one for every other call, and the only other one: they touch files alone, never SQLite): another run's
heartbeat does not wait behind a checkpoint in transit, and the service holds one chunk of it at a time.

Each attempt of a run has a token: calls from an attempt that is no longer the run's current one (the
run was cancelled, or its node was given up for dead) are refused. What runs share is never trusted to
the node that wrote it first: test texts are kept only under their own digest (shipping.receive), and a
topic reference only under the key computed here. Nothing here imports Ray.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import RunConfig
from ...data.corpus import Corpus, load_corpus
from ...training.checkpoints import Checkpoints
from ..references import reference_inputs
from ..run_store import RUN_CALLS, SHARED_CALLS
from ..store import Store, run_folder
from .shipping import INCOMING, Inbox, Shipment, read_chunk, receive, run_folder_to_send, size_and_digest

# the calls that name a topic reference, and which of their arguments is its key
KEYED_HERE = {"add_topic_reference": 0, "set_run_topic_reference": 1}
FILES = "files"  # the concurrency group (one thread) of the calls that carry a file's chunks


class StaleAttempt(RuntimeError):
    """A call from an attempt of a run that is not the run's current one."""


@dataclass
class Inputs:
    """What a node needs to train a run: its settings as stored, its corpus as read here (so the node
    needs no copy of it), and its folder's files (a resumed run's checkpoint and best model, its log): the
    small ones' bytes, the names of those the node fetches in chunks (file_chunk, file_digest)."""
    config: RunConfig
    corpus: Corpus
    run_files: dict[str, bytes]
    streamed: list[str]


class StoreService:
    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.connections = threading.local()
        self.home = Path(db_path).parent  # the store's TOPICBERT_HOME: its runs/ and texts/
        self.texts_dir = self.home / "texts"  # data/shared_texts's folder of this TOPICBERT_HOME
        self.attempts: dict[int, str] = {}
        self.reference_keys: dict[int, str] = {}
        self.inbox = Inbox()
        self.inbox_lock = threading.Lock()  # FILES's thread and the other one both reach the inbox

    @property
    def store(self) -> Store:
        """The store, on a connection of the calling thread's: Ray runs __init__ and the calls in threads of
        their own, and a SQLite connection serves only the thread that opened it."""
        if not hasattr(self.connections, "store"):
            self.connections.store = Store(self.db_path)
        return self.connections.store

    # -- what the Ray worker says

    def begin(self, run_id: int, attempt: str) -> None:
        self.attempts[run_id] = attempt
        self._discard_incoming(run_id)  # what an attempt before it left half-sent

    def end(self, run_id: int) -> None:
        self.attempts.pop(run_id, None)
        self.reference_keys.pop(run_id, None)
        self._discard_incoming(run_id)

    def _discard_incoming(self, run_id: int) -> None:
        with self.inbox_lock:
            self.inbox.discard(run_folder(run_id, self.home) / INCOMING)

    def _staging(self, run_id: int, attempt: str) -> Path:
        return run_folder(run_id, self.home) / INCOMING / attempt

    # -- what a run's task asks

    def _run(self, run_id: int, attempt: str) -> dict:
        if self.attempts.get(run_id) != attempt:
            raise StaleAttempt(f"run {run_id}: this attempt is over (cancelled, or its node given up for dead)")
        run = self.store.get_run(run_id)
        if run is None:  # cancelled, then deleted, before the attempt ended
            raise StaleAttempt(f"run {run_id}: this attempt is over (the run was deleted)")
        return run

    def inputs(self, run_id: int, attempt: str) -> Inputs:
        run = self._run(run_id, attempt)
        config = RunConfig.from_dict(run["config"])
        corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
        files = run_folder_to_send(Path(run["run_dir"]))
        return Inputs(config, corpus, files.run_files, files.streamed)

    def call(self, run_id: int, attempt: str, name: str, args: tuple, kwargs: dict) -> Any:
        """One store call of the runner's (run_store's RUN_CALLS and SHARED_CALLS); a run's own calls only for
        that run, a topic reference only under the key the run's documents give."""
        self._run(run_id, attempt)
        if name in RUN_CALLS:
            if not args or args[0] != run_id:
                raise PermissionError(f"run {run_id} may not call {name} for run {args[0] if args else '?'}")
        elif name not in SHARED_CALLS:
            raise PermissionError(f"a run on a Ray node may not call the store's {name}")
        if name in KEYED_HERE:
            key = args[KEYED_HERE[name]] if len(args) > KEYED_HERE[name] else kwargs.get("key")
            if key != self._reference_key(run_id):
                raise PermissionError(f"run {run_id} may not {name} under key {key!r}: its documents and "
                                      "vocabulary give another")
        return getattr(self.store, name)(*args, **kwargs)

    def _reference_key(self, run_id: int) -> str:
        """The key of the run's LDA reference, computed here from the corpus as read here and the run's
        vocabulary (sent before the call): a node cannot file an entry under another run's key."""
        if run_id not in self.reference_keys:
            run = self.store.get_run(run_id)
            assert run is not None  # _run() found it
            self.reference_keys[run_id] = reference_inputs(RunConfig.from_dict(run["config"]),
                                                           Path(run["run_dir"])).key()
        return self.reference_keys[run_id]

    # -- a large file's chunks, to the head ahead of the call that names it, or to a node starting the run: in
    # FILES's thread, so no SQLite here

    def _current(self, run_id: int, attempt: str) -> Path:
        if self.attempts.get(run_id) != attempt:
            raise StaleAttempt(f"run {run_id}: this attempt is over (cancelled, or its node given up for dead)")
        return self._staging(run_id, attempt)

    def chunk(self, run_id: int, attempt: str, name: str, index: int, content: bytes) -> None:
        """Chunk `index` of the run folder's file `name` (shipping.send_file's)."""
        staging = self._current(run_id, attempt)
        with self.inbox_lock:
            self.inbox.add(staging, name, index, content)

    def file_sent(self, run_id: int, attempt: str, name: str, size: int, sha256: str) -> None:
        """Every chunk of `name` was sent: it is staged if it is what the node read, refused otherwise."""
        staging = self._current(run_id, attempt)
        with self.inbox_lock:
            self.inbox.finish(staging, name, size, sha256)

    def file_chunk(self, run_id: int, attempt: str, name: str, index: int) -> bytes:
        """Chunk `index` of the run folder's file `name` here, for a node starting the run (empty past its end)."""
        self._current(run_id, attempt)
        return read_chunk(run_folder(run_id, self.home), name, index)

    def file_digest(self, run_id: int, attempt: str, name: str) -> tuple[int, str]:
        """The size and SHA-256 of the run folder's file `name` here, which the node checks what it fetched against."""
        self._current(run_id, attempt)
        return size_and_digest(run_folder(run_id, self.home), name)

    # -- the calls that carry files

    def heartbeat(self, run_id: int, attempt: str, shipment: Shipment) -> None:
        """The run is alive; here is its log so far."""
        self._receive(self._run(run_id, attempt), attempt, shipment)
        self.store.heartbeat_run(run_id)

    def checkpoint(self, run_id: int, attempt: str, step: int, shipment: Shipment) -> None:
        """The checkpoint of `step` (in the shipment) is here: only now does the store name it."""
        self._receive(self._run(run_id, attempt), attempt, shipment)
        self.store.set_checkpoint(run_id, step)

    def finish(self, run_id: int, attempt: str, status: str, error: str | None, shipment: Shipment) -> bool:
        """The run's end with its last files; a finished run keeps no resumable checkpoint (as execute()
        does where it trained). False if the run was cancelled or ended meanwhile."""
        run = self._run(run_id, attempt)
        self._receive(run, attempt, shipment)
        finished = self.store.finish_run(run_id, status, error)
        if finished and status == "done":
            Checkpoints(Path(run["run_dir"])).remove_resumable()
        return finished

    def _receive(self, run: dict, attempt: str, shipment: Shipment) -> None:
        if "best/run_config.json" in shipment.run_files:
            # the node trained on its copy of the corpus: the kept model names the corpus as the store does
            shipment.run_files["best/run_config.json"] = RunConfig.from_dict(run["config"]).to_json().encode()
        # the staged files it moves are its attempt's, which only this thread discards
        receive(shipment, Path(run["run_dir"]), self.texts_dir, self._staging(run["id"], attempt))
