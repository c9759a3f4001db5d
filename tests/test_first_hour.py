"""What a newcomer met in the first hour (issue 23): each rough edge, as the user saw it, and how it reads now."""

import ast
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clear_error, run_here

import mnist_lightning
from mnist_lightning.report import report

TRAIN = "mnist_lightning.train"


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (TRAIN, ["trainer.max_epoch=1"], "there is no option trainer.max_epoch: did you mean trainer.max_epochs\\?$"),
        (TRAIN, ["model.dropuot=0.1"], "there is no option model.dropuot: did you mean model.dropout"),
        (TRAIN, ["-m", "model=fast,reference", "model.widths=[4]"], "there is no option model.widths"),
        (TRAIN, ["+trainer.max_epoch=1"], "the Trainer takes no argument 'max_epoch': did you mean trainer.max_epochs"),
        (TRAIN, ["~trainer.nothing"], "there is no option trainer.nothing$"),
        # A flag as other tools take options: Hydra's argparse printed its eight-line usage
        (
            TRAIN,
            ["--epochs=1"],
            r"--epochs=1 is not a flag: options are key=value; did you mean trainer.max_epochs=1\?$",
        ),
        (TRAIN, ["--max_epochs", "1"], r"--max_epochs is not a flag: .*; did you mean trainer.max_epochs=1\?$"),
        (
            "mnist_lightning.evaluate",
            ["--ckpt_path=x.ckpt"],
            r"--ckpt_path=x.ckpt is not a flag: options are key=value, "
            r"as ckpt_path=x.ckpt$",
        ),  # fmt: skip
        (TRAIN, ["-m", "seed=1,2", "--bogus"], r"--bogus is not a flag: options are key=value \(--help lists them\)$"),
        # A Trainer argument the config does not set: the + that adds it (the one advice with + that works), also
        # where a config key is close (max_steps, max_epochs); none for those the commands pass themselves
        (
            TRAIN,
            ["trainer.max_steps=100"],
            r"trainer.max_steps: the Trainer takes it, so add it to the config with \+trainer.max_steps=100$",
        ),
        (TRAIN, ["trainer.logger=false"], r"there is no option trainer.logger$"),
        (
            TRAIN,
            ["trainer.gradient_clip_val=0.5"],
            r"there is no option trainer.gradient_clip_val: the Trainer takes it, so add it to the config with "
            r"\+trainer.gradient_clip_val=0.5$",
        ),  # fmt: skip
        ("mnist_lightning.evaluate", ["ckpt_paht=x.ckpt"], "there is no option ckpt_paht: did you mean ckpt_path\\?"),
        ("mnist_lightning.predict", ["ckpt_path=x", "inptus=y"], "there is no option inptus: did you mean inputs\\?"),
        ("mnist_lightning.export", ["ckpt_path=x", "fromat=pt2"], "there is no option fromat: did you mean format\\?"),
        ("mnist_lightning.bench", ["step=3"], "there is no option step: did you mean steps\\?"),
        (TRAIN, ["hparams_search=optuna", "hydra.sweeper.n_trial=3"], "did you mean hydra.sweeper.n_trials"),
        # A name without its node (Hydra's parts of a name are not matched one by one)
        (TRAIN, ["max_epochs=1"], "there is no option max_epochs: did you mean trainer.max_epochs\\?$"),
        (TRAIN, ["lr=0.01"], "there is no option lr: did you mean optimizer.lr\\?$"),
        # A checkpoint or a photo pasted without its option: Hydra's parser error named its grammar
        (
            "mnist_lightning.evaluate",
            ["runs/x/last.ckpt"],
            "'runs/x/last.ckpt' is not an option \\(key=value\\): give the checkpoint as ckpt_path=runs/x/last.ckpt$",
        ),  # fmt: skip
        (
            "mnist_lightning.predict",
            ["ckpt_path=x.ckpt", "me.png"],
            r"give photos as inputs=me.png, the checkpoint as ckpt_path=\.\.\.$",
        ),
        # A network or recipe chosen for a command that rebuilds its checkpoint's: Hydra's "Could not override
        # 'model'", whose advice (+model=pico6) was then ignored
        (
            "mnist_lightning.evaluate",
            ["ckpt_path=x.ckpt", "model=pico6"],
            r"model=pico6: evaluate takes no model, the checkpoint decides it \(as it was trained\); train chooses it$",
        ),  # fmt: skip
        ("mnist_lightning.evaluate", ["ckpt_path=x.ckpt", "+model=pico6"], r"model=pico6: evaluate takes no model"),
        ("mnist_lightning.predict", ["ckpt_path=x.ckpt", "inputs=a", "experiment=fast"], "predict takes no experiment"),
        # A group added with + or ++ where the config already has it: Hydra's advice was defaults-list syntax
        (
            TRAIN,
            ["+experiment=fast"],
            r"\+experiment=fast: experiment is a group train already has, so choose it "
            r"without \+, as experiment=fast$",
        ),  # fmt: skip
        (TRAIN, ["++model=micro"], r"\+\+model=micro: a group is chosen without \+\+, as model=micro$"),
        (TRAIN, ["experment=fast"], "there is no option experment: did you mean experiment\\?$"),
        # An option of another choice of its group: "did you mean data.augment?" did not say which
        (
            TRAIN,
            ["data.augment.degrees=5"],
            r"no option data.augment.degrees in the chosen data/augment: data/augment=affine and data/augment="
            r"affine_light have it; choose one first, e.g. data/augment=affine data.augment.degrees=...$",
        ),
        (TRAIN, ["model.net.block1.0=5"], r"model=compact and model=fast and model=fast_v1 \(and more\) have it"),
        # a choice's value that interpolates another key (${model.dropout}): read without resolving it
        (TRAIN, ["model.net.net.dropout=0.1"], r"model=pico6 and model=pico_dilated have it; choose one first"),
        # A sweep value out of range: refused before the first job (job 0 trained, then job 1 refused it)
        (TRAIN, ["-m", "data.val_size=100,60000"], r"data.val_size must be an integer in \[0, 60000\), got 60000$"),
        # Batch limits that train or test nothing: 0 epochs "trained" and a test accuracy reported, or an IndexError
        (
            TRAIN,
            ["trainer.limit_train_batches=0"],
            "trainer.limit_train_batches=0 trains nothing: give a share above 0",
        ),
        (TRAIN, ["trainer.limit_test_batches=0"], r"limit_test_batches=0 tests nothing: .* \(train: test=false skips"),
        # evaluate has no test=false: the advice is the batch limit's
        (
            "mnist_lightning.evaluate",
            ["ckpt_path=x.ckpt", "trainer.limit_test_batches=0"],
            r"trainer.limit_test_batches=0 tests nothing: give a share above 0 or a number of batches",
        ),
        # A comma list to predict: the advice was -m, which made a multirun folder and loaded the model per file
        (
            "mnist_lightning.predict",
            ["ckpt_path=x.ckpt", "inputs=a.png,b.png"],
            r"inputs=a.png,b.png gives several values: a list is written inputs=\[a.png,b.png\] \(a string",
        ),  # fmt: skip
        # A group chosen with a dot, or a node of settings given one value: a Python error inside instantiate
        (TRAIN, ["data.augment=affine"], "data.augment is a config group: choose from it as data/augment=affine$"),
        (
            TRAIN,
            ["model.net=pico6"],
            r"model.net holds settings \(dropout\), not one value: set one of them as "
            r"model.net.<name>=...; model=pico6 chooses the model of that name$",
        ),  # fmt: skip
        (TRAIN, ["-m", "data.augment=affine,none"], "choose from it as data/augment=affine,none$"),
        (
            "mnist_lightning.evaluate",
            ["x.onnx"],
            r"and an exported network: give the .ckpt it was exported from as ckpt_path=\.\.\.$",
        ),
        (
            TRAIN,
            ["callbacks.progress_bar=false"],
            r"callbacks.progress_bar holds settings \(refresh_rate, terminal_only\), not one value: set one of them as "
            r"callbacks.progress_bar.<name>=...$",
        ),  # fmt: skip
        # A choice that is not in its group: the close names, or the group that has a config of that name
        (
            TRAIN,
            ["data/augment=afine"],
            r"there is no data/augment 'afine': did you mean affine\? \(choose one of "
            r"affine, affine_light, none\)$",
        ),  # fmt: skip
        (
            TRAIN,
            ["data.augment=afine"],
            r"data.augment is a config group, chosen as data/augment=<name>, and there is "
            r"no data/augment 'afine': did you mean affine\? \(choose one of affine, affine_light, none\)$",
        ),  # fmt: skip
        (
            TRAIN,
            ["--config-name=pico6"],
            r"there is no config 'pico6' \(--config-name chooses a whole config: bench, .*, train\); experiment=pico6 "
            r"chooses the experiment of that name; model=pico6 chooses the model of that name$",
        ),
        (
            TRAIN,
            ["model=pico_expanded60"],
            r"there is no model 'pico_expanded60': experiment=pico_expanded60 chooses "
            r"the experiment of that name \(choose one of compact, .*, tiny\)$",
        ),  # fmt: skip
        # A checkpoint path that names no file: refused before torch loads and before Hydra makes a run folder
        (
            TRAIN,
            ["ckpt_path=missing.ckpt"],
            r"ckpt_path missing.ckpt does not exist: give a file such as "
            r"<run>/checkpoints/last.ckpt$",
        ),  # fmt: skip
        # (a smoke test where the check fails to come first: the null job would train)
        (TRAIN, ["-m", "ckpt_path=null,gone.ckpt", "trainer.fast_dev_run=true"], r"ckpt_path gone.ckpt does not exist"),
        # An unset shell variable (ckpt_path=$CKPT): Lightning's fit raised a ValueError on '' (fast_dev_run: a
        # smoke test if the refusal goes)
        (TRAIN, ["ckpt_path=", "trainer.fast_dev_run=true"], r"ckpt_path is empty: give a file such as <run>/"),
        ("mnist_lightning.export", ["ckpt_path="], r"ckpt_path is empty: give a file such as <run>/"),
        # null where the command needs a checkpoint: a TypeError from pathlib
        ("mnist_lightning.evaluate", ["ckpt_path=null"], r"ckpt_path is null: evaluate needs a file such as <run>/"),
        ("mnist_lightning.photos", ["ckpt_path=null"], r"ckpt_path is null: photos needs a file such as <run>/"),
        (
            "mnist_lightning.evaluate",
            ["ckpt_path=."],
            r"ckpt_path \. is a folder, not a checkpoint: give a file such as "
            r"<run>/checkpoints/last.ckpt$",
        ),  # fmt: skip
        # Hydra's own answers to these ran to six or ten lines, or a lexer's exception and a link.
        (TRAIN, ["seed=1,2"], "seed=1,2 sweeps several values: add -m to run one job for each"),
        (TRAIN, ["model=fast,reference"], "model=fast,reference sweeps several values: add -m"),
        (TRAIN, ["hydra/launcher=jobib"], "there is no hydra/launcher 'jobib': choose one of basic, joblib, submitit"),
        (
            "mnist_lightning.evaluate",
            ["ckpt_path=outputs/<run>/checkpoints/last.ckpt"],
            r"Hydra cannot read 'ckpt_path=outputs/<run>/.*\): quote .*; replace the <\.\.\.> placeholder",
        ),
        (
            TRAIN,
            ["-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partiton=debug", "seed=1"],
            "there is no option hydra.launcher.partiton: did you mean hydra.launcher.partition",
        ),
    ],
)
def test_a_misspelled_option_is_one_line_naming_the_nearest_valid_names(tmp_path, command, args, message):
    result = run_here(command, *args, cwd=tmp_path)
    assert_clear_error(result, message)
    advice = "add it to the config with" in message  # the one case where + is the way
    assert advice or "+trainer" not in result.stderr, result.stderr  # no advice that cannot work
    assert "HYDRA_FULL_ERROR" not in result.stderr
    assert not (tmp_path / "outputs").exists()  # refused before Hydra made a run folder


