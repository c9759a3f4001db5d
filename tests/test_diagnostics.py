"""The test diagnostics' figures: every misclassified digit drawn where its caption says, every count in its cell."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from mnist_lightning.data.mnist import denormalize
from mnist_lightning.run.diagnostics import confusion_figure, misclassified_figure

CELL, CAPTION = 32, 12  # a cell: the 28 x 28 digit with a 2-pixel margin, under a 12-pixel caption


def test_misclassified_grid_puts_each_digit_under_its_caption():
    generator = torch.Generator().manual_seed(0)
    samples = [(torch.randn(1, 28, 28, generator=generator), i % 10, (i + 3) % 10) for i in range(36)]
    for count, rows in ((36, 6), (8, 2), (6, 1), (0, 1)):  # 36: what the callback keeps; 0: a perfect test
        figure = misclassified_figure(samples[:count])
        (ax,) = figure.axes  # one image on one axes (drawing 36 subplots was about half of a fast_v2 test pass)
        canvas = ax.images[0].get_array()
        assert canvas.shape == (rows * (CAPTION + CELL), 6 * CELL)
        captions = list(ax.texts)
        assert [text.get_text() for text in captions] == [f"{i % 10} -> {(i + 3) % 10}" for i in range(count)]
        white = np.ones(canvas.shape, dtype=bool)  # everything but the digits stays white
        for i, (image, _, _) in enumerate(samples[:count]):
            top, left = (i // 6) * (CAPTION + CELL) + CAPTION, (i % 6) * CELL
            digit = (slice(top + 2, top + 30), slice(left + 2, left + 30))
            assert np.allclose(canvas[digit], denormalize(image[0]).numpy())
            white[digit] = False
            x, y = captions[i].get_position()  # centred over its digit, in the strip just above it
            assert x == left + CELL / 2 and top - CAPTION < y <= top and captions[i].get_va() == "bottom"
        assert np.all(canvas[white] == 1)
        plt.close(figure)


def test_confusion_figure_writes_each_count_in_its_true_row_and_predicted_column():
    confusion = torch.arange(100).reshape(10, 10)  # not symmetric: a transposed matrix would show
    figure = confusion_figure(confusion)
    ax = figure.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(true, pred): str(10 * true + pred) for true in range(10) for pred in range(10)}
    assert ax.get_ylabel() == "true" and ax.get_xlabel() == "predicted"
    plt.close(figure)
