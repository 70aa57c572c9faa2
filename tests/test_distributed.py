"""Several processes (DDP, gloo on CPU): the other ranks wait out rank 0's long evaluations."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_other_ranks_wait_out_a_long_evaluation_on_rank_0(tiny_config, tmp_path):
    config = tiny_config.replace(variant="bert", epochs=1, nproc=2)
    common = dict(os.environ, PYTHONPATH=str(ROOT), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                  WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", OMP_NUM_THREADS="1")
    ranks = [subprocess.Popen([sys.executable, "-c", RANK, config.to_json(), str(tmp_path)],
                              env=dict(common, RANK=str(rank), LOCAL_RANK=str(rank)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = [rank.communicate(timeout=300) for rank in ranks]
    for rank, (out, err) in zip(ranks, outputs):
        assert rank.returncode == 0 and "finished" in out, err[-3000:]
    assert (tmp_path / "result.json").exists()
