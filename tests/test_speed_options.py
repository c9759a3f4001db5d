"""The speed switches (channels_last, bf16, compile, the CPU dropout mask): each trains a few steps, same shapes."""

import json

import pytest
import pytorch_lightning as pl
import torch
from conftest import CONF_DIR, compose_train_config
from hydra import compose, initialize_config_dir

from mnist_lightning.evaluate import evaluate
from mnist_lightning.model.nets import Dropout, ReferenceNet
from mnist_lightning.train import train

FEW_STEPS = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "logger=none",
             "trainer.limit_test_batches=1"]  # fmt: skip


def few_steps(tmp_path, *overrides: str) -> dict:
    metrics = train(compose_train_config(tmp_path, [*FEW_STEPS, *overrides]))
    assert metrics["train/images"] == 3 * 28  # the steps really ran
    assert 0 < metrics["test/acc"] <= 1 and metrics["test/images"] == 500
    return metrics


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_switch_sets_the_memory_layout(tmp_path, channels_last):
    few_steps(tmp_path, f"model.channels_last={channels_last}", "model=reference")
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert config["model"]["channels_last"] is channels_last
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    conv = ckpt["state_dict"]["net.features.1.0.weight"]  # (20, 16, 3, 3)
    assert conv.shape == (20, 16, 3, 3)
    assert conv.is_contiguous(memory_format=torch.channels_last) is channels_last


class ConvOutputDtypes(pl.Callback):
    """Records the dtype of the first convolution's output in every training step."""

    def __init__(self) -> None:
        self.dtypes: list[torch.dtype] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        conv = next(m for m in pl_module.modules() if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(lambda module, inputs, output: self.dtypes.append(output.dtype))


def test_bf16_mixed_trains_in_bf16_and_evaluate_reproduces_it(tmp_path):
    watch = ConvOutputDtypes()
    # bf16 is slow on a CPU without bf16 instructions: 3 training steps, then validate and test one batch of 500.
    one_batch = "trainer.limit_test_batches=1"
    overrides = [*FEW_STEPS, "trainer.precision=bf16-mixed"]
    metrics = train(compose_train_config(tmp_path, overrides), callbacks=[watch])
    assert watch.dtypes[:3] == [torch.bfloat16] * 3  # the convolutions ran in bf16 (float32 without the switch)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["precision"] == "bf16-mixed"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path}", one_batch])
    assert cfg.trainer.precision == "32-true"  # evaluate's own default ...
    result = evaluate(cfg)
    assert (
        result["precision"] == "bf16-mixed" and result["test/acc"] == metrics["test/acc"]
    )  # ... replaced by the run's


# (AMX, trainer.accelerator, whether torch sees a CUDA GPU, what auto gives)
AUTO_PRECISION = [
    (True, "cpu", False, "bf16-mixed"),
    (True, "auto", False, "bf16-mixed"),
    (False, "cpu", False, "32-true"),
    (False, "auto", False, "32-true"),
    (True, "cpu", True, "bf16-mixed"),
    (True, "auto", True, "32-true"),
    (True, "gpu", True, "32-true"),
    (True, "cuda", True, "32-true"),
    (True, "mps", False, "32-true"),
]


@pytest.mark.parametrize(("amx", "accelerator", "cuda", "expected"), AUTO_PRECISION)
def test_precision_auto_is_bf16_when_training_on_a_cpu_with_amx_only(monkeypatch, amx, accelerator, cuda, expected):
    from omegaconf import OmegaConf

    from mnist_lightning.run import precision

    monkeypatch.setattr(precision, "cpu_has_amx", lambda: amx)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)  # accelerator=auto: a GPU where there is one
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert precision.resolve_precision(OmegaConf.create({"precision": "auto", "accelerator": accelerator})) == expected
    for given in ("32-true", "bf16-mixed", "16-mixed"):  # Lightning's own values pass through on any machine
        assert precision.resolve_precision(OmegaConf.create({"precision": given, "accelerator": accelerator})) == given


