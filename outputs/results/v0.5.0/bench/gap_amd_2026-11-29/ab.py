"""Probe: per-step process CPU time of bench's project and bare loops, 1 thread, variants interleaved.

`python ab.py BATCH STEPS REPEATS variant,variant,... [overrides...]` from the project folder. A variant named
`linear...` swaps the network for a 784x10 linear classifier, so the loop's own cost per step is most of the step. Each repeat runs the
project loop once per variant, then the bare loop, in that order; medians over repeats. Variants patch the code in
this process only (a probe): `base` is the code as committed.
"""
import statistics, sys, time
from pathlib import Path

import torch

time.perf_counter = time.process_time  # CPU time of this process: robust to other work on the other core
from hydra import compose, initialize_config_dir

from mnist_lightning.base.nvml import skip_failing_nvml_check
from mnist_lightning.benchmarks import loops
from mnist_lightning.data.mnist import default_data_dir, load_normalized
from mnist_lightning.model import lit_module as lm

skip_failing_nvml_check()  # as every command does
batch, steps, repeats, variants = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", f"steps={steps}", *sys.argv[5:]])
if "linear" in sys.argv[4]:  # a 784x10 linear classifier: the step's compute is small, the loop's overhead shows
    from omegaconf import OmegaConf, open_dict
    with open_dict(cfg):
        cfg.model.net = OmegaConf.create({"_target_": "torch.nn.Sequential", "_args_": [
            {"_target_": "torch.nn.Flatten"}, {"_target_": "torch.nn.Linear", "in_features": 784, "out_features": 10}]})
torch.set_num_threads(1)
data = {s: load_normalized(default_data_dir(), train=s == "train") for s in ("train", "test")}

original_setattr = lm.MNISTLitModule.__setattr__
def patch(variant: str) -> None:
    lm.MNISTLitModule.__setattr__ = original_setattr
    if "fastfx" in variant:  # Lightning's per-hook _current_fx_name set without nn.Module's checks
        def fast(self, name, value):
            if name == "_current_fx_name":
                object.__setattr__(self, name, value)
            else:
                original_setattr(self, name, value)
        lm.MNISTLitModule.__setattr__ = fast

times = {v: [] for v in [*variants, "bare"]}
def project(v: str) -> float:
    patch(v)
    return 1000 * batch / loops.project_loop(cfg, batch)[0]  # ms per step

def bare() -> float:
    return 1000 * batch / loops.bare_loop(cfg, batch, data, torch.device("cpu"))[0]

for r in range(repeats):  # the bare loop first in odd repeats, last in even ones
    if r % 2:
        times["bare"].append(bare())
    for v in variants:
        times[v].append(project(v))
    if not r % 2:
        times["bare"].append(bare())
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"batch {batch} {k:12s} {v:7.3f} ms/step  gap {v - med['bare']:+.3f}  project/bare {med['bare'] / v:.3f}  "
          f"({' '.join(f'{t:.2f}' for t in times[k])})")
