"""tfprune's pruning wrapper: TF-MOT's ``PruneLowMagnitude`` with one target per prunable weight
and one bit per mask entry.

TF-MOT's wrapper prunes every weight of a layer to the same sparsity. An allocation (LAMP,
ERK, ...) gives each weight its own, and a layer such as an LSTM (kernel and recurrent kernel)
or a MultiHeadAttention (four kernels) has several. This subclass runs TF-MOT's own magnitude
update (Zhu & Gupta 2017) for each weight with that weight's target from its
:class:`~tfprune.schedules.LayerSchedule`, and stores each mask bit-packed in ``int64`` words
(:mod:`tfprune.mask_storage`: 0.125 bytes per weight where TF-MOT keeps a float32 copy, 4
bytes). The training step is TF-MOT's: masks are recomputed only at the schedule's pruning
steps, and every step the weights are set to ``weights * mask`` before the layer runs (the
optimizer revives pruned weights; masking them again is what keeps TF-MOT's gradients and
regrowth rule). In ``fit`` with :func:`tfprune.callbacks` the masks are recomputed by the
callbacks before the batch of each pruning step (:meth:`PruneLowMagnitude.update_masks`, from the
same weights and at the same step as TF-MOT's in-graph update, so with the same result; from the
float32 master weights under a mixed-precision policy), and the training step itself no longer
evaluates the schedule (:meth:`PruneLowMagnitude.call`): TF-MOT's conditional update and its
assert on the step run in every step's graph, a fixed cost per layer that dominates small
models. Traced anywhere else (a custom training loop), the wrapper keeps TF-MOT's in-graph
update. Under ``tf.distribute`` the per-step masking is local to each replica (the replicas hold
the same weights and masks), without TF-MOT's cross-replica mean of the masked weights.

The class keeps TF-MOT's name, so wrapped layers keep their usual names
(``prune_low_magnitude_<layer>``) and ``tfmot.sparsity.keras.strip_pruning`` strips them; it
is registered with Keras, so saved models load without custom objects. Models saved before
masks were packed (float masks) load as such and keep float masks.
"""

import inspect

import numpy as np

from tfprune import mask_storage, schedules, training_guard
from tfprune.backend import PruneLowMagnitude as _TFMOTWrapper
from tfprune.backend import keras, tf
from tensorflow_model_optimization.python.core.keras import utils as tfmot_utils
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl


