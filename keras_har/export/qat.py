"""Quantization-aware training (tfmot) for TinierHAR, and back to a float model for conversion.

tfmot 0.8.1 refuses GRU, LSTM, Bidirectional and custom layers, so these get
QuantizeConfigs of their own. What works (``docs/toolchain.md``):

- Bidirectional/GRU: only ``kernel`` and ``recurrent_kernel`` of each cell are
  fake-quantized, with no output quantizer. An output quantizer there made
  the converter leave float ops inside the recurrence.
- AttentionPooling: its score kernel and its output are quantized.

The trained QAT model holds fake-quant nodes that the int8 converter cannot
see through a rewritten recurrence, so `dequantized_copy` copies its
(quantization-robust) float weights into a plain model of the same
architecture; `keras_har.export.convert_int8` then calibrates the activation
ranges on representative windows.
"""

from keras_har.backend import keras
from keras_har.layers.attention_pooling import AttentionPooling


def _tfmot():
    import tensorflow_model_optimization as tfmot

    return tfmot


def _weight_quantizer():
    tfmot = _tfmot()
    return tfmot.quantization.keras.quantizers.LastValueQuantizer(
        num_bits=8, per_axis=False, symmetric=True, narrow_range=False
    )


def _cells(layer):
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer.cell, layer.backward_layer.cell]
    return [layer.cell]


def _recurrent_config_class():
    tfmot = _tfmot()

    class RecurrentWeightsQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """Fake-quantizes each recurrent cell's kernel and recurrent kernel, nothing else."""

        def get_weights_and_quantizers(self, layer):
            pairs = []
            for cell in _cells(layer):
                pairs += [(cell.kernel, _weight_quantizer()), (cell.recurrent_kernel, _weight_quantizer())]
            return pairs

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            for index, cell in enumerate(_cells(layer)):
                cell.kernel = quantize_weights[2 * index]
                cell.recurrent_kernel = quantize_weights[2 * index + 1]

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            # No output quantizer: it makes the converter leave float ops in the GRU.
            return []

        def get_config(self):
            return {}

    return RecurrentWeightsQuantizeConfig


def _attention_config_class():
    tfmot = _tfmot()

    class AttentionPoolingQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """Quantizes the attention score kernel and the pooled output."""

        def get_weights_and_quantizers(self, layer):
            return [(layer.score.kernel, _weight_quantizer())]

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            layer.score.kernel = quantize_weights[0]

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [
                tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
                    num_bits=8, per_axis=False, symmetric=False, narrow_range=False
                )
            ]

        def get_config(self):
            return {}

    return AttentionPoolingQuantizeConfig


def _stock_copy(layer):
    """A fresh copy of ``layer``; TinierHAR's fast-training layers become the stock ones tfmot knows."""
    from keras_har.layers.time_conv import STOCK_CLASSES

    return STOCK_CLASSES.get(type(layer), type(layer)).from_config(layer.get_config())


def quantize_aware(model):
    """Wraps a trained `keras_har.TinierHAR` for quantization-aware training.

    Layers that tfmot supports get its default 8-bit scheme; recurrent layers
    and `keras_har.layers.AttentionPooling` get the configs described in this
    module's docstring.

    Args:
        model: a built (ideally trained) `keras_har.TinierHAR`.

    Returns:
        A tf_keras model with fake-quantization, ready to ``compile``/``fit``.

    Example:
    >>> import keras_har
    >>> from keras_har.export import quantize_aware
    >>> qat = quantize_aware(keras_har.TinierHAR(input_shape=(32, 3), num_classes=4))
    """
    tfmot = _tfmot()
    quantize = tfmot.quantization.keras
    recurrent_config, attention_config = _recurrent_config_class(), _attention_config_class()
    recurrent_types = (keras.layers.Bidirectional, keras.layers.GRU, keras.layers.LSTM)

    def annotate(layer):
        if isinstance(layer, recurrent_types):
            return quantize.quantize_annotate_layer(layer, quantize_config=recurrent_config())
        if isinstance(layer, AttentionPooling):
            return quantize.quantize_annotate_layer(layer, quantize_config=attention_config())
        return quantize.quantize_annotate_layer(layer)

    # tfmot clones the model from its layers; a plain functional copy avoids
    # TinierHAR.from_config (whose constructor arguments tfmot does not pass).
    plain = keras.Model(model.inputs, model.outputs, name=model.name)
    annotated = keras.models.clone_model(
        plain,
        clone_function=lambda layer: annotate(_stock_copy(layer))
        if not isinstance(layer, keras.layers.InputLayer)
        else layer.__class__.from_config(layer.get_config()),
    )
    annotated.set_weights(plain.get_weights())
    scope = {
        "RecurrentWeightsQuantizeConfig": recurrent_config,
        "AttentionPoolingQuantizeConfig": attention_config,
        "AttentionPooling": AttentionPooling,
    }
    with quantize.quantize_scope(scope):
        return quantize.quantize_apply(annotated)


def dequantized_copy(qat_model, model):
    """Copies a QAT model's float weights into a fresh copy of ``model``.

    Args:
        qat_model: the model returned by `quantize_aware` (after training).
        model: the float model it was made from; it is not modified.

    Returns:
        A new model of ``model``'s class and config holding the QAT weights.
    """
    copy = model.__class__.from_config(model.get_config())
    wrappers = {getattr(layer, "layer", layer).name: layer for layer in qat_model.layers}
    for layer in copy.layers:
        if not layer.weights:
            continue
        if layer.name not in wrappers:
            raise ValueError(f"The QAT model has no layer named {layer.name!r}. Received: qat_model={qat_model.name!r}")
        wrapper = wrappers[layer.name]
        # A wrapper holds the layer's own variables, in order, then its
        # quantizer state (min/max, optimizer_step) under the wrapper's name.
        own = [w for w in wrapper.weights if not w.name.startswith(f"{wrapper.name}/")]
        layer.set_weights([w.numpy() for w in own])
    return copy
