"""Cancel: a run's whole process group stopped within seconds, a queued run cancelled and resumed."""
from __future__ import annotations

import subprocess
import sys
import time

from helpers import wait_for
from queue_helpers import (
    config,
    group_alive,
)

from topicbert.runs import services
from topicbert.runs.store import hostname


def test_cancel_kills_the_whole_process_group(store):
    run_id = store.create_run(config())
    store.claim_next_run(None, "cpu", hostname())
    # a leader, two children, and one that ignores SIGTERM (it needs the SIGKILL)
    script = ("sleep 300 & sleep 300 & "
              f"{sys.executable} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(300)' & wait")
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    store.set_process(run_id, leader.pid, leader.pid)
    wait_for(lambda: len(group_alive(leader.pid)) == 4)

    began = time.monotonic()
    assert services.cancel_run(store, run_id, grace=1.0)
    assert group_alive(leader.pid) == []
    assert time.monotonic() - began < 6.0
    leader.wait(timeout=5)
    assert store.get_run(run_id)["status"] == "cancelled"
    assert not services.cancel_run(store, run_id)  # nothing left to cancel


def test_cancel_of_a_queued_run_and_resume(store):
    run_id = store.create_run(config())
    assert services.cancel_run(store, run_id)
    assert store.get_run(run_id)["status"] == "cancelled"
    assert services.resume_run(store, run_id)
    assert store.get_run(run_id)["status"] == "queued" and store.get_run(run_id)["resume"]
    assert not services.resume_run(store, run_id)  # queued already
