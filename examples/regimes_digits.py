"""The three-regime diagnostics on digits: should the dense model train longer before pruning?

Zhou, Yang, Chang, Mahoney, "A three-regime model of network pruning" (ICML 2023). For every
number of dense training epochs (the temperature) and every density (the fraction of weights
kept): prune the dense model, retrain it twice from the same mask, measure the mode
connectivity of the two retrained models (BatchNorm recomputed along the path) and the linear
CKA of their logits, and label the cell I, II-A or II-B, with advice on which way to move the
epochs. The sweep is resumable: the second call below reads every cell back from disk.

    python examples/regimes_digits.py

Writes ./regimes-digits/ (records, phase_diagram.png, report.md, results.json).
``TFPRUNE_EXAMPLE_TINY=1`` runs a 2 x 1 grid on 256 training images with one retraining epoch
(the test suite runs every example that way); see docs/regimes.md for the full-size results.
"""

import os

import tfprune  # first: tf.keras -> tf_keras
from tfprune import data
from tfprune import diagnostics as dx

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
EPOCHS = [1, 2] if TINY else [1, 2, 4, 8]
DENSITIES = [0.2] if TINY else [0.05, 0.2, 0.8]
OUT = "regimes-digits"

splits = data.load("digits")
x, y = splits.numpy("train")
train_data = (x[:256], y[:256]) if TINY else (x, y)
train = dx.make_trainer("epochs", train_data, retrain_epochs=1 if TINY else 8)
settings = dict(train_data=train_data, test_data=splits.numpy("test"), out_dir=OUT,
                points=5 if TINY else 11, cka_batches=2 if TINY else 10,
                temperature_name="epochs", progress=False)


def build(seed):
    return dx.bn_model(splits.input_shape, splits.num_classes, seed)


result = dx.sweep(build, train, EPOCHS, DENSITIES, **settings)
for record in result.records:
    print(f"epochs {record['temperature']}, density {record['density']}: mc {record['mc']:+.3f}, "
          f"CKA {record['cka']:.3f}, test accuracy {record['test_accuracy']:.3f} -> "
          f"{dx.advice(record['regime'], 'number of epochs')}")

again = dx.sweep(build, train, EPOCHS, DENSITIES, **settings)  # nothing left to compute
print(f"resumed: {len(again.records)} cells read back, identical {again.records == result.records}")
paths = result.write()
print("wrote", ", ".join(sorted(paths.values())))
# The thresholds only label the cells: a stricter CKA threshold relabels (copies of) the records
# without recomputing anything.
strict = dx.SweepResult([dict(r) for r in result.records], dx.Thresholds(mc=-0.02, cka=0.9999), "epochs")
print("regimes with the default thresholds:", [r["regime"] for r in result.records],
      "with CKA threshold 0.9999:", [r["regime"] for r in strict.records])
