import os, runpy, sys
v = os.environ.get("V", "")
from mnist_lightning.model import lit_module as lm
if "nometrics" in v:
    import torch.nn.functional as F
    def _shared_step(self, batch, stage):
        images, labels = batch
        logits = self(images)
        return F.cross_entropy(logits, labels), logits
    lm.MNISTLitModule._shared_step = _shared_step
if v.startswith("only_"):
    keep = v[5:]
    import torch.nn.functional as F
    def _shared_step(self, batch, stage):
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        m = self.metrics[f"{stage}_"]
        if keep == "acc": m["acc"].update(logits.detach(), labels)
        if keep == "loss": m["loss"].update(loss.detach(), weight=labels.numel())
        if keep == "count": m["count"].update(labels.numel())
        return loss, logits
    lm.MNISTLitModule._shared_step = _shared_step
if "manual" in v:  # Lightning's manual optimization: no closure, fewer hooks (the scheduler is not stepped: a probe)
    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        loss, _ = self._shared_step(batch, "train")
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        return loss
    lm.MNISTLitModule.automatic_optimization = property(lambda self: False)
    lm.MNISTLitModule.training_step = training_step
sys.argv = ["cpu_ab.py", *sys.argv[1:]]
runpy.run_path(str(__import__("pathlib").Path(__file__).with_name("cpu_ab.py")), run_name="__main__")
