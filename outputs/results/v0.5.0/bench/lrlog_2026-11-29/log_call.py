"""Probe: what one step's self.log("train/lr", on_step=True) costs inside a real fit (1 thread, process CPU time).

At the third training step a callback calls the module's self.log exactly as on_train_batch_start does, 2,000
times, and prints the CPU time per call; medians of 5 such fits. Run from the project folder:
  .venv/bin/python outputs/results/v0.5.0/bench/lrlog_2026-11-29/log_call.py
"""
import statistics
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mnist_lightning.run.build import build_module, build_trainer

torch.set_num_threads(1)
CALLS = 2000


class TimeLog(pl.Callback):
    def __init__(self):
        self.us = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 2:
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            start = time.process_time()
            for _ in range(CALLS):
                module.log("train/lr", lr, on_step=True, on_epoch=False)
            self.us = (time.process_time() - start) / CALLS * 1e6


with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("train", overrides=["paths.output_dir=/tmp/probe_log", "scheduler=onecycle",
                                      "trainer.max_epochs=1", "trainer.limit_train_batches=8",
                                      "trainer.limit_val_batches=0", "+trainer.enable_checkpointing=false",
                                      "~callbacks.last_checkpoint", "~callbacks.best_checkpoint"])
results = []
for _ in range(5):
    module, _ = build_module(cfg, verbose=False)
    clock = TimeLog()
    datamodule = instantiate(cfg.data)
    trainer = build_trainer(cfg, [clock], datamodule.val_is_test)
    trainer.fit(module, datamodule=datamodule)
    results.append(clock.us)
print(f"torch {torch.__version__}, pytorch-lightning {pl.__version__}, 1 thread: self.log of the lr, "
      f"{statistics.median(results):.0f} us a call (median of 5 fits: {', '.join(f'{r:.0f}' for r in results)})")
