"""Probe: the per-step self.log of the lr (step-interval schedulers) against none at all. V=base|nolr."""
import os, runpy, sys
from pathlib import Path
from mnist_lightning.model import lit_module as lm
if os.environ.get("V") == "nolr":
    lm.MNISTLitModule.on_train_batch_start = lambda self, batch, batch_idx: None
sys.argv = ["cpu_ab.py", *sys.argv[1:]]
# The measuring loop is the gap probe's (identical to the copy that made ab.txt).
runpy.run_path(str(Path(__file__).parent.parent / "gap_2026-11-29" / "cpu_ab.py"), run_name="__main__")
