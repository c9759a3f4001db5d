"""cProfile of bench's project loop with a 784x10 linear classifier (batch 28, 1 thread, 2,000 steps): where the
loop's own time goes. Prints own time per step of the top functions, and cumulative time of a few callers."""
import cProfile, pstats, sys
from pathlib import Path
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict
from mnist_lightning.base.nvml import skip_failing_nvml_check
from mnist_lightning.benchmarks.loops import project_loop
skip_failing_nvml_check()
STEPS = 2000
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", f"steps={STEPS}", *sys.argv[1:]])
with open_dict(cfg):
    cfg.model.net = OmegaConf.create({"_target_": "torch.nn.Sequential", "_args_": [
        {"_target_": "torch.nn.Flatten"}, {"_target_": "torch.nn.Linear", "in_features": 784, "out_features": 10}]})
torch.set_num_threads(1)
project_loop(cfg, 28)
p = cProfile.Profile(); p.enable(); project_loop(cfg, 28); p.disable()
st = pstats.Stats(p)
n = STEPS + 10
rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])
print("own us/step  calls/step  function")
for (file, line, fn), (cc, nc, tt, ct, callers) in rows[:40]:
    print(f"{1e6 * tt / n:9.1f}  {nc / n:9.1f}  {file.split('site-packages/')[-1]}:{line}({fn})")
print("\ncumulative us/step  calls/step  function")
rows = sorted(st.stats.items(), key=lambda kv: -kv[1][3])
for (file, line, fn), (cc, nc, tt, ct, callers) in rows[:70]:
    if nc >= n / 2:
        print(f"{1e6 * ct / n:9.1f}  {nc / n:9.1f}  {file.split('site-packages/')[-1]}:{line}({fn})")
