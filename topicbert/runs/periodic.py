"""A daemon thread that does one thing every few seconds while a run trains, on a store connection of its
own (SQLite connections stay in the thread that made them): the runner's heartbeat and its sampler of the
machine's load are both one of these, and so is the Ray worker's watch on its cluster's head."""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

S = TypeVar("S")  # the store the thread's connection is: Store, or what a run's process knows of it (RunStore)


class Periodic(Generic[S]):
    """`with Periodic(connect, every, tick):` calls `tick(store)` every `every` seconds until the block ends,
    `store` a connection `connect()` opened for the thread alone."""

    def __init__(self, connect: Callable[[], AbstractContextManager[S]], every: float,
                 tick: Callable[[S], None]) -> None:
        self.connect, self.every, self.tick = connect, every, tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        with self.connect() as store:
            while not self._stop.wait(self.every):
                self.tick(store)

    def __enter__(self) -> Periodic[S]:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
