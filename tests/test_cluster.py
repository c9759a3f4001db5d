"""The cluster path against a real SLURM: scripts/local_slurm.sh's one-node cluster (slurmctld, slurmd, slurmdbd,
munge), arrays of sweep jobs, requeue at the time limit with resume, DDP over srun; and submitit's local launcher.

The SLURM tests are `system` tests: `.ci/run` starts the cluster before them and stops it after; run alone, the
fixture starts it (as root) and stops what it started. Skipped, with the reason, where SLURM cannot run.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_clear_error, compose_train_config, run_here
from pytorch_lightning.plugins.environments import SLURMEnvironment

from mnist_lightning.run.build import build_trainer, torch_threads
from mnist_lightning.run.cluster import CPUS_PER_JOB_ENV, checkpoint_to_resume

TRAIN = "mnist_lightning.train"
ROOT = Path(__file__).resolve().parents[1]
LOCAL_SLURM = ROOT / "scripts" / "local_slurm.sh"
ON_SLURM = ["-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1"]

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason='needs the extra: pip install -e ".[cluster]"')


@pytest.fixture(scope="module")
def slurm():
    """A running local SLURM cluster: the one `.ci/run` started, or one started here and stopped at the end."""
    if subprocess.run([LOCAL_SLURM, "status"], capture_output=True).returncode == 0:
        yield
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("no SLURM here, and scripts/local_slurm.sh start needs root and apt-get (Debian's slurm-wlm)")
    started = subprocess.run([LOCAL_SLURM, "start"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"the local SLURM cluster did not start: {started.stderr.strip()}")
    yield
    subprocess.run([LOCAL_SLURM, "stop"], capture_output=True)


def metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def sacct(job_id: str, since: datetime.datetime) -> list[str]:
    """sacct's `JobID|State` lines for a job (and its array tasks and steps) since `since`, from SLURM's accounting.
    The local cluster numbers jobs from 1 again each time it starts, and its accounting keeps the earlier ones."""
    command = ["sacct", "-j", job_id, "-n", "-P", "-o", "JobID,State", "--duplicates",
               "-S", since.isoformat("T", "seconds")]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture
def no_cluster_env(monkeypatch):
    """This process as if started by no scheduler (the tests may themselves run inside a SLURM job)."""
    for name in ("SLURM_CPUS_PER_TASK", "SLURM_RESTART_COUNT", "SLURM_JOB_ID", "SLURM_NTASKS", "SUBMITIT_EXECUTOR",
                 CPUS_PER_JOB_ENV):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    return monkeypatch


@pytest.mark.parametrize(("env", "trainer", "threads"), [
    ({"SLURM_CPUS_PER_TASK": "3"}, "default", 3),
    ({"SLURM_CPUS_PER_TASK": "3"}, "ddp_cpu", 3),  # SLURM runs each DDP process as a task of its own cores
    ({CPUS_PER_JOB_ENV: "4"}, "default", 4),  # submitit_local's share of the 8 cores
    ({CPUS_PER_JOB_ENV: "4"}, "ddp_cpu", 2),  # ... shared by the job's 2 DDP processes
    ({}, "ddp_cpu", 4),  # the cores this process may use (8 here), shared by 2 processes
])  # fmt: skip
def test_threads_follow_the_cores_a_job_was_given(no_cluster_env, tmp_path, env, trainer, threads):
    for name, value in env.items():
        no_cluster_env.setenv(name, value)
    assert torch_threads(compose_train_config(tmp_path, [f"trainer={trainer}"])) == threads


def test_a_requeued_job_resumes_from_its_own_last_checkpoint_before_the_one_it_started_from(no_cluster_env, tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"")
    assert checkpoint_to_resume("start.ckpt", tmp_path) == "start.ckpt"  # a first start: the configured one
    assert checkpoint_to_resume(None, tmp_path) is None
    no_cluster_env.setenv("SLURM_RESTART_COUNT", "2")
    assert checkpoint_to_resume("start.ckpt", tmp_path) == str(last)  # requeued: where this job got to
    last.unlink()
    assert checkpoint_to_resume("start.ckpt", tmp_path) == "start.ckpt"  # requeued before any epoch finished


def test_a_requeued_run_resumes_its_own_last_checkpoint_not_the_one_it_was_started_from(
    no_cluster_env, trained_sweep, tmp_path
):
    # A job started from job 1's checkpoint (30 steps) that finished its epoch (job 0's 300 steps stand in for
    # that) and was requeued: it must go on from where it got to, not start over from job 1's.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(trained_sweep / "0" / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt")
    no_cluster_env.setenv("SLURM_RESTART_COUNT", "1")
    started_from = trained_sweep / "1" / "checkpoints" / "last.ckpt"
    args = ["trainer.max_epochs=1", "model.dropout=0.05", "logger=none", f"ckpt_path={started_from}"]
    result = run_here(TRAIN, *args, f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert metrics(run)["test/acc"] == metrics(trained_sweep / "0")["test/acc"]  # job 0's weights, tested again
    assert "resuming from" in (run / "train.log").read_text()


@pytest.mark.parametrize("executor", ["slurm", "local", None])
def test_lightning_requeues_on_its_own_except_in_a_submitit_slurm_job(no_cluster_env, tmp_path, executor):
    if executor:
        no_cluster_env.setenv("SUBMITIT_EXECUTOR", executor)
    cfg = compose_train_config(tmp_path, ["logger=none"])
    trainer = build_trainer(cfg, [], val_is_test=True)
    # Where Lightning's signal handling reads it (a single-device strategy has no public attribute for it).
    environment = trainer._accelerator_connector.cluster_environment
    if executor == "slurm":  # submitit's requeue alone: Lightning's would resume mid-epoch
        assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue is False
    else:  # what Lightning chooses by itself (outside SLURM here; inside, its SLURMEnvironment that requeues)
        assert not isinstance(environment, SLURMEnvironment)


def test_a_sweep_without_a_partition_is_refused_before_anything_is_submitted_or_left(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=submitit_slurm", "seed=1,2", f"hydra.sweep.dir={sweep}"]
    result = run_here(TRAIN, *args, cwd=tmp_path)
    assert_clear_error(result, r"hydra\.launcher\.partition is not set")
    assert not (sweep / ".submitit").exists()  # no job script was written, so none was submitted
    assert (sweep / "multirun.yaml").exists()  # a folder the user named may have existed before: it is kept
    # In Hydra's own new folder, nothing is left: not even outputs/multirun/<date>/.
    result = run_here(TRAIN, *args[:-1], cwd=tmp_path)
    assert_clear_error(result, r"hydra\.launcher\.partition is not set")
    assert list((tmp_path / "outputs").rglob("*")) == [tmp_path / "outputs" / "multirun"]


def test_the_cpu_check_reads_each_node_size_of_the_partition(monkeypatch):
    # Without --exact sinfo folds node sizes into "<smallest>+", which would refuse jobs a larger node can run.
    from hydra_plugins.mnist_submitit import launchers

    asked = []

    def sinfo(command, **kwargs):
        asked.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="2\n64\n", stderr="")

    monkeypatch.setattr(launchers.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(launchers.subprocess, "run", sinfo)
    assert launchers.largest_node_cpus("mixed") == 64 and "--exact" in asked[0]
    monkeypatch.setattr(launchers.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(
        command, 1, stdout="", stderr="sinfo: error: invalid partition"))  # fmt: skip
    assert launchers.largest_node_cpus("nope") is None  # sbatch judges it, in one line of its own


@pytest.mark.system
@pytest.mark.parametrize(
    ("settings", "line"),
    [(["hydra.launcher.partition=nope"], r"SLURM refused the sweep \(sbatch: error: invalid partition specified"),
     (["hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=64"],
      r"a job asks for 64 CPUs .* partition debug have at most \d+ \(sinfo\): SLURM would keep it waiting for ever")],
)  # fmt: skip
def test_a_sweep_slurm_cannot_run_is_one_line(slurm, tmp_path, settings, line):
    # sbatch's refusal was submitit's traceback (46 lines); more CPUs than a node has left the job pending for ever.
    args = ["-m", "hydra/launcher=submitit_slurm", *settings, "seed=1", "trainer.fast_dev_run=true"]
    result = run_here(TRAIN, *args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert_clear_error(result, line)


@pytest.mark.system
def test_a_seed_sweep_runs_as_one_slurm_array_and_reports(slurm, tmp_path):
    sweep = tmp_path / "sweep"  # two seeds: the local cluster's two cores run both tasks at once
    started = datetime.datetime.now()
    args = [*ON_SLURM, "seed=1,2", "trainer.fast_dev_run=true", "logger=csv", f"hydra.sweep.dir={sweep}"]
    result = subprocess.run([sys.executable, "-m", TRAIN, *args], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [metrics(sweep / str(job)) for job in range(2)]
    assert [run["seed"] for run in runs] == [1, 2] and {run["status"] for run in runs} == {"ok"}
    array_ids = {run["slurm"]["array_job_id"] for run in runs}
    assert len(array_ids) == 1 and None not in array_ids  # one array, not two jobs
    assert sorted(run["slurm"]["array_task_id"] for run in runs) == ["0", "1"]
    assert {run["torch_threads"] for run in runs} == {1}  # threads follow hydra.launcher.cpus_per_task
    array_id, deadline = array_ids.pop(), time.monotonic() + 30
    while True:  # slurmdbd records a job's end a moment after the job has ended: RUNNING can still show then
        states = dict(line.split("|") for line in sacct(array_id, since=started))
        tasks = [state for job, state in states.items() if "." not in job]
        if not {"PENDING", "RUNNING", "COMPLETING"} & set(tasks) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert tasks == ["COMPLETED"] * 2
    assert "Bypassing sacct error" not in result.stderr  # the cluster's accounting answers submitit
    report = run_here("mnist_lightning.report", str(sweep), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert all(f"seed={seed}" in report.stdout for seed in (1, 2)), report.stdout


# 6 epochs of 50 steps of the reference network on 1 thread. SLURM's time-limit signal ticks in minutes, so the test
# does not wait for it: once the first epoch's last.ckpt is written it sends the job the very signal SLURM sends
# `signal_delay_s` ahead of the limit (SIGUSR2 through scancel, as submitit's own tests do). Under submitit's rule
# a job with a limit of 10 minutes or less is timed out whenever it is signalled, so this is the time-limit path,
# requeue count included. `outputs/results/v0.5.0/distributed/requeue.sh` shows SLURM's own timer doing it.
REQUEUED_RUN = ["seed=1", "trainer.deterministic=true", "trainer.max_epochs=6", "trainer.limit_train_batches=50",
                "trainer.limit_val_batches=1", "logger=csv", "callbacks.progress_bar.refresh_rate=1000"]  # fmt: skip


def signal_after_its_first_epoch(sweep: Path, job: subprocess.Popen, seconds: float = 240) -> None:
    """Send the sweep's one job SLURM's time-limit signal once it has written checkpoints/last.ckpt."""
    deadline = time.monotonic() + seconds
    while not (sweep / "0" / "checkpoints" / "last.ckpt").exists():
        assert job.poll() is None, job.communicate()[0]
        assert time.monotonic() < deadline, f"no last.ckpt after {seconds} s"
        time.sleep(0.2)
    [job_id] = [path.name for path in (sweep / ".submitit").iterdir() if path.is_dir()]  # named by its SLURM id
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)


def test_lightnings_stale_hpc_checkpoints_are_dropped_once_fit_ends(tmp_path):
    # Under SLURM, trainer.test(ckpt_path=None) loads the newest hpc_ckpt_N.ckpt of the run folder (Lightning's own
    # requeue writes them, outside the submitit launcher) instead of the final weights.
    from types import SimpleNamespace

    from mnist_lightning.run.cluster import drop_stale_hpc_checkpoints

    for name in ("hpc_ckpt_1.ckpt", "hpc_ckpt_2.ckpt", "last.ckpt", "notes.txt"):
        (tmp_path / name).write_text("x")
    barriers = []
    trainer = SimpleNamespace(is_global_zero=True, default_root_dir=str(tmp_path),
                              strategy=SimpleNamespace(barrier=lambda: barriers.append(1)))  # fmt: skip
    drop_stale_hpc_checkpoints(trainer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "notes.txt"] and barriers == [1]


@pytest.mark.system
def test_a_job_past_its_time_limit_is_requeued_and_ends_as_an_uninterrupted_run(slurm, tmp_path):
    sweep, alone = tmp_path / "sweep", tmp_path / "alone"
    limited = [*ON_SLURM, "hydra.launcher.timeout_min=5", "hydra.launcher.signal_delay_s=30",
               "hydra.launcher.max_num_timeout=2", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    on_slurm = subprocess.Popen([sys.executable, "-m", TRAIN, *limited, *REQUEUED_RUN], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    # The same run, uninterrupted, on the other core meanwhile (its output to a file: a pipe read only at the end
    # could fill up and stall it).
    with open(tmp_path / "alone.log", "w") as alone_log:
        uninterrupted = subprocess.Popen([sys.executable, "-m", TRAIN, *REQUEUED_RUN, "torch_threads=1",
                                          f"hydra.run.dir={alone}"], cwd=tmp_path, stdout=alone_log,
                                         stderr=subprocess.STDOUT)  # fmt: skip
    signal_after_its_first_epoch(sweep, on_slurm)
    output = on_slurm.communicate(timeout=600)[0]
    assert on_slurm.returncode == 0, output
    assert uninterrupted.wait(timeout=600) == 0, (tmp_path / "alone.log").read_text()
    # SLURM was asked for the signal the test sent in its place: SIGUSR2 30 s before a 5-minute limit.
    [script] = sweep.glob(".submitit/*/*_submission.sh")
    assert {"#SBATCH --signal=USR2@30", "#SBATCH --time=5"} <= set(script.read_text().splitlines())
    requeued, reference = metrics(sweep / "0"), metrics(alone)
    assert requeued["slurm"]["restarts"] == 1, requeued["slurm"]
    log = (sweep / "0" / "train.log").read_text()
    assert "resuming from" in log and "checkpoints/last.ckpt" in log
    # The second attempt trained only the epochs left: a restart from scratch would end with the same numbers
    # (deterministic), but would log epoch 1 again after the signal.
    after_the_signal = log.partition("this job is timed-out")[2]
    epochs = [int(n) for n in re.findall(r"Epoch (\d+): (?:val|test) loss", after_the_signal)]
    assert epochs and epochs[0] > 1 and epochs == list(range(epochs[0], 7)), epochs
    assert "(1 remaining timeouts)" in log  # counted as a time limit: one of the two requeues spent
    job_errors = "".join(path.read_text() for path in sweep.rglob("*_log.err"))  # submitit's and the job's stderr
    assert "this job is timed-out" in job_errors  # submitit's word for any signal to a job of <= 10 minutes
    assert "resume with" not in job_errors  # submitit's exit after the requeue is its own, not a Ctrl-C's
    assert requeued["epochs"] == reference["epochs"] == 6
    assert [row["val/loss"] for row in requeued["history"]] == [row["val/loss"] for row in reference["history"]]
    assert requeued["test/acc"] == reference["test/acc"] and requeued["test/loss"] == reference["test/loss"]
    # The compute counts every epoch of the run, those of the first attempt too.
    assert requeued["flops"] == reference["flops"]
    assert requeued["flops"]["train"] == requeued["flops"]["per_image_train"] * 50 * 28 * 6


@pytest.mark.system
def test_ddp_over_two_srun_tasks_writes_one_result(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    args = [*ON_SLURM, "hydra.launcher.tasks_per_node=2", "trainer=ddp_cpu", "trainer.max_epochs=2",
            "trainer.limit_train_batches=20", "trainer.limit_val_batches=2", "logger=csv",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", TRAIN, *args], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run = metrics(sweep / "0")
    assert run["status"] == "ok" and run["slurm"]["tasks"] == 2 and run["epochs"] == 2
    # Both processes trained: each epoch covered 20 batches of 28 per process.
    assert run["train/images"] == 2 * 20 * 28, run["train/images"]
    assert sorted(p.name for p in (sweep / "0" / "checkpoints").iterdir()) == ["last.ckpt"]
    assert len(list(sweep.rglob("metrics.json"))) == 1


@pytest.mark.system
def test_submitit_local_shares_the_cores_and_leaves_no_percent_j_folder(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=submitit_local", "seed=1,2", "trainer.fast_dev_run=true", "logger=csv",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", TRAIN, *args], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    threads = [metrics(sweep / str(job))["torch_threads"] for job in range(2)]
    assert threads == [max(1, len(os.sched_getaffinity(0)) // 2)] * 2
    assert not list(sweep.rglob("%j"))
