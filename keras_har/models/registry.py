"""Model resolution: names to model classes and builders.

The one place that maps a name (``"tinierhar"``, ``"tinyhar"``,
``"deepconvlstm"``) to a model class, used by training, evaluation, the
profiler, the CLI and official-checkpoint loading. It depends only on the
model modules, so every other module can import it without an import cycle.
"""

from keras_har.models.deep_conv_lstm import DeepConvLSTM
from keras_har.models.tinier_har import TinierHAR
from keras_har.models.tiny_har import TinyHAR

MODELS = {"tinierhar": TinierHAR, "tinyhar": TinyHAR, "deepconvlstm": DeepConvLSTM}


def _key(name):
    return str(name).lower().replace("_", "").replace("-", "")


def get_model_class(name):
    """Returns the model class for a name such as ``"tinierhar"``.

    Example:
    >>> import keras_har
    >>> keras_har.get_model_class("TinierHAR") is keras_har.TinierHAR
    True
    """
    if _key(name) not in MODELS:
        raise ValueError(f"Unknown model. Known models: {sorted(MODELS)}. Received: model={name!r}")
    return MODELS[_key(name)]


def resolve_builder(model, model_kwargs=None):
    """Turns a model name or a builder into ``(build(input_shape, num_classes), name)``.

    Args:
        model: a name known to `get_model_class` (``"tinierhar"``,
            ``"tinyhar"``, ``"deepconvlstm"``), or a callable
            ``build(input_shape=(T, C), num_classes=K)`` returning a logits model.
        model_kwargs: constructor arguments for a named model.

    Example:
    >>> import keras_har.models
    >>> build, name = keras_har.models.resolve_builder("tinierhar", {"filters": 8})
    >>> name
    'tinierhar'
    """
    if isinstance(model, str):
        model_class = get_model_class(model)
        kwargs = dict(model_kwargs or {})

        def build(input_shape, num_classes):
            return model_class(input_shape=input_shape, num_classes=num_classes, **kwargs)

        return build, _key(model)
    if callable(model):
        if model_kwargs:
            raise ValueError(
                "`model_kwargs` only apply to a model given by name; a builder takes its own "
                f"arguments. Received: model_kwargs={model_kwargs!r}"
            )
        return model, getattr(model, "__qualname__", type(model).__name__)
    raise ValueError(
        "`model` must be a model name (e.g. 'tinierhar') or a callable "
        f"build(input_shape, num_classes). Received: model={model!r}"
    )


def from_official_checkpoint(source, model, input_shape, num_classes, **model_kwargs):
    """Builds a keras_har model and loads an official checkpoint into it.

    Args:
        source: the checkpoint (``.pth``, ``.npz`` or a dict of arrays).
        model: ``"tinierhar"``, ``"tinyhar"`` or ``"deepconvlstm"``, or the
            model class.
        input_shape: ``(T, C)`` of the windows the checkpoint was trained on.
        num_classes: number of classes K.
        **model_kwargs: the model's other settings, e.g. ``filters`` and
            ``gru_units`` for TinierHAR when the checkpoint is not M=4, N=16.

    Returns:
        The model, with the checkpoint's weights (see
        `keras_har.models.load_official_weights`).

    Example:
    >>> from keras_har.models import from_official_checkpoint
    >>> model = from_official_checkpoint("final_best_vali.pth", "tinierhar", (200, 23), 12)  # doctest: +SKIP
    """
    model_class = model if isinstance(model, type) else get_model_class(model)
    return model_class.from_official_checkpoint(source, input_shape, num_classes, **model_kwargs)
