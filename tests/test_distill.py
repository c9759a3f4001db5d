"""Knowledge distillation (distill.teacher): the loss, a teacher that stays fixed and out of the student's
checkpoint, budget and optimizer, and the refusal of a teacher that has seen the held-out images."""

import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_clear_error, compose_train_config, run_here
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mnist_lightning.base.errors import UserError
from mnist_lightning.model.flops import flops_per_image
from mnist_lightning.run.build import build_module, build_trainer
from mnist_lightning.run.checkpoints import load_module, read_checkpoint

STUDENT = ["model=pico_stack", "trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=1"]


def teacher_of(trained_sweep) -> str:
    return str(trained_sweep / "0" / "checkpoints" / "last.ckpt")  # the reference net, trained on all 60,000 images


def test_the_distillation_term_is_the_kl_of_the_teacher_to_the_student_at_the_temperature_times_its_square(
    trained_sweep, tmp_path
):
    teacher = f"distill.teacher={teacher_of(trained_sweep)}"
    cfg = compose_train_config(tmp_path, [*STUDENT, teacher, "distill.temperature=3", "distill.weight=0.3"])
    module, _ = build_module(cfg)
    images, labels = torch.randn(5, 1, 28, 28), torch.randint(0, 10, (5,))
    logits = module(images)
    with torch.no_grad():
        teacher_logits = module.teacher(images)
    p_teacher = F.softmax(teacher_logits / 3, dim=1)
    by_hand = (p_teacher * (p_teacher.log() - F.log_softmax(logits / 3, dim=1))).sum(dim=1).mean() * 9
    assert torch.allclose(module._distill_loss(logits, images), by_hand, atol=1e-6)
    assert by_hand > 0  # an untrained student disagrees with its teacher
    # The training loss mixes it with the cross-entropy on the labels by distill.weight.
    loss, _ = module._shared_step((images, labels), "train")
    expected = 0.7 * F.cross_entropy(module(images), labels) + 0.3 * by_hand
    assert torch.allclose(loss, expected, atol=1e-5)
    val_loss, _ = module._shared_step((images, labels), "val")  # scored on the labels alone
    assert torch.allclose(val_loss, F.cross_entropy(module(images), labels), atol=1e-6)


def test_the_teacher_stays_fixed_in_eval_mode_and_out_of_the_students_optimizer_budget_and_checkpoint(
    trained_sweep, tmp_path
):
    cfg = compose_train_config(tmp_path, [*STUDENT, f"distill.teacher={teacher_of(trained_sweep)}", "logger=csv"])
    module, params = build_module(cfg)
    teacher_before = {name: value.clone() for name, value in module.teacher.state_dict().items()}
    assert params == sum(p.numel() for p in module.net.parameters()) == sum(p.numel() for p in module.parameters())
    datamodule = instantiate(cfg.data)
    trainer = build_trainer(cfg, [], datamodule.val_is_test)
    trainer.fit(module, datamodule=datamodule)
    # Lightning calls module.train() each epoch: a teacher in train mode would move its BatchNorm statistics.
    assert not module.teacher.training
    assert all(torch.equal(teacher_before[name], value) for name, value in module.teacher.state_dict().items())
    saved = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert not [key for key in saved["state_dict"] if "teacher" in key]
    assert load_module(tmp_path / "checkpoints" / "last.ckpt").teacher is None  # evaluate needs no teacher


def teacher_run(trained_sweep, folder, val_size: int | None):
    """The sweep's trained checkpoint in a run folder of its own whose config says it held out `val_size` images
    (None: no config in the folder)."""
    source = trained_sweep / "0"
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copy(source / "checkpoints" / "last.ckpt", folder / "checkpoints" / "last.ckpt")
    if val_size is not None:
        config = OmegaConf.load(source / ".hydra" / "config.yaml")
        config.data.val_size = val_size
        (folder / ".hydra").mkdir()
        OmegaConf.save(config, folder / ".hydra" / "config.yaml")
    return folder / "checkpoints" / "last.ckpt"


HELD_OUT = ["data.val_size=5000", "test=false", "optimized_metric=val/acc"]


