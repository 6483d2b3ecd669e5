"""Sweeps beyond one process: Optuna studies (resumable), parallel local jobs, SLURM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import CONF, ROOT, TINY, cli_args, train_cli

optuna = pytest.importorskip("optuna")


def _trials(db: Path, study: str) -> list:
    return optuna.load_study(study_name=study, storage=f"sqlite:///{db}").trials


def test_optuna_study_runs_its_trials_and_resumes_without_repeating(tmp_path):
    """A 2-trial TPE study of real tiny runs; run again with study_trials=3, exactly one
    more trial runs, at a point not tried before (a restarted seeded sampler would repeat)."""
    args = [
        "-m",
        "+experiment=lle_gan",
        "+hparams_search=lle_gan_optuna",
        *cli_args(TINY),
        "paths.log_dir=logs",
    ]
    first = train_cli([*args, "study_trials=2"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    db = tmp_path / "logs" / "optuna" / "lle_gan.db"
    trials = _trials(db, "lle_gan")
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    (sweep,) = (tmp_path / "logs" / "lle_gan" / "multirun").iterdir()
    for trial in trials:
        # each trial's value is what its run returned: the best checkpoint's val/psnr
        results = json.loads((sweep / str(trial.number) / "results.json").read_text())
        assert results["monitor"] == "val/psnr"
        assert trial.value == pytest.approx(results["best_score"])
        overrides = (sweep / str(trial.number) / ".hydra" / "overrides.yaml").read_text()
        assert f"system.loss_weights.adv={trial.params['system.loss_weights.adv']}" in overrides
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(t.value for t in trials))

    again = train_cli([*args, "study_trials=2"], tmp_path)  # nothing missing: no trial
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_trials(db, "lle_gan")) == 2

    more = train_cli([*args, "study_trials=3"], tmp_path)
    assert more.returncode == 0, more.stderr[-3000:]
    trials = _trials(db, "lle_gan")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    points = {json.dumps(t.params, sort_keys=True) for t in trials}
    assert len(points) == 3, "the resumed study repeated a trial"


def test_two_jobs_in_parallel_local_processes(tmp_path):
    """hydra/launcher=local (joblib, loky processes): both jobs finish, in one sweep folder."""
    args = [
        "-m",
        "+experiment=lle_gan",
        *cli_args(TINY),
        "paths.log_dir=logs",
        "hydra/launcher=local",
        "system.loss_weights.adv=0,0.01",
    ]
    result = train_cli(args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Joblib.Parallel(" in result.stderr + result.stdout
    (multirun,) = (tmp_path / "logs" / "lle_gan" / "multirun").iterdir()
    launcher = yaml.safe_load((multirun / "multirun.yaml").read_text())["hydra"]["launcher"]
    assert launcher["_target_"].endswith("JoblibLauncher") and launcher["n_jobs"] == 2
    for job, adv in (("0", 0.0), ("1", 0.01)):
        results = json.loads((multirun / job / "results.json").read_text())
        assert results["status"] == "finished"
        config = yaml.safe_load((multirun / job / "config.yaml").read_text())
        assert config["system"]["loss_weights"]["adv"] == adv


def test_a_sweep_folder_is_the_same_in_every_process_of_the_sweep(tmp_path, monkeypatch):
    """A job process that resolves hydra.sweep.dir again (a SLURM job, a requeued one)
    gets the folder the sweep claimed, not a new one."""
    from lowlight.train import claim_sweep_dir

    parent = str(tmp_path / "multirun")
    for var in [v for v in os.environ if v.startswith("LOWLIGHT_SWEEP_DIR_")]:
        monkeypatch.delenv(var)
    claimed = claim_sweep_dir(parent)
    var = next(v for v in os.environ if v.startswith("LOWLIGHT_SWEEP_DIR_"))
    monkeypatch.setenv(var, claimed)  # undone after the test
    code = f"from lowlight.train import claim_sweep_dir; print(claim_sweep_dir({parent!r}))"
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert child.stdout.strip() == claimed
    assert [p.name for p in (tmp_path / "multirun").iterdir()] == [Path(claimed).name]


def _slurm_launcher(overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["+experiment=lle_gan", "hydra/launcher=slurm", *overrides],
            return_hydra_config=True,
        )
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=False)


def test_slurm_launcher_config_gives_the_documented_sbatch_script(tmp_path, monkeypatch):
    """conf/hydra/launcher/slurm.yaml through submitit, as hydra-submitit-launcher builds
    its executor: the sbatch parameters are what the config's comments promise."""
    submitit = pytest.importorskip("submitit")
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = _slurm_launcher(["hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4"])
    assert params["_target_"].endswith("submitit_launcher.SlurmLauncher")
    # submitit refuses to build a SLURM executor where there is no srun: give it one
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    # the mapping of hydra-submitit-launcher's SlurmLauncher.launch
    executor = submitit.AutoExecutor(
        cluster="slurm",
        folder=str(tmp_path / "%j"),
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"submitit_folder", "_target_"}
    executor.update_parameters(
        **{
            (k if k in base else f"slurm_{k}"): v
            for k, v in {**params, "name": "lle_gan"}.items()
            if k not in skip
        }
    )
    script = executor._executor._make_submission_file_text("python -m lowlight.train", "0")
    for line in (
        "--time=240",
        "--gpus-per-node=4",
        "--ntasks-per-node=1",
        "--cpus-per-task=8",
        "--mem=32GB",
        "--partition=gpu",
        "--signal=USR2@120",  # submitit's warning before the limit: it requeues the job
    ):
        assert f"#SBATCH {line}\n" in script, line
    assert executor._executor.max_num_timeout == 5