def test_every_command_answers_a_mistake_help_and_cfg_before_it_loads_torch(tmp_path):
    # As a user types it (python -m): each command answers these first, and Python's import log shows what had been
    # loaded by then. About a second, where torch and Lightning take 8-10 s to load on 2 cores.
    commands = ["train", "evaluate", "predict", "export", "serve", "photos", "bench"]
    # Three processes (1-2 s of CPU each); for the other commands, the source check below. A relative --config-path
    # is resolved from the command's file, as when the command runs.
    cfg = ["--config-path", "../conf", "--cfg", "job"]
    asked = [("train", ["ckpt_paht=x"]), ("train", ["--help"]), ("train", cfg)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", f"mnist_lightning.{name}", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name, args in asked
    ]
    try:
        for (name, args), process in zip(asked, processes, strict=True):
            stdout, stderr = process.communicate(timeout=120)
            said = [line for line in stderr.splitlines() if not line.startswith("import time:")]
            if args == ["ckpt_paht=x"]:
                assert process.returncode == 2 and said[-1:] == [line for line in said if line.startswith("error: ")]
                assert said[-1].startswith("error: there is no option ckpt_paht"), said
            else:  # Hydra's own answer, as the command gives it (its job name, the composed config)
                assert process.returncode == 0 and said == [], said
                if args == ["--help"]:  # the command's own usage line first (conf/hydra/default.yaml)
                    assert stdout.startswith("python -m mnist_lightning.train [group=option ...] [key=value ...]:")
                    assert stdout.rstrip().endswith("More: docs/usage.md and docs/reference.md; Hydra's own flags: "
                                                    "--hydra-help")  # fmt: skip
                else:
                    assert "seed: 1" in stdout.splitlines(), stdout
            loaded = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
            assert "hydra" in loaded and not loaded & {"torch", "pytorch_lightning"}, (name, args)
    finally:
        for process in processes:
            process.kill()
    # Every command answers early, before any import but sys and answer_early's own module, and composes its own
    # config, the one its Hydra main composes.
    # (Read as text: importing the seven modules here would take seconds.)
    for name in commands:
        source = (Path(mnist_lightning.__file__).parent / f"{name}.py").read_text()
        [config_name] = re.findall(r'^@command\("(\w+)"\)$', source, flags=re.MULTILINE)
        docstring, *first = [ast.unparse(statement) for statement in ast.parse(source).body[:4]]
        early = f"if __name__ == '__main__':\n    answer_early('{config_name}', sys.argv[1:])"
        assert first == ["import sys", "from mnist_lightning.base.command_line import answer_early", early], name


