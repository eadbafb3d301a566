"""Distributed tuning with Keras Tuner's chief/worker mode: one chief and two workers as processes
on loopback (127.0.0.1), sharing one oracle over gRPC and one project folder."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_TRIALS = 4
TIMEOUT = 240  # seconds for the whole search, all three processes

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {repo!r})
    import tfprune
    from tfprune import data
    from tfprune.backend import keras
    from tfprune.tuning import PruningHyperModel, PruningTuner

    def build(hp):
        model = keras.Sequential([keras.layers.Input(shape=(8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu"),
                                  keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    role = os.environ["KERASTUNER_TUNER_ID"]
    folder = {folder!r}
    tuner = PruningTuner(PruningHyperModel(build, sparsity=(0.5, 0.9), schedule=["oneshot", "gradual"]),
                         max_trials={max_trials}, seed=7, directory=folder, project_name="dist",
                         overwrite=(role == "chief"))
    if role == "chief":
        tuner.search()  # serves the oracle until both workers are done
        trials = {{t.trial_id: {{"status": t.status, "score": t.score}} for t in tuner.oracle.trials.values()}}
        best = tuner.get_best_trials(1)[0]
        model = tuner.get_best_models(1)[0]
        summary = tfprune.sparsity_summary(model)["total"]
        out = {{"trials": trials, "best": best.trial_id, "best_sparsity": summary["sparsity"],
               "best_target": best.hyperparameters["pruning/sparsity"], "params": summary["params"]}}
    else:
        # Start both workers' searches together, so that both get trials.
        open(os.path.join(folder, "ready_" + role), "w").close()
        deadline = time.time() + 120
        while not all(os.path.exists(os.path.join(folder, "ready_" + w)) for w in ("worker0", "worker1")):
            if time.time() > deadline:
                raise SystemExit("the other worker never started")
            time.sleep(0.1)
        # Wait for the chief's server: gRPC's own reconnect back-off would cost seconds.
        import socket
        while True:
            try:
                socket.create_connection(("127.0.0.1", int(os.environ["KERASTUNER_ORACLE_PORT"])), 0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("the chief never started serving")
                time.sleep(0.1)
        splits = data.load("digits", batch_size=64, seed=0)
        tuner.search(splits.train.take(8), validation_data=splits.validation, epochs=1, verbose=0)
        out = {{"tuner_id": tuner.tuner_id}}
    with open(os.path.join(folder, "out_" + role + ".json"), "w") as f:
        json.dump(out, f)
    """
)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_two_workers_share_one_oracle(tmp_path):
    script = tmp_path / "tune.py"
    script.write_text(_SCRIPT.format(repo=REPO, folder=str(tmp_path), max_trials=MAX_TRIALS))
    port = _free_port()
    processes = {}
    logs = {}
    try:
        for role in ("chief", "worker0", "worker1"):
            env = dict(os.environ)
            env.update(
                KERASTUNER_TUNER_ID=role,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
                TF_CPP_MIN_LOG_LEVEL="2",
            )
            logs[role] = open(tmp_path / f"{role}.log", "w")
            processes[role] = subprocess.Popen(
                [sys.executable, str(script)], env=env, stdout=logs[role], stderr=subprocess.STDOUT
            )
            if role == "chief":
                time.sleep(0.5)  # workers wait for the server anyway (gRPC wait_for_ready)
        deadline = time.time() + TIMEOUT
        for role, process in processes.items():
            try:
                process.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{role} did not finish within {TIMEOUT}s:\n" + _tail(tmp_path, role))
            assert process.returncode == 0, f"{role} exited with {process.returncode}:\n" + _tail(tmp_path, role)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs.values():
            log.close()

    chief = json.loads((tmp_path / "out_chief.json").read_text())
    project = tmp_path / "dist"
    runs = {}
    for name in sorted(os.listdir(project)):
        path = project / name / "run.json"
        if path.exists():
            run = json.loads(path.read_text())
            runs[run["trial_id"]] = run["tuner_id"]

    # The chief's oracle holds every trial, all completed, and no more than max_trials.
    assert sorted(chief["trials"]) == sorted(runs) and len(runs) == MAX_TRIALS
    assert all(t["status"] == "COMPLETED" and t["score"] is not None for t in chief["trials"].values())
    # The trials were split between the two workers; the chief ran none.
    assert set(runs.values()) == {"worker0", "worker1"}
    for role in ("worker0", "worker1"):
        assert json.loads((tmp_path / f"out_{role}.json").read_text()) == {"tuner_id": role}
    # The chief reads the best model the workers wrote; it is at its sampled sparsity.
    assert abs(chief["best_sparsity"] - chief["best_target"]) <= 1.0 / chief["params"] + 1e-12


def _tail(folder, role, lines=40):
    path = folder / f"{role}.log"
    return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else "(no log)"
