"""Probe: per-step process CPU time (not wall: the machine is busy) of bench's project and bare loops, 1 thread."""
import sys, time, statistics
from pathlib import Path
import torch
time.perf_counter = time.process_time  # CPU time of this process: robust to other processes on the cores
from hydra import compose, initialize_config_dir
from mnist_lightning.benchmarks import loops
from mnist_lightning.data.mnist import default_data_dir, load_normalized
bs = int(sys.argv[1]) if len(sys.argv) > 1 else 28
extra = sys.argv[2:]
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=300", *extra])
torch.set_num_threads(1)
dev = torch.device("cpu")
data = {s: load_normalized(default_data_dir(), train=s == "train") for s in ("train", "test")}
res = {"project": [], "bare": []}
for r in range(5):
    res["project"].append(loops.project_loop(cfg, bs)[0])
    res["bare"].append(loops.bare_loop(cfg, bs, data, dev)[0])
p, b = statistics.median(res["project"]), statistics.median(res["bare"])
print(f"batch {bs}: project {p:.0f} bare {b:.0f} img/cpu-s; project/bare {p/b:.3f}; per-step ms project {1000*bs/p:.3f} bare {1000*bs/b:.3f} gap {1000*bs/p-1000*bs/b:.3f}")
print(res)
