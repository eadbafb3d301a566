"""tfprune's pruning wrapper: TF-MOT's ``PruneLowMagnitude`` with one target per prunable weight.

TF-MOT's wrapper prunes every weight of a layer to the same sparsity. An allocation (LAMP,
ERK, ...) gives each weight its own, and a layer such as an LSTM (kernel and recurrent kernel)
or a MultiHeadAttention (four kernels) has several. This subclass runs TF-MOT's own magnitude
update for each weight with that weight's target from its
:class:`~tfprune.schedules.LayerSchedule`; everything else -- masks, thresholds, the step
counter, ``strip_pruning``, saving -- is TF-MOT's. It keeps TF-MOT's class name, so wrapped
layers keep their usual names (``prune_low_magnitude_<layer>``), and it is registered with
Keras, so saved models load without custom objects.
"""

from tfprune.backend import PruneLowMagnitude as _TFMOTWrapper
from tfprune.backend import keras
from tfprune import schedules
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl


class _PerWeightPruning(pruning_impl.Pruning):
    """TF-MOT's ``Pruning`` asking the layer schedule for each weight's own target."""

    def _update_mask(self, weights):
        layer_schedule = self._pruning_schedule
        index = next(i for i, (w, _, _) in enumerate(self._pruning_vars) if w is weights)
        self._pruning_schedule = layer_schedule.for_weight(index)
        try:
            return super()._update_mask(weights)
        finally:
            self._pruning_schedule = layer_schedule


@keras.utils.register_keras_serializable(package="tfprune")
class PruneLowMagnitude(_TFMOTWrapper):
    """A TF-MOT pruning wrapper whose weights follow their own targets (see the module docstring).

    A layer that runs several times per training step (shared weights, or inside a sub-model
    called twice) advances TF-MOT's ``pruning_step`` once per call; its schedule reads
    ``ceil(pruning_step / calls_per_step)``, the training step, so every wrapper of a model
    prunes at the same steps. The pruning callbacks set ``calls_per_step`` from the model's graph.
    """

    calls_per_step = 1

    def schedule_step(self):
        """The training step the schedule sees (a tensor)."""
        calls = int(self.calls_per_step)
        if calls == 1:
            return self.pruning_step
        return (self.pruning_step + calls - 1) // calls

    def build(self, input_shape):
        super().build(input_shape)
        if isinstance(self.pruning_schedule, schedules.LayerSchedule):
            count = len(self.pruning_vars)
            if int(self.pruning_schedule.target.shape[0]) != count:
                raise ValueError(
                    f"layer {self.layer.name!r}: its schedule has {int(self.pruning_schedule.target.shape[0])} "
                    f"targets for {count} prunable weights"
                )
            self.pruning_obj = _PerWeightPruning(
                training_step_fn=self.schedule_step,
                pruning_vars=self.pruning_vars,
                pruning_schedule=self.pruning_schedule,
                block_size=self.block_size,
                sparsity_m_by_n=self.sparsity_m_by_n,
                block_pooling_type=self.block_pooling_type,
            )


def wrap_layer(layer, schedule):
    """``layer`` inside a :class:`PruneLowMagnitude` running ``schedule``."""
    return PruneLowMagnitude(layer, pruning_schedule=schedule)
