"""The store's side of runs that train on a Ray cluster: the one writer of their rows and files.

The Ray worker makes a StoreService an actor on its own machine's node (ray_worker.py), beside the
SQLite file; a run's task on any node calls it (through ray_node.RemoteStore) for every read and write
its runner makes, and sends the run's files with the calls that need them here: the resumable
checkpoint with the step the store records for it, the log with each heartbeat, the rest at the end.
So SQLite is never shared over a network, and the run folder here is what every page reads.

Each attempt of a run has a token: calls from an attempt that is no longer the run's current one (the
run was cancelled, or its node was given up for dead) are refused. What runs share is never trusted to
the node that wrote it first: test texts are kept only under their own digest (shipping.receive), and a
topic reference only under the key computed here. Nothing here imports Ray.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..data.corpus import Corpus, load_corpus
from ..training.checkpoints import Checkpoints
from .references import reference_inputs
from .shipping import Shipment, read_folder, receive
from .store import Store

# what a runner may ask of the store for its own run (its first argument is the run's id) ...
RUN_CALLS = frozenset({
    "set_placement", "set_device", "set_attempt_start", "set_progress", "truncate_history", "last_energy",
    "best_evaluation", "set_best_metrics", "set_pretrained", "add_metrics", "add_energy", "set_inference",
    "set_topics", "set_final_metrics", "set_energy_info", "set_machine_load", "set_run_topic_reference"})
# ... and of what runs share (the LDA reference of a corpus)
SHARED_CALLS = frozenset({"get_topic_reference", "add_topic_reference"})
# the calls that name a topic reference, and which of their arguments is its key
KEYED_HERE = {"add_topic_reference": 0, "set_run_topic_reference": 1}


class StaleAttempt(RuntimeError):
    """A call from an attempt of a run that is not the run's current one."""


@dataclass
class Inputs:
    """What a node needs to train a run: its settings as stored, its corpus as read here (so the node
    needs no copy of it), and its folder's files (a resumed run's checkpoint and best model, its log)."""
    config: RunConfig
    corpus: Corpus
    run_files: dict[str, bytes]


class StoreService:
    def __init__(self, db_path: str) -> None:
        self.store = Store(db_path)
        self.texts_dir = Path(db_path).parent / "texts"  # data/shared_texts's folder of this TOPICBERT_HOME
        self.attempts: dict[int, str] = {}
        self.reference_keys: dict[int, str] = {}

    # -- what the Ray worker says

    def begin(self, run_id: int, attempt: str) -> None:
        self.attempts[run_id] = attempt

    def end(self, run_id: int) -> None:
        self.attempts.pop(run_id, None)
        self.reference_keys.pop(run_id, None)

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
        return Inputs(config, corpus, read_folder(Path(run["run_dir"])))

    def call(self, run_id: int, attempt: str, name: str, args: tuple, kwargs: dict) -> Any:
        """One store call of the runner's; a run's own calls only for that run, a topic reference only
        under the key the run's documents give."""
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

    def heartbeat(self, run_id: int, attempt: str, shipment: Shipment) -> None:
        """The run is alive; here is its log so far."""
        self._receive(self._run(run_id, attempt), shipment)
        self.store.heartbeat_run(run_id)

    def checkpoint(self, run_id: int, attempt: str, step: int, shipment: Shipment) -> None:
        """The checkpoint of `step` (in the shipment) is here: only now does the store name it."""
        self._receive(self._run(run_id, attempt), shipment)
        self.store.set_checkpoint(run_id, step)

    def finish(self, run_id: int, attempt: str, status: str, error: str | None, shipment: Shipment) -> bool:
        """The run's end with its last files; a finished run keeps no resumable checkpoint (as execute()
        does where it trained). False if the run was cancelled or ended meanwhile."""
        run = self._run(run_id, attempt)
        self._receive(run, shipment)
        finished = self.store.finish_run(run_id, status, error)
        if finished and status == "done":
            Checkpoints(Path(run["run_dir"])).remove_resumable()
        return finished

    def _receive(self, run: dict, shipment: Shipment) -> None:
        if "best/run_config.json" in shipment.run_files:
            # the node trained on its copy of the corpus: the kept model names the corpus as the store does
            shipment.run_files["best/run_config.json"] = RunConfig.from_dict(run["config"]).to_json().encode()
        receive(shipment, Path(run["run_dir"]), self.texts_dir)
