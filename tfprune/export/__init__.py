"""Edge export: TFLite / LiteRT files that keep the zeros of a pruned model, verified.

* :func:`to_tflite` — strip, convert (sparse, optional quantization), write atomically,
  verify with the LiteRT interpreter; returns an :class:`ExportResult`.
* :func:`latency_pruning_params`, :func:`prune_for_latency`, :func:`explain_xnnpack` —
  pruning layouts that TFLite/XNNPACK can run sparse (see ``docs/export.md``).
* :func:`measure_latency`, :func:`measure_latencies`, :func:`xnnpack_sparse_path` — LiteRT timing.
* :func:`op_names`, :func:`weight_tensors` — read a ``.tflite`` file (ops, decoded weights).
"""

from tfprune.export.flatbuffer import WeightTensor, op_names, read_tflite, weight_tensors
from tfprune.export.latency import LatencyPlan, explain_xnnpack, latency_pruning_params, prune_for_latency
from tfprune.export.timing import Latency, measure_latencies, measure_latency, xnnpack_sparse_path
from tfprune.export.result import ExportError, ExportResult
from tfprune.export.tflite import QUANTIZE_MODES, convert, strip_wrappers, to_tflite
from tfprune.export.verify import LayerZeros, RuntimeCheck, run_litert

__all__ = [
    "QUANTIZE_MODES",
    "ExportError",
    "ExportResult",
    "LatencyPlan",
    "Latency",
    "LayerZeros",
    "RuntimeCheck",
    "WeightTensor",
    "convert",
    "explain_xnnpack",
    "latency_pruning_params",
    "measure_latencies",
    "measure_latency",
    "op_names",
    "prune_for_latency",
    "read_tflite",
    "run_litert",
    "strip_wrappers",
    "to_tflite",
    "weight_tensors",
    "xnnpack_sparse_path",
]
