"""Knowledge distillation (distill.teacher): the loss, a teacher that stays fixed and out of the student's
checkpoint, budget and optimizer, and the refusal of a teacher that has seen the held-out images."""

import json
from pathlib import Path

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


def teacher_checkpoint(trained_sweep, folder, held_out: int | None, folder_val_size: int | None = None):
    """The sweep's trained checkpoint, saying it held out `held_out` images (None: a checkpoint made before they
    said so), in a run folder whose config says `folder_val_size` (None: no config)."""
    checkpoint = torch.load(trained_sweep / "0" / "checkpoints" / "last.ckpt", weights_only=True)
    if held_out is None:
        del checkpoint["hyper_parameters"]["held_out"]
    else:
        checkpoint["hyper_parameters"]["held_out"] = held_out
    (folder / "checkpoints").mkdir(parents=True)
    torch.save(checkpoint, folder / "checkpoints" / "last.ckpt")
    if folder_val_size is not None:
        config = OmegaConf.load(trained_sweep / "0" / ".hydra" / "config.yaml")
        config.data.val_size = folder_val_size
        (folder / ".hydra").mkdir()
        OmegaConf.save(config, folder / ".hydra" / "config.yaml")
    return folder / "checkpoints" / "last.ckpt"


HELD_OUT = ["data.val_size=5000", "test=false", "optimized_metric=val/acc"]


def test_a_teacher_that_trained_on_any_held_out_image_is_refused_in_one_line(trained_sweep, tmp_path):
    result = run_here("mnist_lightning.train", *STUDENT, *HELD_OUT, f"distill.teacher={teacher_of(trained_sweep)}",
                      f"hydra.run.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert_clear_error(result, r"distill.teacher .* held out 0 training images, so it trained on 5,000 of the 5,000")

    def build(teacher):
        return build_module(compose_train_config(tmp_path, [*STUDENT, *HELD_OUT, f"distill.teacher={teacher}"]), False)[
            0
        ]

    # The held-out images are the first val_size of one order: a teacher that held out fewer saw some of them. What
    # the checkpoint says counts, not the folder it was copied into.
    partly = teacher_checkpoint(trained_sweep, tmp_path / "partly", held_out=1000, folder_val_size=5000)
    with pytest.raises(UserError, match="held out 1,000 training images, so it trained on 4,000 of the 5,000"):
        build(partly)
    for held_out in (5000, 6000):  # the same images held out, or more: accepted
        assert build(teacher_checkpoint(trained_sweep, tmp_path / str(held_out), held_out)).teacher is not None
    # A checkpoint made before checkpoints said so: its run folder's config tells, or it is refused.
    assert build(teacher_checkpoint(trained_sweep, tmp_path / "old", None, folder_val_size=5000)).teacher is not None
    with pytest.raises(UserError, match="does not say how many training images it held out"):
        build(teacher_checkpoint(trained_sweep, tmp_path / "old_alone", None))


OUT_OF_RANGE = [("distill.weight=0", "distill.weight must be a number in \\(0, 1\\], got 0"),
                ("distill.weight=1.5", "distill.weight must be a number in"),
                ("distill.temperature=0", "distill.temperature must be a positive number, got 0"),
                ("distill.teacher=nope.ckpt", "distill.teacher nope.ckpt does not exist"),
                # a run folder pasted: the file in it is named, as for ckpt_path
                ("distill.teacher=.", "distill.teacher . is a folder, not a checkpoint: give a file ")]  # fmt: skip


@pytest.mark.parametrize(("setting", "message"), OUT_OF_RANGE)
def test_distillation_settings_out_of_range_are_refused(tmp_path, setting, message):
    cfg = compose_train_config(tmp_path, [*STUDENT, "distill.teacher=nope.ckpt", setting])
    with pytest.raises(UserError, match=message):
        build_module(cfg)
    if setting == OUT_OF_RANGE[0][0]:  # through the command once: the same check, before the layer table
        result = run_here("mnist_lightning.train", *STUDENT, "distill.teacher=nope.ckpt", setting, cwd=tmp_path)
        assert_clear_error(result, message)
        assert "Total params" not in result.stdout + result.stderr


def test_a_distilled_run_trains_in_bf16_true_precision_with_its_teacher_cast_alike(trained_sweep, tmp_path):
    # Lightning casts only submodules: the teacher, kept out of them, follows the student's dtype in on_fit_start.
    teacher = teacher_checkpoint(trained_sweep, tmp_path / "teacher", held_out=5000)
    result = run_here("mnist_lightning.train", *STUDENT, "trainer.precision=bf16-true", *HELD_OUT,
                      f"distill.teacher={teacher}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr  # an fp32 teacher fed bf16 images fails on the dtypes
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["precision"] == "bf16-true" and metrics["status"] == "ok"


def test_a_distilled_run_counts_its_teachers_forward_and_refuses_to_resume_with_other_distill_settings(
    trained_sweep, tmp_path
):
    teacher = f"distill.teacher={teacher_of(trained_sweep)}"
    first = run_here("mnist_lightning.train", *STUDENT, teacher, f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"distilling from {Path(teacher_of(trained_sweep)).resolve()} (distill.weight=0.5" in first.stdout
    flops = json.loads((tmp_path / "a" / "metrics.json").read_text())["flops"]
    student = flops_per_image(instantiate(compose_train_config(tmp_path, STUDENT).model.net))
    assert flops["per_image_forward"] == student["forward"]  # scoring an image needs no teacher
    assert flops["per_image_train"] == student["train"] + 8_503_328  # + the reference net's forward
    assert flops["train"] == flops["per_image_train"] * 4 * 28
    # A teacher added, dropped or swapped half-way would silently change the loss: resuming needs the same settings.
    ckpt = f"ckpt_path={tmp_path / 'a' / 'checkpoints' / 'last.ckpt'}"
    other = teacher_checkpoint(trained_sweep, tmp_path / "other", held_out=0)
    for changed in ([], [teacher, "distill.weight=0.9"], [f"distill.teacher={other}"]):
        result = run_here("mnist_lightning.train", *STUDENT, "trainer.max_epochs=2", ckpt, *changed,
                          f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)  # fmt: skip
        assert_clear_error(
            result, r"was trained with distill.teacher=.* distill.weight=0.5 distill.temperature=4.0 and"
        )
    again = run_here("mnist_lightning.train", *STUDENT, "trainer.max_epochs=2", ckpt, teacher,
                     f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr  # the same settings resume
    # Nor may the held-out images change: the run would train on images it validated on.
    moved = run_here("mnist_lightning.train", *STUDENT, "trainer.max_epochs=3", *HELD_OUT,
                     f"ckpt_path={tmp_path / 'b' / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={tmp_path / 'c'}",
                     cwd=tmp_path)  # fmt: skip
    assert_clear_error(moved, r"was trained with data.val_size=0 and this run has data.val_size=5000")


def test_a_teacher_leaves_the_students_first_weights_as_without_it(trained_sweep, tmp_path):
    # The teacher is built after the student: building it first would draw its initial weights from the seeded
    # generator, and a distilled run would start from other student weights than the same run without a teacher.
    def first_weights(*extra: str) -> dict:
        torch.manual_seed(1)
        return build_module(compose_train_config(tmp_path, [*STUDENT, *extra]), verbose=False)[0].net.state_dict()

    plain, distilled = first_weights(), first_weights(f"distill.teacher={teacher_of(trained_sweep)}")
    assert all(torch.equal(plain[name], distilled[name]) for name in plain)
