"""A sweep's folder on disk: its settings, one JSON record per finished run, and run claims.

Layout of ``folder``: ``sweep.json`` (the :class:`~tfprune.bench.runs.SweepConfig`; a sweep with
other settings is refused), ``records/<run id>.json`` (written atomically, one per finished or
failed run: a record that exists is final) and ``claims/<run id>`` (the process running it). A
claim is made with ``O_CREAT | O_EXCL``, so two processes never run the same run; a claim whose
process is gone (a killed sweep) is stale and taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time

from tfprune import io
from tfprune.bench.runs import SweepConfig

SETTINGS = "sweep.json"


def record_path(folder: str, run_id: str) -> str:
    return os.path.join(folder, "records", run_id + ".json")


def claim_path(folder: str, run_id: str) -> str:
    return os.path.join(folder, "claims", run_id)


def open_folder(folder: str, config: SweepConfig, argument: str = "folder") -> None:
    """Make ``folder`` for ``config``, or check that it holds a sweep with the same settings."""
    io.check_folder(folder, argument)
    path = os.path.join(folder, SETTINGS)
    settings = config.to_dict()
    if os.path.exists(path):
        stored = read_settings(folder)
        if stored != settings:
            changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise ValueError(
                f"{io.named(argument, folder)}: holds a sweep with other settings ({', '.join(changed)} differ: "
                + "; ".join(f"{k} {stored.get(k)!r} there, {settings.get(k)!r} now" for k in changed)
                + "); use another folder, or the same settings to resume")
        return
    for sub in ("records", "claims"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    io.write_text(path, json.dumps(settings, indent=1))


def read_settings(folder: str) -> dict:
    """The settings stored in ``folder`` (a clear error when there are none)."""
    path = os.path.join(folder, SETTINGS)
    if not os.path.exists(path):
        raise ValueError(f"folder={folder!r}: holds no sweep ({SETTINGS} missing)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_record(folder: str, record: dict) -> str:
    """Write ``record`` (with its ``"id"``) atomically; its path."""
    path = record_path(folder, record["id"])
    io.write_text(path, json.dumps(record, indent=1, default=float))
    return path


def read_records(folder: str) -> list:
    """Every record in ``folder``, sorted by id."""
    directory = os.path.join(folder, "records")
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json") and not name.startswith("."):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                found.append(json.load(f))
    return found


def finished(folder: str) -> set:
    """Ids of the runs with a record."""
    directory = os.path.join(folder, "records")
    if not os.path.isdir(directory):
        return set()
    return {n[:-5] for n in os.listdir(directory) if n.endswith(".json") and not n.startswith(".")}


def _stale(path: str) -> bool:
    """True when the claim at ``path`` belongs to a process of this machine that is gone (or is
    unreadable: claims are written under the folder lock, so only a killed process leaves one torn)."""
    try:
        with open(path, encoding="utf-8") as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return True
    return owner.get("host") == socket.gethostname() and not io.process_alive(int(owner.get("pid", -1)))


@contextlib.contextmanager
def _locked(folder: str):
    """Hold ``claims/.lock`` exclusively (checking and taking a claim is one step for all processes)."""
    import fcntl

    os.makedirs(os.path.join(folder, "claims"), exist_ok=True)
    with open(os.path.join(folder, "claims", ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def claim(folder: str, run_id: str) -> bool:
    """Claim ``run_id`` for this process (``O_CREAT | O_EXCL``; a stale claim is taken over); False
    when the run has a record or another live process holds it."""
    path = claim_path(folder, run_id)
    with _locked(folder):
        if os.path.exists(record_path(folder, run_id)):
            return False
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _stale(path):
                return False
            os.remove(path)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}, f)
    return True


def release(folder: str, run_id: str) -> None:
    """Remove this process's claim on ``run_id``."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(claim_path(folder, run_id))
