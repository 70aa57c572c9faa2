"""A run's Ray task, on whichever node Ray placed it.

The task asks the StoreService on the store's machine for the run's inputs (settings, corpus, folder),
trains in a scratch folder of its own with the runner's own execute(), and reaches the store only
through the service (RemoteStore): progress, metrics, energy and the end as calls, the files with the
calls that need them there. The scratch folder goes when the task ends: what matters is on the store's
machine by then. Only the Ray worker's tasks import this module.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import ray

from ...data.corpus import save_corpus
from ...data.shared_texts import texts_folder
from ..run_store import RUN_CALLS, SHARED_CALLS
from ..runner import execute
from ..store import run_folder
from .shipping import Outbox, Shipment, fetch_file, send_file, write_folder
from .store_service import FILES, KEYED_HERE

LOG_FORMAT = "%(asctime)s runner %(levelname)s %(message)s"  # as the runner logs under the local worker
SCRATCH = re.compile(r"topicbert-run-\d+-pid(\d+)-")  # an attempt's folder, named with its process's pid

log = logging.getLogger(__name__)


def _waited(method: Any, *args: Any) -> Any:
    """A call of the store service's `method`, once its answer is here (partial() binds a file's call to it: a
    lambda in a loop would see the loop's last file)."""
    return ray.get(method.remote(*args))


class RemoteStore:
    """The store (a RunStore), for one attempt of one run trained on a Ray node: each call goes to the
    StoreService on the store's machine and waits for its answer. The calls that carry files are written out
    here; the rest (run_store's RUN_CALLS and SHARED_CALLS) are forwarded as they are."""

    def __init__(self, service: Any, run_id: int, attempt: str, outbox: Outbox) -> None:
        self.service, self.run_id, self.attempt, self.outbox = service, run_id, attempt, outbox

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in RUN_CALLS | SHARED_CALLS:
            raise AttributeError(f"the store of a run on a Ray node has no {name}")

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in KEYED_HERE:  # the store's machine computes the key from the run's vocabulary: it goes first
                ray.get(self.service.heartbeat.remote(self.run_id, self.attempt,
                                                      self.sent_ahead(self.outbox.changed(only=["vocab.json"]))))
            return ray.get(self.service.call.remote(self.run_id, self.attempt, name, args, kwargs))
        return call

    def sent_ahead(self, shipment: Shipment) -> Shipment:
        """`shipment`, once its large files are on the store's machine: each sent chunk by chunk in the
        service's FILES group (a call of another run's does not wait behind them), the next chunk read
        only when the last is there."""
        chunk, file_sent = (method.options(concurrency_group=FILES) for method in (self.service.chunk,
                                                                                   self.service.file_sent))
        for name in shipment.streamed:
            size, sha256 = send_file(self.outbox.run_dir / name, partial(_waited, chunk, self.run_id, self.attempt,
                                                                         name))
            ray.get(file_sent.remote(self.run_id, self.attempt, name, size, sha256))
        return shipment

    def heartbeat_run(self, run_id: int) -> None:
        shipment = self.sent_ahead(self.outbox.changed(only=["run.log"]))
        ray.get(self.service.heartbeat.remote(run_id, self.attempt, shipment))

    def set_checkpoint(self, run_id: int, step: int) -> None:
        shipment = self.sent_ahead(self.outbox.changed(with_checkpoint=True))
        ray.get(self.service.checkpoint.remote(run_id, self.attempt, step, shipment))

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> bool:
        sys.stdout.flush()  # the log's last lines are in the file before it travels
        shipment = self.sent_ahead(self.outbox.changed())
        return ray.get(self.service.finish.remote(run_id, self.attempt, status, error, shipment))

    def another_connection(self) -> RemoteStore:
        return self  # the service's handle serves every thread

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """Everything this process writes (Python's logging and prints, and the libraries' below Python) into
    the run's log, as the local worker's runner does; Ray's worker gets its output back after."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    level = root.level
    with open(log_path, "ab", buffering=0) as log, open(log_path, "a", buffering=1, encoding="utf-8") as text:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = text
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def scratch_folder(run_id: int, root: Path | None = None) -> Path:
    """A new folder for this attempt. Those of attempts whose process is gone go first: a cancel or a lost
    driver kills a task with no time to remove its own."""
    root = Path(root or tempfile.gettempdir())
    for folder in root.glob("topicbert-run-*"):
        found = SCRATCH.match(folder.name)
        if found and not psutil.pid_exists(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"topicbert-run-{run_id}-pid{os.getpid()}-", dir=root))


def fetch_files(service: Any, run_id: int, attempt: str, names: list[str], run_dir: Path) -> None:
    """The run folder's large files (a resumed run's checkpoint), chunk by chunk in the service's FILES group,
    each checked against the size and SHA-256 the store's machine computes."""
    chunk, digest = (method.options(concurrency_group=FILES) for method in (service.file_chunk, service.file_digest))
    for name in names:
        fetch_file(run_dir, name, partial(_waited, chunk, run_id, attempt, name),
                   partial(_waited, digest, run_id, attempt, name))


def train_on_node(service: Any, run_id: int, attempt: str, resume: bool) -> int:
    """The body of a run's Ray task: 0 done, 1 failed (recorded in the store either way)."""
    scratch = scratch_folder(run_id)
    # this attempt's home: its copy of the run folder, its word-piece cache, its test texts
    os.environ["TOPICBERT_HOME"] = str(scratch)
    try:
        inputs = ray.get(service.inputs.remote(run_id, attempt))
        run_dir = run_folder(run_id)
        write_folder(inputs.run_files, run_dir)
        fetch_files(service, run_id, attempt, inputs.streamed, run_dir)
        corpus_path = scratch / "corpus.jsonl"
        save_corpus(inputs.corpus, corpus_path)  # read back, it is the same corpus (save_corpus says so)
        config = inputs.config.replace(corpus=str(corpus_path), text_col="text", label_col="label", split_col="split")
        store = RemoteStore(service, run_id, attempt, Outbox(run_dir, texts_folder()))
        node, host = ray.get_runtime_context().get_node_id(), socket.gethostname()
        gpus = [str(g) for g in ray.get_gpu_ids()]
        store.set_placement(run_id, node, host, gpus)
        with output_to(run_dir / "run.log"):
            log.info("run %s on Ray node %s (%s), GPUs %s%s", run_id, node, host, ",".join(gpus) or "none",
                     ", resuming" if resume else "")
            return execute(store, run_id, config, run_dir, resume)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
