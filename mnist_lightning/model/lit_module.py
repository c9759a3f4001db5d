"""The LightningModule: loss, metrics, logging, optimizer + scheduler around a plain network."""

import logging
from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import Metric

from mnist_lightning.base.errors import UserError

log = logging.getLogger(__name__)
STAGES = ("train", "val", "test")


class EpochStats(Metric):
    """One stage's accuracy, mean loss and image count over an epoch, from one state: correct top-1 predictions,
    the batch losses weighted by their images, and the images.

    A torchmetrics Metric, so its state is summed over DDP processes, but one state updated in place rather than
    torchmetrics' MulticlassAccuracy, MeanMetric and SumMetric: each Metric update pays Python bookkeeping (with the
    hook-name shortcut below, 40% of what the project's loop added to a step; docs/speed.md, "What the project adds
    to a step"). The figures are theirs: micro accuracy is correct / images, the mean loss weighted by images, in
    float32.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("totals", default=torch.zeros(3), dist_reduce_fx="sum")  # correct, loss x images, images

    def _apply(self, fn: Callable, *args: object, **kwargs: object) -> Metric:
        # trainer.precision=bf16-true and 16-true convert the whole module with .to(dtype), which reaches metric states,
        # and 8 or 11 significant bits cannot count an epoch's images (bf16 stops at 8,192). The state follows the
        # module's device but stays float32.
        this = super()._apply(fn, *args, **kwargs)
        if this.totals.dtype in (torch.float16, torch.bfloat16):
            this.totals = this.totals.float()
            this._defaults["totals"] = this._defaults["totals"].float()  # what reset() restores
        return this

    def update(self, logits: Tensor, labels: Tensor, loss: Tensor) -> None:
        # No .item() and no input checks: nothing here waits for the device (a NaN loss shows as a NaN mean).
        dtype, images = self.totals.dtype, labels.numel()
        correct = (logits.argmax(dim=1) == labels).sum()
        # full_like fills on the device: a tensor made from the Python int would be a copy from the host.
        images_tensor = torch.full_like(correct, images, dtype=dtype)
        self.totals.add_(torch.stack([correct.to(dtype), loss.to(dtype) * images, images_tensor]))

    def compute(self) -> dict[str, Tensor]:
        correct, loss_sum, images = self.totals
        # An epoch of no images has accuracy 0, as torchmetrics' accuracy gave (and a NaN loss, as its mean did).
        return {"acc": correct / images.clamp_min(1), "loss": loss_sum / images, "count": images}


class MNISTLitModule(pl.LightningModule):
    """Trains a classifier with cross-entropy; logs `<stage>/loss`, `<stage>/acc` per epoch and the lr."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: dict,
        scheduler: dict | None = None,
        scheduler_interval: str = "epoch",
        num_classes: int = 10,  # unused since the epoch statistics need no class count; checkpoints store it
        val_is_test: bool = True,
        net_config: dict | None = None,
        channels_last: bool = False,
        compile: bool = False,
        label_smoothing: float = 0.0,
        teacher: nn.Module | None = None,
        distill_temperature: float = 4.0,
        distill_weight: float = 0.0,
        distill_teacher: str | None = None,
        held_out: int = 0,
    ) -> None:
        super().__init__()
        # Checkpoints hold only plain data, so torch's weights-only loader can open them: `net` is saved as
        # weights, `net_config` (its Hydra config) rebuilds it, and the optimizer and scheduler are kept as
        # their Hydra configs (dicts with `_partial_: true`), built in configure_optimizers.
        # `held_out` (data.val_size) and `distill_teacher` (the teacher's path) are saved to be checked: a resumed run
        # must keep them, and a teacher must have held out what its student holds out (run/build.py).
        self.save_hyperparameters(ignore=["net", "teacher"], logger=False)
        # Knowledge distillation (run/build.py: checked_distill): the teacher is set with object.__setattr__, so it is
        # not a submodule: not in parameters() (the optimizer, the budget), the state_dict (checkpoints) or
        # Lightning's train() at every epoch (it stays in eval mode). on_fit_start moves it to the student's device and
        # dtype, which Lightning sets only for submodules (trainer.precision=bf16-true, 64-true).
        object.__setattr__(self, "teacher", teacher.eval().requires_grad_(False) if teacher is not None else None)
        if channels_last:  # NHWC activations: faster convolutions and BatchNorm on the CPU (see README, bench)
            net = net.to(memory_format=torch.channels_last)
        if compile:  # in place, so the state_dict keys (and checkpoints) are those of the plain network
            net.compile()
        self.net = net
        # Keyed "<stage>_" because ModuleDict keys become attributes and `train` is a method.
        self.metrics = nn.ModuleDict({f"{stage}_": EpochStats() for stage in STAGES})
        self._step_lr: float | None = None  # a step schedule's lr of the current step (on_train_batch_start)

    # Lightning sets `_current_fx_name` (a hook's name, or None) around every hook it calls, some 45 times a training
    # step, and nn.Module's __setattr__ first checks whether each value is a parameter, module or buffer. For a name
    # that is none of them it ends in object.__setattr__, so that is called directly (with the fused EpochStats, 40% of
    # what the project's loop added to a step; docs/speed.md, "What the project adds to a step").
    def __setattr__(self, name: str, value: object) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """Loss and logits of one batch; updates the stage's epoch metrics."""
        images, labels = batch
        logits = self(images)
        # Label smoothing shapes training only: validation and test losses stay the plain cross-entropy.
        smoothing = self.hparams.label_smoothing if stage == "train" else 0.0
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        if stage == "train" and self.teacher is not None:
            loss = (1 - self.hparams.distill_weight) * loss + self.hparams.distill_weight * self._distill_loss(
                logits, images
            )
        self.metrics[f"{stage}_"].update(logits.detach(), labels, loss.detach())  # computed once per epoch
        return loss, logits

    def _distill_loss(self, logits: Tensor, images: Tensor) -> Tensor:
        """Hinton et al.'s distillation term: KL(teacher || student) of the scores softened by the temperature T,
        times T^2 so its gradients keep their size whatever T."""
        with torch.no_grad():
            teacher_logits = self.teacher(images)
        t = self.hparams.distill_temperature
        student, target = F.log_softmax(logits.float() / t, dim=1), F.log_softmax(teacher_logits.float() / t, dim=1)
        return F.kl_div(student, target, log_target=True, reduction="batchmean") * t * t

    def on_fit_start(self) -> None:
        if self.teacher is not None:
            self.teacher.to(device=self.device, dtype=next(self.net.parameters()).dtype)

    def on_train_start(self) -> None:
        # A resumed run's scheduler state comes from its checkpoint: a OneCycle schedule keeps the old run's length,
        # and would fail at its last step + 1 ("Tried to step 21 times") in a longer run, or end early in a shorter.
        scheduler = self.lr_schedulers()
        if self.trainer.ckpt_path is None or not isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
            return
        total_steps = scheduler.total_steps  # as the checkpoint restored it
        if total_steps != self.trainer.estimated_stepping_batches:
            raise UserError(
                f"the checkpoint's OneCycle schedule runs {total_steps} steps and this run has "
                f"{self.trainer.estimated_stepping_batches}: resume it with its run's trainer.max_epochs and batch "
                "settings (a OneCycle schedule is fixed to its run's length), or train a new run"
            )

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, _ = self._shared_step(batch, "train")
        return loss  # the progress bar shows it (run/callbacks.py: EpochProgressBar), with no per-step self.log

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")[1]  # logits, for the TestDiagnostics callback

    def _log_epoch(self, stage: str) -> dict[str, float]:
        """Compute, log and reset one stage's metrics; return them as floats."""
        metrics = self.metrics[f"{stage}_"]
        values = {name: value.item() for name, value in metrics.compute().items()}
        metrics.reset()
        self.log_dict({f"{stage}/{name}": values[name] for name in ("loss", "acc")}, prog_bar=stage != "train")
        # How many images the epoch scored, summed over all processes: metrics.json shows it to prove the
        # sharding (60,000 per training epoch, each of the 10,000 test images once). Not a curve, so no logger.
        self.log(f"{stage}/images", values["count"], logger=False)
        return values

    # The lr is logged here rather than by Lightning's LearningRateMonitor, which names an optimizer without a
    # scheduler "lr-Adam" instead of train/lr.
    def on_train_epoch_start(self) -> None:
        if self.hparams.scheduler_interval == "epoch":  # one lr per epoch
            self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])

    # A step schedule (e.g. OneCycle) changes the lr every step. Lightning writes step values to the loggers only on
    # some steps (every trainer.log_every_n_steps, and the step where training is told to stop), so the lr is logged on
    # those steps only: a self.log cost about 0.28 ms a call (1 thread; outputs/results/v0.5.0/bench/lrlog_2026-11-29),
    # and 49 of every 50 values were never written. It is read before the step (the scheduler steps after it) and
    # logged after it, when the callbacks have run and should_update_logs, the test Lightning makes before writing,
    # also knows whether one of them stopped training.
    def on_train_batch_start(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        if self.hparams.scheduler_interval == "step":
            self._step_lr = self.trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_batch_end(self, outputs: object, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        trainer = self.trainer
        if self.hparams.scheduler_interval == "step" and (
            trainer._logger_connector.should_update_logs or trainer.fast_dev_run
        ):
            self.log("train/lr", self._step_lr, on_step=True, on_epoch=False)

    def on_train_epoch_end(self) -> None:
        values = self._log_epoch("train")
        if not self.trainer.enable_validation:  # experiment=fast: no validation line, so say how training went
            self._print_line(f"Epoch {self.current_epoch + 1}: train", values)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:  # the 2-batch check before training is not an epoch
            self.metrics["val_"].reset()
            return
        values = self._log_epoch("val")
        name = "test" if self.hparams.val_is_test else "val"
        self._print_line(f"Epoch {self.current_epoch + 1}: {name}", values)

    def on_test_epoch_end(self) -> None:
        values = self._log_epoch("test")
        self._print_line("Test", values)

    def _print_line(self, prefix: str, values: dict[str, float]) -> None:
        """The seed's summary line: `Epoch 7: test loss 0.0201, accuracy 9924/10000 (99.24%)`, logged by rank 0.

        Logged, not printed, so that the run folder's train.log holds the lines the terminal shows.
        """
        if not self.trainer.is_global_zero:
            return
        count = round(values["count"])
        correct = round(values["acc"] * count)
        log.info(f"{prefix} loss {values['loss']:.4f}, accuracy {correct}/{count} ({100 * values['acc']:.2f}%)")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The Trainer's precision changes the numbers (bf16-mixed): evaluate uses the run's own again.
        checkpoint["precision"] = str(self.trainer.precision)

    def configure_optimizers(self) -> dict:
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        if not self.hparams.scheduler:
            return {"optimizer": optimizer}
        make_scheduler = instantiate(self.hparams.scheduler)
        interval = self.hparams.scheduler_interval
        if interval == "step":  # e.g. OneCycleLR: its length is the run's number of optimizer steps
            total_steps = self.trainer.estimated_stepping_batches
            if warm_up_is_one_step(self.hparams.scheduler, total_steps):
                raise UserError(
                    f"the scheduler's warm-up would be a single step of the run's {total_steps}: "
                    "train for more steps or change scheduler.pct_start"
                )
            scheduler = make_scheduler(optimizer=optimizer, total_steps=total_steps)
        else:
            scheduler = make_scheduler(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}


def warm_up_is_one_step(scheduler: dict, total_steps: int) -> bool:
    """Whether OneCycleLR's warm-up (`pct_start` x `total_steps`) is exactly one step, where torch 2.14 divides by
    the warm-up's length minus one step (ZeroDivisionError). False for schedulers without `pct_start`."""
    return float((scheduler.get("pct_start") or 0) * total_steps) == 1.0


def exponential_lambda(optimizer: Optimizer, gamma: float = 0.85) -> torch.optim.lr_scheduler.LambdaLR:
    """The seed's schedule: LambdaLR with `lambda epoch: gamma ** epoch`, stepped once per epoch."""
    if not 0 < gamma <= 1:
        raise UserError(f"scheduler.gamma must be in (0, 1], got {gamma}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: gamma**epoch)