def test_a_requeued_job_resumes_from_its_last_checkpoint(tmp_path):
    """A job restarted in its own folder: refused without ckpt_path; with ckpt_path=auto, or
    as a requeued SLURM job (SLURM_RESTART_COUNT), it continues from last.ckpt; with other
    settings than it was trained with, it is refused."""
    folder = tmp_path / "job"
    base = ["+experiment=lle_gan", *cli_args(TINY), f"hydra.run.dir={folder}"]
    first = train_cli(base, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]

    refused = train_cli([*base, "trainer.max_epochs=2"], tmp_path)
    assert refused.returncode != 0 and "already holds checkpoints" in refused.stderr

    auto = train_cli([*base, "trainer.max_epochs=2", "ckpt_path=auto"], tmp_path)
    assert auto.returncode == 0, auto.stderr[-3000:]
    assert json.loads((folder / "results.json").read_text())["epochs"] == 2

    env = {**os.environ, "SLURM_RESTART_COUNT": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    requeued = subprocess.run(
        [sys.executable, "-m", "lowlight.train", *base, "trainer.max_epochs=3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    assert results["epochs"] == 3
    # the command's overrides, as Hydra saw them (its own hydra.* ones apart)
    task = [o for o in base if not o.startswith("hydra.")]
    assert results["overrides"] == [*task, "trainer.max_epochs=3"]
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["ckpt_path"] == str(folder / "checkpoints" / "last.ckpt")

    # the same folder with another recipe is refused, finished or not: its checkpoint and
    # results would pass for the new settings'
    before = {name: (folder / name).read_text() for name in ("config.yaml", "results.json")}
    for epochs in (3, 4):
        other = train_cli(
            [
                *base,
                f"trainer.max_epochs={epochs}",
                "ckpt_path=auto",
                "system.loss_weights.adv=0.5",
            ],
            tmp_path,
        )
        assert other.returncode != 0
        assert "system.loss_weights.adv: 0.01 there, 0.5 now" in other.stderr, other.stderr[-2000:]
        assert {name: (folder / name).read_text() for name in before} == before
    # Hydra rewrote its copy of the overrides before the refusal; results.json keeps the
    # run's own (what experiments/lol_study/table.py names rows by)
    assert "system.loss_weights.adv=0.5" in (folder / ".hydra" / "overrides.yaml").read_text()


def test_trials_left_counts_only_finished_trials(tmp_path):
    from lowlight.sweeps import sqlite_url, study_seed, trials_left

    storage = sqlite_url(str(tmp_path / "deep" / "study.db"))  # folders created
    assert trials_left(storage, "s", 5) == 5 and study_seed(7, storage, "s") == 7
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    study.ask()  # a trial that never finished (a crash): it is run again
    assert trials_left(storage, "s", 5) == 3
    assert trials_left(storage, "s", 2) == 0
    assert study_seed(7, storage, "s") == 10
    with pytest.raises(ValueError, match="hydra.sweeper.n_trials"):
        trials_left(storage, "s", 0)
