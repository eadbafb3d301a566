"""Pruning under MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 (started by
``tfprune.launch``) prune a small MLP with LAMP reallocation on a gradual schedule; both end
with the masks of a single-process run on the same data order. ParameterServerStrategy is
refused with a clear error."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfprune.launch import launch, tf_configs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 600  # a safety limit for a loaded machine; about 30 s of CPU in all
SPARSITY = 0.8

# Every process trains the same MLP on the same 256 samples, no shuffling, global batch 32
# (split over the workers by tf.distribute), 16 steps, LAMP re-allocated at steps 2, 5, ..., 14.
_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {repo!r})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tfprune
    from tfprune import layers
    from tfprune.backend import keras, tf
    from tfprune.schedules import Gradual

    out = sys.argv[1]
    multi = "TF_CONFIG" in os.environ
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if multi else tf.distribute.get_strategy()
    name = f"worker{{json.loads(os.environ['TF_CONFIG'])['task']['index']}}" if multi else "single"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 12)).astype("float32")
    y = ((x[:, :4].sum(1) > 0).astype("int32") + (x[:, 4] > 0)).astype("int32")
    with strategy.scope():
        init = keras.initializers.GlorotUniform(seed=1)
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu", kernel_initializer=init),
                                  keras.layers.Dense(3, kernel_initializer=init)])
        pruned = tfprune.prune(model, allocation="lamp",
                               schedule=Gradual({sparsity}, begin_step=2, end_step=14, frequency=3))
        pruned.compile(optimizer=keras.optimizers.SGD(0.1),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).with_options(options)
    try:
        pruned.fit(data, epochs=1, verbose=0)
        guard = "not raised"
    except tfprune.MissingPruningCallbacks:
        guard = "MissingPruningCallbacks"

    found = layers.prunable(pruned)
    kept = []  # surviving weights per prunable weight after every step
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: kept.append([int(w.mask.numpy().sum()) for w in found.values()]))
    pruned.fit(data, epochs=2, verbose=0, callbacks=tfprune.callbacks(pruned) + [record])
    arrays = {{"mask " + k: w.mask.numpy() for k, w in found.items()}}
    arrays.update({{"weight " + k: w.variable.numpy() for k, w in found.items()}})
    if name != "worker1":  # the chief alone strips (and would save), as documented
        arrays.update({{"stripped " + k: w.value() for k, w in layers.prunable(tfprune.strip(pruned)).items()}})
    np.savez(os.path.join(out, name + ".npz"), **arrays)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({{"guard": guard, "kept": kept}}, f)
    """
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"worker0" | "worker1" | "single": (arrays, facts)}: two workers and one process, run together."""
    folder = tmp_path_factory.mktemp("multiworker")
    script = folder / "prune_lamp.py"
    script.write_text(_SCRIPT.format(repo=REPO, sparsity=SPARSITY))
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    single = subprocess.Popen([sys.executable, str(script), str(folder)], env=env)
    codes = launch([sys.executable, str(script), str(folder)], workers=2, env=env, timeout=TIMEOUT)
    assert single.wait(TIMEOUT) == 0
    assert codes == [0, 0]
    out = {}
    for name in ("worker0", "worker1", "single"):
        with open(folder / f"{name}.json") as f:
            out[name] = (dict(np.load(folder / f"{name}.npz")), json.load(f))
    return out


def test_workers_end_with_identical_masks_equal_to_one_process(runs):
    (w0, facts0), (w1, facts1), (one, facts) = runs["worker0"], runs["worker1"], runs["single"]
    mask_keys = [k for k in one if k.startswith("mask ")]
    assert mask_keys == ["mask dense/kernel", "mask dense_1/kernel"]
    for key in mask_keys:
        assert np.array_equal(w0[key], w1[key]), key
        assert np.array_equal(w0[key], one[key]), key
    # the exact LAMP budget: 80% of 12*16 + 16*3 = 240 weights removed
    removed = sum(int((one[k] == 0).sum()) for k in mask_keys)
    assert removed == round(SPARSITY * 240)
    # the same survivors after every one of the 16 steps: the schedule ran at the same steps
    assert facts0["kept"] == facts1["kept"] == facts["kept"]
    assert len(facts["kept"]) == 16 and facts["kept"][0] == [192, 48] and sum(facts["kept"][-1]) == 48
    # Gradual's events are at steps 2 (sparsity 0), 5, 8, 11 and 14: the masks change after exactly those
    kept = facts["kept"]
    assert [step for step in range(2, 17) if kept[step - 1] != kept[step - 2]] == [5, 8, 11, 14]


def test_workers_hold_the_same_weights_as_one_process(runs):
    (w0, _), (w1, _), (one, _) = runs["worker0"], runs["worker1"], runs["single"]
    for key in (k for k in one if k.startswith("weight ")):
        assert np.array_equal(w0[key], w1[key]), key  # all-reduced: bit-identical on every worker
        np.testing.assert_allclose(w0[key], one[key], rtol=0, atol=1e-5)  # summation order may differ


def test_the_chief_alone_strips_to_its_masked_weights(runs):
    (w0, _), (one, _) = runs["worker0"], runs["single"]
    for key in ("dense/kernel", "dense_1/kernel"):
        np.testing.assert_array_equal(w0["stripped " + key], w0["weight " + key] * w0["mask " + key])
        np.testing.assert_allclose(w0["stripped " + key], one["stripped " + key], rtol=0, atol=1e-5)


def test_guard_fires_on_every_worker(runs):
    assert [runs[name][1]["guard"] for name in ("worker0", "worker1", "single")] == ["MissingPruningCallbacks"] * 3


def test_tf_configs_name_every_worker_and_one_index_each():
    configs = tf_configs(3, ports=[5001, 5002, 5003])
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"] == {"worker": ["127.0.0.1:5001", "127.0.0.1:5002", "127.0.0.1:5003"]} for c in configs)
    assert len({int(a.rsplit(":", 1)[1]) for a in tf_configs(4)[0]["cluster"]["worker"]}) == 4
    with pytest.raises(ValueError, match=r"workers=0: must be an integer >= 1"):
        tf_configs(0)
    with pytest.raises(ValueError, match=r"ports=\[5001\]: expected 2 ports"):
        tf_configs(2, ports=[5001])


@pytest.mark.parametrize("timeout", ["60", 0, -1.0, float("nan")])
def test_a_bad_timeout_is_refused_before_any_worker_starts(tmp_path, timeout):
    marker = tmp_path / "started"
    with pytest.raises(ValueError, match=r"timeout=.*: expected a positive number of seconds, or None"):
        launch([sys.executable, "-c", f"open({str(marker)!r}, 'w')"], 2, timeout=timeout)
    assert not marker.exists()


def test_a_failing_worker_stops_the_others(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import json, os, sys, time\n"
                      "if json.loads(os.environ['TF_CONFIG'])['task']['index'] == 1: sys.exit(3)\n"
                      "time.sleep(60)\n")
    codes = launch([sys.executable, str(script)], workers=2, timeout=30)
    assert codes[1] == 3 and codes[0] != 0  # worker 0 was stopped, not left waiting


_PS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {repo!r})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tfprune
    from tfprune.launch import free_ports
    from tfprune.backend import keras, tf
    ports = free_ports(2)
    cluster = tf.train.ClusterSpec({{"worker": [f"localhost:{{ports[0]}}"], "ps": [f"localhost:{{ports[1]}}"]}})
    servers = [tf.distribute.Server(cluster, job_name=job, task_index=0, start=True) for job in ("worker", "ps")]
    strategy = tf.distribute.experimental.ParameterServerStrategy(
        tf.distribute.cluster_resolver.SimpleClusterResolver(cluster, rpc_layer="grpc"))
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        try:
            tfprune.prune(model, 0.5)
        except ValueError as error:
            print("REFUSED:", error)
    """
)