def test_a_tool_commands_help_prints_its_usage_then_its_options(tmp_path):
    result = run_here("mnist_lightning.evaluate", "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("python -m mnist_lightning.evaluate ckpt_path=<run>/")
    assert "== Options (key=value on the command line) ==" in result.stdout and "ckpt_path: ???" in result.stdout
    assert "== Configuration groups ==" not in result.stdout  # train's model, optimizer, ... do not apply
    # evaluate's own list (conf/evaluate.yaml, checked below): not the training options of its data and trainer nodes
    assert "\ndata.eval_batch_size: 500  # test images per batch\n" in result.stdout
    assert "augment" not in result.stdout and "max_epochs" not in result.stdout


@pytest.mark.parametrize("command", ["predict", "export", "serve", "photos"])
def test_a_tool_commands_help_lists_each_option_as_its_config_writes_it_with_the_comment(tmp_path, command):
    # Hydra's $CONFIG printed `doubtful_share: 0.01`, `atol: 0.0001` with no word on what they do.
    from omegaconf import OmegaConf

    from mnist_lightning.base.locations import CONF_DIR

    result = run_here(f"mnist_lightning.{command}", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    options = result.stdout.split("== Options (key=value on the command line) ==\n\n")[1].split("\n\nMore: ")[0]
    written = (CONF_DIR / f"{command}.yaml").read_text().splitlines()
    config = OmegaConf.load(CONF_DIR / f"{command}.yaml")
    for key in set(config.keys()) - {"defaults", "hydra"}:
        [line] = [line for line in written if line.startswith(f"{key}:")]
        assert line in options.splitlines(), key  # the file's own line, its comment included
    assert "defaults:" not in options and "hydra:" not in options and "_self_" not in options
    assert sum("  # " in line for line in options.splitlines()) >= len(config) - 4  # most lines say what they do


def test_evaluates_help_lists_the_options_a_test_reads_with_the_configs_defaults():
    """Its data and trainer nodes also hold training options, which its help leaves out (conf/evaluate.yaml writes
    the list): each name listed must exist, with the default the composed config has."""
    import yaml
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from mnist_lightning.base.locations import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        config = compose("evaluate", return_hydra_config=True)
    options = config.hydra.help.template.split("== Options (key=value on the command line) ==")[1].split("\n\n")[1]
    listed = dict(line.split("  # ")[0].split(": ", 1) for line in options.splitlines())
    used = {"ckpt_path", "torch_threads", "data.eval_batch_size", "data.device", "trainer.accelerator"}
    assert used | {"trainer.limit_test_batches"} <= set(listed)
    assert not {"data.augment", "data.batch_size", "trainer.max_epochs", "seed"} & set(listed)
    for name, default in listed.items():
        if default == "???":
            assert OmegaConf.is_missing(config, name), name
        else:
            absent = object()  # select gives None for a name the config lacks, like a null default
            assert OmegaConf.select(config, name, default=absent) == yaml.safe_load(default), name


def test_every_commands_help_starts_with_its_usage_and_lists_only_the_groups_it_takes():
    from hydra import compose, initialize_config_dir

    from mnist_lightning.base.locations import CONF_DIR

    for name in ["train", "evaluate", "predict", "export", "serve", "photos", "bench"]:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            help_config = compose(name, return_hydra_config=True).hydra.help
        assert help_config.header.startswith(f"python -m mnist_lightning.{name} "), name
        # The training groups (model, optimizer, experiment, hparams_search, ...) are train's and bench's only.
        assert ("$APP_CONFIG_GROUPS" in help_config.template) == (name in ("train", "bench")), name


def test_options_that_exist_only_in_some_swept_choices_or_as_additions_pass_the_check(tmp_path):
    from mnist_lightning.base.option_names import unknown_option

    assert unknown_option("train", ["-m", "model=reference,micro", "model.net.separable=false"]) is None  # micro's
    assert (
        unknown_option("train", ["+callbacks.extra._target_=x.Y", "+trainer.max_steps=5", "hydra.job.chdir=true"])
        is None
    )
    assert unknown_option("train", ["experiment=fast", "scheduler.max_lr=0.01"]) is None  # onecycle's, via fast
    # Hydra's search and launcher settings are checked against the chosen sweeper and launcher; their free-form
    # nodes (the search space) and Hydra's other settings are not.
    search = ["hparams_search=optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.params.model.dropout=interval(0,1)"]
    assert unknown_option("train", search) is None
    assert unknown_option("train", ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2"]) is None
    assert unknown_option("train", ["hydra.run.dir=x", "hydra.job.chdir=true"]) is None
    # A comma list sweeps wherever Hydra runs a multirun: with -m, or where a config sets hydra.mode (a search).
    assert unknown_option("train", ["hparams_search=optuna", "seed=1,2"]) is None
    assert unknown_option("train", ["hydra.mode=MULTIRUN", "seed=1,2"]) is None
    assert unknown_option("train", ["--multirun", "model=fast,reference"]) is None
    assert unknown_option("train", ["seed=[1,2]"]) == "seed must be an integer (like 1), got [1, 2]"  # not a sweep
    assert unknown_option("train", ["seed=${oc.env:SEED}"]) is None  # an interpolation: the run resolves and checks it
    assert unknown_option("train", ["+epochs=3", "trainer.max_epochs=${epochs}"]) is None
    # Values whose shipped default resolves only inside the running job (${hydra:runtime.output_dir}): paths, no type.
    for path in ("paths.output_dir", "logger.tensorboard.save_dir", "callbacks.last_checkpoint.dirpath"):
        assert unknown_option("train", [f"{path}=/tmp/x"]) is None
    assert unknown_option("evaluate", ["ckpt_path=x.ckpt", "paths.output_dir=/tmp/x"]) is None
    # Sweeps the early check cannot list: a search's interval (its sweeper answers), Hydra's glob.
    assert unknown_option("train", ["hparams_search=optuna", "optimizer.lr=interval(0.001,0.01)"]) is None
    assert unknown_option("train", ["-m", "seed=glob(*)"]) is None
    # A float where the shipped value is a whole number written as a float: fast's div_factor, serve's upload limit.
    assert unknown_option("train", ["experiment=fast", "scheduler.div_factor=12.5"]) is None
    assert unknown_option("serve", ["ckpt_path=x.ckpt", "max_upload_mb=0.5"]) is None
    # Options whose default is null still have a type: a wrong one is refused, null and a right one pass.
    threads = "torch_threads must be an integer (like 1) or null, got 'abc'"
    assert unknown_option("evaluate", ["ckpt_path=x.ckpt", "torch_threads=abc"]) == threads
    assert unknown_option("evaluate", ["ckpt_path=x.ckpt", "torch_threads=2"]) is None
    assert unknown_option("train", ["-m", "torch_threads=1,null"]) is None
    doubt = ["ckpt_path=x.ckpt", "inputs=y"]
    assert unknown_option("predict", [*doubt, "doubtful_below=abc"]).startswith("doubtful_below must be a number")
    assert unknown_option("predict", [*doubt, "doubtful_below=0.3"]) is None
    assert unknown_option("train", ["--multir", "seed=1,2"]) is None  # argparse takes an abbreviation
    assert unknown_option("train", ["hydra.mode=RunMode.MULTIRUN", "seed=1,2"]) is None


@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_a_gpu_trainer_on_a_machine_without_one_is_one_line_before_anything_is_printed(tmp_path, trainer):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run_here(TRAIN, f"trainer={trainer}", cwd=tmp_path)
    assert_clear_error(result, f"trainer.accelerator=gpu needs {1 if trainer == 'gpu' else 2} GPUs? and this machine "
                               "has no GPU that torch can use: use trainer=default")  # fmt: skip
    assert result.stdout == "" and "Total params" not in result.stderr  # not even the layer table


def test_a_run_that_learns_nothing_is_flagged_in_its_exit_code_metrics_and_report(tmp_path, trained_sweep):
    # lr=1e6 is finite (no NaN, so not "diverged") and the weights blow up: 10-25% accuracy, printed as a result before.
    run = tmp_path / "run"
    args = ["optimizer.lr=1e6", "trainer.max_epochs=1", "trainer.limit_train_batches=100", "logger=none",
            "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", f"hydra.run.dir={run}"]  # fmt: skip
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert_clear_error(result, r"training accuracy is \d+\.\d% after 100 steps, near chance level", code=1)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "chance_level" and metrics["chance_level"]["train/acc"] < 0.3
    assert "| . |" in report(run) and "| chance level (train acc " in report(run)
    # A run of the same network at the default lr (the shared sweep's, 300 steps) passes the same judgement.
    assert json.loads((trained_sweep / "0" / "metrics.json").read_text())["status"] == "ok"


def screen(text: str) -> list[str]:
    """The rows a terminal shows after writing `text`: carriage return, newline and tqdm's cursor-up (ESC [A)."""
    rows, row, col = [[]], 0, 0
    for token in re.findall(r"\x1b\[A|.|\n", text, flags=re.DOTALL):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            rows.extend([] for _ in range(row + 1 - len(rows)))
        elif token == "\x1b[A":
            row = max(0, row - 1)
        else:
            line = rows[row]
            line.extend(" " for _ in range(col + 1 - len(line)))
            line[col], col = token, col + 1
    return ["".join(line).rstrip() for line in rows]


NOTICES = ("GPU available", "TPU available", "Loading `train_dataloader`", "`Trainer.fit` stopped")


def test_lightnings_notices_about_gpus_are_left_out_where_they_are_written():
    # Seen in the GPU sittings' logs (outputs/results/v0.5.0/gpu/): no GPU here, so they are written as Lightning does.
    from pytorch_lightning.utilities.rank_zero import rank_zero_info

    from mnist_lightning.base.console import quiet_lightning_notices

    quiet_lightning_notices()
    # Where Lightning writes them: rank_zero_info's logger, and its CUDA accelerator's own for the devices line
    names = ("pytorch_lightning.utilities.rank_zero", "pytorch_lightning.accelerators.cuda")
    sources, shown = [logging.getLogger(name) for name in names], []
    handler = logging.Handler()
    handler.emit = lambda record: shown.append(record.getMessage())
    levels = [source.level for source in sources]
    for source in sources:
        source.addHandler(handler)
        source.setLevel(logging.INFO)
    try:
        rank_zero_info("GPU available: True (cuda), used: True")
        rank_zero_info(
            "You are using a CUDA device ('NVIDIA H200') that has Tensor Cores. To properly utilize them, ..."
        )
        rank_zero_info("Restoring states from the checkpoint path at last.ckpt")  # one that says something: kept
        sources[1].info("LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]")  # accelerators/cuda.py's _log.info
    finally:
        for source, level in zip(sources, levels, strict=True):
            source.removeHandler(handler)
            source.setLevel(level)
    assert shown == ["Restoring states from the checkpoint path at last.ckpt"]


@pytest.mark.parametrize("terminal", [True, False])
def test_result_lines_stand_on_their_own_lines_in_a_terminal_and_in_a_log(tmp_path, terminal):
    args = ["trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "logger=none", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = run_here(TRAIN, *args, cwd=tmp_path, terminal=terminal)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert ("it/s" in result.stdout) is terminal  # the bar is drawn only for a person watching
    if terminal:  # validation scores the test set here: the bar names it as the epoch lines do ("test loss")
        assert "test/acc=" in result.stdout and "val/acc=" not in result.stdout
    # The screen a terminal shows at the end: each result is a whole row of its own (glued, it followed a bar).
    rows = screen(result.stdout)
    for name in ("Epoch 1: test loss", "Epoch 2: test loss", "Test loss", "test accuracy"):
        [row] = [row for row in rows if name in row]
        assert row.startswith(name), rows
    assert not any(notice in output for notice in NOTICES), output


def test_a_recipe_without_validation_prints_a_training_line_every_epoch(tmp_path):
    args = ["experiment=fast", "trainer.limit_train_batches=2", "trainer.limit_test_batches=1", "logger=none",
            f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"(?m)^Epoch (\d): train loss \d+\.\d{4}, accuracy \d+/256 \(\d+\.\d{2}%\)$", result.stdout)
    assert lines == ["1", "2", "3"], result.stdout


def test_doubtful_means_the_same_share_of_answers_for_a_sure_and_a_label_smoothed_network(trained_sweep):
    import torch

    from mnist_lightning.data.mnist import mnist_split, normalize
    from mnist_lightning.inference.doubt import calibrated_threshold
    from mnist_lightning.run.checkpoints import load_module

    sure = load_module(trained_sweep / "0" / "checkpoints" / "last.ckpt").eval().net

    # The same answers, less sure (a temperature of 4): a stand-in for a label-smoothed network, whose right answers
    # also come at lower probabilities; no smoothed network needs training for the test.
    class Smoothed(torch.nn.Module):
        def forward(self, x):
            return 0.25 * sure(x)

    images, _ = mnist_split(None, train=False)
    test = normalize(images[:2000].unsqueeze(1).float() / 255)
    shares = {}
    for name, net in (("sure", sure), ("smoothed", Smoothed())):
        with torch.no_grad():
            top = torch.cat([net(batch) for batch in test.split(500)]).softmax(dim=1).max(dim=1).values
        shares[name] = float((top < calibrated_threshold(net)).float().mean())
        shares[f"{name}, fixed 0.8"] = float((top < 0.8).float().mean())
    assert 0.005 < shares["sure"] < 0.08 and 0.005 < shares["smoothed"] < 0.08, shares  # about 1-5% each ...
    assert abs(shares["sure"] - shares["smoothed"]) < 0.01, shares  # ... the same share for both
    assert shares["smoothed, fixed 0.8"] > 0.5, shares  # this stand-in is where one fixed threshold fails


def test_preprocessed_images_keep_their_names():
    from pathlib import Path

    from mnist_lightning.predict import seen_file_names

    names = seen_file_names([Path("a/one.png"), Path("scan.jpg"), Path("b/two.png"), Path("b/two.jpg")])
    assert names == {Path("a/one.png"): "one.png", Path("scan.jpg"): "scan.png", Path("b/two.png"): "two.png.png",
                     Path("b/two.jpg"): "two.jpg.png"}  # fmt: skip


def test_untracked_code_makes_the_tree_dirty_and_other_files_do_not(tmp_path, monkeypatch):
    from mnist_lightning.run import provenance

    statuses = {"?? predictions.csv\n?? notes/todo.md": False, "?? mnist_lightning/new.py": True,
                "M conf/train.yaml": True, "": False, "?? user_nets.py": True, "?? my_nets/small.py": True}  # fmt: skip
    for status, dirty in statuses.items():
        monkeypatch.setattr(provenance, "_git", lambda *args, s=status: s if args[0] == "status" else "abc123")
        assert provenance._git_state() == ("abc123", dirty), status


def test_the_last_line_of_a_smoke_test_names_its_batches_and_one_that_scored_nothing_ends_quietly(tmp_path, caplog):
    import logging

    from mnist_lightning.run.record import log_result

    with caplog.at_level(logging.INFO, logger="mnist_lightning.run.record"):
        log_result({"fast_dev_run": 3, "test/acc": 0.5, "val/acc": 0.5}, tmp_path)
        # experiment=fast validates nothing: with test=false a smoke test scored nothing (it once raised TypeError)
        log_result({"fast_dev_run": 1, "test/acc": None, "val/acc": None}, tmp_path)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "test accuracy 50.00% on 3 batches (fast_dev_run: a smoke test)"
    ]


def test_python_dash_m_on_the_package_names_the_command_modules(tmp_path):
    import importlib.util

    result = subprocess.run([sys.executable, "-m", "mnist_lightning", "train", "seed=2"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert_clear_error(result, r"the commands are modules of their own: python -m mnist_lightning.train seed=2$")
    for args, code in [(["--help"], 0), (["-h"], 0), ([], 2)]:
        result = subprocess.run([sys.executable, "-m", "mnist_lightning", *args], capture_output=True, text=True,
                                cwd=tmp_path, timeout=60)  # fmt: skip
        shown = result.stdout if code == 0 else result.stderr
        assert result.returncode == code and "python -m mnist_lightning.<command>, one of train, evaluate" in shown
    package = Path(mnist_lightning.__file__).parent
    source = ast.parse((package / "__main__.py").read_text())  # importing it would exit
    commands = next(ast.literal_eval(n.value) for n in source.body if isinstance(n, ast.Assign))
    with_main = {f.stem for f in package.glob("*.py") if "\ndef main(" in f.read_text()}
    assert set(commands) == with_main and all(importlib.util.find_spec(f"mnist_lightning.{c}") for c in commands)


@pytest.mark.parametrize(
    "args",
    [
        ["--cfg", "job"],
        ["--cf", "job"],  # argparse's shortened long flags
        ["--info", "defaults"],
        ["--pack", "model", "--cfg", "job"],
        ["--config-name", "train", "seed=2"],
        ["-sc", "install=bash"],
        ["--experimental-rerun", "x.pickle"],
        ["model.net=null"],
        ["model.net={}"],
        ["+x={a:1}", "model.net=${x}"],  # an interpolation: its value is known only in the run
        ["-m", "data/augment=affine,none"],
        ["ckpt_path=null"],  # train's default: it trains from the start
        ["ckpt_path=${oc.env:MY_CHECKPOINT}"],  # an interpolation: resolved by the run
        ["--", "seed=3"],  # argparse's end of the flags
        ["trainer.fast_dev_run=null"],  # Lightning takes null as false
        ["trainer.fast_dev_run=0"],
    ],
)
def test_valid_command_lines_pass_the_early_check(args):
    from mnist_lightning.base.command_line import check_command_line

    check_command_line("train", args)  # the whole early check: a refusal would exit
    # --help, --cfg and --info open no checkpoint: one not made yet is no reason to refuse them
    for flags in (["--cfg", "job"], ["--help"], ["--info"]):
        check_command_line("evaluate", ["ckpt_path=not_made_yet.ckpt", *flags])


def test_the_early_checkpoint_check_covers_every_command_that_opens_one(tmp_path):
    # evaluate's, predict's, export's and photos' ckpt_path is ??? in their configs; the check once read it as absent
    # and left them to the run, after torch had loaded (and after a sweep's earlier jobs had run).
    from mnist_lightning.base.checkpoint_path import CHECKPOINT_COMMANDS, given_checkpoint_error

    first, second = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    first.touch()
    second.touch()
    assert set(CHECKPOINT_COMMANDS) == {"train", "evaluate", "predict", "export", "photos"}
    for command in CHECKPOINT_COMMANDS:
        refused = given_checkpoint_error(command, [f"ckpt_path={tmp_path}"])
        assert refused == f"ckpt_path {tmp_path} is a folder, not a checkpoint: give a file such as " + (
            "<run>/checkpoints/last.ckpt"
        ), command
        assert given_checkpoint_error(command, [f"ckpt_path={first},{tmp_path / 'gone.ckpt'}"]).endswith(
            "gone.ckpt does not exist: give a file such as <run>/checkpoints/last.ckpt"
        )
        assert given_checkpoint_error(command, ["ckpt_path="]).startswith("ckpt_path is empty"), command
        null = given_checkpoint_error(command, ["ckpt_path=null"])
        assert null is None if command == "train" else null.startswith(f"ckpt_path is null: {command} needs"), command
        # what must pass: checkpoint files, one or a sweep of them, and interpolations the run resolves
        assert given_checkpoint_error(command, [f"ckpt_path={first}"]) is None, command
        assert given_checkpoint_error(command, [f"ckpt_path={first},{second}"]) is None, command
        assert given_checkpoint_error(command, ["ckpt_path=${oc.env:MY_CHECKPOINT}"]) is None, command
    assert given_checkpoint_error("serve", [f"ckpt_path={tmp_path}"]) is None  # serve also takes an exported .onnx


def test_a_command_refuses_a_null_or_empty_value_it_cannot_run_without():
    # What the early check cannot see (a config file, an interpolation) meets `require` in the run.
    from omegaconf import OmegaConf

    from mnist_lightning.base.errors import UserError, require

    for value in ["???", None, ""]:
        with pytest.raises(UserError, match="^give the checkpoint$"):
            require(OmegaConf.create({"ckpt_path": value}), "ckpt_path", "give the checkpoint")
    require(OmegaConf.create({"ckpt_path": "x.ckpt"}), "ckpt_path", "give the checkpoint")


def test_the_trainer_arguments_read_from_lightnings_source_are_its_signature():
    # The early check reads them from pytorch_lightning's trainer.py without importing it: the same set as inspect's.
    import inspect

    import pytorch_lightning as pl

    from mnist_lightning.base.option_names import trainer_arguments

    assert trainer_arguments() == set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    assert {"max_epochs", "gradient_clip_val", "accumulate_grad_batches"} <= trainer_arguments()


def test_evaluate_names_the_training_options_it_was_given_and_tests_as_without_them(trained_sweep, tmp_path):
    # data.batch_size=64 ran silently with evaluate's own batch of 500: the user believed the test had changed.
    ckpt = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    base = [f"ckpt_path={ckpt}", "trainer.limit_test_batches=3"]
    plain = run_here("mnist_lightning.evaluate", *base, cwd=tmp_path)
    given = run_here("mnist_lightning.evaluate", *base, "data.batch_size=7", "trainer.max_epochs=3", cwd=tmp_path)
    assert plain.returncode == given.returncode == 0, given.stderr
    note = "note: evaluate does not use data.batch_size, trainer.max_epochs: only training reads them"
    assert given.stderr.count(note) == 1 and "note:" not in plain.stderr
    from mnist_lightning.base.command_line import training_only_note

    assert training_only_note("evaluate", ["data/augment=affine"]).startswith(
        "note: evaluate does not use data/augment:"
    )
    assert training_only_note("train", ["data.batch_size=64"]) is None  # train reads it
    accuracy = [line for line in given.stdout.splitlines() if line.startswith("test accuracy:")]
    assert accuracy and accuracy == [line for line in plain.stdout.splitlines() if line.startswith("test accuracy:")]
    # what a test does read is not named: the test batch size
    smaller = run_here("mnist_lightning.evaluate", *base, "data.eval_batch_size=100", cwd=tmp_path)
    assert smaller.returncode == 0 and "note:" not in smaller.stderr


def test_an_experiments_schedule_settings_under_another_scheduler_are_one_line_and_can_be_removed(tmp_path):
    # experiment=fast sets scheduler.max_lr, ... for OneCycle; with scheduler=none they were a TypeError after the layer
    # table ('DictConfig' object is not callable), and the run folder stayed.
    result = run_here(TRAIN, "experiment=fast", "scheduler=none", cwd=tmp_path)
    settings = r"scheduler.max_lr, scheduler.pct_start, scheduler.div_factor \(set by experiment=fast\)"
    assert_clear_error(result, rf"^error: scheduler=none takes no {settings}: remove them with ~scheduler.max_lr ")
    assert "Total params" not in result.stdout and not list((tmp_path / "outputs").glob("*/*"))  # no run folder
    # Removed as the line says, it trains at a constant learning rate; a cut test set is named in the last line
    removed = ["~scheduler.max_lr", "~scheduler.pct_start", "~scheduler.div_factor"]
    short = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_test_batches=1", "logger=none"]
    result = run_here(TRAIN, "experiment=fast", "scheduler=none", *removed, *short, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"test accuracy [\d.]+% on 500 of the 10,000 test images; metrics in", result.stdout)
    # A share of the batches below one batch: Lightning's MisconfigurationException, now its words in one line
    result = run_here(TRAIN, "trainer.limit_train_batches=0.0001", "logger=none", cwd=tmp_path)
    assert_clear_error(result, r"^error: Lightning refused the run's settings: You requested to check 0.0001 of")
