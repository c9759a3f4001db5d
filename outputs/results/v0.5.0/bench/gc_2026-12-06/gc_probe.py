"""Probe: Python's cyclic GC during bench's project and bare loops (collections per step and their CPU time)."""
import gc, sys, time, statistics
from pathlib import Path
import torch
time.perf_counter = time.process_time
from hydra import compose, initialize_config_dir
from mnist_lightning.benchmarks import loops
from mnist_lightning.data.mnist import default_data_dir, load_normalized
bs = int(sys.argv[1]) if len(sys.argv) > 1 else 28
freeze = "freeze" in sys.argv
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=300"])
torch.set_num_threads(1)
dev = torch.device("cpu")
data = {s: load_normalized(default_data_dir(), train=s == "train") for s in ("train", "test")}
stats = {}
cur = [None]
t0 = [0.0]
def cb(phase, info):
    if cur[0] is None: return
    if phase == "start": t0[0] = time.process_time()
    else:
        s = stats.setdefault(cur[0], {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]})
        s[info["generation"]][0] += 1; s[info["generation"]][1] += time.process_time() - t0[0]
gc.callbacks.append(cb)
res = {"project": [], "bare": []}
for r in range(3):
    if freeze: gc.collect(); gc.freeze()
    cur[0] = f"project{r}"; res["project"].append(loops.project_loop(cfg, bs)[0])
    cur[0] = f"bare{r}"; res["bare"].append(loops.bare_loop(cfg, bs, data, dev)[0])
    cur[0] = None
for k, v in stats.items(): print(k, {g: (n, round(t * 1000, 1)) for g, (n, t) in v.items()})
print(res, "gc objects", len(gc.get_objects()), "frozen", gc.get_freeze_count())
