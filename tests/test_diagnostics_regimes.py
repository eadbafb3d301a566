"""Regime labels follow the thresholds (boundaries included); advice follows the labels."""

import os
import subprocess
import sys

import pytest

from tfprune.diagnostics.regimes import DEFAULT_THRESHOLDS, Thresholds, advice, direction, regime


def test_labels_follow_the_default_thresholds_at_their_boundaries():
    assert DEFAULT_THRESHOLDS == Thresholds(mc=-0.02, cka=0.95)
    assert regime(-0.0201, 0.999) == "I"  # a barrier, whatever the similarity
    assert regime(-0.02, 0.2) == "II-A"   # mc at the threshold counts as connected
    assert regime(-0.02, 0.95) == "II-B"  # cka at the threshold counts as similar
    assert regime(0.3, 0.9499) == "II-A"
    assert regime(0.0, 1.0) == "II-B"


def test_custom_thresholds_as_instance_or_mapping():
    assert regime(-0.05, 0.97, Thresholds(mc=-0.1, cka=0.98)) == "II-A"
    assert regime(-0.05, 0.97, {"mc": -0.01}) == "I"
    assert regime(-0.05, 0.97, {"mc": -0.1, "cka": 0.96}) == "II-B"


def test_advice_and_direction():
    assert direction("I") == "increase" and direction("II-A") == "decrease" and direction("II-B") == "keep"
    assert advice("I", "number of epochs") == ("Regime I: poorly connected (a barrier between the two retrained "
                                               "models): train the dense model at a higher number of epochs "
                                               "before pruning.")
    assert "lower learning rate" in advice("II-A", "learning rate")
    assert "keep the temperature" in advice("II-B")


@pytest.mark.parametrize("call, error, message", [
    (lambda: regime(float("nan"), 0.9), ValueError, "mc=nan"),
    (lambda: regime(0.0, "0.9"), ValueError, "cka='0.9'"),
    (lambda: regime(0.0, 0.9, {"mc": 0.1}), ValueError, r"thresholds.mc=0.1: must be a number in \[-1, 0\]"),
    (lambda: regime(0.0, 0.9, {"cka": 0}), ValueError, r"thresholds.cka=0: must be a number in \(0, 1\]"),
    (lambda: regime(0.0, 0.9, {"barrier": -0.1}), ValueError, r"unknown keys \['barrier'\]"),
    (lambda: regime(0.0, 0.9, 0.5), TypeError, "thresholds=0.5"),
    (lambda: advice("III"), ValueError, r"label='III': must be one of \['I', 'II-A', 'II-B'\]"),
    (lambda: advice("I", ""), ValueError, "temperature_name=''"),
])
def test_bad_inputs_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_regimes_import_no_tensorflow():
    code = ("import sys; from tfprune.diagnostics import regime, Thresholds; regime(0.0, 1.0); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
