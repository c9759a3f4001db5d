"""The ranges of the numeric options users type most, as one-line messages. Torch-free, so the early check
(base/option_names.py) refuses `model.dropout=1.5` before torch loads (0.6 s instead of 7); the classes that take
these values check them again with the same functions, for the values the early check cannot see (`--config-name`,
an interpolation, a user's own config)."""


def unit_interval_error(key: str, value: object) -> str | None:
    """A number in [0, 1): a dropout or label-smoothing rate, an average's decay (Lightning takes 1, which keeps the
    first step's weights for good)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        return f"{key} must be a number in [0, 1), got {value!r}"
    return None


def dropout_error(value: object) -> str | None:
    return unit_interval_error("model.dropout", value)


def label_smoothing_error(value: object) -> str | None:
    return unit_interval_error("model.label_smoothing", value)


def ema_decay_error(value: object) -> str | None:
    return unit_interval_error("callbacks.ema.decay", value)


def positive_integer_error(key: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{key} must be a positive integer, got {value!r}"
    return None


MNIST_TRAINING_IMAGES = 60_000  # data/mnist.py's TRAIN_SIZE, named here without importing torch


def val_size_error(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MNIST_TRAINING_IMAGES:
        return f"data.val_size must be an integer in [0, {MNIST_TRAINING_IMAGES}), got {value!r}"
    return None


def max_epochs_error(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"trainer.max_epochs must be an integer of at least 1, got {value!r}"
    return None


def fast_dev_run_error(value: object) -> str | None:
    """Lightning's rule (the Trainer's _init_debugging_flags): true, false (or null) or a number of batches of each
    stage."""
    if value is not None and not isinstance(value, bool) and (not isinstance(value, int) or value < 0):
        return f"trainer.fast_dev_run must be true, false or a number of batches (like 5), got {value!r}"
    return None


def torch_threads_error(value: object) -> str | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        return f"torch_threads must be a positive integer or null, got {value!r}"
    return None


def batch_limit_error(key: str, value: object) -> str | None:
    """Lightning's rule for trainer.limit_*_batches (the Trainer's _determine_batch_limits): null (all), a share in
    [0.0, 1.0] or a whole number of batches. Its own message comes after the layer table, through Hydra's."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (value > 1 and value % 1):
        return f"{key} must be a share of the batches in [0.0, 1.0], a whole number of batches or null, got {value!r}"
    if value == 0 and key == "trainer.limit_train_batches":  # it "trained" 0 epochs and reported a test accuracy
        return f"{key}=0 trains nothing: give a share above 0 or a number of batches"
    if value == 0 and key == "trainer.limit_test_batches":  # Lightning then returns no results (an IndexError)
        return f"{key}=0 tests nothing: give a share above 0 or a number of batches (train: test=false skips the test)"
    return None


BATCH_LIMITS = [f"trainer.limit_{stage}_batches" for stage in ("train", "val", "test", "predict")]

RANGE_ERRORS = {  # option -> its message for a value out of range, or None
    "model.dropout": dropout_error,
    "model.label_smoothing": label_smoothing_error,
    "data.batch_size": lambda value: positive_integer_error("data.batch_size", value),
    "data.eval_batch_size": lambda value: positive_integer_error("data.eval_batch_size", value),
    "data.val_size": val_size_error,
    "callbacks.ema.decay": ema_decay_error,
    "callbacks.ema.update_every_n_steps": lambda value: positive_integer_error(
        "callbacks.ema.update_every_n_steps", value
    ),
    "trainer.max_epochs": max_epochs_error,
    "trainer.fast_dev_run": fast_dev_run_error,
    "torch_threads": torch_threads_error,
    **{key: lambda value, key=key: batch_limit_error(key, value) for key in BATCH_LIMITS},
}
