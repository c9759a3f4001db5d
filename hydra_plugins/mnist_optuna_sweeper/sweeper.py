"""An Optuna study driven by Hydra: each trial is one job of the configured launcher, run with the trial's
parameters as overrides; the job's return value (the run's `optimized_metric`) is what the study maximizes.

Ask-and-tell: this worker asks Optuna for `n_jobs` trials, launches them, tells their values, and stops when the
study holds `n_trials` finished trials, whoever finished them (a resumed search, or other workers on the same
storage). A trial left running by a worker that died on this machine is marked failed at the next start.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import random
import re
import socket
import sys
import time
import warnings
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

try:  # the [sweep] extra. Hydra imports every plugin module whenever it starts: without the extra this one still
    # imports (else Hydra prints twelve lines of "Error importing" before every command), and a search is refused
    # in one line before Hydra starts (base/option_names.py: missing_extra).
    import optuna
    from optuna.trial import TrialState
    from sqlalchemy.exc import SQLAlchemyError
except ImportError:
    optuna = TrialState = SQLAlchemyError = None

from hydra_plugins.mnist_optuna_sweeper.space import as_override, distribution
from mnist_lightning.base.errors import UserError, first_line, project_groups
from mnist_lightning.base.training_settings import is_training_setting
from mnist_lightning.results.runs import read_metrics

# Not imported here: the run's modules that load torch and Lightning (run.checks, run.pruning). Hydra imports every
# plugin whenever it composes a config, also for a command line's checks, which answer before torch loads.

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED) if TrialState else ()
DRAWING_WAIT_S = 10  # how long a worker waits for another that is still drawing an earlier trial's parameters
WORKER = f"{socket.gethostname()}:{os.getpid()}"
SELECTION_KEYS = ("optimized_metric", "test", "data.val_size", "trainer.limit_val_batches", "trainer.max_steps")
FIXED_SETTINGS = "fixed_overrides"  # a trial's user attribute: the training overrides of the command that drew it
OVER_BUDGET = "over_budget"  # a trial's user attribute "status": its network was over model.max_params, never trained
FAILURES_IN_A_ROW = 3  # failed trials in a row that end a search: a setting every trial fails on, not bad luck
_ABSENT = object()  # OmegaConf.select's answer for a key the config does not have


class SearchError(UserError):
    """A search that cannot start or go on (a sweep on the command line, a parameter the run's config does not
    have, a space with no new set left): `error: <message>` and exit code 2, as every command's user errors."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shown(params: dict) -> str:
    """A trial's parameters for its log line, floats to 3 significant digits (its job gets every digit)."""
    return " ".join(as_override(k, float(f"{v:.3g}") if isinstance(v, float) else v) for k, v in params.items())


def consecutive_runs(numbers: list[int]) -> list[list[int]]:
    """The positions of `numbers` in runs of consecutive values: [3, 4, 6] -> [[0, 1], [2]]."""
    runs: list[list[int]] = []
    for i, number in enumerate(numbers):
        if runs and numbers[runs[-1][-1]] + 1 == number:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


