"""Which overrides and config keys change what a run trains. A resumed run and a resumed search compare these; folders,
loggers, callbacks (but callbacks.ema), threads and how often things are printed may differ freely. Light: the
sweeper imports it."""

# Config sections and group choices that decide what is trained and how it is scored.
TRAINING_SETTINGS = ("seed", "data", "model", "optimizer", "scheduler", "distill", "trainer", "experiment",
                     "hparams_search", "optimized_metric", "test")  # fmt: skip
# Keys inside those sections that change only what is printed, evaluated in bigger batches, or how files are written.
NOT_TRAINING = ("data.eval_batch_size", "data.download", "trainer.log_every_n_steps", "trainer.enable_model_summary",
                "trainer.enable_progress_bar", "trainer.plugins")  # fmt: skip


# Callbacks that change the weights a run validates, tests and saves (experiment=nano_ema's moving average).
TRAINING_CALLBACKS = ("callbacks.ema",)


def is_training_setting(key: str) -> bool:
    """Whether `key` (a dotted config key, or an override's key such as `+model.x`, `data/augment`) is one of them."""
    key = key.lstrip("+~")
    if key in TRAINING_CALLBACKS or key.startswith(tuple(f"{name}." for name in TRAINING_CALLBACKS)):
        return True
    section = key.split(".")[0].split("/")[0]
    return section in TRAINING_SETTINGS and not key.endswith("_dir") and not key.startswith(NOT_TRAINING)
