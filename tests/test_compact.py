"""Compact networks, OneCycle, and the batch augmentation."""

import pytest
import torch
from conftest import compose_train_config
from hydra.utils import instantiate

from mnist_lightning.data.augment import BLACK, RandomAffine
from mnist_lightning.data.datamodule import MNISTDataModule
from mnist_lightning.model.budget import count_params, layer_table
from mnist_lightning.model.nets import CompactNet, PicoNet, ShiftAveraged, StackedSeparableNet

# (model, budget, parameters as the docs state them)
BUDGETS = [("compact", 8000, 7522), ("tiny", 6000, 5804), ("micro", 4000, 3934), ("nano", 3000, 2938),
           ("pico", 697, 672), ("pico_stack", 697, 676), ("pico6", 697, 694), ("pico_dilated", 697, 695),
           ("pico_expanded", 697, 695), ("reference", 20000, 17216),
           ("fast", 20000, 19354), ("fast_v2", 20000, 19546), ("fast_v1", 20000, 19102)]  # fmt: skip


@pytest.mark.parametrize(("model", "budget", "params"), BUDGETS)
def test_each_model_config_fits_its_budget_and_outputs_logits(tmp_path, model, budget, params):
    cfg = compose_train_config(tmp_path, [f"model={model}"])
    net = instantiate(cfg.model.net)
    assert cfg.model.max_params == budget and count_params(net) == params <= budget
    assert net.eval()(torch.randn(5, 1, 28, 28)).shape == (5, 10)


