"""After testing: the HPARAMS entry, the confusion matrix and misclassified digits, for TensorBoard, MLflow and the
terminal."""

import matplotlib

matplotlib.use("Agg")  # figures are rendered to images, never shown on a screen

import matplotlib.pyplot as plt
import numpy as np
import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure
from pytorch_lightning.loggers import MLFlowLogger, TensorBoardLogger
from torch import Tensor
from torch.utils.tensorboard.summary import hparams as hparams_summary
from torchmetrics.classification import MulticlassConfusionMatrix

from mnist_lightning.data.mnist import denormalize


class TestDiagnostics(pl.Callback):
    """Accumulates the test confusion matrix and the first misclassified digits; logs both as images."""

    def __init__(self, num_classes: int = 10, max_misclassified: int = 36) -> None:
        self.num_classes, self.max_misclassified = num_classes, max_misclassified
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)  # rows: true, columns: predicted
        self.misclassified: list[tuple[Tensor, int, int]] = []  # (image (1, 28, 28), true, predicted)
        # torchmetrics gathers every DDP process's counts in compute(); validate_args off: no host sync per batch.
        self._counts = MulticlassConfusionMatrix(num_classes, validate_args=False)

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._counts = self._counts.to(pl_module.device)
        self._counts.reset()
        self.misclassified = []

    def on_test_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor, batch, batch_idx: int, *args
    ) -> None:
        images, labels = batch
        preds = outputs.argmax(dim=1)  # test_step returns the logits
        self._counts.update(preds, labels)
        if len(self.misclassified) < self.max_misclassified:  # test only, so the host sync here costs little
            wrong = (preds != labels).nonzero().flatten()[: self.max_misclassified - len(self.misclassified)]
            self.misclassified += [(images[i].cpu(), int(labels[i]), int(preds[i])) for i in wrong]

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.confusion = self._counts.compute().cpu()  # all ranks' images
        figures = {"confusion_matrix": confusion_figure, "misclassified": misclassified_figure}
        inputs = {"confusion_matrix": self.confusion, "misclassified": self.misclassified}
        for logger in trainer.loggers:
            for name, draw in figures.items():
                if isinstance(logger, TensorBoardLogger):  # closes the figure itself
                    logger.experiment.add_figure(f"test/{name}", draw(inputs[name]), trainer.global_step)
                elif isinstance(logger, MLFlowLogger):  # an artifact of the run, test/<name>.png
                    figure = draw(inputs[name])
                    logger.experiment.log_figure(logger.run_id, figure, f"test/{name}.png")
                    plt.close(figure)

    def per_class_accuracy(self) -> Tensor:
        """Accuracy of each true class, (num_classes,)."""
        return self.confusion.diag() / self.confusion.sum(dim=1).clamp(min=1)


def confusion_figure(confusion: Tensor) -> Figure:
    """The confusion matrix with counts in every cell; rows are true digits, columns predicted ones."""
    fig, ax = plt.subplots(figsize=(6, 6))
    counts = confusion.numpy()
    ax.imshow(np.log1p(counts), cmap="Blues")  # log scale: the diagonal would hide every mistake
    for (true, pred), count in np.ndenumerate(counts):
        ax.text(
            pred, true, str(count), ha="center", va="center", fontsize=7, color="white" if true == pred else "black"
        )
    ax.set(xlabel="predicted", ylabel="true", xticks=range(len(counts)), yticks=range(len(counts)))
    ax.set_title("test confusion matrix")
    fig.tight_layout()
    return fig


def misclassified_figure(samples: list[tuple[Tensor, int, int]]) -> Figure:
    """A grid of misclassified digits, each captioned `true -> predicted`.

    One image on one axes, not an axes per digit: with 36 matplotlib subplots experiment=fast_v2's final test took
    1.56 s, with this 0.72 s (seed 1, one run each).
    """
    columns, cell, caption = 6, 32, 12  # a cell: the 28 x 28 digit with a 2-pixel margin, under a 12-pixel caption
    rows = max(1, -(-len(samples) // columns))
    # Laid out by hand rather than with torchvision's make_grid, which leaves no strip for the captions.
    canvas = np.ones((rows * (caption + cell), columns * cell))  # white between the digits
    fig, ax = plt.subplots(figsize=(columns * 1.1, rows * 1.5))
    for i, (image, true, pred) in enumerate(samples):
        top, left = (i // columns) * (caption + cell) + caption, (i % columns) * cell
        canvas[top + 2 : top + 30, left + 2 : left + 30] = denormalize(image[0]).numpy()
        ax.text(left + cell / 2, top - 1, f"{true} -> {pred}", ha="center", va="bottom", fontsize=9)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title("misclassified test digits (true -> predicted)", fontsize=10)
    fig.tight_layout()
    return fig


def log_hparams(trainer: pl.Trainer, hparams: dict[str, object], metrics: dict[str, float]) -> None:
    """Fill TensorBoard's HPARAMS tab: this run's settings and its final metrics, so a sweep can be sorted.

    Written by hand rather than with `TensorBoardLogger.log_hyperparams(params, metrics)`, which would
    log the metrics a second time at step 0; the tab reads their values from the scalars of the same tags.
    """
    if not trainer.is_global_zero:  # other DDP processes hold a dummy writer: only rank 0 writes events
        return
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            for name, value in metrics.items():
                if name not in trainer.callback_metrics:
                    logger.experiment.add_scalar(name, value, trainer.global_step)
            # Private, kept on purpose: Lightning closes the writer after testing, which sets the public
            # `file_writer` to None; `_get_file_writer()` reopens it (the only way without logging the metrics twice).
            writer = logger.experiment._get_file_writer()
            for summary in hparams_summary(hparams, metrics):
                writer.add_summary(summary)
            # One value each: a table reads better than a scalar card with a single point (kept for HPARAMS).
            rows = "".join(f"| {name} | {value:.4f} |\n" for name, value in metrics.items())
            logger.experiment.add_text("results", f"| final | value |\n|---|---|\n{rows}", trainer.global_step)
            logger.experiment.flush()
