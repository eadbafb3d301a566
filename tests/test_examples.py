"""Every script in examples/ runs to the end on tiny settings and prints what it promises.

Each example reads ``TFPRUNE_EXAMPLE_TINY=1`` to shrink epochs, trials and timing runs. It runs
in a subprocess whose working folder is a fresh temporary one, with this checkout's tfprune
first on the path; it must exit 0, print its expected line and write only there. A new
example is picked up by the glob and fails until its expected output is added to ``EXPECTED``.
"""

import glob
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py")))
TINY = "TFPRUNE_EXAMPLE_TINY"

# example file -> (a line it must print (regex, multiline), files it must write in its folder)
EXPECTED = {
    "export_digits.py": (
        # the 4x1 block-pruned Dense layers are the kernels TFLite keeps sparse (no DENSIFY)
        r"^  zeros kept in 4/4 kernels; natively sparse kernels \(no DENSIFY\): dense1, logits\s*$",
        ["export-digits/digits_f32.tflite", "export-digits/digits_int8.tflite", "export-digits/digits_fc.tflite"],
    ),
    "prune_at_init_digits.py": (
        # 99% magnitude pruning disconnects the MLP; the collapse guard keeps it connected
        r"^magnitude: test accuracy \d\.\d{3}, connected False[^\n]*\n(?s:.*)^magnitude \+ guard: connected True$",
        [],
    ),
    "xla_mirrored_digits.py": (
        # on CPUs, two runs (XLA alone; MirroredStrategy over 2 logical CPUs); on GPUs, one with both
        r"^MirroredStrategy over (2 logical CPUs: 2 replica\(s\), jit_compile=False|the GPUs: \d+ replica\(s\), "
        r"jit_compile=True): sparsity 90\.00% \(target 90%\), test accuracy \d\.\d{3}$",
        [],
    ),
    "prune_digits_lamp.py": (
        # LAMP reaches the 95% target over all prunable weights
        r"^pruned test accuracy: [0-9.]+\n(?s:.*)^total +71568 +3578 +95\.00%$",
        ["logs/lamp"],
    ),
    "regimes_digits.py": (
        # a resumed sweep reads every finished cell back unchanged
        r"^epochs 1, density 0\.2: mc [-+]\d\.\d{3}, CKA \d\.\d{3}, [^\n]*Regime (I|II-A|II-B): [^\n]*\n"
        r"(?s:.*)^resumed: 2 cells read back, identical True$",
        ["regimes-digits/report.md", "regimes-digits/phase_diagram.png", "regimes-digits/results.json",
         "regimes-digits/cells"],
    ),
    "structured_digits.py": (
        # L1 at width 0.5 halves conv1 (16), conv2 (32) and dense1 (128), logits stay 10: parameters
        # 160 + 4640 + 65664 + 1290 = 71754 -> 80 + 1168 + 16448 + 650 = 18346, FLOPs (2 x MACs, 8x8
        # images, same padding) 2 x (9216 + 294912 + 65536 + 1280) -> 2 x (4608 + 73728 + 16384 + 640)
        r"^l1: conv1 16->8, conv2 32->16, dense1 128->64; params 71754 -> 18346, FLOPs 741888 -> 190720, "
        r"test accuracy \d\.\d{3} -> \d\.\d{3} [^\n]*\n"
        r"^reloaded structured-digits/greedy\.keras with plain keras\.models\.load_model: same outputs True$",
        ["structured-digits/greedy.keras"],
    ),
    "tune_digits.py": (
        r"^test accuracy \d\.\d{4}; wrote tune-digits-output/best_model\.keras, tune-digits-output/pareto\.md, "
        r"tune-digits-output/pareto\.png$",
        ["tune-digits-output/best_model.keras", "tune-digits-output/pareto.md", "tune-digits-output/pareto.png"],
    ),
}


def _listing(folder):
    return sorted(os.listdir(folder))


def test_examples_are_found_and_each_has_an_expected_output():
    names = [os.path.basename(path) for path in EXAMPLES]
    assert names, "no examples/*.py found"
    assert sorted(EXPECTED) == names, "every example needs an entry in EXPECTED (and only those)"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs_on_tiny_settings(path, tmp_path):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        assert TINY in f.read(), f"{name} must read {TINY} to shrink its run"
    if name not in EXPECTED:
        pytest.fail(f"add what examples/{name} must print to EXPECTED in tests/test_examples.py")
    pattern, outputs = EXPECTED[name]

    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)  # the example's `import tfprune` must set it
    env.update({
        TINY: "1",
        "PYTHONPATH": os.pathsep.join([REPO] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # keep the caches Keras and matplotlib write out of the home folder
        "KERAS_HOME": str(tmp_path / "keras-home"),
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
    })
    repo_before = _listing(REPO)
    examples_before = _listing(os.path.join(REPO, "examples"))

    out = subprocess.run([sys.executable, path], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert re.search(pattern, out.stdout, flags=re.M), f"{name}: no line matching {pattern!r} in:\n{out.stdout[-4000:]}"
    for output in outputs:
        assert (work / output).exists(), f"{name}: did not write {output}"
    # Outputs go to the working folder only, never into the checkout.
    assert _listing(REPO) == repo_before
    assert _listing(os.path.join(REPO, "examples")) == examples_before