def test_separable_convolutions_are_depthwise_then_pointwise_and_cost_fewer_weights():
    plain, separable = CompactNet(), CompactNet(separable=True)
    depthwise = [m for m in separable.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 4  # every 3x3 after the first: one in block1, three in block2
    assert all(m.groups == m.in_channels == m.out_channels and m.kernel_size == (3, 3) for m in depthwise)
    assert count_params(separable) < count_params(plain) / 2
    assert separable.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_too_many_convolutions_for_28_pixels_is_one_clear_error():
    from mnist_lightning.base.errors import UserError

    with pytest.raises(UserError, match="too many 3x3 convolutions"):
        CompactNet(block1=(8,) * 12)


def test_augmentation_keeps_shapes_moves_pixels_and_is_seeded():
    images = torch.full((6, 1, 28, 28), BLACK)
    images[:, :, 10:18, 10:18] = 2.0  # a bright square on black
    augment = RandomAffine(degrees=10, translate=0.1)
    moved = augment(images, torch.Generator().manual_seed(0))
    assert moved.shape == images.shape and moved.dtype == images.dtype
    assert not torch.allclose(moved, images)
    assert torch.equal(moved, augment(images, torch.Generator().manual_seed(0)))
    assert not torch.equal(moved, augment(images, torch.Generator().manual_seed(1)))
    assert moved[:, :, 0, 0].sub(BLACK).abs().max() < 1e-5  # corners brought in from outside stay black
    assert not torch.equal(moved[0], moved[1])  # each image gets its own transform


def test_augmentation_moves_a_dot_by_the_amounts_its_settings_name():
    # A bright 2x2 dot 10 pixels right of the centre (13.5, 13.5), in 500 images; where its brightness lies after.
    images = torch.full((500, 1, 28, 28), BLACK)
    images[:, :, 13:15, 23:25] = 2.0
    rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")

    def centres(moved: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight = (moved - BLACK)[:, 0]
        total = weight.sum(dim=(1, 2))
        return (weight * columns).sum(dim=(1, 2)) / total - 13.5, (weight * rows).sum(dim=(1, 2)) / total - 13.5

    # translate=0.1: at most 0.1 x 28 = 2.8 pixels each way, and close to it in 500 draws (a shift of half, or of
    # twice that, fails)
    x, y = centres(RandomAffine(degrees=0, translate=0.1)(images, torch.Generator().manual_seed(0)))
    for moved in (x - 10, y):
        assert 2.5 < moved.abs().max() <= 2.8 + 1e-3
    # degrees=10: the dot keeps its distance from the centre and turns by at most 10 degrees (not 10 radians)
    x, y = centres(RandomAffine(degrees=10, translate=0)(images, torch.Generator().manual_seed(0)))
    assert torch.allclose(torch.hypot(x, y), torch.full((500,), 10.0), atol=0.05)
    turned = torch.rad2deg(torch.atan2(y, x)).abs()
    assert 9 < turned.max() <= 10.2  # bilinear sampling blurs the dot: its centre is read to about 0.05 degrees


def test_augmented_batches_keep_their_labels_and_are_seeded_per_epoch():
    def batches(seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        dm = MNISTDataModule(batch_size=64, seed=seed, augment=RandomAffine())
        dm.prepare_data(), dm.setup()
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        images, labels = next(iter(loader))
        index = loader.sampler.indices()[:64]
        assert torch.equal(labels, dm.train_set[1][index])  # labels untouched, in the batch's order
        assert not torch.equal(images, dm.train_set[0][index])  # images moved
        return images, labels

    first = batches(seed=1, epoch=0)
    assert torch.equal(first[0], batches(seed=1, epoch=0)[0])
    assert not torch.equal(first[0], batches(seed=2, epoch=0)[0])
    augmented = MNISTDataModule(batch_size=64, seed=1, val_size=1000, augment=RandomAffine())
    augmented.prepare_data(), augmented.setup()
    for loader in (augmented.val_dataloader(), augmented.test_dataloader()):  # evaluation sees the images as they are
        images, _ = next(iter(loader))
        assert torch.equal(images, loader.images[loader.sampler.indices()[: len(images)]])


def test_augmentation_is_off_by_default_and_on_in_the_compact_recipes(tmp_path):
    assert instantiate(compose_train_config(tmp_path).data).augment is None
    for experiment in ("compact", "tiny", "micro", "nano"):
        cfg = compose_train_config(tmp_path, [f"experiment={experiment}"])
        augment = instantiate(cfg.data).augment
        assert isinstance(augment, RandomAffine) and (augment.degrees, augment.translate) == (8.0, 0.08)
        # ... and data/augment=none turns it off in each of them (it once left the degrees behind and crashed)
        cfg = compose_train_config(tmp_path, [f"experiment={experiment}", "data/augment=none"])
        assert instantiate(cfg.data).augment is None


def test_augmentation_settings_without_a_target_are_one_clear_error():
    from mnist_lightning.base.errors import UserError

    with pytest.raises(UserError, match="data.augment holds settings but nothing to build"):
        MNISTDataModule(augment={"degrees": 8.0})


FRONTIER_RECIPES = [("micro", 4000, 128), ("nano", 3000, 64), ("pico6", 697, 64), ("pico_dilated", 697, 64),
                    ("pico_expanded", 697, 64), ("pico_expanded60", 697, 64), ("fast", 20000, 128),
                    ("fast_v2", 20000, 256), ("fast_v1", 20000, 256)]  # fmt: skip


@pytest.mark.parametrize(("experiment", "budget", "batch"), FRONTIER_RECIPES)
def test_the_frontier_recipes_run_fast_dev_run(tmp_path, experiment, budget, batch):
    from mnist_lightning.train import train

    metrics = train(compose_train_config(tmp_path, [f"experiment={experiment}", "trainer.fast_dev_run=true"]))
    assert metrics["status"] == "ok" and metrics["params"] <= budget and metrics["train/images"] == batch


def test_pico_spends_no_weight_on_a_linear_layer_or_a_bias_and_its_second_pool_widens_what_it_sees():
    net = PicoNet(stem=6, block1=10, block2=12, second_pool=True)
    assert not any(isinstance(m, torch.nn.Linear) for m in net.modules())
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.bias is not None for m in convs] == [False] * (len(convs) - 1) + [True]  # only the class scores'
    rows = layer_table(net)
    # Each class score sees 20 x 20 pixels before the average (with one pool: 14 x 14).
    assert rows[-1].receptive_field == 20 and rows[-1].shape == (10, 3, 3)
    assert layer_table(PicoNet())[-1].receptive_field == 14
    assert net.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_stacked_separable_repeats_share_their_convolutions_and_add_only_a_batchnorm_each():
    from mnist_lightning.base.errors import UserError

    once, repeated = StackedSeparableNet(widths=[12, 12]), StackedSeparableNet(widths=[12, 12], shared_repeats=2)
    assert count_params(repeated) == count_params(once) + 2 * (2 * 12)  # a BatchNorm's weight and bias, per repeat
    assert len(repeated.blocks) == 4 and all(b.pointwise is repeated.blocks[1].pointwise for b in repeated.blocks[2:])
    assert repeated.blocks[2].norm is not repeated.blocks[1].norm
    residual = StackedSeparableNet(widths=[12, 12], shared_repeats=2, residual=True)
    # With the shared block's pointwise weights at zero it outputs ReLU(BatchNorm(0)) = 0, so the three repeats of
    # the residual net pass the first block's 11 x 11 output on, its centre cropped to 9, 7 and then 5 pixels.
    torch.nn.init.zeros_(residual.blocks[1].pointwise.weight)
    residual.eval()
    images = torch.randn(3, 1, 28, 28)
    first = residual.blocks[0](residual.pool(residual.stem(images)))
    assert torch.allclose(residual(images), residual.classifier(first[:, :, 3:-3, 3:-3].mean(dim=(2, 3))), atol=1e-6)
    # The layer table counts each shared weight once, in the first layer that uses it: its column adds up.
    assert sum(row.params for row in layer_table(repeated)) == count_params(repeated)
    with pytest.raises(UserError, match="more 3x3 blocks than the map allows"):
        StackedSeparableNet(widths=[8, 8], shared_repeats=5)
    padded = StackedSeparableNet(widths=[8, 8], shared_repeats=5, same_padding=True)  # padded: the map stays 13 x 13
    assert count_params(padded) == count_params(StackedSeparableNet(widths=[8, 8], shared_repeats=5 - 1)) + 2 * 8
    assert layer_table(padded)[-3].shape == (8, 13, 13)
    with pytest.raises(UserError, match="as wide as its input"):
        StackedSeparableNet(widths=[8, 12], shared_repeats=1)
    # repeat_affine=False: the repeats' BatchNorms only normalize, so repeats cost nothing; the others keep theirs.
    free = StackedSeparableNet(widths=[12, 12], shared_repeats=2, repeat_affine=False)
    assert count_params(free) == count_params(once) and len(free.blocks) == 4
    assert [b.norm.affine for b in free.blocks] == [True, True, False, False]
    assert free.eval()(images).shape == (3, 10) and sum(row.params for row in layer_table(free)) == count_params(free)
    # stem_padding: the stack from 14 x 14 with the same weights, so one more valid block fits after the pool.
    padded_stem = StackedSeparableNet(widths=[12, 12], stem_padding=True, activation="silu")
    assert count_params(padded_stem) == count_params(once)
    assert padded_stem.pool(padded_stem.stem(images)).shape[-2:] == (14, 14)
    assert padded_stem.eval()(images).shape == (3, 10)
    deepest = StackedSeparableNet(widths=[8] * 7, stem_padding=True, pool_after=1)  # 28 -> 26 -> 13 -> ... -> 1
    assert deepest.eval()(images).shape == (3, 10)
    with pytest.raises(UserError, match="more 3x3 blocks than the map allows"):
        StackedSeparableNet(widths=[8] * 7, pool_after=1)  # 26 -> 24 -> 12 -> ... -> 0
    with pytest.raises(UserError, match="stem_padding must be true or false, got 2"):
        StackedSeparableNet(stem_padding=2)
    # activation: the stem's and every block's, applied in the block's forward (the same weights, another output).
    assert sum(isinstance(m, torch.nn.SiLU) for m in padded_stem.modules()) == 3  # stem and two blocks
    assert not any(isinstance(m, torch.nn.ReLU) for m in padded_stem.modules())
    block = padded_stem.blocks[1].eval()
    x = torch.randn(2, 12, 9, 9)
    assert torch.allclose(block(x), torch.nn.functional.silu(block.norm(block.pointwise(block.depthwise(x)))))
    leaky = StackedSeparableNet(widths=[12, 12], activation="leaky_relu", leaky_slope=0.2).eval()
    assert {m.negative_slope for m in leaky.modules() if isinstance(m, torch.nn.LeakyReLU)} == {0.2}
    relu = StackedSeparableNet(widths=[12, 12]).eval()
    relu.load_state_dict(leaky.state_dict())  # activations hold no weights
    assert not torch.allclose(leaky(images), relu(images))
    with pytest.raises(UserError, match="activation must be one of relu, silu, leaky_relu, got 'gelu'"):
        StackedSeparableNet(activation="gelu")
    # pointwise_groups: each 1x1 in groups (half the weights at 2), its outputs dealt across the groups (ShuffleNet).
    grouped = StackedSeparableNet(widths=[12, 12], pointwise_groups=2, shared_repeats=1).eval()
    assert count_params(once) + 2 * 12 - count_params(grouped) == (6 * 12 + 12 * 12) // 2
    dealt = [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]  # group 0's outputs alternate with group 1's
    for block in grouped.blocks[1:]:  # the shared block and its repeat, which shares the grouped conv
        assert block.pointwise.weight.shape == (12, 6, 1, 1)
        # BatchNorm statistics that differ per channel, so shuffling after the BatchNorm would give another output.
        block.norm.running_mean.copy_(torch.randn(12))
        block.norm.running_var.copy_(torch.rand(12) + 0.5)
        x = torch.randn(2, 12, 9, 9)
        mixed = block.pointwise(block.depthwise(x))
        assert torch.allclose(block(x), torch.relu(block.norm(mixed[:, dealt])), atol=1e-6)
    assert grouped(images).shape == (3, 10)
    with pytest.raises(UserError, match="pointwise_groups=4 must divide the stem and every width"):
        StackedSeparableNet(widths=[12, 12], pointwise_groups=4)  # the stem's 6 channels
    # batch_norm=False: no BatchNorm anywhere, biases on the stem and the 1x1s instead, and repeats cost nothing.
    plain = StackedSeparableNet(widths=[12, 12], shared_repeats=2, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert plain.stem[0].bias is not None and all(b.pointwise.bias is not None for b in plain.blocks)
    no_repeats = StackedSeparableNet(widths=[12, 12], batch_norm=False)
    assert count_params(plain) == count_params(no_repeats) == count_params(once) - 2 * (6 + 12 + 12) + (6 + 12 + 12)
    assert plain.train()(images).shape == (3, 10)
    with pytest.raises(UserError, match="batch_norm must be true or false, got 'false'"):
        StackedSeparableNet(batch_norm="false")


def test_stacked_separable_pool_after_runs_the_first_blocks_on_the_26_pixel_map_with_the_same_parameters():
    from mnist_lightning.base.errors import UserError

    early, late = (
        StackedSeparableNet(widths=[12, 12], same_padding=True),
        StackedSeparableNet(widths=[12, 12], same_padding=True, pool_after=1),
    )
    assert count_params(late) == count_params(early)
    shapes = [row.shape for row in layer_table(late)]
    assert (12, 26, 26) in shapes and (12, 13, 13) in shapes
    assert (12, 26, 26) not in [row.shape for row in layer_table(early)]
    # Pooling after the last block: every block at 26 x 26, the average over 13 x 13.
    pooled_last = StackedSeparableNet(widths=[8], same_padding=True, pool_after=1).eval()
    assert pooled_last(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert [row.shape for row in layer_table(pooled_last)][-4:] == [(8, 26, 26), (8, 13, 13), (8,), (10,)]
    with pytest.raises(UserError, match="pool_after"):
        StackedSeparableNet(widths=[8, 8], pool_after=3)


def test_compact_net_crop_cuts_the_border_inside_the_network_with_the_same_weights_and_fewer_flops():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.flops import flops_per_image

    widths = dict(block1=[16], transition=16, block2=[16, 16, 32, 32])
    full, cropped = CompactNet(**widths).eval(), CompactNet(**widths, crop=2).eval()
    cropped.load_state_dict(full.state_dict())  # the same keys: the crop holds no weights
    images = torch.randn(3, 1, 28, 28)
    assert cropped(images).shape == (3, 10)
    # It sees only the 24 x 24 centre: the full net's scores of those pixels, whatever the border holds.
    noisy_border = images.clone()
    noisy_border[:, :, :2] = 5.0
    assert torch.allclose(cropped(noisy_border), full(images[:, :, 2:-2, 2:-2]), atol=1e-5)
    assert flops_per_image(cropped)["train"] < 0.6 * flops_per_image(full)["train"]
    with pytest.raises(UserError, match="too many 3x3 convolutions for a 18x18 image"):
        CompactNet(**widths, crop=5)
    with pytest.raises(UserError, match="crop is the pixels cut off each side, 0 or more"):
        CompactNet(**widths, crop=-1)
    # Uncropped, the layer table is what it was: its first row is the first convolution.
    assert layer_table(full)[0].name == "Conv2d-1" and layer_table(cropped)[0].name == "CenterCrop-1"


def test_shift_averaged_scores_the_mean_probability_of_nine_shifted_views_and_trains_on_one():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.flops import flops_per_image

    inner = StackedSeparableNet(widths=[12, 12], same_padding=True).eval()
    torch.nn.init.normal_(inner.classifier.weight, std=5.0)  # scores far from uniform, so the views differ
    net = ShiftAveraged(inner, shift=1).eval()
    images = torch.randn(4, 1, 28, 28)
    # By hand: each image moved by (dx, dy), the uncovered border blank (the normalized background).
    from mnist_lightning.data.mnist import normalize

    blank = normalize(torch.tensor(0.0)).item()
    assert ShiftAveraged.BACKGROUND == pytest.approx(blank)
    probs = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            moved = torch.full_like(images, blank)
            moved[..., max(dy, 0) : 28 + min(dy, 0), max(dx, 0) : 28 + min(dx, 0)] = images[
                ..., max(-dy, 0) : 28 + min(-dy, 0), max(-dx, 0) : 28 + min(-dx, 0)
            ]
            probs.append(inner(moved).softmax(dim=1))
    with torch.no_grad():
        assert torch.allclose(net(images), torch.stack(probs).mean(dim=0).log(), atol=1e-5)
        assert not torch.allclose(net(images), inner(images).log_softmax(dim=1), atol=1e-2)  # the views matter
    net.train()
    assert torch.equal(net(images), inner.train()(images))  # training sees the image once, as before
    # Scoring costs the nine views; a training step costs the network's own forward and backward.
    assert flops_per_image(net)["forward"] == 9 * flops_per_image(inner)["forward"]
    assert flops_per_image(net)["train"] == flops_per_image(inner)["train"]
    assert layer_table(net) == layer_table(inner) and count_params(net) == count_params(inner)
    for shift in (-1, 14):  # 14: a 28-pixel digit moved out of the image (40 scored 6,561 views, mostly blank)
        with pytest.raises(
            UserError, match=f"model.net.shift is the pixels each view moves at most, 0 to 13, got {shift}"
        ):
            ShiftAveraged(inner, shift=shift)
    ShiftAveraged(inner, shift=13)


def test_compact_net_stride_halves_with_the_stem_conv_and_transition_0_drops_the_1x1():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.flops import flops_per_image

    widths = dict(block1=[16], transition=16, block2=[16, 16, 32, 32])
    pooled, strided = CompactNet(**widths).eval(), CompactNet(**widths, downsample="stride").eval()
    images = torch.randn(3, 1, 28, 28)
    stem_pooled, stem_strided = pooled.features[0][0], strided.features[0][0]
    stem_strided.load_state_dict(stem_pooled.state_dict())
    assert count_params(strided) == count_params(pooled)  # the same weights: only where the map is halved differs
    # The strided stem computes every second pixel of the full-resolution convolution: 13 x 13 from 28 x 28.
    assert torch.allclose(stem_strided(images), stem_pooled(images)[:, :, ::2, ::2], atol=1e-6)
    assert stem_strided(images).shape[-2:] == pooled.features[:2](images).shape[-2:] == (13, 13)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in strided.modules())
    assert strided(images).shape == (3, 10)
    # The FLOPs saved are three quarters of the stem conv's forward and weight gradient (it has no input gradient);
    # the time saved is larger, in the elementwise layers after it (docs/speed.md).
    stem_forward = 26 * 26 * 16 * 9 * 2
    assert flops_per_image(pooled)["train"] - flops_per_image(strided)["train"] == 2 * stem_forward * 3 // 4
    lean = CompactNet(**{**widths, "transition": 0}, downsample="stride")
    assert count_params(pooled) - count_params(lean) == 16 * 16 + 16 + 2 * 16  # the 1x1 conv and its BatchNorm
    assert not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) for m in lean.modules())
    # A separable net strides its depthwise conv, so the pointwise one already works on the halved map.
    separable = CompactNet(block1=[8, 16], downsample="stride", separable=True)
    assert [m.stride for m in separable.modules() if isinstance(m, torch.nn.Conv2d)][:3] == [(1, 1), (2, 2), (1, 1)]
    assert separable.eval()(images).shape == (3, 10)
    assert lean.eval()(images).shape == (3, 10)
    with_dropout = CompactNet(block1=[8, 16], block2=[16, 16], dropout=0.1, downsample="stride")
    assert sum(isinstance(m, torch.nn.Dropout) for m in with_dropout.modules()) == 3  # not after the strided conv
    with pytest.raises(UserError, match="downsample must be 'maxpool' or 'stride', got 'avg'"):
        CompactNet(downsample="avg")
    # The size check: (n - 3) // 2 + 1 after a strided conv, as torch computes it; each accepted net runs.
    for kwargs in (dict(block1=[16], block2=[16] * 6), dict(block1=[8, 16], block2=[16] * 5)):  # 13 -> 1, 12 -> 2
        assert CompactNet(**kwargs, downsample="stride").eval()(images).shape == (3, 10)
    for kwargs in (dict(block1=[16], block2=[16] * 7), dict(block1=[8, 16], block2=[16] * 6),  # 13 -> -1, 12 -> 0
                   dict(block1=[16], block2=[16] * 6, crop=1)):  # fmt: skip  # 26 x 26: 12 -> 0
        with pytest.raises(UserError, match="too many 3x3 convolutions"):
            CompactNet(**kwargs, downsample="stride")


def test_compact_net_halving_kernel_sizes_the_strided_conv():
    from mnist_lightning.base.errors import UserError

    widths = dict(block1=[16], transition=0, block2=[16, 16, 32, 32])
    images = torch.randn(3, 1, 28, 28)
    k3, k4 = (CompactNet(**widths, downsample="stride", halving_kernel=k).eval() for k in (3, 4))
    stem = k4.features[0][0]
    assert stem.kernel_size == (4, 4) and stem.stride == (2, 2)
    assert count_params(k4) - count_params(k3) == 16 * (16 - 9)  # seven more weights per stem filter
    # (28 - 4) // 2 + 1 = 13: the same map as the 3 x 3, each output seeing a 4 x 4 patch, as conv + MaxPool do.
    assert stem(images).shape[-2:] == k3.features[0][0](images).shape[-2:] == (13, 13)
    assert k4(images).shape == (3, 10)
    # Only the halving conv takes the kernel: with two convs in block1 the first stays 3 x 3.
    two = CompactNet(block1=[8, 16], block2=[16, 16], downsample="stride", halving_kernel=4).eval()
    convs = [m for m in two.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs[:2]] == [((3, 3), (1, 1)), ((4, 4), (2, 2))]
    assert two.features[:2](images).shape[-2:] == (12, 12)  # (26 - 4) // 2 + 1
    # The size check uses the kernel, at its edge: 13 x 13 after a 4 x 4 leaves 1 x 1 after six 3x3 convs; a 6 x 6
    # gives 12 x 12, so five leave 2 x 2 and six would leave 0.
    edge = CompactNet(block1=[16], block2=[16] * 6, downsample="stride", halving_kernel=4).eval()
    assert edge.features(images).shape[-2:] == (1, 1)
    six = CompactNet(block1=[16], block2=[16] * 5, downsample="stride", halving_kernel=6).eval()
    assert six.features(images).shape[-2:] == (2, 2)
    with pytest.raises(UserError, match=r"too many 3x3 convolutions for a 28x28 image \(crop 0, halving_kernel 6\)"):
        CompactNet(block1=[16], block2=[16] * 6, downsample="stride", halving_kernel=6)
    with pytest.raises(UserError, match="halving_kernel is the strided convolution's size: set model.net.downsample"):
        CompactNet(halving_kernel=4)
    with pytest.raises(UserError, match="halving_kernel must be 2 or more, got 1"):
        CompactNet(halving_kernel=1)


def test_stacked_separable_dilated_repeats_reuse_the_weight_and_widen_the_field():
    from mnist_lightning.base.errors import UserError

    plain = StackedSeparableNet(widths=[12, 12], shared_repeats=3, residual=True, same_padding=True)
    dilated = StackedSeparableNet(
        widths=[12, 12], shared_repeats=3, residual=True, same_padding=True, repeat_dilations=[2, 3, 1]
    )
    assert count_params(dilated) == count_params(plain) == 694
    shared = dilated.blocks[1].depthwise.weight
    assert dilated.blocks[2].depthwise.weight is shared and dilated.blocks[2].depthwise.dilation == (2, 2)
    assert dilated.blocks[4].depthwise is dilated.blocks[1].depthwise  # dilation 1: the very same module
    # The dilated repeats read pixels further apart: the field before the average grows from 24 to 36 pixels.
    assert layer_table(plain)[-3].receptive_field == 24 and layer_table(dilated)[-3].receptive_field == 36
    # Same weights, so with dilation 1 everywhere the two nets compute the same thing; with 2 and 3 they do not.
    same = StackedSeparableNet(
        widths=[12, 12], shared_repeats=3, residual=True, same_padding=True, repeat_dilations=[1, 1, 1]
    )
    same.load_state_dict(plain.state_dict())
    dilated.load_state_dict(plain.state_dict(), strict=True)
    images = torch.randn(2, 1, 28, 28)
    plain.eval(), same.eval(), dilated.eval()
    assert torch.allclose(same(images), plain(images)) and not torch.allclose(dilated(images), plain(images))
    with pytest.raises(UserError, match="one whole dilation"):
        StackedSeparableNet(widths=[12, 12], shared_repeats=3, same_padding=True, repeat_dilations=[2])
    with pytest.raises(UserError, match="same_padding"):
        StackedSeparableNet(widths=[12, 12], shared_repeats=1, repeat_dilations=[2])


def test_gem_pooling_is_the_average_at_p_1_and_leans_to_the_maximum_as_p_grows():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.layers import GeMPooling

    maps = torch.rand(2, 3, 5, 5)
    assert torch.allclose(GeMPooling(p=1.0)(maps), maps.mean(dim=(2, 3)), atol=1e-6)
    sharp = GeMPooling(p=50.0)(maps)
    assert torch.all(sharp > GeMPooling(p=3.0)(maps)) and torch.allclose(sharp, maps.amax(dim=(2, 3)), atol=0.1)
    net = StackedSeparableNet(widths=[12, 12], shared_repeats=3, residual=True, same_padding=True, pooling="gem")
    assert count_params(net) == 694 + 1  # the exponent
    net(torch.randn(2, 1, 28, 28)).sum().backward()
    assert net.global_pool.p.grad is not None  # the exponent learns
    before = net.global_pool.p.detach().clone()
    torch.optim.SGD(net.parameters(), lr=0.1).step()  # the exponent is among the parameters an optimizer steps
    assert not torch.equal(net.global_pool.p.detach(), before)
    with pytest.raises(UserError, match="needs activation=relu"):
        StackedSeparableNet(widths=[12, 12], pooling="gem", activation="silu")
    with pytest.raises(UserError, match="pooling must be mean or gem"):
        StackedSeparableNet(widths=[12, 12], pooling="max")


def test_repeat_affine_per_repeat_adds_depth_without_parameters():
    from mnist_lightning.base.errors import UserError

    deep = StackedSeparableNet(
        widths=[12, 12],
        shared_repeats=6,
        residual=True,
        same_padding=True,
        repeat_affine=[True] * 3 + [False] * 3,
        repeat_dilations=[2, 3, 1, 2, 3, 1],
    )
    assert count_params(deep) == 694 and len(deep.blocks) == 8
    assert [b.norm.affine for b in deep.blocks] == [True] * 5 + [False] * 3
    assert deep.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(UserError, match="one of them per shared repeat"):
        StackedSeparableNet(widths=[12, 12], shared_repeats=2, repeat_affine=[True])


def test_simam_weighs_pixels_by_how_far_they_stand_from_their_channel_mean_at_no_parameter_cost():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.layers import SimAM

    x = torch.randn(2, 3, 5, 5)
    n = 5 * 5 - 1
    d = (x - x.mean(dim=(2, 3), keepdim=True)) ** 2
    expected = x * torch.sigmoid(d / (4 * (d.sum(dim=(2, 3), keepdim=True) / n + 1e-4)) + 0.5)
    torch.testing.assert_close(SimAM()(x), expected)
    flat = torch.zeros(1, 1, 3, 3)
    flat[0, 0, 1, 1] = 1.0  # one bright pixel on a dark map is weighed more than the dark ones
    out = SimAM()(flat + 1.0)
    weights = out / (flat + 1.0)
    assert weights[0, 0, 1, 1] > weights[0, 0, 0, 0]
    # By hand: mean 10/9, squared distances 64/81 (centre) and 1/81, variance (8/9) / 8 = 1/9, so the centre's
    # energy is (64/81) / (4 (1/9 + 1e-4)) + 0.5 and its output 2 sigmoid(2.2764) = 1.81377; the others' 0.62896.
    assert out[0, 0, 1, 1].item() == pytest.approx(1.81377, abs=1e-4)
    assert out[0, 0, 0, 0].item() == pytest.approx(0.62896, abs=1e-4)
    plain = StackedSeparableNet(widths=[12, 12], shared_repeats=3, residual=True, same_padding=True)
    attended = StackedSeparableNet(widths=[12, 12], shared_repeats=3, residual=True, same_padding=True, simam=True)
    assert count_params(attended) == count_params(plain) == 694
    images = torch.randn(2, 1, 28, 28)
    attended.eval()
    calls = []
    attended.attention.register_forward_hook(lambda *_: calls.append(1))
    without = attended(images)
    assert len(calls) == len(attended.blocks) == 5  # after every block, the shared repeats included
    attended.attention = torch.nn.Identity()
    assert not torch.allclose(attended(images), without)  # the attention is applied in forward
    with pytest.raises(UserError, match="simam must be true or false"):
        StackedSeparableNet(widths=[12, 12], simam="false")


# The first three numbers of FixedClassifier(13, 10)'s projection (torch 2.14.1): a change in how it is drawn would
# make new runs differ from the committed ones (their checkpoints carry their own projection, so they still load).
PROJECTION_ROW0 = [-0.26086, 0.08109, 0.13875]


def test_fixed_classifier_trains_only_its_scale_and_biases_and_is_the_same_in_every_run():
    from mnist_lightning.base.errors import UserError
    from mnist_lightning.model.layers import FixedClassifier

    torch.manual_seed(1)
    first = FixedClassifier(13, 10)
    torch.manual_seed(2)  # the run's seed does not move the projection
    second = FixedClassifier(13, 10)
    assert torch.equal(first.projection, second.projection)
    torch.testing.assert_close(first.projection @ first.projection.T, torch.eye(10))  # orthonormal rows
    assert count_params(first) == 11 and "projection" in first.state_dict()
    features = torch.rand(4, 13)
    torch.testing.assert_close(first(features), features @ first.projection.T)  # scale 1, biases 0 at the start
    with torch.no_grad():
        first.scale.fill_(2.0)
        first.bias.copy_(torch.arange(10.0))
    torch.testing.assert_close(first(features), 2 * features @ first.projection.T + torch.arange(10.0))
    # the rule itself is pinned: the same numbers whatever torch's default generator or a later seed does
    torch.testing.assert_close(first.projection[0, :3], first.projection.new_tensor(PROJECTION_ROW0), atol=1e-5, rtol=0)
    net = StackedSeparableNet(
        stem=8, widths=[13, 13], shared_repeats=3, residual=True, same_padding=True, classifier="fixed"
    )
    assert count_params(net) == 691  # the Linear's 130 weights and biases become 11: a stem of 8, blocks of 13
    net(torch.randn(2, 1, 28, 28)).sum().backward()
    assert net.classifier.scale.grad is not None and net.classifier.bias.grad is not None
    assert net.classifier.projection.grad is None
    with pytest.raises(UserError, match="classifier must be linear or fixed"):
        StackedSeparableNet(widths=[12, 12], classifier="none")
    with pytest.raises(UserError, match="needs at least 10 features"):
        StackedSeparableNet(widths=[8], classifier="fixed")
