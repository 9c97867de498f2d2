"""Argument checks shared by the model constructors.

Errors follow Keras's style: say what was expected, end with
``Received: name=value``.
"""

import numbers


def check_input_shape(input_shape):
    shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
    if (
        shape is None
        or len(shape) != 2
        or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise ValueError(
            "`input_shape` must be (window_length, channels): two positive integers. "
            f"Received: input_shape={input_shape!r}"
        )


def check_positive_int(name, value, minimum=1):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
