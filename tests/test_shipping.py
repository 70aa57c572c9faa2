"""A large file of a run's folder on its way from a Ray node to the store's machine, in chunks (shipping's
send_file and Inbox, the store service's chunk and file_sent), without a cluster: it arrives whole and
identical; a chunk lost, repeated or changed, or a wrong digest, leaves no file and nothing written."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from topicbert.config import RunConfig
from topicbert.runs import services
from topicbert.runs.ray import shipping
from topicbert.runs.ray.shipping import (
    INCOMING,
    Inbox,
    Outbox,
    Shipment,
    fetch_file,
    read_folder,
    receive,
    send_file,
)
from topicbert.runs.ray.store_service import StaleAttempt, StoreService
from topicbert.runs.store import hostname

CHUNK = 4096  # bytes: a file of 3.5 chunks travels in four (a run's config.json is smaller)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(shipping, "CHUNK_BYTES", CHUNK)


def node_folder(tmp_path: Path) -> tuple[Path, Outbox, bytes]:
    """A node's run folder with a new checkpoint: large weights (3.5 chunks) and a small state."""
    run_dir = tmp_path / "node" / "runs" / "7"
    run_dir.mkdir(parents=True)
    outbox = Outbox(run_dir, tmp_path / "node" / "texts")
    weights = os.urandom(3 * CHUNK + CHUNK // 2)
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "model.safetensors").write_bytes(weights)
    (run_dir / "checkpoint" / "state.json").write_text('{"step": 6}')
    return run_dir, outbox, weights


def test_a_large_file_travels_in_chunks_and_arrives_whole_and_identical(tmp_path, small_chunks):
    run_dir, outbox, weights = node_folder(tmp_path)
    shipment = outbox.changed(with_checkpoint=True)
    assert shipment.streamed == ["checkpoint/model.safetensors"]  # never read whole into the shipment
    assert shipment.run_files == {"checkpoint/state.json": b'{"step": 6}'}
    inbox, staging, chunks = Inbox(), tmp_path / "head" / INCOMING / "attempt", []

    def take(index: int, content: bytes) -> None:
        chunks.append(len(content))
        inbox.add(staging, "checkpoint/model.safetensors", index, content)

    size, sha256 = send_file(run_dir / "checkpoint" / "model.safetensors", take)
    assert chunks == [CHUNK, CHUNK, CHUNK, CHUNK // 2] and size == len(weights)
    assert sha256 == hashlib.sha256(weights).hexdigest()
    assert not (staging / "checkpoint" / "model.safetensors").exists()  # not whole until the digest says so
    inbox.finish(staging, "checkpoint/model.safetensors", size, sha256)
    head_run = tmp_path / "head" / "runs" / "7"
    receive(shipment, head_run, tmp_path / "head" / "texts", staging)
    assert read_folder(head_run / "checkpoint") == {"model.safetensors": weights, "state.json": b'{"step": 6}'}
    assert [path for path in staging.rglob("*") if path.is_file()] == []  # moved into place, nothing left


@pytest.mark.parametrize("fault", ["a chunk lost", "a chunk repeated", "a chunk changed", "the size wrong"])
def test_a_chunk_lost_or_changed_leaves_no_file(tmp_path, small_chunks, fault):
    run_dir, _, weights = node_folder(tmp_path)
    inbox, staging, name = Inbox(), tmp_path / "staging", "checkpoint/model.safetensors"
    chunks = [weights[i:i + CHUNK] for i in range(0, len(weights), CHUNK)]
    size, sha256 = len(weights), hashlib.sha256(weights).hexdigest()
    if fault == "a chunk changed":
        chunks[2] = bytes(len(chunks[2]))
    elif fault == "the size wrong":
        size += 1
    order = [0, 2, 3] if fault == "a chunk lost" else [0, 1, 1, 2, 3] if fault == "a chunk repeated" else [0, 1, 2, 3]
    with pytest.raises(ValueError, match=f"{name} arrived|chunk . of {name} arrived where . was due"):
        for index in order:
            inbox.add(staging, name, index, chunks[index])
        inbox.finish(staging, name, size, sha256)
    assert [path for path in staging.rglob("*") if path.is_file()] == []
    with pytest.raises(ValueError, match="never arrived whole"):  # the call that names it writes nothing
        receive(Shipment({"checkpoint/state.json": b"{}"}, streamed=[name]), tmp_path / "head", tmp_path / "t",
                staging)
    assert not (tmp_path / "head").exists()


def test_the_store_service_takes_chunks_of_the_current_attempt_alone(store, tiny_corpus_csv, tmp_path,
                                                                      small_chunks):
    run_id = store.create_run(RunConfig(corpus=str(tiny_corpus_csv), device="cpu"))
    store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())
    service = StoreService(str(store.path))
    service.begin(run_id, "first")
    node_dir, outbox, weights = node_folder(tmp_path)
    shipment = outbox.changed(with_checkpoint=True)
    name = shipment.streamed[0]

    def send(attempt: str) -> None:
        size, sha256 = send_file(node_dir / name, lambda index, content: service.chunk(
            run_id, attempt, name, index, content))
        service.file_sent(run_id, attempt, name, size, sha256)

    send("first")
    service.checkpoint(run_id, "first", 6, shipment)
    run_dir = Path(store.get_run(run_id)["run_dir"])
    assert (run_dir / name).read_bytes() == weights and store.get_run(run_id)["checkpoint_step"] == 6

    send("first")  # sent again, never named by a call: the attempt's end removes it
    service.begin(run_id, "second")
    with pytest.raises(StaleAttempt):
        send("first")
    assert not (run_dir / INCOMING).exists() and (run_dir / name).read_bytes() == weights


def test_a_node_starting_a_run_fetches_its_large_files_in_chunks_checked_against_the_head(
        store, tiny_corpus_csv, tmp_path, small_chunks):
    run_id = store.create_run(RunConfig(corpus=str(tiny_corpus_csv), device="cpu"))
    store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())
    run_dir = Path(store.get_run(run_id)["run_dir"])
    weights = os.urandom(2 * CHUNK + 1)
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "model.safetensors").write_bytes(weights)
    service = StoreService(str(store.path))
    service.begin(run_id, "a")
    inputs = service.inputs(run_id, "a")
    name = "checkpoint/model.safetensors"
    assert inputs.streamed == [name] and set(inputs.run_files) == {"config.json"}  # never whole in one answer
    node = tmp_path / "node"
    read = []

    def chunk(index: int) -> bytes:
        read.append(index)
        return service.file_chunk(run_id, "a", name, index)

    fetch_file(node, name, chunk, lambda: service.file_digest(run_id, "a", name))
    assert (node / name).read_bytes() == weights and read == [0, 1, 2, 3]  # three chunks, then the end
    (node / name).unlink()
    with pytest.raises(ValueError, match=f"not the {2 * CHUNK + 1} bytes"):  # the head's file is not what arrived
        fetch_file(node, name, lambda index: service.file_chunk(run_id, "a", name, index)[:-1] if index == 1
                   else service.file_chunk(run_id, "a", name, index), lambda: service.file_digest(run_id, "a", name))
    assert [path for path in node.rglob("*") if path.is_file()] == []
    service.end(run_id)
    with pytest.raises(StaleAttempt):
        service.file_chunk(run_id, "a", name, 0)
