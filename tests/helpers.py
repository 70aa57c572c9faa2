"""What tests of every kind share: waiting for a condition until a deadline (failing at once when a process it
waits on ends), a free local port and whether something listens on one. (queue_helpers.py and store_helpers.py
hold what only the queue's or the pages' tests share.)"""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str = "the condition", timeout: float = 30.0, every: float = 0.1,
             give_up: Callable[[], str | None] | None = None, context: Callable[[], str] | None = None) -> T:
    """`condition()`'s first true value, asked every `every` s for `timeout` s; else an AssertionError that names
    `what`, followed by `context()` (what a reader of the failure needs: a page's text, a log).

    `give_up()`, asked between tries, says why the condition can no longer come (`ended`: a process it waits on
    ended), or None: its reason fails the test at once rather than at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        reason = give_up() if give_up is not None else None
        if reason:
            raise AssertionError(f"{reason} while waiting for {what}{_detail(context)}")
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{_detail(context)}")


def _detail(context: Callable[[], str] | None) -> str:
    return f":\n{context()}" if context is not None else ""


def ended(process: subprocess.Popen, name: str) -> Callable[[], str | None]:
    """wait_for's `give_up` for a process: once it has ended, `name` and its exit code."""
    return lambda: None if process.poll() is None else f"{name} ended (code {process.returncode})"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now: the system's pick."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something on 127.0.0.1 accepts a connection on `port` now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
