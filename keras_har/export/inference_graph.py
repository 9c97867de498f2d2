"""A batch-1 inference graph of a trained TinierHAR that converts to a small int8 TFLite model.

Keras's GRU either becomes a ``WHILE`` loop over a ``TensorList`` (which the
int8 converter rejects) or, unrolled, about 30 ops per step and direction,
because every step repeats the input projection, the gate splits and the
bias handling (``docs/toolchain.md``: 999 ops, 268 KB, 300 KB
arena). The recurrence here computes the same function from the same
weights with far fewer ops:

- The input projection ``x_t W + b`` of every step is one ``FULLY_CONNECTED``
  over the whole sequence, done once before the loop.
- The two directions of the BiGRU run as ONE recurrence: the state is
  ``[h_fwd, h_bwd]`` and the recurrent kernel is block-diagonal, so each step
  is one set of ops for both directions. The backward direction reads the
  time-reversed sequence, which is reversed once before the loop.
- The ``z`` and ``r`` gates share one ``ADD`` and one ``LOGISTIC``; the
  recurrent bias of ``z`` and ``r`` is folded into the input projection,
  where it is added once for all steps.

Each step is then 11 ops (2 ``FULLY_CONNECTED``, ``ADD``, ``LOGISTIC``,
``SPLIT``, ``MUL``, ``ADD``, ``TANH``, ``SUB``, ``MUL``, ``ADD``), 6 at the
first step, whose state is zero. Attention pooling is one ``BATCH_MATMUL``
(LiteRT's reference int8 ``SUM`` disagrees with TFLM's by up to ~120 LSB).

Even so, the unrolled BiGRU stays far above a 32 KB / 16 KB budget: TFLM
spends about 250 B of arena and the flatbuffer about 225 B per op
(``benchmarks/results/tflite.md``). TFLite has a fused LSTM op but no GRU op,
so ``recurrent="bilstm"`` is the variant that fits in flash.

The float graph equals the Keras model to float rounding; see
``tests/export/test_export.py`` (``test_rewritten_recurrence_equals_keras_in_float``).
"""

import numpy as np

from keras_har.backend import keras, tf
from keras_har.export.fused_gru import INPUT_MARKER, OUTPUT_MARKER

# "fused" (keras_har.export.fused_gru) traces as "merged"; convert_int8 then fuses it.
RECURRENCES = ("merged", "per_direction", "keras_unrolled")