class _Pruning(pruning_impl.Pruning):
    """TF-MOT's ``Pruning`` with packed masks and, for a :class:`~tfprune.schedules.LayerSchedule`,
    each weight's own target."""

    def __init__(self, *args, packed=True, **kwargs):
        super().__init__(*args, **kwargs)
        self._packed = packed

    def _update_mask(self, weights):
        layer_schedule = self._pruning_schedule
        if not isinstance(layer_schedule, schedules.LayerSchedule):
            return super()._update_mask(weights)
        index = next(i for i, (w, _, _) in enumerate(self._pruning_vars) if w is weights)
        self._pruning_schedule = layer_schedule.for_weight(index)
        try:
            return super()._update_mask(weights)
        finally:
            self._pruning_schedule = layer_schedule

    def follows_callbacks(self):
        """Whether the pruning callbacks can recompute these masks: a :class:`LayerSchedule`
        (its pruning steps are known in Python), not TF-MOT's m-by-n sparsity."""
        return not self._sparsity_m_by_n and isinstance(self._pruning_schedule, schedules.LayerSchedule)

    def update_masks(self, step):
        """Recompute every mask and threshold for training step ``step`` from the current weights
        (eagerly, in cross-replica context under ``tf.distribute``): TF-MOT's rule in NumPy
        (:func:`magnitude_mask`) for element-wise masks of float32/float64 weights, TF-MOT's own
        ops otherwise (block masks, other dtypes)."""
        sparsities = self._pruning_schedule.sparsities_at(step)
        for index, (weight, mask, threshold) in enumerate(self._pruning_vars):
            if self._block_size == [1, 1] and weight.dtype in (tf.float32, tf.float64):
                new_threshold, keep = magnitude_mask(weight.numpy(), sparsities[index])
                new_mask = mask_storage.pack_numpy(keep) if self._packed else keep.astype(weight.dtype.as_numpy_dtype)
            else:
                new_threshold, new_mask = self._tfmot_rule_at(step, weight)
            threshold.assign(new_threshold, read_value=False)  # no read back: a cheaper eager op
            mask.assign(new_mask, read_value=False)

    def _tfmot_rule_at(self, step, weight):
        step_fn = self._step_fn
        self._step_fn = lambda: tf.constant(step, tf.int64)
        try:
            return self._maybe_update_block_mask(weight)
        finally:
            self._step_fn = step_fn

    def _maybe_update_block_mask(self, weights):
        threshold, mask = super()._maybe_update_block_mask(weights)
        return threshold, (mask_storage.pack(mask) if self._packed else mask)

    def _masked(self, weight, mask):
        if not self._packed:
            return tf.cast(weight * mask, weight.dtype)
        return weight * mask_storage.unpack(mask, weight.shape, weight.dtype)  # TF-MOT's product

    def _weight_assign_objs(self):
        """``weight <- weight * mask`` for every pruned weight (per replica under tf.distribute)."""
        pairs = [(weight, mask) for weight, mask, _ in self._pruning_vars]
        if not pairs:
            return []
        context = tf.distribute.get_replica_context()
        if context is None or not tf.distribute.has_strategy():
            return [weight.assign(self._masked(weight, mask)) for weight, mask in pairs]
        values = [self._masked(weight, mask) for weight, mask in pairs]

        def update(strategy, values):
            return tf.group([strategy.extended.update(weight, lambda var, value: var.assign(value), args=(value,))
                             for (weight, _), value in zip(pairs, values)])

        return [context.merge_call(update, args=(values,))]


