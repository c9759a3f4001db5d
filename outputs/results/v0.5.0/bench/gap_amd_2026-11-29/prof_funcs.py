"""cProfile of bench's project loop (reference net, batch 28, 1 thread, 600 steps after a warm-up run): the
functions outside torch's kernels with the most own time, per step. `python prof_funcs.py [overrides...]`."""
import cProfile, pstats, sys
from pathlib import Path
import torch
from hydra import compose, initialize_config_dir
from mnist_lightning.benchmarks.loops import project_loop
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=600", *sys.argv[1:]])
torch.set_num_threads(1)
project_loop(cfg, 28)
p = cProfile.Profile(); p.enable(); project_loop(cfg, 28); p.disable()
st = pstats.Stats(p)
rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])
print("own ms/step  calls/step  function")
for (file, line, fn), (cc, nc, tt, ct, callers) in rows[:45]:
    where = file.split("site-packages/")[-1]
    print(f"{1000 * tt / 610:9.4f}  {nc / 610:9.1f}  {where}:{line}({fn})")
