"""What a run's process asks of the store (runs/run_store.py's RunStore) against the two stores that serve it:
Store here, and on a Ray node RemoteStore through the store's service."""
from __future__ import annotations

import inspect

import pytest

from topicbert.runs.ray.node import RemoteStore
from topicbert.runs.run_store import RUN_CALLS, SHARED_CALLS, RunStore, declared_calls
from topicbert.runs.store import Store

FORWARDED = RUN_CALLS | SHARED_CALLS
WRITTEN_OUT = declared_calls(RunStore)  # the calls that carry a run's files, and its connections


def parameters(function: object) -> list[tuple[str, object, object]]:
    """Each parameter's name, kind and default (a forwarded call reaches Store with the arguments it was given)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_every_call_a_run_makes_is_the_stores_own_with_its_parameters():
    assert len(FORWARDED) == 19 and not RUN_CALLS & SHARED_CALLS
    for name in FORWARDED | WRITTEN_OUT:
        assert parameters(getattr(RunStore, name)) == parameters(getattr(Store, name)), name


def test_a_runs_own_calls_name_the_run_first_as_the_store_service_checks():
    for name in RUN_CALLS:
        assert parameters(getattr(Store, name))[1][0] == "run_id", name
    for name in SHARED_CALLS:
        assert "run_id" not in [p[0] for p in parameters(getattr(Store, name))], name


def test_a_node_writes_out_the_calls_that_carry_files_and_forwards_the_rest():
    own = {name for name in vars(RemoteStore) if not name.startswith("_")}
    assert WRITTEN_OUT <= own and not FORWARDED & own
    assert {"heartbeat_run", "set_checkpoint", "finish_run"} <= WRITTEN_OUT
    remote = RemoteStore(service=None, run_id=1, attempt="a", outbox=None)
    assert all(callable(getattr(remote, name)) for name in FORWARDED)
    with pytest.raises(AttributeError, match="has no delete_run"):
        _ = remote.delete_run  # not a call a run makes: never forwarded