def magnitude_mask(weights: np.ndarray, sparsity: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """TF-MOT's magnitude rule (``Pruning._update_mask``) in NumPy: keep
    ``k = max(round(size * (1 - sparsity)), 1)`` (float32 arithmetic, half to even, as TF-MOT) and
    every weight whose magnitude is at least the k-th largest (ties all kept). Returns that k-th
    largest magnitude (the threshold) and the boolean mask. A linear-time selection where TF-MOT
    sorts; the same mask and threshold, bit for bit."""
    magnitudes = np.abs(weights)
    flat = magnitudes.reshape(-1)
    size = flat.size
    k = int(max(np.round(np.float32(size) * (np.float32(1) - np.float32(sparsity))), 1))
    threshold = np.partition(flat, size - k)[size - k]
    return threshold, magnitudes >= threshold


@keras.utils.register_keras_serializable(package="tfprune")
class PruneLowMagnitude(_TFMOTWrapper):
    """A TF-MOT pruning wrapper with per-weight targets and bit-packed masks (see the module docstring).

    A layer that runs several times per training step (shared weights, or inside a sub-model
    called twice) advances TF-MOT's ``pruning_step`` once per call; its schedule reads
    ``ceil(pruning_step / calls_per_step)``, the training step, so every wrapper of a model
    prunes at the same steps. The pruning callbacks set ``calls_per_step`` from the model's graph.

    ``packed_masks=False`` keeps TF-MOT's float32 masks (models saved before packing load so).
    """

    calls_per_step = 1

    def __init__(self, layer, *args, packed_masks: bool = True, **kwargs):
        super().__init__(layer, *args, **kwargs)
        self.packed_masks = bool(packed_masks)

    def schedule_step(self):
        """The training step the schedule sees (a tensor)."""
        calls = int(self.calls_per_step)
        if calls == 1:
            return self.pruning_step
        return (self.pruning_step + calls - 1) // calls

    def pruning_steps(self) -> list[int]:
        """The training steps at which the pruning callbacks recompute this layer's masks (none when
        its schedule is not a :class:`~tfprune.schedules.LayerSchedule`: TF-MOT's in-graph update)."""
        if not self.pruning_obj.follows_callbacks():
            return []
        return self.pruning_schedule.schedule.pruning_steps()

    def update_masks(self, step: int) -> None:
        """Recompute the masks as TF-MOT's in-graph update does at training step ``step``; the
        pruning callbacks call it before the batch of each of :meth:`pruning_steps`."""
        self.pruning_obj.update_masks(step)

    def call(self, inputs, training=None, **kwargs):
        """TF-MOT's ``call``; traced in ``fit`` with the pruning callbacks (the masks theirs to
        update), without its mask-update branch: no conditional update and no assert that the
        step callback ran (the training guard has checked that before the first batch)."""
        if not (training_guard.callbacks_update_masks() and self.pruning_obj.follows_callbacks()):
            return super().call(inputs, training=training, **kwargs)
        if training is None:
            training = keras.backend.learning_phase()

        def increment_step():
            with tf.control_dependencies([self.pruning_step.assign_add(1)]):  # one op: read, add, write
                return tf.no_op("update")

        self.add_update(tfmot_utils.smart_cond(training, increment_step, lambda: tf.no_op("no_update")))
        self.add_update(self.pruning_obj.weight_mask_op())
        if "training" in inspect.getfullargspec(self.layer.call).args:
            return self.layer.call(inputs, training=training, **kwargs)
        return self.layer.call(inputs, **kwargs)

    def build(self, input_shape):
        if self.packed_masks:
            self._build_packed(input_shape)
        else:
            super().build(input_shape)
        if isinstance(self.pruning_schedule, schedules.LayerSchedule):
            count = len(self.pruning_vars)
            if int(self.pruning_schedule.target.shape[0]) != count:
                raise ValueError(
                    f"layer {self.layer.name!r}: its schedule has {int(self.pruning_schedule.target.shape[0])} "
                    f"targets for {count} prunable weights"
                )
        self.pruning_obj = _Pruning(
            training_step_fn=self.schedule_step,
            pruning_vars=self.pruning_vars,
            pruning_schedule=self.pruning_schedule,
            block_size=self.block_size,
            sparsity_m_by_n=self.sparsity_m_by_n,
            block_pooling_type=self.block_pooling_type,
            packed=self.packed_masks,
        )

    def _build_packed(self, input_shape):
        """TF-MOT's ``build`` with a packed ``int64`` mask per weight (same variables, same order)."""
        keras.layers.Wrapper.build(self, input_shape)
        self.prunable_weights = self.layer.get_prunable_weights()
        pruning_vars = []
        for weight in self.prunable_weights:
            mask = self.add_weight(
                "mask",
                shape=[mask_storage.packed_size(weight.shape.num_elements())],
                initializer=keras.initializers.Constant(-1),  # all ones (padding bits unused)
                dtype=mask_storage.PACKED_DTYPE,
                trainable=False,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            threshold = self.add_weight(
                "threshold",
                shape=[],
                initializer=keras.initializers.get("zeros"),
                dtype=getattr(weight, "true_dtype", weight.dtype),
                trainable=False,
                aggregation=tf.VariableAggregation.MEAN,
            )
            pruning_vars.append((weight, mask, threshold))
        self.pruning_vars = pruning_vars
        self.pruning_step = self.add_weight(
            "pruning_step",
            shape=[],
            initializer=keras.initializers.Constant(-1),
            dtype=tf.int64,
            trainable=False,
        )

    def get_config(self):
        return {**super().get_config(), "packed_masks": self.packed_masks}

    @classmethod
    def from_config(cls, config):
        return super().from_config({"packed_masks": False, **config})


def wrap_layer(layer, schedule):
    """``layer`` inside a :class:`PruneLowMagnitude` running ``schedule``."""
    return PruneLowMagnitude(layer, pruning_schedule=schedule)