def test_parameter_server_strategy_is_refused(tmp_path):
    script = tmp_path / "ps.py"
    script.write_text(_PS_SCRIPT.format(repo=REPO))
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("REFUSED: tf.distribute.get_strategy()=ParameterServerStrategyV2: pruning does not support "
            "ParameterServerStrategy: its workers run training steps asynchronously") in result.stdout
    assert "Use MultiWorkerMirroredStrategy" in result.stdout


def test_launch_command_starts_each_worker_with_its_tf_config(tmp_path):
    from click.testing import CliRunner

    from tfprune.cli.main import main

    script = tmp_path / "echo.py"
    script.write_text("import json, os, sys\n"
                      "config = json.loads(os.environ['TF_CONFIG'])\n"
                      "open(os.path.join(sys.argv[1], str(config['task']['index'])), 'w').write(json.dumps(config))\n")
    result = CliRunner().invoke(main, ["launch", "--workers", "3", "--", "python", str(script), str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("3 workers finished")
    configs = [json.loads((tmp_path / str(i)).read_text()) for i in range(3)]
    assert [c["task"]["index"] for c in configs] == [0, 1, 2]
    assert len({tuple(c["cluster"]["worker"]) for c in configs}) == 1 and len(configs[0]["cluster"]["worker"]) == 3

    script.write_text("import sys\nsys.exit(4)\n")
    result = CliRunner().invoke(main, ["launch", "--workers", "2", "python", str(script)])
    assert result.exit_code == 1
    assert "workers failed: worker 0 exit code" in result.output and "exit code 4" in result.output
