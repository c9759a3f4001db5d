"""A batch loader over tensors already in memory (or on the GPU): slices, not per-sample transforms."""

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

ORDER, AUGMENT = 0, 1  # the two random streams of an epoch: sample order, augmentation


def epoch_seed(seed: int, epoch: int, stream: int, rank: int = 0) -> int:
    """A 64-bit seed for one (seed, epoch, stream, rank), independent of every other such tuple.

    NumPy's SeedSequence hashes the whole tuple, so seed 2's epoch 1 does not repeat seed 1's epoch 2
    (as `seed + epoch` did) and replicate runs share no epoch order.
    """
    entropy = [seed % 2**64, epoch, stream, rank]  # SeedSequence takes non-negative ints
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


class EpochSampler:
    """The sample order of one epoch: a shuffle seeded by (seed, epoch), then this rank's share.

    Lightning calls `loader.sampler.set_epoch(epoch)` before each epoch (as it does for a DataLoader's
    sampler), so the order depends only on the seed and the epoch, also after a resume. With several
    ranks each takes every `world_size`-th index of the same order, so the shares are disjoint.
    `even=True` (training) drops the few samples that would give ranks unequal lengths, because DDP
    needs every rank to run the same number of steps; evaluation keeps every sample exactly once.
    """

    def __init__(
        self, size: int, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1, even: bool = False
    ) -> None:
        self.size, self.shuffle, self.seed = size, shuffle, seed
        self.rank, self.world_size, self.even = rank, world_size, even
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> Tensor:
        """This rank's sample indices for the current epoch, as a 1-D int64 tensor on the CPU."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch, ORDER))
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        if self.even:
            order = order[: self.size - self.size % self.world_size]
        return order[self.rank :: self.world_size]

    def __len__(self) -> int:
        total = self.size - self.size % self.world_size if self.even else self.size
        return len(range(self.rank, total, self.world_size))


class TensorLoader:
    """Yields (images, labels) batches sliced from two tensors, on whatever device they live."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        sampler: EpochSampler,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.sampler = sampler
        self.augment = augment  # applied to each batch of images, e.g. augment.RandomAffine
        self.batch_sampler = None  # DataLoader's attribute; Lightning reads both when inspecting a loader

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self):
        # One host-to-device copy of the index order per epoch; every batch after that is a gather
        # on the device, so the training step never waits on the host.
        order = self.sampler.indices().to(self.images.device, non_blocking=True)
        generator = None
        if self.augment is not None:  # seeded by (seed, epoch, rank): the same transforms after a resume
            s = self.sampler
            generator = torch.Generator(self.images.device).manual_seed(epoch_seed(s.seed, s.epoch, AUGMENT, s.rank))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            images = self.images[batch]
            if generator is not None:
                images = self.augment(images, generator)
            yield images, self.labels[batch]
