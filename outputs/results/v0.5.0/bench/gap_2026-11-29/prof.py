import cProfile, pstats, os, sys
from pathlib import Path
import torch
from hydra import compose, initialize_config_dir
from mnist_lightning.benchmarks.loops import project_loop, bare_loop
from mnist_lightning.data.mnist import default_data_dir, load_normalized
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=600"])
torch.set_num_threads(1)
data = {s: load_normalized(default_data_dir(), train=s == "train") for s in ("train", "test")}
which = sys.argv[1]
f = (lambda: project_loop(cfg, 28)) if which == "project" else (lambda: bare_loop(cfg, 28, data, torch.device("cpu")))
f()
p = cProfile.Profile(); p.enable(); f(); p.disable()
st = pstats.Stats(p); st.sort_stats("tottime")
# Python-level time outside torch's C functions, grouped by package
import collections
agg = collections.Counter()
for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
    key = "builtin:" + fn if file == "~" else file.split("site-packages/")[-1].split("/")[0] + "/" + Path(file).name
    agg[key] += tt
for k, t in agg.most_common(40): print(f"{t:8.3f} {k}")
