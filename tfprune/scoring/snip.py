"""SNIP: connection sensitivity at initialisation.

Lee, Ajanthan, Torr, "SNIP: single-shot network pruning based on connection sensitivity",
ICLR 2019 (arXiv 1810.02340).

With ``L`` the mean cross-entropy of the model's logits on one class-balanced batch::

    score(w) = | dL/dw * w |

which is |dL/dc| for a multiplicative gate ``c = 1`` on every connection. The paper keeps the
top-k scores over the whole network (``allocation="global"`` in :func:`tfprune.prune_at_init`).
The paper normalises the scores by their sum; that does not change any ranking and is not done.

Example::

    splits = tfprune.data.load("digits")
    scores = tfprune.scoring.snip_scores(model, splits)          # 10 examples per class
    scores = tfprune.scoring.snip_scores(model, (x_batch, y_batch))
"""

import collections

import numpy as np

from tfprune import layers
from tfprune.backend import tf
from tfprune.scoring import _common


def gradients(model, data, scorer, exclude=None, samples_per_class=_common.SAMPLES_PER_CLASS, seed=0):
    """(keys, kernels as tensors, dL/dkernel) on the scoring batch, in inference mode."""
    _common.check_plain_model(model)
    _common.check_exclude(model, exclude)
    x, y = _common.scoring_batch(model, data, scorer, samples_per_class, seed)
    net = _common.logits_model(model)
    found = layers.prunable(net, exclude)
    variables = [w.variable for w in found.values()]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(variables)
        loss = _common.classification_loss(net(x, training=False), tf.constant(y))
    grads = _common.dense_gradients(tape.gradient(loss, variables), variables)
    return list(found), variables, grads


def snip_scores(model, data=None, *, exclude=None, samples_per_class=_common.SAMPLES_PER_CLASS, seed=0):
    """``{key: |dL/dw * w|}`` for the prunable weights of ``model``.

    Args:
      model: a built, unwrapped tf_keras classifier (not modified: inference-mode pass, no
        variable is assigned). A final softmax/sigmoid is bypassed to get logits.
      data: required; a :class:`tfprune.data.Splits`, a ``tf.data.Dataset`` of ``(x, y)``, or an
        ``(x, y)`` pair of arrays used as the batch exactly as given.
      exclude: layer names or a predicate ``layer -> bool`` to leave out of the result.
      samples_per_class: examples of each class in the batch drawn from Splits / Dataset.
      seed: which examples are drawn.
    """
    keys, variables, grads = gradients(model, data, "snip", exclude, samples_per_class, seed)
    return collections.OrderedDict(
        (k, np.abs(g.numpy().astype(np.float64) * v.numpy().astype(np.float64)))
        for k, v, g in zip(keys, variables, grads)
    )
