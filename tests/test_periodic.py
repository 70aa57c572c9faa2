"""The runner's periodic threads (heartbeat, machine-load sampler): each ticks on a store connection of its
own, and stops with its block."""
from __future__ import annotations

import time

from topicbert.config import RunConfig
from topicbert.runs.periodic import Periodic
from topicbert.runs.runner import heartbeat


def test_a_periodic_thread_ticks_on_its_own_connection_until_its_block_ends(store):
    seen = []
    with Periodic(store.another_connection, 0.05, seen.append):
        time.sleep(0.4)
    ticks = len(seen)
    time.sleep(0.2)
    assert ticks >= 3 and len(seen) == ticks                       # none after the block
    assert all(connection is not store for connection in seen)     # SQLite connections stay in their thread
    assert len({id(connection) for connection in seen}) == 1       # one connection for the thread's life


def test_the_heartbeat_says_a_run_is_alive(store):
    run_id = store.create_run(RunConfig(corpus="c"))
    store.claim_run(run_id, None, "cpu")
    before = store.get_run(run_id)["heartbeat_at"] or 0.0
    with heartbeat(store, run_id, every=0.05):
        time.sleep(0.3)
    assert store.get_run(run_id)["heartbeat_at"] > before