def test_a_teacher_that_trained_on_any_held_out_image_is_refused_in_one_line(trained_sweep, tmp_path):
    result = run_here("mnist_lightning.train", *STUDENT, *HELD_OUT, f"distill.teacher={teacher_of(trained_sweep)}",
                      f"hydra.run.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert_clear_error(result, r"distill.teacher .* held out 0 training images, so it trained on 5,000 of the 5,000")
    # The held-out images are the first val_size of one order: a teacher that held out fewer saw some of them.
    partly = teacher_run(trained_sweep, tmp_path / "partly", val_size=1000)
    with pytest.raises(UserError, match="held out 1,000 training images, so it trained on 4,000 of the 5,000"):
        build_module(compose_train_config(tmp_path, [*STUDENT, *HELD_OUT, f"distill.teacher={partly}"]), False)
    unknown = teacher_run(trained_sweep, tmp_path / "unknown", val_size=None)
    with pytest.raises(UserError, match="config.yaml is missing, so nothing shows"):
        build_module(compose_train_config(tmp_path, [*STUDENT, *HELD_OUT, f"distill.teacher={unknown}"]), False)
    for val_size in (5000, 6000):  # held out the same images, or more: accepted
        fine = teacher_run(trained_sweep, tmp_path / str(val_size), val_size=val_size)
        cfg = compose_train_config(tmp_path, [*STUDENT, *HELD_OUT, f"distill.teacher={fine}"])
        assert build_module(cfg, False)[0].teacher is not None


OUT_OF_RANGE = [("distill.weight=0", "distill.weight must be a number in \\(0, 1\\], got 0"),
                ("distill.weight=1.5", "distill.weight must be a number in"),
                ("distill.temperature=0", "distill.temperature must be a positive number, got 0"),
                ("distill.teacher=nope.ckpt", "distill.teacher nope.ckpt does not exist")]  # fmt: skip


@pytest.mark.parametrize(("setting", "message"), OUT_OF_RANGE)
def test_distillation_settings_out_of_range_are_refused(tmp_path, setting, message):
    cfg = compose_train_config(tmp_path, [*STUDENT, "distill.teacher=nope.ckpt", setting])
    with pytest.raises(UserError, match=message):
        build_module(cfg)


def test_a_distilled_run_trains_in_bf16_true_precision_with_its_teacher_cast_alike(trained_sweep, tmp_path):
    # Lightning casts only submodules: the teacher, kept out of them, follows the student's dtype in on_fit_start.
    result = run_here("mnist_lightning.train", *STUDENT, "trainer.precision=bf16-true", "test=false",
                      *HELD_OUT[:1], "optimized_metric=val/acc",
                      f"distill.teacher={teacher_run(trained_sweep, tmp_path / 'teacher', 5000)}",
                      f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_a_distilled_run_counts_its_teachers_forward_and_refuses_to_resume_with_other_distill_settings(
    trained_sweep, tmp_path
):
    teacher = f"distill.teacher={teacher_of(trained_sweep)}"
    first = run_here("mnist_lightning.train", *STUDENT, teacher, f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    flops = json.loads((tmp_path / "a" / "metrics.json").read_text())["flops"]
    student = flops_per_image(instantiate(compose_train_config(tmp_path, STUDENT).model.net))
    assert flops["per_image_forward"] == student["forward"]  # scoring an image needs no teacher
    assert flops["per_image_train"] == student["train"] + 8_503_328  # + the reference net's forward
    assert flops["train"] == flops["per_image_train"] * 4 * 28
    # A teacher added or dropped half-way would silently change the loss: resuming needs the same settings.
    ckpt = f"ckpt_path={tmp_path / 'a' / 'checkpoints' / 'last.ckpt'}"
    for changed in ([], [teacher, "distill.weight=0.9"]):  # the teacher dropped, or another weight
        result = run_here("mnist_lightning.train", *STUDENT, "trainer.max_epochs=2", ckpt, *changed,
                          f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)  # fmt: skip
        assert_clear_error(result, r"was trained with distill.weight=0.5 distill.temperature=4.0 and this run has")