def inference_function(model, *, recurrence="merged"):
    """Returns a ``tf.function`` for one window ``(1, T, C)`` -> logits ``(1, K)``.

    Args:
        model: a trained `keras_har.TinierHAR`. LSTMs are kept (they become
            TFLite's fused LSTM op) with only the attention pooling rewritten;
            models without a recurrent layer, or of another class, are traced
            as they are.
        recurrence: how a GRU/BiGRU is written out. ``"merged"`` (default):
            both directions in one recurrence, input projection hoisted out of
            the loop. ``"per_direction"``: the same, but one recurrence per
            direction. ``"keras_unrolled"``: Keras's own GRU with
            ``unroll=True``, for comparison.

    Returns:
        A ``tf.function`` with a fixed input signature ``(1, T, C)`` float32.

    Example:
    >>> import numpy as np, keras_har
    >>> from keras_har.export.inference_graph import inference_function
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4)
    >>> fn = inference_function(model)
    >>> fn(np.zeros((1, 32, 3), "float32")).shape
    TensorShape([1, 4])
    """
    if recurrence not in RECURRENCES:
        raise ValueError(f"`recurrence` must be one of {list(RECURRENCES)}. Received: recurrence={recurrence!r}")
    window_shape = tuple(model.input_shape[1:])
    spec = tf.TensorSpec((1, *window_shape), tf.float32, name="window")
    recurrent_kind = getattr(model, "recurrent", None)
    if recurrent_kind in ("lstm", "bilstm") and model.aggregation == "attention":
        # The LSTM converts to TFLite's fused int8 LSTM op as it is; only the
        # attention pooling is rewritten (one BATCH_MATMUL, see _aggregation).
        recurrent_part = keras.Model(model.inputs, model.get_layer("recurrent").output)
        attention = _aggregation("attention", model.get_layer("pooling"))
        kernel, bias = (tf.constant(w) for w in model.get_layer("logits").get_weights())

        def lstm_forward(window):
            sequence = recurrent_part(window, training=False)
            return tf.matmul(attention(tf.reshape(sequence, sequence.shape[1:])), kernel) + bias

        return tf.function(lstm_forward, input_signature=[spec], autograph=False)
    if recurrent_kind not in ("bigru", "gru"):
        # Nothing to rewrite: fixing the batch to 1 is all the converter needs.
        return tf.function(lambda window: model(window, training=False), input_signature=[spec], autograph=False)

    front = keras.Model(model.inputs, model.get_layer("dropout").output)
    recurrent_layer = model.get_layer("recurrent")
    pooling = model.get_layer("pooling")
    logits = model.get_layer("logits")
    if recurrence == "keras_unrolled":
        unrolled = _unrolled_copy(recurrent_layer, front.output_shape)

        # "last" aggregation crops the last step in a layer of its own before "pooling".
        between = [model.get_layer("last_step")] if model.aggregation == "last" else []

        def keras_tail(sequence):
            outputs = unrolled(sequence, training=False)
            for layer in between:
                outputs = layer(outputs)
            return logits(pooling(outputs, training=False))

        return tf.function(
            lambda window: keras_tail(front(window, training=False)), input_signature=[spec], autograph=False
        )

    cells = _gru_cells(recurrent_layer)
    if recurrence == "merged":
        recur = _merged_recurrence(cells)
    else:
        parts = [_merged_recurrence([cell]) for cell in cells]

        def recur(sequence):
            outputs = [parts[0](sequence)]
            if len(parts) == 2:
                backward = parts[1](tf.reverse(sequence, axis=[0]))
                outputs.append(tf.reverse(backward, axis=[0]))
            return tf.concat(outputs, axis=1) if len(outputs) == 2 else outputs[0]

    aggregate = _aggregation(model.aggregation, pooling)
    kernel, bias = (tf.constant(w) for w in logits.get_weights())

    def forward(window):
        sequence = front(window, training=False)
        # Named so that `keras_har.export.fused_gru.fuse_gru` finds the recurrence's boundaries.
        sequence = tf.reshape(sequence, sequence.shape[1:], name=INPUT_MARKER)
        features = aggregate(recur(sequence))
        return tf.matmul(features, kernel) + bias

    return tf.function(forward, input_signature=[spec], autograph=False)


def _unrolled_copy(layer, input_shape):
    config = layer.get_config()
    if isinstance(layer, keras.layers.Bidirectional):
        config["layer"]["config"]["unroll"] = True
        if config.get("backward_layer"):
            config["backward_layer"]["config"]["unroll"] = True
    else:
        config["unroll"] = True
    copy = layer.__class__.from_config(config)
    copy.build(input_shape)
    copy.set_weights(layer.get_weights())
    return copy


def _gru_cells(layer):
    """(kernel, recurrent_kernel, bias) per direction, forward first."""
    grus = [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) else [layer]
    cells = []
    for gru in grus:
        if not gru.reset_after:
            raise ValueError(
                "The int8 export rewrites GRUs with reset_after=True (TinierHAR's, PyTorch's "
                f"parameterisation). Received: reset_after={gru.reset_after!r}"
            )
        kernel, recurrent_kernel, bias = (np.asarray(w, "float32") for w in gru.get_weights())
        cells.append((kernel, recurrent_kernel, bias))
    return cells