def test_amx_and_the_recorded_cpu_flags_are_read_as_the_kernel_lists_them():
    from pathlib import Path

    from mnist_lightning.base.cpu_flags import cpu_flags, speed_flags
    from mnist_lightning.run.precision import cpu_has_amx

    # lscpu's and /proc/cpuinfo's lines, in SPEED_FLAGS' order; an ARM CPU lists "Features", not flags: unknown
    assert speed_flags("Model name: X\nFlags: fpu amx_bf16 avx2 amx_tile sse\n", "Flags:") == [
        "avx2",
        "amx_tile",
        "amx_bf16",
    ]
    assert speed_flags("processor : 0\nFeatures : fp asimd\n", "flags") is None
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with (not Linux)")
    listed = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert cpu_has_amx() == ({"amx_tile", "amx_bf16"} <= listed)
    assert cpu_flags() == [
        flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16") if flag in listed
    ]


def test_experiment_fast_picks_its_precision_per_cpu_and_records_it(tmp_path, monkeypatch):
    from mnist_lightning.run import precision

    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)  # the AMX path, whatever CPU runs the test
    watch = ConvOutputDtypes()
    cfg = compose_train_config(tmp_path, ["experiment=fast", *FEW_STEPS])
    assert cfg.trainer.precision == "auto"
    metrics = train(cfg, callbacks=[watch])
    assert watch.dtypes[:3] == [torch.bfloat16] * 3 and metrics["precision"] == "bf16-mixed"
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["precision"] == "bf16-mixed"
    # fast_v2 trains in fp32 as it was timed, also on a CPU with AMX
    watch = ConvOutputDtypes()
    metrics = train(compose_train_config(tmp_path / "fast_v2", ["experiment=fast_v2", *FEW_STEPS]), [watch])
    assert watch.dtypes[:3] == [torch.float32] * 3 and metrics["precision"] == "32-true"
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: False)  # any other CPU: fp32
    watch = ConvOutputDtypes()
    metrics = train(compose_train_config(tmp_path / "no_amx", ["experiment=fast", *FEW_STEPS]), [watch])
    assert watch.dtypes[:3] == [torch.float32] * 3 and metrics["precision"] == "32-true"


def test_a_run_resumed_with_precision_auto_keeps_the_numerics_it_started_with(tmp_path, monkeypatch):
    from mnist_lightning.run import precision

    overrides = ["trainer.precision=auto", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
                 "trainer.limit_test_batches=1", "logger=none"]  # fmt: skip
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)  # started on a CPU with AMX: bf16
    train(compose_train_config(tmp_path / "first", [*overrides, "trainer.max_epochs=1"]))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: False)  # resumed on one without
    watch = ConvOutputDtypes()
    cfg = compose_train_config(tmp_path / "resumed", [*overrides, "trainer.max_epochs=2", f"ckpt_path={last}"])
    metrics = train(cfg, callbacks=[watch])
    assert metrics["epochs"] == 2 and metrics["precision"] == "bf16-mixed"
    assert watch.dtypes[:3] == [torch.bfloat16] * 3  # the resumed epoch's steps, still in bf16


def test_evaluate_gives_a_checkpoint_without_its_precision_the_configs_auto_made_concrete(tmp_path, monkeypatch):
    from mnist_lightning.run import precision

    train(compose_train_config(tmp_path, [*FEW_STEPS, "logger=none"]))
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    del ckpt["precision"]  # as checkpoints before 0.4.0 were written
    torch.save(ckpt, tmp_path / "old.ckpt")
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        overrides = [f"ckpt_path={tmp_path / 'old.ckpt'}", "trainer.precision=auto", "trainer.limit_test_batches=1"]
        cfg = compose("evaluate", overrides=[*overrides, f"paths.output_dir={tmp_path}"])
    assert evaluate(cfg)["precision"] == "bf16-mixed"  # not the string "auto", which Lightning would refuse


