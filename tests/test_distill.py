"""Knowledge distillation (distill.teacher): the loss, a teacher that stays fixed and out of the student's
checkpoint, budget and optimizer, and the refusal of a teacher that has seen the held-out images."""

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_clear_error, compose_train_config, run_here
from hydra.utils import instantiate

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
    cfg = compose_train_config(tmp_path, [*STUDENT, teacher, "distill.temperature=3"])
    module, _ = build_module(cfg)
    images, labels = torch.randn(5, 1, 28, 28), torch.randint(0, 10, (5,))
    logits = module(images)
    with torch.no_grad():
        teacher_logits = module.teacher(images)
    p_teacher = F.softmax(teacher_logits / 3, dim=1)
    by_hand = (p_teacher * (p_teacher.log() - F.log_softmax(logits / 3, dim=1))).sum(dim=1).mean() * 9
    assert torch.allclose(module._distill_loss(logits, images), by_hand, atol=1e-6)
    assert by_hand > 0  # an untrained student disagrees with its teacher
    # The training loss mixes it with the cross-entropy on the labels by distill.weight (0.5 by default).
    loss, _ = module._shared_step((images, labels), "train")
    expected = 0.5 * F.cross_entropy(module(images), labels) + 0.5 * by_hand
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


def test_a_distilled_run_counts_the_teachers_forward_in_its_training_flops(trained_sweep, tmp_path):
    result = run_here("mnist_lightning.train", *STUDENT, f"distill.teacher={teacher_of(trained_sweep)}",
                      f"hydra.run.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    flops = json.loads((tmp_path / "metrics.json").read_text())["flops"]
    student = flops_per_image(instantiate(compose_train_config(tmp_path, STUDENT).model.net))
    assert flops["per_image_forward"] == student["forward"]  # scoring an image needs no teacher
    assert flops["per_image_train"] == student["train"] + 8_503_328  # + the reference net's forward
    assert flops["train"] == flops["per_image_train"] * 4 * 28


def test_a_teacher_that_saw_the_held_out_images_is_refused_in_one_line(trained_sweep, tmp_path):
    result = run_here("mnist_lightning.train", *STUDENT, "data.val_size=5000", "test=false",
                      "optimized_metric=val/acc", f"distill.teacher={teacher_of(trained_sweep)}",
                      f"hydra.run.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert_clear_error(result, r"distill.teacher .* trained on all 60,000 training images")


OUT_OF_RANGE = [("distill.weight=0", "distill.weight must be a number in"),
                ("distill.temperature=-1", "distill.temperature must be a positive")]  # fmt: skip


@pytest.mark.parametrize(("setting", "message"), OUT_OF_RANGE)
def test_distillation_settings_out_of_range_are_refused(trained_sweep, tmp_path, setting, message):
    cfg = compose_train_config(tmp_path, [*STUDENT, f"distill.teacher={teacher_of(trained_sweep)}", setting])
    with pytest.raises(UserError, match=message):
        build_module(cfg)
