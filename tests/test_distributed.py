"""Several processes (DDP, gloo on CPU): the other ranks wait out rank 0's long evaluations, and read
the documents' embeddings (CombinedTM) that rank 0 computed first."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
COLLECTIVE_TIMEOUT_S = 2
EVALUATION_S = 5  # rank 0's evaluation outlasts the collective timeout

RANK = f"""
import datetime, sys, time
import torch.distributed as dist
from topicbert.config import RunConfig
from topicbert.training import loop

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds={COLLECTIVE_TIMEOUT_S}))
evaluate = loop.evaluate

def slow_evaluate(*args, **kwargs):
    time.sleep({EVALUATION_S})
    return evaluate(*args, **kwargs)

if dist.get_rank() == 0:
    loop.evaluate = slow_evaluate
loop.train(RunConfig.from_json(sys.argv[1]), sys.argv[2])
print("finished")
"""
# torchrun's own collective timeout; a rank other than 0 that computes embeddings fails
EMBEDDING_RANK = """
import os, sys
from topicbert.config import RunConfig
from topicbert.training import document_embeddings, loop

def refuse(*args, **kwargs):
    raise RuntimeError("rank 1 computed embeddings instead of reading rank 0's")

if os.environ["RANK"] != "0":
    document_embeddings.embed_documents = refuse
loop.train(RunConfig.from_json(sys.argv[1]), sys.argv[2])
print("finished")
"""


def run_two_ranks(script: str, config, run_dir: Path, home: Path) -> None:
    common = dict(os.environ, PYTHONPATH=str(ROOT), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                  WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", OMP_NUM_THREADS="1", TOPICBERT_HOME=str(home))
    ranks = [subprocess.Popen([sys.executable, "-c", script, config.to_json(), str(run_dir)],
                              env=dict(common, RANK=str(rank), LOCAL_RANK=str(rank)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = [rank.communicate(timeout=300) for rank in ranks]
    for rank, (out, err) in zip(ranks, outputs, strict=True):
        assert rank.returncode == 0 and "finished" in out, err[-3000:]
    assert (run_dir / "result.json").exists()


@pytest.mark.slow
def test_other_ranks_wait_out_a_long_evaluation_on_rank_0(tiny_config, tmp_path):
    run_two_ranks(RANK, tiny_config.replace(variant="bert", epochs=1, nproc=2), tmp_path / "run", tmp_path / "home")


@pytest.mark.slow
def test_other_ranks_read_the_embeddings_rank_0_computed(tiny_config, tmp_path):
    config = tiny_config.replace(topic_model="combinedtm", epochs=1, nproc=2)
    run_two_ranks(EMBEDDING_RANK, config, tmp_path / "run", tmp_path / "home")
    # one embedding pass, rank 0's: rank 1 waited for it and read it back
    assert json.loads((tmp_path / "run" / "result.json").read_text())["embedding_seconds"] > 0
