"""GraSP: gradient signal preservation at initialisation.

Wang, Zhang, Grosse, "Picking winning tickets before training by preserving gradient flow",
ICLR 2020 (arXiv 2002.07376).

With ``L`` the mean cross-entropy of ``logits / T`` (temperature ``T = 200`` in the paper and its
code) on one class-balanced batch, ``g = dL/dw`` over all prunable kernels and
``Hg = d(stop_gradient(g) . g)/dw`` (a Hessian-gradient product)::

    score(w) = -w * (H g)

Removing the weights with the LARGEST scores preserves (even raises) the gradient norm, so GraSP
keeps the smallest scores: :func:`tfprune.prune_at_init` ranks ``-score``. The official code
evaluates the batch in two halves for memory; the sum is the same product up to a constant
factor, which changes no ranking.

Example::

    scores = tfprune.scoring.grasp_scores(model, tfprune.data.load("digits"))
"""

import collections

import numbers

import numpy as np

from tfprune import layers
from tfprune.backend import tf
from tfprune.scoring import _common

#: Softmax temperature of the GraSP paper's code.
TEMPERATURE = 200.0


def grasp_scores(
    model, data=None, *, exclude=None, temperature=TEMPERATURE, samples_per_class=_common.SAMPLES_PER_CLASS, seed=0
):
    """``{key: -w * Hg}`` for the prunable weights of ``model`` (prune the largest).

    Args:
      model: a built, unwrapped tf_keras classifier (not modified). A final softmax/sigmoid is
        bypassed to get logits.
      data: required; a :class:`tfprune.data.Splits`, a ``tf.data.Dataset`` of ``(x, y)``, or an
        ``(x, y)`` pair of arrays used as given.
      exclude: layer names or a predicate ``layer -> bool`` to leave out (of scores and of g.g).
      temperature: logits are divided by it before the softmax (200 in the paper).
      samples_per_class: examples of each class drawn from Splits / Dataset.
      seed: which examples are drawn.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature={temperature!r}: must be a positive number (the paper uses 200)")
    _common.check_plain_model(model)
    _common.check_exclude(model, exclude)
    x, y = _common.scoring_batch(model, data, "grasp", samples_per_class, seed)
    net = _common.logits_model(model)
    found = layers.prunable(net, exclude)
    variables = [w.variable for w in found.values()]
    labels = tf.constant(y)
    with tf.GradientTape(watch_accessed_variables=False) as outer:
        outer.watch(variables)
        with tf.GradientTape(watch_accessed_variables=False) as inner:
            inner.watch(variables)
            logits = net(x, training=False) / float(temperature)
            loss = _common.classification_loss(logits, labels)
        grads = _common.dense_gradients(inner.gradient(loss, variables), variables)
        z = tf.add_n([tf.reduce_sum(tf.stop_gradient(g) * g) for g in grads])
    hg = _common.dense_gradients(outer.gradient(z, variables), variables)
    return collections.OrderedDict(
        (k, -v.numpy().astype(np.float64) * h.numpy().astype(np.float64))
        for k, v, h in zip(found, variables, hg)
    )
