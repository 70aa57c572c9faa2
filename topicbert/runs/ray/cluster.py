"""Joining a Ray cluster for `python -m topicbert worker --ray [ADDRESS]`: only one that turns away a client
without its token (refuses_strangers), unless told `--insecure`; a cluster that is not there said in one line,
at once; the code and the settings every run's task gets on its node (task_environment). Only `--ray` imports
this module.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import ray
from ray._private.services import canonicalize_bootstrap_address_or_die  # how ray.init reads 'auto'; ray is pinned
from ray.exceptions import AuthenticationError

from ...config import ConfigError
from ..gpus import CUDA_ORDER
from ..processes import PACKAGE_ROOT

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
TOKEN_SETTINGS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
REFUSED = 3  # the stranger's exit code when the cluster turned it away
# a client with no token asks the GCS for one key: answered, the cluster is open to anyone
STRANGER = ("import sys\n"
            "from ray._raylet import GcsClient\n"
            "from ray.exceptions import AuthenticationError\n"
            "try:\n"
            "    GcsClient(address=sys.argv[1]).internal_kv_get(b'topicbert', None, timeout=10)\n"
            "except AuthenticationError:\n"
            f"    sys.exit({REFUSED})\n")
# what the store's machine decides for every run, wherever it trains
SHARED_SETTINGS = ("TOPICBERT_COUNTRY",)



def refuses_strangers(address: str) -> bool:
    """Does the Ray cluster at `address` (host:port of its GCS) turn away a client without its token?
    Asked as a stranger would, from a process with no token and token authentication off; a cluster
    whose answer is neither is said in one line."""
    with tempfile.TemporaryDirectory() as home:  # no ~/.ray/auth_token for Ray to find
        env = {name: value for name, value in os.environ.items() if name not in TOKEN_SETTINGS}
        env.update(RAY_AUTH_MODE="disabled", HOME=home)
        probe = subprocess.run([sys.executable, "-c", STRANGER, address], env=env, capture_output=True, text=True,
                               timeout=60)
    if probe.returncode in (0, REFUSED):
        return probe.returncode == REFUSED
    last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    raise ConfigError(f"--ray {address}: could not ask the cluster whether it requires a token ({last})")


def connect(address: str, insecure: bool = False) -> str:
    """Join the Ray cluster at `address` ('auto': the one `ray start` made on this machine); its address.
    A cluster that is not there is said in one line, at once, instead of Ray's minutes of retries. A
    cluster that lets anyone in (no token authentication) is refused unless `insecure`."""
    try:
        resolved = canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as error:
        raise ConfigError(f"--ray {address}: no Ray cluster found ({error}); "
                          "start one with `ray start --head`") from None
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise ConfigError(f"--ray {address}: no Ray cluster answers at {resolved} ({error.strerror or error}); "
                          "start one with `ray start --head` on its head machine, or give its address") from None
    if not refuses_strangers(resolved):
        if not insecure:
            raise ConfigError(f"--ray {address}: the Ray cluster at {resolved} lets anyone who reaches it run code "
                              "(no token authentication); start its nodes with RAY_AUTH_MODE=token and "
                              "RAY_AUTH_TOKEN set (docs/background.md: 'Several GPUs or machines'), or pass "
                              "--insecure to use it as it is")
        log.warning("the Ray cluster at %s asks for no token: anyone who reaches its ports can run code on its "
                    "nodes and read the store (--insecure)", resolved)
    try:
        ray.init(address=resolved, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"py_modules": [str(PACKAGE_ROOT / "topicbert")], "env_vars": task_environment()})
    except AuthenticationError:
        raise ConfigError(f"--ray {address}: the Ray cluster at {resolved} refused this worker's token (or its "
                          "lack of one): set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
                          "here as on its nodes") from None
    except Exception as error:
        raise ConfigError(f"could not join the Ray cluster at {resolved}: {error}. The worker runs on one of "
                          f"its nodes: `ray start --address {resolved}` on this machine first") from None
    return resolved


def task_environment() -> dict[str, str]:
    """The environment every run's task gets on its node: the settings the store's machine decides, and
    CUDA's GPU numbering (gpus.CUDA_ORDER)."""
    env_vars = {name: os.environ[name] for name in SHARED_SETTINGS if os.environ.get(name)}
    return {**env_vars, **CUDA_ORDER}


@contextmanager
def joined(address: str, insecure: bool = False) -> Iterator[str]:
    """This process on the Ray cluster at `address` (connect) until the block ends; the cluster's address."""
    resolved = connect(address, insecure)
    try:
        yield resolved
    finally:
        ray.shutdown()