class OptunaSweeper(Sweeper):
    def __init__(self, storage: str, study_name: str, n_trials: int, n_jobs: int, direction: str,
                 sampler: optuna.samplers.BaseSampler, params: dict[str, str],
                 pruner: optuna.pruners.BasePruner | None = None) -> None:  # fmt: skip
        self.storage, self.study_name, self.direction, self.pruner = storage, study_name, direction, pruner
        self.n_trials, self.n_jobs, self.sampler = n_trials, n_jobs, sampler
        self.params = dict(params or {})
        self.settings: list[str] = []  # the command line's training overrides, set by search()

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        # Hydra runs the sweeper outside the task, where the commands' one-line wrapper does not reach, and prints
        # a traceback for anything raised here: a user's mistake ends in one line instead.
        try:
            self.search(arguments)
        except UserError as error:  # SearchError, and the run's own checks (check_selection) made before any trial
            print(f"error: {error}", file=sys.stderr)
            sys.exit(error.exit_code)

    def search(self, arguments: list[str]) -> None:
        self.check_counts()
        fixed = []
        for override in OverridesParser.create().parse_overrides(arguments):
            if override.is_sweep_override():
                raise SearchError(
                    f"{override.input_line}: a search sweeps hydra.sweeper.params only; "
                    f"add it there, e.g. hydra.sweeper.params.{override.key_or_group}='choice(...)'"
                )
            fixed.append(override.input_line)
        self.check_storage()
        if any(key.lstrip("+") == "optimized_metric" for key in self.space):  # the trials' values would not compare
            raise SearchError(
                "hydra.sweeper.params chooses optimized_metric: a search maximizes one metric, given on the command "
                "line (optimized_metric=val/acc or val/acc_best)"
            )
        metric = str(self.config.get("optimized_metric", "test/acc"))
        if not metric.startswith("val/"):
            raise SearchError(  # a single run may report test/acc; a search choosing by it selects on the test set
                f"optimized_metric={metric} would choose among the trials on the test set: a search selects on "
                "held-out images (optimized_metric=val/acc with data.val_size>0, as hparams_search=optuna sets)"
            )
        # The config as every trial starts from it: checked only when the space chooses no config group (a group
        # choice, such as scheduler: choice(onecycle), changes which keys exist) and sets none of the selection's keys.
        if not self.chooses_a_group():
            self.check_space()
            if not any(key.lstrip("+").startswith(SELECTION_KEYS) for key in self.space):
                from mnist_lightning.run.checks import check_selection

                check_selection(self.config)  # e.g. optimized_metric=val/acc with data.val_size=0: every trial refuses
        # Their INFO lines (a new study, migrations, "Launching 1 jobs locally" per trial): one line per trial is ours.
        for name in ("optuna", "alembic", "hydra._internal.core_plugins.basic_launcher"):
            logging.getLogger(name).setLevel(logging.WARNING)
        study = self.open_study()
        self.settings = sorted(o for o in fixed if is_training_setting(o.partition("=")[0]))
        self.check_same_settings(study)
        self.check_same_space(study)
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2, and still in 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([str(self.config.get("optimized_metric", "value"))])  # the dashboard's axis
        self.fail_dead_trials(study)
        if study.get_trials(
            deepcopy=False
        ):  # a resumed study or another worker: a seed of its own, not the first one's
            self.sampler.reseed_rng()
        left = self.trials_left(study)
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))  # other workers' trials
        finished = f"{self.n_trials - left - running} of {self.n_trials} trials finished"
        log.info(
            f"study {self.study_name!r} in {self.storage}: {finished}" + (f", {running} running" if running else "")
        )
        if left == 0 and not running:  # else the command ends with the best and nothing said about why
            log.info(f"nothing to run: raise hydra.sweeper.n_trials (now {self.n_trials}) to add trials to the study")
        failed_in_a_row = 0
        try:
            while left > 0:
                self.check_same_settings(study)  # another worker may have finished trials since
                self.check_same_space(study)
                trials = self.ask_batch(study, min(self.n_jobs, left))
                overrides = [
                    fixed + [as_override(k, v) for k, v in trial.params.items()] + self.pruning(trial)
                    for trial in trials
                ]
                for run in consecutive_runs([trial.number for trial in trials]):
                    # The launcher names the job folders initial_job_idx, +1, ...: one launch per run of consecutive
                    # trial numbers keeps each folder named by its trial (a failed duplicate draw, or another
                    # worker's trial, leaves a gap in a batch)
                    try:
                        results = self.launcher.launch(
                            [overrides[i] for i in run], initial_job_idx=trials[run[0]].number
                        )
                    except BaseException:  # the launcher refused (exit 2), Ctrl-C: not left running for other workers
                        self.fail_unfinished(study, trials)
                        raise
                    for i, result in zip(run, results, strict=True):
                        failed = self.tell(study, trials[i], result)
                        failed_in_a_row = failed_in_a_row + 1 if failed else 0
                if failed_in_a_row >= FAILURES_IN_A_ROW:  # failed trials do not count toward n_trials: no end else
                    raise SearchError(
                        f"{failed_in_a_row} trials in a row failed (their errors are above, and in their folders' "
                        f"train.log under {self.config.hydra.sweep.dir}): fix what they fail on, then run the same "
                        "command to go on with the study"
                    )
                left = self.trials_left(study)
        except SearchError:  # e.g. a space with no new set left: the trials that finished keep their result file
            self.write_best(study)
            raise
        self.write_best(study)

    def check_same_settings(self, study: optuna.Study) -> None:
        """Refuse to add trials to a study whose finished trials trained under other overrides (`trainer.max_epochs=1`
        against 10, say): their scores would not compare, and the best would be the one trained longest. Only the
        settings that change what is trained count (base/training_settings.py), not folders, loggers or threads.
        Each trial records them when it is drawn; failed trials and those of a study made before this record do not
        count. Checked before every launch, so two workers started at once with other settings meet it too."""
        finished = study.get_trials(deepcopy=False, states=FINISHED)
        other = next((t for t in finished if t.user_attrs.get(FIXED_SETTINGS, self.settings) != self.settings), None)
        if other is not None:
            theirs = " ".join(other.user_attrs[FIXED_SETTINGS]) or "no overrides"
            raise SearchError(
                f"study {self.study_name!r} in {self.storage}: trial {other.number} trained with {theirs} and this "
                f"command has {' '.join(self.settings) or 'none'}, so their scores would not compare; give the "
                "study's overrides to resume it, or start another with hydra.sweeper.study_name=<new name>"
            )

    def check_counts(self) -> None:
        """n_trials and n_jobs: a batch of 0 trials never ended (the search asked for none, again and again)."""
        for key, value, least in (("n_trials", self.n_trials, 0), ("n_jobs", self.n_jobs, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise SearchError(f"hydra.sweeper.{key} must be an integer of at least {least}, got {value!r}")

    @functools.cached_property
    def space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """hydra.sweeper.params as Optuna distributions, built when the search first reads them: a malformed entry
        (interval(0.3, 0.1), a plain value) is then one line, not Hydra's "Error in call to target" when the sweeper
        is built."""
        space = {}
        for key, text in self.params.items():
            try:
                space[key] = distribution(key, str(text))
            except Exception as error:  # noqa: BLE001 - the space's own ValueError, Optuna's (low > high), Hydra's parse
                # errors (interval(0.1), an unclosed bracket), each from its own library
                message = str(error)
                if not message.startswith("hydra.sweeper.params."):
                    message = f"hydra.sweeper.params.{key}={text}: {message}"
                raise SearchError(message) from error
        return space

    def check_same_space(self, study: optuna.Study) -> None:
        """Refuse to add trials to a study whose finished trials were drawn from another search space: the sampler
        would mix both (or fail inside Optuna on a changed choice), and the best of one space would sit beside
        trials of the other."""
        # The study's first finished trial holds its space: a worker started with another one is refused, and the
        # workers of the study's own space go on (comparing with any finished trial stopped them all)
        other = min(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number, default=None)
        if other is None:
            return

        def as_stored(space: dict) -> dict[str, str]:  # as JSON, where choice(true) is not choice(1) (True == 1)
            return {key: optuna.distributions.distribution_to_json(d) for key, d in space.items()}

        was, now = as_stored(other.distributions), as_stored(self.space)
        if was == now:
            return
        changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
        raise SearchError(
            f"study {self.study_name!r} in {self.storage}: trial {other.number} was drawn from another search space "
            f"(it differs in {', '.join(changed)}); resume with the space it was drawn from, or start another study "
            "with hydra.sweeper.study_name=<new name>"
        )

    def check_storage(self) -> None:
        """Refuse a storage URL that holds a password: Hydra writes the command line into the sweep's multirun.yaml
        and every trial's .hydra/, and each trial is handed the URL to report to its study. Refuse an in-memory
        SQLite database too: each trial's process would open an empty one of its own, and nothing is kept."""
        if self.storage.startswith("sqlite:") and self.storage.rstrip("/") in ("sqlite:", "sqlite:/", "sqlite://"):
            raise SearchError(
                f"hydra.sweeper.storage={self.storage} is an in-memory database, which keeps nothing and which a "
                "trial's own process cannot reach: give a file, e.g. sqlite:///outputs/optuna.db"
            )
        if self.storage.endswith(":memory:"):
            raise SearchError(
                f"hydra.sweeper.storage={self.storage} is an in-memory database: give a file, "
                "e.g. sqlite:///outputs/optuna.db"
            )
        if "://" not in self.storage or self.storage.startswith(("sqlite:", "journal:")):
            return
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.storage)
        except Exception as error:  # noqa: BLE001 - sqlalchemy.exc.ArgumentError for a URL it cannot parse
            hidden = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", self.storage)  # user:password@ as in a URL
            raise SearchError(f"hydra.sweeper.storage={hidden} is not a database URL") from error
        if url.password is not None or "password" in url.query:
            hidden = url.render_as_string(hide_password=True).split("?")[0] + ("?..." if url.query else "")
            raise SearchError(
                f"hydra.sweeper.storage={hidden} holds a password, which Hydra would save into every run folder: "
                f"leave it out of the URL and put it where the database driver reads it (PostgreSQL: ~/.pgpass or "
                f"PGPASSWORD)"
            )

    def chooses_a_group(self) -> bool:
        """Whether the space picks a config group (`scheduler`, `model`, `experiment`, ...)."""
        choices = OmegaConf.select(self.config, "hydra.runtime.choices", default=None) or {}
        return any(key.lstrip("+") in choices or key.lstrip("+") in project_groups() for key in self.space)

    def check_space(self) -> None:
        """Refuse, before the study is opened, a parameter the run's config does not have: Hydra would refuse it only
        when the first trial's job is composed, after the trial was asked (and left running). `+key` adds a key
        and is not checked."""
        for key in self.space:
            if key.startswith("+") or OmegaConf.select(self.config, key, default=_ABSENT) is not _ABSENT:
                continue
            group = key.split(".")[0]
            choice = OmegaConf.select(self.config, f"hydra.runtime.choices.{group}", default=None)
            chosen = f" ({group}={choice} has no {key.removeprefix(group + '.')})" if choice else ""
            hint = (": choose the search of the recipe's schedule (hparams_search=optuna for scheduler=exponential, "
                    "hparams_search=optuna_onecycle for scheduler=onecycle) or change hydra.sweeper.params"
                    if group == "scheduler" else ": change hydra.sweeper.params (or add the key with +)")  # fmt: skip
            raise SearchError(f"hydra.sweeper.params names {key}, which this run's config does not have{chosen}{hint}")

    def open_study(self) -> optuna.Study:
        """Create the study, or load it. Workers started at once may race to create a new database's tables
        (one of them then fails on a unique key): the loser waits a moment and loads what the winner made."""
        from mnist_lightning.run.pruning import open_storage

        for attempt in range(5):
            try:
                return optuna.create_study(
                    study_name=self.study_name, storage=open_storage(self.storage), sampler=self.sampler,
                    pruner=self.pruner or optuna.pruners.NopPruner(), direction=self.direction, load_if_exists=True,
                )  # fmt: skip
            except (ImportError, OSError) as error:  # the URL's driver is not installed; a file that cannot be made
                raise SearchError(f"cannot open hydra.sweeper.storage={self.storage}: {error}") from error
            except ValueError as error:  # Optuna's: e.g. the study exists with the other direction
                raise SearchError(f"study {self.study_name!r} in {self.storage}: {error}") from error
            except SQLAlchemyError as error:  # IntegrityError (a race to create tables) or OperationalError
                if attempt == 4:
                    reason = first_line(error)
                    raise SearchError(f"cannot open hydra.sweeper.storage={self.storage}: {reason}") from error
                time.sleep(1 + random.random())
        raise AssertionError("unreachable")

    def pruning(self, trial: optuna.Trial) -> list[str]:
        """The overrides that let the trial's run report to its study (mnist_lightning/run/pruning.py)."""
        if self.pruner is None:
            return []
        where = {"storage": self.storage, "study": self.study_name, "number": trial.number}
        return [
            f"+optuna_trial.{key}='{value}'" if key != "number" else f"+optuna_trial.{key}={value}"
            for key, value in where.items()
        ]

    def trials_left(self, study: optuna.Study) -> int:
        """Trials still to start: n_trials minus the finished ones and those other live workers are running."""
        trials = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        return self.n_trials - len(trials)

    def fail_dead_trials(self, study: optuna.Study) -> None:
        """Mark failed the running trials of workers on this machine that no longer exist (a killed driver)."""
        host = socket.gethostname()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            if worker_host == host and pid.isdigit() and not pid_alive(int(pid)):
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                log.info(f"trial {trial.number}: its worker ({trial.user_attrs['worker']}) is gone, marked failed")

    def fail_unfinished(self, study: optuna.Study, trials: list[optuna.Trial]) -> None:
        """Mark failed the trials of a launch that did not come back; one already told keeps its state."""
        for trial in trials:
            try:
                if study._storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
                    study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001 - the launch's own error is the one to show; fail_dead_trials is the backstop
                log.warning(f"trial {trial.number} could not be marked failed")

    def ask_batch(self, study: optuna.Study, size: int) -> list[optuna.Trial]:
        """`size` new trials for one launch. If asking stops half-way (the space ran out, the storage failed,
        Ctrl-C), the ones already asked are failed (never trained) rather than left running, where they would
        count as taken for every other worker."""
        trials: list[optuna.Trial] = []
        try:
            for _ in range(size):
                trials.append(self.ask_new(study))
        except BaseException:
            self.fail_unfinished(study, trials)
            raise
        return trials

    def ask_new(self, study: optuna.Study) -> optuna.Trial:
        """A trial whose parameters no finished trial has, nor a running one numbered before it.

        Workers started at once on a new study share the sampler's seed and ask at the same moment, so they draw
        the same parameters. Optuna numbers trials atomically: of two running trials with one parameter set the
        lower number keeps it, the other is failed (never trained), and its worker reseeds and asks again.
        """
        for _ in range(20):
            trial = study.ask(self.space)
            trial.set_user_attr(FIXED_SETTINGS, self.settings)  # what check_same_settings compares
            trial.set_user_attr("worker", WORKER)  # set after the parameters: tells other workers they are complete
            if not self.drawn_before(study, trial):
                return trial
            study.tell(trial, state=TrialState.FAIL)
            self.sampler.reseed_rng()
        raise SearchError(  # rather than train a set again: a small space (choices only) can run out
            f"20 draws in a row gave parameter sets that trials already have: the search space has few or none left; "
            f"widen hydra.sweeper.params or lower hydra.sweeper.n_trials (now {self.n_trials})"
        )

    def drawn_before(self, study: optuna.Study, trial: optuna.Trial) -> bool:
        """Whether a finished trial, or a running one numbered before `trial`, has the same parameters.

        Waits (up to DRAWING_WAIT_S) for earlier trials that another worker started in the last minute and is still
        drawing the parameters of; if one is still drawing then, counts as drawn before (this trial is asked
        again), so no two workers keep a set unseen. Older trials without their worker's mark were left by a
        worker killed while asking: they are not waited for.
        """
        deadline = time.monotonic() + DRAWING_WAIT_S
        while True:
            others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
            recent = datetime.datetime.now() - datetime.timedelta(minutes=1)  # Optuna stores local times
            drawing = [
                t for t in others
                if t.state == TrialState.RUNNING and "worker" not in t.user_attrs and t.number < trial.number
                and t.datetime_start is not None and t.datetime_start > recent
            ]  # fmt: skip
            if not drawing:
                break
            if time.monotonic() > deadline:
                return True
            time.sleep(0.2)
        return any(
            t.params == trial.params
            and (t.state in FINISHED or (t.state == TrialState.RUNNING and t.number < trial.number))
            for t in others
        )

    def tell(self, study: optuna.Study, trial: optuna.Trial, result: JobReturn) -> bool:
        """Tell the study how the trial's job ended; True when it failed."""
        params = shown(trial.params)
        if result.status is JobStatus.FAILED:
            # Private, on purpose: the public `return_value` prints "Error executing job ..." before raising.
            error = result._return_value
            if isinstance(error, optuna.TrialPruned):
                study.tell(trial, state=TrialState.PRUNED)
                log.info(f"trial {trial.number} pruned: {error} | {params}")
                return False
            # one failed trial does not end the search
            study.tell(trial, state=TrialState.FAIL)
            log.warning(f"trial {trial.number} failed ({type(error).__name__}: {error}) | {params}")
            return True
        value = float(result.return_value)
        # The job's record says whether it trained (its working_dir is the job's folder only with hydra.job.chdir)
        output_dir = (
            OmegaConf.select(result.hydra_cfg, "hydra.runtime.output_dir", default=None) if result.hydra_cfg else None
        )
        record = Path(str(output_dir)) / "metrics.json" if output_dir else None
        status = read_metrics(record).get("status") if record and record.is_file() else None
        if status == OVER_BUDGET:
            # Told its worst value, so the sampler learns to leave such widths alone, and marked, so it is never
            # the best: nothing was trained.
            trial.set_user_attr("status", OVER_BUDGET)
            study.tell(trial, value)
            log.info(f"trial {trial.number} over budget (model.max_params), not trained | {params}")
            return False
        study.tell(trial, value)
        log.info(
            f"trial {trial.number} complete: {self.config.get('optimized_metric', 'value')} {value:.4f} | {params}"
        )
        return False

    def write_best(self, study: optuna.Study) -> None:
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        trained = [t for t in completed if t.user_attrs.get("status") != OVER_BUDGET]
        if not trained:
            log.warning("no trial trained" + (": every network was over model.max_params" if completed else ""))
            return
        pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
        best = pick(trained, key=lambda t: t.value)  # the first of equals, as Optuna's best_trial
        folder = Path(self.config.hydra.sweep.dir)
        written = folder / "optimization_results.yaml"
        log.info(f"best: trial {best.number}, {best.value:.4f} | {shown(best.params)} (in full: {written})")
        folder.mkdir(parents=True, exist_ok=True)
        results = {"name": "optuna", "study": self.study_name, "storage": self.storage, "best_trial": best.number,
                   "best_params": best.params, "best_value": best.value}  # fmt: skip
        written.write_text(yaml.safe_dump(results, sort_keys=False))
