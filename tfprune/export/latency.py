"""Pruning options that can make a TFLite model faster, not only smaller.

Unstructured sparse weights are expanded by a DENSIFY operator when the model loads:
the file is smaller, inference is not faster. Two layouts are kept sparse at run time:

* ``"fully_connected"``: Dense layers pruned in blocks (TF-MOT ``block_size``) along the
  input dimension. TFLite's FULLY_CONNECTED has sparse kernels for 1x4 blocks (float32)
  and 1x16 blocks (int8), and the converter keeps such weights sparse, without DENSIFY.
  Keras kernels are ``(in, out)`` and TFLite's are ``(out, in)``, so the Keras block is
  ``(4, 1)`` for float32 and ``(16, 1)`` for int8. A Dense layer whose input size is not a
  multiple of the block is left out: the converter drops the tail of such rows (measured:
  wrong outputs).
* ``"xnnpack"``: the conv nets that XNNPACK's sparse inference accepts (Fast Sparse ConvNets,
  Elsen et al. 2019, arXiv:1911.09723): a 3x3 stride-2 conv on 3 input channels first,
  then depthwise 3x3/5x5 and 1x1 convs (>= 2/3 zeros over the 1x1 convs), ending in a
  global average pool. Only the 1x1 convs are pruned (TF-MOT ``PruneForLatencyOnXNNPack``).

Example:
    >>> plan = latency_pruning_params(model, "fully_connected")          # doctest: +SKIP
    >>> pruned = prune_for_latency(model, "fully_connected",
    ...     tfmot.sparsity.keras.PolynomialDecay(0.0, 0.9, 0, 1000))     # doctest: +SKIP
"""

import dataclasses
import re
import warnings

from tfprune.backend import PruneLowMagnitude, keras, tfmot

TARGETS = ("fully_connected", "xnnpack")
FC_BLOCKS = {None: (4, 1), "int8": (16, 1)}
FC_QUANTIZE = tuple(FC_BLOCKS)
XNNPACK_QUANTIZE = (None, "float16")
XNNPACK_MIN_SPARSITY = 2.0 / 3.0


@dataclasses.dataclass
class LatencyPlan:
    """What to pass to TF-MOT pruning for a latency target.

    Attributes:
        target: ``"fully_connected"`` or ``"xnnpack"``.
        layers: layer name -> keyword arguments for ``PruneLowMagnitude`` /
            ``prune_low_magnitude`` (e.g. ``{"block_size": (4, 1)}``); only these layers are pruned.
        skipped: layer name -> why that layer is left dense.
        pruning_policy: ``tfmot.sparsity.keras.PruneForLatencyOnXNNPack()`` for ``"xnnpack"``, else None.
    """

    target: str
    layers: dict
    skipped: dict
    pruning_policy: object = None


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model: expected a tf_keras Model, got {type(model).__module__}.{type(model).__name__}")
    if any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules):
        raise ValueError("model already has pruning wrappers; pass the model before pruning")


def _unsupported_layers(policy, model, cls_name):
    names = []
    for layer in model.layers:
        if type(layer).__name__ == cls_name:
            try:
                if not policy._check_layer_support(layer):
                    names.append(layer.name)
            except Exception:  # private helper of TF-MOT; its absence only loses detail
                return []
    return names


def explain_xnnpack(model):
    """Why ``model`` does not qualify for XNNPACK sparse inference (empty list: it qualifies).

    Uses TF-MOT's ``PruneForLatencyOnXNNPack().ensure_model_supports_pruning`` (which stops at
    the first problem it finds) and adds the checks it does not make.

    Returns:
        list of str, one reason each.
    """
    if not isinstance(model, keras.Model):
        return [f"not a tf_keras Model ({type(model).__module__}.{type(model).__name__})"]
    reasons = []
    policy = tfmot.sparsity.keras.PruneForLatencyOnXNNPack()
    try:
        policy.ensure_model_supports_pruning(model)
    except ValueError as e:
        msg = str(e)
        m = re.match(r"Layer (\w+) is not supported", msg)
        if m:
            names = _unsupported_layers(policy, model, m.group(1))
            msg = (f"layer(s) {', '.join(names) if names else m.group(1)} ({m.group(1)}) between the first "
                   "conv and the global average pooling are not supported by XNNPACK sparse inference")
        elif msg.startswith("Could not find `Conv2D 3x3`"):
            msg = ("the model must start (in every input branch) with ZeroPadding2D(1) then Conv2D 3x3, "
                   "stride 2, padding 'valid', on 3 input channels: " + msg)
        elif "GlobalAveragePooling2D" in msg:
            msg = "every output branch must pass through a GlobalAveragePooling2D layer: " + msg
        reasons.append(msg)
    if not any(policy.allow_pruning(layer) for layer in model.layers):
        reasons.append("no Conv2D with a 1x1 kernel: XNNPACK's sparse kernels only use sparse 1x1 convs")
    return reasons