@pytest.mark.slow  # compiling takes 40-50 s on the 2-core CPU
def test_compiled_network_trains_and_saves_plain_weight_names(tmp_path):
    few_steps(tmp_path, "model.compile=true")
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert "net.classifier.weight" in ckpt["state_dict"]  # no _orig_mod: the checkpoint loads into a plain net


def test_channels_last_network_gives_the_same_logits():
    net = ReferenceNet().eval()
    images = torch.randn(8, 1, 28, 28)
    expected = net(images)
    fast = net.to(memory_format=torch.channels_last)
    assert torch.allclose(fast(images), expected, atol=1e-5)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_cpu_dropout_mask_drops_p_and_keeps_the_mean(memory_format):
    dropout = Dropout(0.05)
    x = torch.ones(64, 16, 26, 26).contiguous(memory_format=memory_format)
    torch.manual_seed(0)
    y = dropout(x)
    assert y.shape == x.shape and y.is_contiguous(memory_format=memory_format)
    kept = (y != 0).float().mean().item()
    assert kept == pytest.approx(0.95, abs=0.002)  # 692,224 draws: the binomial sd is 0.00026
    assert y.mean().item() == pytest.approx(1.0, abs=0.003)  # kept values scaled by 1 / keep rate
    torch.manual_seed(0)
    assert torch.equal(dropout(x), y)  # the global seed fixes the mask
    assert torch.equal(dropout.eval()(x), x)


def test_cpu_dropout_masks_are_independent_across_elements():
    # Four elements share one 64-bit draw: their drops must still be independent of each other.
    torch.manual_seed(1)
    dropped = Dropout(0.5)(torch.ones(400_000)) == 0
    quads = dropped.view(-1, 4).float()
    assert quads.mean(0).tolist() == pytest.approx([0.5] * 4, abs=0.005)
    both = (quads[:, 0] * quads[:, 3]).mean().item()  # P(first and last of a draw both dropped)
    assert both == pytest.approx(0.25, abs=0.005)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_path_with_every_option(tmp_path):
    # Data, augmentation and steps on the GPU, in bf16 with channels_last: the same options as on the CPU.
    few_steps(tmp_path, "trainer=gpu", "trainer.precision=bf16-mixed", "data/augment=affine", "model=compact")


class FakeNvml:
    def __init__(self, init_code: int) -> None:
        self.init_code = init_code

    def nvmlInit(self) -> int:  # noqa: N802 (NVML's name)
        return self.init_code


def fake_cdll(init_code: int | None):
    def load(name: str, *args, **kwargs):
        assert name == "libnvidia-ml.so.1"
        if init_code is None:
            raise OSError(f"{name}: cannot open shared object file")
        return FakeNvml(init_code)

    return load


@pytest.mark.parametrize(("init_code", "check"), [(None, "0"), (9, "0"), (0, "1")], ids=["missing", "fails", "works"])
def test_the_nvml_check_is_turned_off_only_where_nvml_cannot_start(monkeypatch, init_code, check):
    import ctypes
    import os

    from mnist_lightning.base.command import without_failing_nvml_check

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # as importing Lightning leaves it
    monkeypatch.setattr(ctypes, "CDLL", fake_cdll(init_code))
    # Every command's Hydra task runs with it: the variable as the task sees it.
    assert without_failing_nvml_check(lambda: os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"])() == check


def test_with_the_check_off_an_optimizer_step_loads_no_library_and_cuda_answers_the_same(monkeypatch):
    import ctypes

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    before = torch.cuda.is_available()
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "0")
    net = torch.nn.Linear(4, 4)
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    net(torch.randn(2, 4)).sum().backward()
    loads, real_cdll = [], ctypes.CDLL
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: loads.append(name) or real_cdll(name, *a, **k))
    for _ in range(3):
        optimizer.step()
    assert loads == [] and torch.cuda.is_available() == before
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # and with it on, each step tries NVML again
    optimizer.step()
    assert loads == ["libnvidia-ml.so.1"] or torch.cuda.is_initialized()  # (a GPU machine caches its count)
