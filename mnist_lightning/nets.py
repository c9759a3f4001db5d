"""The networks: plain torch.nn modules (no Lightning here)."""

from torch import Tensor, nn

from mnist_lightning.errors import UserError


def check_dropout(dropout: float) -> float:
    """Refuse a dropout probability outside [0, 1) with one clear line."""
    if not 0 <= dropout < 1:
        raise UserError(f"model.dropout must be in [0, 1), got {dropout}")
    return dropout


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, dropout: float = 0.0) -> nn.Sequential:
    """Conv2d (no padding) -> ReLU -> BatchNorm2d, then Dropout when `dropout` > 0."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size),
        nn.ReLU(),
        nn.BatchNorm2d(out_channels),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ReferenceNet(nn.Module):
    """The seed's 17,216-parameter CNN: two conv blocks with a MaxPool + 1x1 transition, GAP, one Linear.

    Dropout follows every BatchNorm except before the MaxPool, after the 1x1 channel-reducing
    convolutions, and before the output layer (the seed's rules).
    """

    def __init__(self, dropout: float = 0.05, num_classes: int = 10) -> None:
        super().__init__()
        check_dropout(dropout)
        self.features = nn.Sequential(
            # block 1: (B, 1, 28, 28) -> (B, 24, 22, 22)
            conv_block(1, 16, dropout=dropout),
            conv_block(16, 20, dropout=dropout),
            conv_block(20, 24),
            # transition: (B, 24, 22, 22) -> (B, 10, 11, 11)
            nn.MaxPool2d(2),
            conv_block(24, 10, kernel_size=1),
            # block 2: (B, 10, 11, 11) -> (B, 16, 5, 5)
            conv_block(10, 16, dropout=dropout),
            conv_block(16, 20, dropout=dropout),
            conv_block(20, 24, dropout=dropout),
            conv_block(24, 16, kernel_size=1),
        )
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 28, 28) normalized images -> (B, num_classes) logits."""
        x = self.features(x)  # (B, 16, 5, 5)
        x = x.mean(dim=(2, 3))  # global average pooling -> (B, 16)
        return self.classifier(x)
