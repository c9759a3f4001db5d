"""Per-step time inside the project's training step (on_train_batch_start to _end) and between steps (Lightning's loop
and the next batch), model=fast at batch 256, 120 steps, 2 threads; medians after 20 steps. One-off probe of
2026-11-29 at commit c8b0e8a: inside 30.46 ms, between 0.55 ms (bench's bare loop, same hour: 26.7 ms a step).
Run from the project folder: .venv/bin/python outputs/results/v0.5.0/bench/step_gap.py
"""

import statistics as s
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import open_dict

from mnist_lightning.run.build import build_module, build_trainer

with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose(
        "bench",
        overrides=[
            "paths.output_dir=/tmp/profile_run",
            "model=fast",
            "data.batch_size=256",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=120",
            "trainer.limit_val_batches=0",
        ],
    )
torch.set_num_threads(2)


class Gap(pl.Callback):
    def __init__(self):
        self.inside, self.between, self.t = [], [], None

    def on_train_batch_start(self, *a):
        now = time.perf_counter()
        if self.t is not None:
            self.between.append(now - self.t)
        self.s = now

    def on_train_batch_end(self, *a):
        self.t = time.perf_counter()
        self.inside.append(self.t - self.s)


with open_dict(cfg):
    for n in ("last_checkpoint", "best_checkpoint"):
        cfg.callbacks.pop(n, None)
    cfg.trainer.enable_checkpointing = False
module, _ = build_module(cfg, verbose=False)
dm = instantiate(cfg.data)
g = Gap()
trainer = build_trainer(cfg, [g], dm.val_is_test)
print("threads", torch.get_num_threads())
trainer.fit(module, datamodule=dm)

print(
    "inside ms",
    round(1000 * s.median(g.inside[20:]), 2),
    "between ms",
    round(1000 * s.median(g.between[20:]), 2),
    "threads",
    torch.get_num_threads(),
)
