import cProfile, pstats, sys
from pathlib import Path
import torch
from hydra import compose, initialize_config_dir
from mnist_lightning.benchmarks.loops import project_loop
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=600"])
torch.set_num_threads(1)
project_loop(cfg, 28)
p = cProfile.Profile(); p.enable(); project_loop(cfg, 28); p.disable()
st = pstats.Stats(p)
st.sort_stats("tottime").print_callers(r"parameter.py.*instancecheck|module.py.*__setattr__|contextlib.py.*(__enter__|__exit__)")