def _merged_recurrence(cells):
    """Builds ``recur(sequence (T, D)) -> outputs (T, D_out)`` for 1 or 2 GRU directions.

    Columns of the merged gates are ordered ``[z_1..z_d, r_1..r_d]`` and
    ``[n_1..n_d]`` over directions ``d``, so one SPLIT separates z from r for
    all directions at once.
    """
    directions = len(cells)
    input_dim, units = cells[0][0].shape[0], cells[0][1].shape[0]
    state = directions * units
    # Keras's GRU column order is (z, r, h); bias row 0 is the input bias, row 1 the recurrent one.
    w_zr = np.zeros((directions * input_dim, 2 * state), "float32")
    w_n = np.zeros((directions * input_dim, state), "float32")
    b_zr = np.zeros((2 * state,), "float32")
    b_n = np.zeros((state,), "float32")
    u_zr = np.zeros((state, 2 * state), "float32")
    u_n = np.zeros((state, state), "float32")
    b_hn = np.zeros((state,), "float32")
    for d, (kernel, recurrent_kernel, bias) in enumerate(cells):
        rows = slice(d * input_dim, (d + 1) * input_dim)
        hidden = slice(d * units, (d + 1) * units)
        z_cols = slice(d * units, (d + 1) * units)
        r_cols = slice(state + d * units, state + (d + 1) * units)
        w_zr[rows, z_cols] = kernel[:, :units]
        w_zr[rows, r_cols] = kernel[:, units : 2 * units]
        w_n[rows, hidden] = kernel[:, 2 * units :]
        # z and r only ever see input and recurrent biases summed: add them once.
        b_zr[z_cols] = bias[0, :units] + bias[1, :units]
        b_zr[r_cols] = bias[0, units : 2 * units] + bias[1, units : 2 * units]
        b_n[hidden] = bias[0, 2 * units :]
        u_zr[hidden, z_cols] = recurrent_kernel[:, :units]
        u_zr[hidden, r_cols] = recurrent_kernel[:, units : 2 * units]
        u_n[hidden, hidden] = recurrent_kernel[:, 2 * units :]
        # The recurrent bias of n sits inside r * (...), so it stays per step.
        b_hn[hidden] = bias[1, 2 * units :]
    w_zr, w_n, b_zr, b_n, u_zr, u_n, b_hn = map(tf.constant, (w_zr, w_n, b_zr, b_n, u_zr, u_n, b_hn))

    def recur(sequence):
        steps = sequence.shape[0]
        inputs = sequence if directions == 1 else tf.concat([sequence, tf.reverse(sequence, axis=[0])], axis=1)
        # (T, 1, width) so that each unstacked step is a (1, width) row.
        gates_zr = tf.unstack(tf.reshape(tf.matmul(inputs, w_zr) + b_zr, (steps, 1, 2 * state)), axis=0)
        gates_n = tf.unstack(tf.reshape(tf.matmul(inputs, w_n) + b_n, (steps, 1, state)), axis=0)
        outputs = []
        for t in range(steps):
            # Unique op names per step: the converter matches calibration
            # statistics by name, and a clash leaves a float island
            # (DEQUANTIZE/QUANTIZE) in the graph.
            with tf.name_scope(f"gru_step_{t}"):
                if t == 0:
                    # The state starts at zero: no recurrent matmul. Written out
                    # rather than left to constant folding, which sometimes left
                    # a float SPLIT here.
                    z, r = tf.split(tf.sigmoid(gates_zr[0], name="sigmoid_zr"), 2, axis=1, name="split_zr")
                    n = tf.tanh(gates_n[0] + r * b_hn, name="tanh_n")
                    h = tf.subtract(n, z * n, name="state")
                else:
                    zr = tf.sigmoid(gates_zr[t] + tf.matmul(h, u_zr, name="hidden_zr"), name="sigmoid_zr")
                    z, r = tf.split(zr, 2, axis=1, name="split_zr")
                    n = tf.tanh(gates_n[t] + r * (tf.matmul(h, u_n, name="hidden_n") + b_hn), name="tanh_n")
                    h = tf.add(n, z * (h - n), name="state")
            outputs.append(h)
        # TFLM's CONCATENATION takes at most 10 inputs; PACK takes any number.
        if directions == 1:
            return tf.reshape(tf.stack(outputs, axis=0), (steps, state), name=OUTPUT_MARKER)
        outputs = tf.reshape(tf.stack(outputs, axis=0), (steps, state))
        # Step t of the backward direction belongs to time T-1-t.
        forward, backward = tf.split(outputs, 2, axis=1)
        return tf.concat([forward, tf.reverse(backward, axis=[0])], axis=1, name=OUTPUT_MARKER)

    return recur


def _aggregation(kind, pooling):
    if kind == "mean":
        return lambda outputs: tf.reduce_mean(outputs, axis=0, keepdims=True)
    if kind == "last":
        return lambda outputs: outputs[-1:]
    score_kernel, score_bias = (tf.constant(w) for w in pooling.get_weights())

    def attention(outputs):
        scores = tf.reshape(tf.matmul(outputs, score_kernel) + score_bias, (1, -1))
        weights = tf.reshape(tf.nn.softmax(scores, axis=1), (-1, 1))
        # One BATCH_MATMUL instead of MUL + SUM: one op fewer, and LiteRT's
        # reference int8 SUM kernel disagrees with TFLM's by up to ~200 LSB.
        return tf.matmul(weights, outputs, transpose_a=True)

    return attention
