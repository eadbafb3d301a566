"""Parameter and FLOP counts of a model, for the before/after report of structured pruning.

FLOPs are counted as 2 x the multiply-accumulates of Dense, Conv1D/2D/3D and DepthwiseConv2D
layers for one example (biases, BatchNorm, activations, pooling and merges are left out, as in
most pruning papers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune.structured import graph


def count_params(model: Any) -> int:
    """All parameters, trainable or not (``model.count_params()``)."""
    return int(model.count_params())


def layer_macs(node: Any) -> int:
    """Multiply-accumulates of one call node for one example (0 for layers not counted)."""
    layer = node.layer
    out = graph.first_output(node).shape
    if not node.keras_inputs:
        return 0
    cin = int(node.keras_inputs[0].shape[-1])
    positions = int(np.prod(out[1:-1])) if out.rank > 2 else 1
    if isinstance(layer, graph.L.DepthwiseConv2D):
        return int(np.prod(layer.kernel_size)) * cin * layer.depth_multiplier * positions
    if type(layer) in graph.MIXERS:
        kernel = int(np.prod(layer.kernel_size)) if hasattr(layer, "kernel_size") else 1
        groups = layer.get_config().get("groups", 1)
        return kernel * (cin // groups) * int(out[-1]) * positions
    return 0


def count_flops(model: Any) -> int:
    """FLOPs of one forward pass of one example: 2 x multiply-accumulates (see the module)."""
    return 2 * sum(layer_macs(node) for node in graph.nodes(model))
