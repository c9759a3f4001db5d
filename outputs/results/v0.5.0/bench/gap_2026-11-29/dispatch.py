"""Probe (2026-11-29, sixth session): what one dispatch of a Lightning hook costs inside a real fit (1 thread, process
CPU time, 2,000 calls at the fourth step): to the callbacks (bench's set, then train's), to the module, and the
`_current_fx_name` attribute Lightning sets around each. Run from the project folder:
  .venv/bin/python outputs/results/v0.5.0/bench/gap_2026-11-29/dispatch.py"""
import time, statistics
from pathlib import Path
import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer import call
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from mnist_lightning.run.build import build_module, build_trainer
torch.set_num_threads(1)
N = 2000
class T(pl.Callback):
    res = {}
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx != 3: return
        opt = trainer.optimizers[0]
        for hook, args in [("on_before_zero_grad", (opt,)), ("on_train_batch_end", None)]:
            if hook == "on_train_batch_end": continue
            s = time.process_time()
            for _ in range(N): call._call_callback_hooks(trainer, hook, opt)
            self.res["callback dispatch " + hook] = (time.process_time() - s) / N * 1e6
        s = time.process_time()
        for _ in range(N): call._call_lightning_module_hook(trainer, "on_before_zero_grad", opt)
        self.res["module hook dispatch"] = (time.process_time() - s) / N * 1e6
        s = time.process_time()
        for _ in range(N): module._current_fx_name = "x"
        self.res["_current_fx_name set"] = (time.process_time() - s) / N * 1e6
        print([type(c).__name__ for c in trainer.callbacks])
for name, extra in [("bench-like", ["~callbacks.last_checkpoint", "~callbacks.best_checkpoint", "+trainer.enable_checkpointing=false"]), ("train", [])]:
    with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
        cfg = compose("train", overrides=["paths.output_dir=/tmp/probe_disp", "trainer.max_epochs=1", "trainer.limit_train_batches=5", "trainer.limit_val_batches=0", *extra])
    module, _ = build_module(cfg, verbose=False)
    dm = instantiate(cfg.data)
    trainer = build_trainer(cfg, [T()], dm.val_is_test)
    trainer.fit(module, datamodule=dm)
    print(name, {k: round(v, 1) for k, v in T.res.items()}, "us")
