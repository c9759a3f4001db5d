"""cProfile of bench's project loop with Lightning's manual optimization (the variants.py patch), 600 steps."""
import cProfile, pstats, sys, collections
from pathlib import Path
import torch
from hydra import compose, initialize_config_dir
from mnist_lightning.model import lit_module as lm
from mnist_lightning.benchmarks.loops import project_loop
def training_step(self, batch, batch_idx):
    opt = self.optimizers()
    loss, _ = self._shared_step(batch, "train")
    opt.zero_grad()
    self.manual_backward(loss)
    opt.step()
    return loss
lm.MNISTLitModule.automatic_optimization = property(lambda self: False)
lm.MNISTLitModule.training_step = training_step
with initialize_config_dir(config_dir=str(Path("conf").resolve()), version_base="1.3"):
    cfg = compose("bench", overrides=["paths.output_dir=/tmp/probe/run", "warmup_steps=10", "steps=600"])
torch.set_num_threads(1)
f = lambda: project_loop(cfg, 28)
f()
p = cProfile.Profile(); p.enable(); f(); p.disable()
st = pstats.Stats(p); st.sort_stats("tottime")
agg = collections.Counter()
for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
    key = "builtin:" + fn if file == "~" else file.split("site-packages/")[-1].split("/")[0] + "/" + Path(file).name
    agg[key] += tt
for k, t in agg.most_common(30): print(f"{t:8.3f} {k}")
st.print_stats(40)
