"""Which layers the TFLite converter could not convert, named for the user."""

import re

from tfprune import layers
from tfprune.backend import keras, tf
from tfprune.export.result import ExportError

_CUSTOM_RE = re.compile(r"(?:Custom ops|Flex ops|Select TF ops): ([^\n]+)")
_OP_RE = re.compile(r"'(tf\.[A-Za-z0-9_]+)' op is neither a custom op nor a flex op")


def _graph_op_types(graph):
    types = {op.type for op in graph.get_operations()}
    for fn in graph.as_graph_def().library.function:
        types.update(node.op for node in fn.node_def)
    return types


def _layers_using(model, op_types):
    """Names of the layers whose computation contains one of ``op_types`` (traced one by one)."""
    found = []
    for layer in model.submodules:
        if not isinstance(layer, keras.layers.Layer) or isinstance(layer, keras.Model):
            continue
        try:
            inp = layer.input
            if isinstance(inp, (list, tuple, dict)):
                continue
            spec = tf.TensorSpec(inp.shape, inp.dtype)
            graph = tf.function(lambda t, layer=layer: layer(t)).get_concrete_function(spec).graph
        except Exception:  # layers without a single traced input: not located
            continue
        if _graph_op_types(graph) & op_types:
            found.append(layer.name)
    return found


def _rolled_recurrent_layers(model):
    """``"path (LSTM)"`` for each recurrent layer (also inside Bidirectional) that runs as a loop."""
    found = []
    for path, layer in layers.iter_layers(model):
        inner = layers.unwrap(layer)
        rnn = inner.forward_layer if isinstance(inner, keras.layers.Bidirectional) else inner
        if isinstance(rnn, keras.layers.RNN) and not rnn.unroll:
            found.append(f"{path} ({type(inner).__name__})")
    return found


def _tensor_list_error(model):
    rnns = _rolled_recurrent_layers(model)
    if not rnns:
        return ("the TFLite converter rejected the model: it loops over TensorList ops (a tf.while_loop or "
                "TensorArray), which TFLite builtin ops cannot express; replace the loop by a fixed number "
                "of steps")
    which = f"recurrent layer {rnns[0]} runs" if len(rnns) == 1 else f"recurrent layers {', '.join(rnns)} run"
    return (f"the TFLite converter rejected the model: {which} as a loop of TensorList ops, which TFLite "
            "builtin ops cannot express; build the model with unroll=True in these layers (it needs a fixed "
            "sequence length; keras.Input(..., batch_size=1) is the usual companion) to make it convertible, or "
            "pass select_tf_ops=True (a file that needs the Flex delegate, which LiteRT lacks)")


def _converter_error(err, model):
    text = str(err)
    if "TensorList" in text:
        return ExportError(_tensor_list_error(model))
    ops = set(_OP_RE.findall(text)) | {o.strip() for m in _CUSTOM_RE.findall(text) for o in m.split(",")}
    ops = sorted({o[3:] if o.startswith("tf.") else o for o in ops if o})
    if ops:
        layers = _layers_using(model, set(ops))
        where = f" (in layer {', '.join(layers)})" if layers else ""
        msg = (f"the TFLite converter rejected the model: op {', '.join(ops)}{where} has no TFLite builtin "
               "kernel. Replace the layer with supported ops, or pass select_tf_ops=True (a file that needs the "
               "Flex delegate, which LiteRT lacks).")
    else:
        first = next((ln.strip() for ln in text.splitlines() if "error:" in ln), text.strip()[:500])
        msg = f"the TFLite converter rejected the model: {first}"
    return ExportError(msg)
