"""The TensorBoard logger: Lightning's, opening on the curves a user came for."""

from typing import Any

from pytorch_lightning.loggers import TensorBoardLogger

# CUSTOM SCALARS (tags are regular expressions there): loss and accuracy of training and validation on one chart
# each (val is the test set when data.val_size=0), and the learning rate. SCALARS draws each tag on its own card.
LAYOUT = {
    "curves": {
        "loss (train, val)": ["Multiline", ["^train/loss$", "^val/loss$"]],
        "accuracy (train, val)": ["Multiline", ["^train/acc$", "^val/acc$"]],  # not val/acc_best
        "learning rate": ["Multiline", ["^train/lr$"]],
    }
}


class CurvesTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoardLogger with a custom-scalars layout of the curves, and without the `epoch` scalar
    Lightning adds to every write (it drew a staircase as the first card of the SCALARS tab)."""

    layout_written = False

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        # Lightning calls this as fit and test start (log_hyperparams only when the module logs its hparams).
        super().log_graph(model, input_array)
        if not self.layout_written:
            self.experiment.add_custom_scalars(LAYOUT)
            self.layout_written = True

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics({name: value for name, value in metrics.items() if name != "epoch"}, step)
