"""Run one training script as several local ``MultiWorkerMirroredStrategy`` workers.

Each worker is the same command in its own process, with ``TF_CONFIG`` naming all workers on
``127.0.0.1`` (free ports) and its own index; worker 0 is the chief (by TensorFlow's rule, the
worker that should write files). The script creates ``tf.distribute.MultiWorkerMirroredStrategy()``
and builds, prunes and compiles its model inside ``strategy.scope()``. When a worker fails, the
others are stopped (they would wait for it forever in the next all-reduce). ``tfprune launch``
is the command-line form.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import time
from typing import Mapping, Sequence

from tfprune._validate import check_int, is_real


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free on ``host`` right now (bound and released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_configs(workers: int, host: str = "127.0.0.1", ports: Sequence[int] | None = None) -> list[dict]:
    """The ``TF_CONFIG`` of each of ``workers`` local workers (worker 0 is the chief)."""
    workers = check_int(workers, "workers", 1)
    ports = free_ports(workers, host) if ports is None else list(ports)
    if len(ports) != workers:
        raise ValueError(f"ports={ports!r}: expected {workers} ports, one per worker")
    cluster = {"worker": [f"{host}:{port}" for port in ports]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": index}} for index in range(workers)]


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch(command: Sequence[str], workers: int, env: Mapping[str, str] | None = None,
           timeout: float | None = None) -> list[int]:
    """Run ``command`` as ``workers`` local workers and wait for all of them; their exit codes.

    Args:
      command: the program and its arguments, e.g. ``[sys.executable, "train.py"]``.
      workers: how many worker processes (>= 1).
      env: the environment of every worker (default: this process's); ``TF_CONFIG`` is added.
      timeout: seconds for the whole run; on expiry every worker is stopped and a
        ``subprocess.TimeoutExpired`` is raised.

    When a worker exits with an error the others are stopped; their codes are then negative
    (the signal) or whatever they exited with.
    """
    if isinstance(command, str) or not command:
        raise ValueError(f"command={command!r}: expected a non-empty list of program and arguments")
    if timeout is not None and not (is_real(timeout) and 0 < timeout < math.inf):
        raise ValueError(f"timeout={timeout!r}: expected a positive number of seconds, or None for no limit")
    base = dict(os.environ if env is None else env)
    processes = []
    try:
        for config in tf_configs(workers):
            processes.append(subprocess.Popen(list(command), env={**base, "TF_CONFIG": json.dumps(config)}))
        deadline = None if timeout is None else time.monotonic() + timeout
        while any(process.poll() is None for process in processes):
            if any(process.poll() not in (None, 0) for process in processes):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(list(command), timeout)
            time.sleep(0.1)
    finally:
        _stop(processes)
    return [process.returncode for process in processes]
