"""A BERT-base-sized checkpoint sent from a Ray node to the store's service on the head (issue 33, item 8;
BENCHMARKS.md, "A checkpoint's way to the head").

    python -m benchmarks.checkpoint_transfer
    python -m benchmarks.checkpoint_transfer --tree /path/to/an/older/checkout   # the same, with its code

On Ray's multi-node test cluster on this machine, started as tests/test_ray_cluster.py starts one (token
authentication on, a head with no CPUs, one node that trains), with the project's own StoreService actor
(made as `worker --ray` makes it) and the node's own sending code (ray.node.RemoteStore.set_checkpoint),
one run's task writes a resumable checkpoint of random tensors shaped as BERT-base's weights (about 440 MB,
in a run folder's layout) and sends it with its step; then another task of that run fetches the run folder
back, as a node starting a resumed run does (ray.node.train_on_node's inputs). Meanwhile another run's task,
on the same node, calls the service every --every seconds: a heartbeat, then a metric write, each timed from
its call to its answer.

Printed for each way: the peak resident memory while the checkpoint travels (VmHWM, exact, not sampled,
started afresh as the transfer begins) of the head's StoreService actor, of the driver (this process, on the
head), of the head's raylet (whose object store the checkpoint passes through) and of the transfer's task on
the node, against each one's resident memory just before; the seconds the transfer took; the other run's
calls in the --lead seconds before the transfer and while it was in transit (median and longest). On a
machine shared with other work the seconds are upper bounds; the memory is each process's own.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from benchmarks import script_parser, stored_run

ROOT = Path(__file__).resolve().parents[1]
OBJECT_STORE_BYTES = 2 * 1024 ** 3  # a whole checkpoint must fit in it as one object

# BERT-base (bert-base-uncased): 30,522 word pieces, 512 positions, 12 layers 768 wide, 3,072 in the middle
VOCAB, POSITIONS, LAYERS, WIDTH, MIDDLE = 30522, 512, 12, 768, 3072


def bert_base_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (VOCAB, WIDTH),
        "embeddings.position_embeddings.weight": (POSITIONS, WIDTH),
        "embeddings.token_type_embeddings.weight": (2, WIDTH),
        "embeddings.LayerNorm.weight": (WIDTH,), "embeddings.LayerNorm.bias": (WIDTH,),
        "pooler.dense.weight": (WIDTH, WIDTH), "pooler.dense.bias": (WIDTH,)}
    for layer in range(LAYERS):
        at = f"encoder.layer.{layer}."
        for part in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes.update({f"{at}{part}.weight": (WIDTH, WIDTH), f"{at}{part}.bias": (WIDTH,)})
        shapes.update({f"{at}intermediate.dense.weight": (MIDDLE, WIDTH), f"{at}intermediate.dense.bias": (MIDDLE,),
                       f"{at}output.dense.weight": (WIDTH, MIDDLE), f"{at}output.dense.bias": (WIDTH,)})
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes.update({f"{at}{norm}.weight": (WIDTH,), f"{at}{norm}.bias": (WIDTH,)})
    return shapes


def reset_peak(pid: int) -> None:
    """Start a process's peak resident memory (VmHWM) afresh from now (Linux's clear_refs, 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_and_now(pid: int) -> dict[str, float]:
    """A process's peak resident memory since it started or since reset_peak (VmHWM), its resident memory
    now, and how much of that is shared memory (Ray's object store mapped in), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[key].split()[0]) / 1024
            for name, key in (("peak_mb", "VmHWM"), ("now_mb", "VmRSS"), ("shared_now_mb", "RssShmem"))}


def send_checkpoint(service: Any, run_id: int, attempt: str, step: int, watched: list[int]) -> dict:
    """The sending run's task: a BERT-base-sized checkpoint in its run folder, sent as a node sends one; the
    peaks of this process and of the `watched` ones start afresh just before it is sent."""
    import torch
    from safetensors.torch import save_file

    from topicbert.runs.ray.node import RemoteStore, scratch_folder
    from topicbert.runs.ray.shipping import Outbox
    from topicbert.runs.store import run_folder

    scratch = scratch_folder(run_id)
    os.environ["TOPICBERT_HOME"] = str(scratch)
    run_dir = run_folder(run_id)
    outbox = Outbox(run_dir, run_dir.parent.parent / "texts")
    generator = torch.Generator().manual_seed(0)
    (run_dir / "checkpoint").mkdir(parents=True)
    save_file({name: torch.randn(shape, generator=generator) for name, shape in bert_base_shapes().items()},
              run_dir / "checkpoint" / "model.safetensors")
    (run_dir / "checkpoint" / "state.json").write_text(json.dumps({"step": step}))
    size = sum(path.stat().st_size for path in (run_dir / "checkpoint").iterdir())
    before = {pid: peak_and_now(pid) for pid in [os.getpid(), *watched]}
    for pid in before:
        reset_peak(pid)
    began = time.time()
    RemoteStore(service, run_id, attempt, outbox).set_checkpoint(run_id, step)
    shutil.rmtree(scratch)
    return {"bytes": size, "began": began, "ended": time.time(), "pid": os.getpid(), "before": before,
            "after": peak_and_now(os.getpid())}


def fetch_run_folder(service: Any, run_id: int, attempt: str, watched: list[int]) -> dict:
    """A task starting the run again (a resume): the run folder as the node receives it (with this checkout's
    code: whole in the inputs' answer, or its large files fetched in chunks where ray_node has fetch_files)."""
    import ray

    from topicbert.runs.ray import node as ray_node
    from topicbert.runs.ray.shipping import read_folder, write_folder

    folder = Path(tempfile.mkdtemp(prefix="checkpoint-fetched-"))
    before = {pid: peak_and_now(pid) for pid in [os.getpid(), *watched]}
    for pid in before:
        reset_peak(pid)
    began = time.time()
    inputs = ray.get(service.inputs.remote(run_id, attempt))
    write_folder(inputs.run_files, folder)
    if hasattr(ray_node, "fetch_files"):
        ray_node.fetch_files(service, run_id, attempt, inputs.streamed, folder)
    ended, after = time.time(), peak_and_now(os.getpid())
    size = len(read_folder(folder)["checkpoint/model.safetensors"])  # it arrived whole (after the peak is read)
    shutil.rmtree(folder)
    return {"bytes": size, "began": began, "ended": ended, "pid": os.getpid(), "before": before, "after": after}


def small_calls(service: Any, run_id: int, attempt: str, every: float, stop: str) -> list[tuple[float, str, float]]:
    """The other run's task: a heartbeat and a metric write every `every` seconds until `stop` exists; each
    call's (start, name, seconds until its answer)."""
    import ray

    from topicbert.runs.ray.shipping import Shipment

    timed = []
    while not Path(stop).exists():
        for name, call in (("heartbeat", lambda: service.heartbeat.remote(run_id, attempt, Shipment())),
                           ("metric write", lambda: service.call.remote(
                               run_id, attempt, "add_metrics", (run_id, 1, 0.0, 0.0, {"val_loss": 1.0}), {}))):
            began = time.time()
            ray.get(call())
            timed.append((began, name, time.time() - began))
        time.sleep(every)
    return timed


def head_process(cluster: Any, command: str) -> Any:
    """The process of this cluster's head node whose command line starts with `command`."""
    import psutil

    raylet = psutil.Process(cluster.head_node.all_processes["raylet"][0].process.pid)
    if command == "raylet":
        return raylet
    for process in raylet.children(recursive=True):
        if " ".join(process.cmdline()).startswith(command):
            return process
    raise SystemExit(f"no {command} process on the head")


def quantiles(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ordered = sorted(seconds)
    return f"{len(ordered)} calls, median {ordered[len(ordered) // 2]:.3f} s, longest {ordered[-1]:.3f} s"


def imported_tree() -> Path:
    """The checkout whose topicbert/ this process imports (found, not imported)."""
    spec = importlib.util.find_spec("topicbert")
    assert spec is not None and spec.origin is not None, "topicbert is not importable: run from a checkout"
    return Path(spec.origin).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between the other run's calls")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds of the other run's calls before the "
                                                                "checkpoint is written and sent")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose topicbert/ is measured "
                                                                "(default: this one)")
    args = parser.parse_args(argv)
    json_path = args.json.resolve() if args.json else None
    tree = args.tree.resolve()
    if not (tree / "topicbert" / "__init__.py").is_file():
        parser.error(f"--tree {args.tree}: no topicbert/ package in that folder")
    os.chdir(tree)  # Ray's workers import from the driver's working folder first
    if imported_tree() != tree:
        # the driver too: started again from the tree, Python finds the tree's topicbert first (and this
        # checkout's benchmarks on PYTHONPATH, where the tree has none of its own)
        again = ["--every", str(args.every), "--lead", str(args.lead), "--tree", str(tree)]
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.checkpoint_transfer", *again,
                                   *(["--json", str(json_path)] if json_path else [])],
                  {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT)])})

    home = Path(tempfile.mkdtemp(prefix="checkpoint-transfer-"))
    os.environ.update(TOPICBERT_HOME=str(home), PYTHONPATH=str(tree), OMP_NUM_THREADS="1",
                      RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    import ray
    from ray.cluster_utils import Cluster

    from topicbert.config import RunConfig
    from topicbert.runs import services
    from topicbert.runs.ray.launcher import RayLauncher
    from topicbert.runs.store import Store, hostname

    corpus = home / "corpus.csv"
    corpus.write_text("text,label\n" + "".join(f"document {i},{'ab'[i % 2]}\n" for i in range(20)))  # splits
    store = Store(home / "topicbert.db")
    runs = [store.create_run(RunConfig(corpus=str(corpus), device="cpu")) for _ in range(2)]
    for run_id in runs:
        store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "num_gpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    cluster.add_node(num_cpus=2, object_store_memory=OBJECT_STORE_BYTES)
    cluster.wait_for_nodes()
    stop = home / "stop"
    try:
        ray.init(address=cluster.address, logging_level=logging.ERROR)
        # made as `worker --ray` makes it, by a launcher that has only the store
        service = RayLauncher.new_service(cast(RayLauncher, SimpleNamespace(store=store)))
        attempts = {run_id: secrets.token_hex(8) for run_id in runs}
        for run_id, attempt in attempts.items():
            ray.get(service.begin.remote(run_id, attempt))
        actor, raylet = head_process(cluster, "ray::StoreService"), head_process(cluster, "raylet")
        watched = {"StoreService actor (head)": actor.pid, "driver (head)": os.getpid(), "raylet (head)": raylet.pid}
        other, sender = runs
        timing = ray.remote(num_cpus=1)(small_calls).remote(service, other, attempts[other], args.every, str(stop))
        time.sleep(args.lead)
        run, pids = (service, sender, attempts[sender]), list(watched.values())
        sent = ray.get(ray.remote(num_cpus=1)(send_checkpoint).remote(*run, 1, pids))
        phases = {"to the head (a checkpoint)": (sent, {name: peak_and_now(pid) for name, pid in watched.items()})}
        time.sleep(args.lead)  # the other run's calls between the transfers, for comparison
        fetched = ray.get(ray.remote(num_cpus=1)(fetch_run_folder).remote(*run, pids))
        phases["to a node (a resume)"] = fetched, {name: peak_and_now(pid) for name, pid in watched.items()}
        time.sleep(1.0)
        stop.touch()
        calls = ray.get(timing)
        arrived = Path(stored_run(store, sender)["run_dir"]) / "checkpoint" / "model.safetensors"
        assert stored_run(store, sender)["checkpoint_step"] == 1 and arrived.stat().st_size > 4e8, "it did not arrive"
    finally:
        stop.touch()
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(home)
    report = {phase: phase_report(phase, done, after, dict(watched), calls, args.lead)
              for phase, (done, after) in phases.items()}
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
    return 0


def phase_report(phase: str, done: dict, after: dict, watched: dict[str, int], calls: list, lead: float) -> dict:
    """Print and return one transfer's figures: each process's peak against its before, the other run's calls
    while it was in transit and in the `lead` seconds before."""

    megabytes = done["bytes"] / 1e6
    after["the transfer's task (node)"], watched["the transfer's task (node)"] = done["after"], done["pid"]
    report = {"checkpoint_mb": round(megabytes, 1), "transfer_seconds": round(done["ended"] - done["began"], 2),
              "memory_mb": {name: {"before": round(done["before"][pid]["now_mb"]),
                                   "peak": round(after[name]["peak_mb"]),
                                   "shared after": round(after[name]["shared_now_mb"])}
                            for name, pid in watched.items()}}
    print(f"{phase}: {megabytes:.0f} MB in {report['transfer_seconds']} s")
    for name, figures in report["memory_mb"].items():
        print(f"  {name}: {figures['before']} MB before, peak {figures['peak']} MB "
              f"({(figures['peak'] - figures['before']) / megabytes:.2f} x the checkpoint above its before); "
              f"after it, {figures['shared after']} MB of its resident memory shared (the object store's pages)")
    report["calls"] = {}
    for name in ("heartbeat", "metric write"):
        ahead = [s for began, call, s in calls if call == name and done["began"] - lead < began + s < done["began"]]
        during = [s for began, call, s in calls
                  if call == name and began + s >= done["began"] and began <= done["ended"]]
        report["calls"][name] = {"before": quantiles(ahead), "in transit": quantiles(during),
                                 "longest in transit": round(max(during, default=0.0), 3)}
        print(f"  the other run's {name}: in the {lead:.0f} s before, {quantiles(ahead)}; "
              f"in transit, {quantiles(during)}")
    return report


if __name__ == "__main__":
    sys.exit(main())
