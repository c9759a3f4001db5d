"""The ranges of the numeric options users type most, as one-line messages. Torch-free, so the early check
(base/option_names.py) refuses `model.dropout=1.5` before torch loads (0.6 s instead of 7); the classes that take
these values check them again with the same functions, for the values the early check cannot see (`--config-name`,
an interpolation, a user's own config)."""


def dropout_error(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        return f"model.dropout must be in [0, 1), got {value}"
    return None


def label_smoothing_error(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        return f"model.label_smoothing must be a number in [0, 1), got {value!r}"
    return None


def positive_integer_error(key: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{key} must be a positive integer, got {value!r}"
    return None


RANGE_ERRORS = {  # option -> its message for a value out of range, or None
    "model.dropout": dropout_error,
    "model.label_smoothing": label_smoothing_error,
    "data.batch_size": lambda value: positive_integer_error("data.batch_size", value),
    "data.eval_batch_size": lambda value: positive_integer_error("data.eval_batch_size", value),
}
