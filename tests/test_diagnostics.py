"""The test diagnostics' figures: every misclassified digit drawn where its caption says."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from mnist_lightning.data.mnist import denormalize
from mnist_lightning.run.diagnostics import confusion_figure, misclassified_figure


def test_misclassified_grid_puts_each_digit_under_its_caption():
    generator = torch.Generator().manual_seed(0)
    samples = [(torch.randn(1, 28, 28, generator=generator), i % 10, (i + 3) % 10) for i in range(8)]
    figure = misclassified_figure(samples)
    (ax,) = figure.axes  # one image on one axes (drawing 36 subplots was a third of a fast test pass)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 44, 6 * 32)  # 8 digits: two rows of six cells (12-pixel caption + 32-pixel cell)
    captions = list(ax.texts)
    assert [text.get_text() for text in captions] == [f"{i % 10} -> {(i + 3) % 10}" for i in range(8)]
    for i, (image, _, _) in enumerate(samples):
        top, left = (i // 6) * 44 + 12, (i % 6) * 32
        assert np.allclose(canvas[top + 2 : top + 30, left + 2 : left + 30], denormalize(image[0]).numpy())
        x, y = captions[i].get_position()  # centred over its digit, just above it
        assert left < x < left + 32 and top - 12 < y < top + 2
    assert np.all(canvas[44:, 2 * 32 :] == 1)  # the empty cells of the last row stay white
    plt.close(figure)
    empty = misclassified_figure([])  # a perfect test: an empty grid, not an error
    assert empty.axes[0].images[0].get_array().shape == (44, 6 * 32)
    plt.close(empty)
    confusion = confusion_figure(torch.eye(10, dtype=torch.long) * 7)
    assert [t.get_text() for t in confusion.axes[0].texts][:11] == ["7"] + ["0"] * 9 + ["0"]
    plt.close(confusion)