def latency_pruning_params(model, target="fully_connected", quantize=None):
    """Which layers to prune, and how, so that the exported model can run sparse.

    Args:
        model: the (unpruned) tf_keras model.
        target: ``"fully_connected"`` (block-sparse Dense layers, TFLite sparse FULLY_CONNECTED)
            or ``"xnnpack"`` (1x1 convs of a conv net that XNNPACK sparse inference accepts).
        quantize: the quantization you will export with: ``None`` or ``"int8"`` for
            ``"fully_connected"`` (sets the block, 4 or 16), ``None`` or ``"float16"`` for ``"xnnpack"``.

    Returns:
        :class:`LatencyPlan`.

    Raises:
        ValueError: unknown target/quantize, no layer to prune, or (``"xnnpack"``) a model that does
            not qualify; the message lists the reasons.
    """
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: allowed values are {TARGETS}")
    _check_model(model)
    if target == "fully_connected":
        if quantize not in FC_QUANTIZE:
            raise ValueError(
                f"quantize={quantize!r}: for target='fully_connected' allowed values are {FC_QUANTIZE}. "
                "Measured with this LiteRT: block-sparse 'float16' weights give NaN outputs (DEQUANTIZE "
                "of a block-sparse tensor) and 'dynamic' weights are densified or miscomputed by XNNPACK"
            )
        block = FC_BLOCKS[quantize]
        layers, skipped = {}, {}
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                n_in = int(layer.kernel.shape[0])
                if n_in % block[0]:
                    skipped[layer.name] = (f"input size {n_in} is not a multiple of the block {block[0]}; the "
                                           "converter would drop the last rows")
                else:
                    layers[layer.name] = {"block_size": block}
            elif layer.trainable_weights:
                skipped[layer.name] = f"{type(layer).__name__} is not a Dense layer"
        if not layers:
            raise ValueError("model has no Dense layer that can be block-pruned: " + "; ".join(
                f"{k}: {v}" for k, v in skipped.items()) if skipped else "model has no Dense layer")
        return LatencyPlan(target, layers, skipped)

    if quantize not in XNNPACK_QUANTIZE:
        raise ValueError(
            f"quantize={quantize!r}: for target='xnnpack' allowed values are {XNNPACK_QUANTIZE} "
            "(XNNPACK sparse inference runs float32 and float16 models only)"
        )
    reasons = explain_xnnpack(model)
    if reasons:
        raise ValueError("model does not qualify for XNNPACK sparse inference:\n  - " + "\n  - ".join(reasons))
    policy = tfmot.sparsity.keras.PruneForLatencyOnXNNPack()
    layers = {layer.name: {} for layer in model.layers if policy.allow_pruning(layer)}
    skipped = {layer.name: "only 1x1 Conv2D layers run sparse in XNNPACK" for layer in model.layers
               if layer.trainable_weights and layer.name not in layers}
    return LatencyPlan(target, layers, skipped, policy)


def _final_sparsity(schedule):
    for attr in ("final_sparsity", "target_sparsity"):
        if hasattr(schedule, attr):
            return float(getattr(schedule, attr))
    return None


def prune_for_latency(model, target, pruning_schedule, quantize=None):
    """Wrap the layers of :func:`latency_pruning_params` with TF-MOT pruning wrappers.

    Train the result with ``tfmot.sparsity.keras.UpdatePruningStep()`` as usual, then export
    with :func:`tfprune.export.to_tflite` (same ``quantize``).

    Args:
        model: the (unpruned) tf_keras model. As with ``tfmot.sparsity.keras.prune_low_magnitude``,
            the new model shares (wraps) the original layers and their weights.
        target, quantize: as :func:`latency_pruning_params`.
        pruning_schedule: a TF-MOT ``PruningSchedule`` (e.g. ``PolynomialDecay``).

    Returns:
        the model with pruning wrappers.
    """
    plan = latency_pruning_params(model, target, quantize)
    if target == "xnnpack":
        final = _final_sparsity(pruning_schedule)
        if final is not None and final < XNNPACK_MIN_SPARSITY:
            warnings.warn(
                f"final sparsity {final:.2f} < 2/3: XNNPACK uses its sparse kernels only when at least "
                "2/3 of the 1x1 conv weights are zero", stacklevel=2)
        return tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=pruning_schedule, pruning_policy=plan.pruning_policy)

    def clone(layer):  # like tfmot.prune_low_magnitude: wrap (and share) the original layers
        params = plan.layers.get(layer.name)
        if params is None:
            return layer
        return PruneLowMagnitude(layer, pruning_schedule=pruning_schedule, **params)

    return keras.models.clone_model(model, clone_function=clone)
