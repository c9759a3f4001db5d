"""When an answer is doubtful: judged against the network's own confidence, so the mark means the same for every
recipe. A label-smoothed network (experiment=fast_v2) was seen right at p = 0.77-0.93 where the reference network says
0.999, so one fixed threshold (0.8) flagged some of the first one's right answers and almost none of the second's."""

import torch
from torch import nn

from mnist_lightning.data.mnist import mnist_split, normalize

REFERENCE_IMAGES = 2000  # the last training images: what the network knows a clean digit to look like


def calibrated_threshold(net: nn.Module, share: float = 0.01, data_dir: str | None = None) -> float:
    """The probability below which only `share` of the network's right answers on the last REFERENCE_IMAGES
    training digits fall: an answer less sure than that is doubtful ("less sure than on 99% of the digits it
    reads right", with share 0.01)."""
    images, labels = mnist_split(data_dir, train=True)
    images, labels = images[-REFERENCE_IMAGES:], labels[-REFERENCE_IMAGES:]
    inputs = normalize(images.unsqueeze(1).float() / 255)
    with torch.no_grad():  # in batches of 500, as evaluation (conf/data/mnist.yaml: eval_batch_size)
        probabilities = torch.cat([net(batch) for batch in inputs.split(500)]).softmax(dim=1)
    top, digit = probabilities.max(dim=1)
    right = top[digit == labels]
    return float(torch.quantile(right, share)) if len(right) else 0.5
