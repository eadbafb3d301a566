"""Prune the built-in digits CNN to 90% with LAMP, then export it for the edge.

Writes three verified .tflite files to ./export-digits and prints what each costs:

* digits_f32.tflite   sparse float32 (smallest exact copy of the pruned model)
* digits_int8.tflite  sparse full-int8 (calibrated on the training split)
* digits_fc.tflite    a second model whose Dense layers were pruned in 4x1 blocks, which
                      TFLite keeps sparse at run time (no DENSIFY)

Run: python examples/export_digits.py   (about a minute on a laptop CPU)

``TFPRUNE_EXAMPLE_TINY=1`` trains one epoch instead of ten and times fewer runs (the test suite
runs every example that way).
"""

import os
import warnings

import numpy as np

import tfprune
from tfprune import data
from tfprune.backend import keras, tfmot
from tfprune.export import measure_latency, prune_for_latency, to_tflite
from tfprune.cli.models import compile_for_classification, default_model

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
OUT = "export-digits"
EPOCHS = 1 if TINY else 10
LATENCY_RUNS = 20 if TINY else 200


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(0)
    splits = data.load("digits", batch_size=32)
    (x_train, _), (x_test, y_test) = splits.numpy("train"), splits.numpy("test")
    steps = EPOCHS * int(splits.train.cardinality().numpy())

    # 1. Train dense, prune to 90% with LAMP while fine-tuning, strip the wrappers.
    dense = compile_for_classification(default_model((8, 8, 1), 10))
    dense.fit(splits.train, epochs=EPOCHS, verbose=0)
    schedule = tfprune.schedules.Gradual(0.9, end_step=2 * steps // 3, frequency=max(1, steps // 30))
    pruned = compile_for_classification(tfprune.prune(dense, allocation="lamp", schedule=schedule))
    pruned.fit(splits.train, epochs=EPOCHS, verbose=0, callbacks=tfprune.callbacks(pruned))
    small = tfprune.strip(pruned)
    accuracy = np.mean(np.argmax(small.predict(x_test, verbose=0), -1) == y_test)
    print(f"pruned CNN: test accuracy {accuracy:.3f}\n")

    # 2. Export: float32 sparse, and full int8 (needs representative data). Both are verified.
    with warnings.catch_warnings():  # the reports below list any runtime caveat
        warnings.simplefilter("ignore")
        f32 = to_tflite(small, f"{OUT}/digits_f32.tflite", verify_data=x_test)
        int8 = to_tflite(small, f"{OUT}/digits_int8.tflite", quantize="int8",
                         representative_data=x_train, verify_data=x_test)
    print(f32.report(), "\n")
    print(int8.report(), "\n")

    # 3. Latency-friendly option: Dense layers pruned in 4x1 blocks run sparse in TFLite.
    fc = prune_for_latency(dense, "fully_connected",
                           tfmot.sparsity.keras.PolynomialDecay(0.0, 0.9, 0, 2 * steps // 3, frequency=10))
    fc = compile_for_classification(fc)
    fc.fit(splits.train, epochs=EPOCHS, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    fc_result = to_tflite(fc, f"{OUT}/digits_fc.tflite", verify_data=x_test)
    print(fc_result.report(), "\n")
    for name, result in (("unstructured", f32), ("Dense 4x1 blocks", fc_result)):
        lat = measure_latency(result.path, runtime="builtin", runs=LATENCY_RUNS)
        print(f"{name:>18}: {lat.median_ms * 1000:.1f} us per image (builtin kernels, 1 thread)")


if __name__ == "__main__":
    main()
