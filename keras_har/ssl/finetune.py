"""Fine-tuning a pretrained encoder with few labels: frozen, finetuned or from scratch."""

from keras_har.backend import keras, register, tf

MODES = ("frozen", "finetune", "scratch")
HEAD_UNITS = (256, 128, 128)
WINDOWS_PER_CLASS = (1, 2, 5, 10, 50, 100)
FEATURE_MODEL_NAME = "ssl_encoder"


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {list(MODES)}. Received: mode={mode!r}")


def classifier_on(feature_model, num_classes, *, frozen=False, head_units=HEAD_UNITS, dropout=0.2, name=None):
    """The classifier graph on ``feature_model`` itself (its weights are shared, not copied)."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}")
    feature_model.trainable = not frozen
    inputs = keras.Input(shape=feature_model.input_shape[1:], name="window")
    # A frozen encoder runs in inference mode: BatchNorm keeps its moving
    # statistics and dropout is off, so the encoder is truly unchanged.
    x = feature_model(inputs, training=False) if frozen else feature_model(inputs)
    for index, units in enumerate(head_units):
        x = keras.layers.Dense(units, name=f"head{index + 1}_dense")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"head{index + 1}_bn")(x)
        x = keras.layers.ReLU(name=f"head{index + 1}_relu")(x)
        x = keras.layers.Dropout(dropout, name=f"head{index + 1}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name or "ssl_classifier")


def build_classifier(feature_model, num_classes, mode="finetune", *, head_units=HEAD_UNITS, dropout=0.2):
    """A classifier on a copy of a pretrained feature extractor.

    The head follows Dumbrava et al. (arXiv:2307.01168): Dense 256, 128, 128,
    each followed by BatchNorm, ReLU and Dropout(0.2), then ``Dense(K)``
    logits. The feature extractor is copied (the pretrained model is never
    changed), and

    - ``"frozen"``: keeps the pretrained weights fixed (inference mode);
    - ``"finetune"``: starts from them and trains them with the head;
    - ``"scratch"``: same architecture, freshly initialised, all trained.

    Args:
        feature_model: window -> features, e.g. `keras_har.ssl.load_encoder`'s
            result or a pretext model's ``feature_model()``.
        num_classes: number of classes K.
        mode: ``"frozen"``, ``"finetune"`` or ``"scratch"``.
        head_units: widths of the head's Dense layers.
        dropout: dropout rate of the head.

    Returns:
        A functional ``keras.Model`` giving logits; the copied feature
        extractor is its layer ``"ssl_encoder"``.

    Example:
    >>> import keras_har
    >>> cpc = keras_har.ssl.CPC(keras_har.TinierHARBackbone(input_shape=(64, 3)), prediction_steps=4)
    >>> model = keras_har.ssl.build_classifier(cpc.feature_model(), num_classes=5, mode="frozen")
    >>> model.output_shape
    (None, 5)
    """
    _check_mode(mode)
    copy = keras.models.clone_model(feature_model)
    copy._name = FEATURE_MODEL_NAME
    if mode != "scratch":
        copy.set_weights(feature_model.get_weights())
    return classifier_on(copy, num_classes, frozen=mode == "frozen", head_units=head_units, dropout=dropout,
                         name=f"ssl_classifier_{mode}")


@register
class PretextRegularizedClassifier(keras.Model):
    """Fine-tunes a classifier while the pretext loss keeps running on the same batches.

    An answer to the paper's open question "continuing the pretext task
    while training the classification layers": the training loss is
    ``cross-entropy + pretext_weight * pretext_loss(windows)``. The
    classifier (``.classifier``, the head of `build_classifier`) is built on
    ``pretext.feature_model()`` itself, so both losses move the same
    encoder. Calling the model gives the classifier's logits; for deployment
    save ``.classifier``.

    Args:
        pretext: a `keras_har.ssl.PretextModel`; trained in place.
        num_classes: number of classes K.
        pretext_weight: weight of the pretext loss, >= 0.
        head_units: widths of the head's Dense layers.
        dropout: dropout rate of the head.
        name: model name.

    Example:
    >>> import keras_har
    >>> cpc = keras_har.ssl.CPC(keras_har.TinierHARBackbone(input_shape=(64, 3)), prediction_steps=4)
    >>> model = keras_har.ssl.PretextRegularizedClassifier(cpc, num_classes=3, pretext_weight=0.5)
    >>> model.classifier.output_shape
    (None, 3)
    """

    def __init__(self, pretext, num_classes, pretext_weight=1.0, head_units=HEAD_UNITS, dropout=0.2,
                 name="pretext_regularized_classifier", **kwargs):
        super().__init__(name=name, **kwargs)
        if not float(pretext_weight) >= 0:
            raise ValueError(f"`pretext_weight` must be >= 0. Received: pretext_weight={pretext_weight!r}")
        self.pretext = pretext
        self.num_classes = num_classes
        self.pretext_weight = float(pretext_weight)
        self.head_units = list(head_units)
        self.dropout = dropout
        self.classifier = classifier_on(pretext.feature_model(), num_classes, head_units=head_units, dropout=dropout,
                                        name="ssl_classifier_finetune")
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.pretext_tracker = keras.metrics.Mean(name="pretext_loss")
        self.built = True

    def call(self, windows, training=None):
        return self.classifier(windows, training=training)

    @property
    def inference_model(self):
        """The network a window runs through, the classifier: what `keras_har.profile` counts."""
        return self.classifier

    @property
    def metrics(self):
        return [self.loss_tracker, self.pretext_tracker]

    def train_step(self, data):
        windows, labels = data[:2]
        with tf.GradientTape() as tape:
            logits = self.classifier(windows, training=True)
            pretext_loss = self.pretext.pretext_loss(windows, training=True)
            loss = self.cross_entropy(labels, logits) + self.pretext_weight * pretext_loss
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])
        self.loss_tracker.update_state(loss)
        self.pretext_tracker.update_state(pretext_loss)
        return {"loss": self.loss_tracker.result(), "pretext_loss": self.pretext_tracker.result()}

    def test_step(self, data):
        # Validation scores the classifier alone: the loss early stopping
        # watches is the cross-entropy, not the pretext's.
        windows, labels = data[:2]
        loss = self.cross_entropy(labels, self.classifier(windows, training=False))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return {
            "pretext": keras.saving.serialize_keras_object(self.pretext),
            "num_classes": self.num_classes,
            "pretext_weight": self.pretext_weight,
            "head_units": self.head_units,
            "dropout": self.dropout,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["pretext"] = keras.saving.deserialize_keras_object(config["pretext"], custom_objects=custom_objects)
        return cls(**config)

