"""Train, validate and test a system from the Hydra config.

    python -m lowlight.train +experiment=lle_gan
    python -m lowlight.train +experiment=lle_gan system.loss_weights.adv=0 trainer.max_epochs=5
    python -m lowlight.train -m +experiment=lle_gan system.loss_weights.adv=0,0.01,0.1

Everything a run writes lands in one folder (`logs/<task_name>/<timestamp>/`): the composed
config, checkpoints, metrics, image grids and `results.json`. Folders are claimed atomically,
so runs started in the same second get `<timestamp>`, `<timestamp>_1`, ... A run resumed
with `ckpt_path=RUN/checkpoints/last.ckpt` continues in RUN: same metrics.csv, same
best-so-far checkpoint.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lowlight.config_check import mandatory
from lowlight.run_folder import resume_state, run_of_checkpoint
from lowlight.sweeps import run_name, sqlite_url, study_seed, trials_left

log = logging.getLogger(__name__)

STAMP = "%Y-%m-%d_%H-%M-%S"


def config_dir() -> Path:
    """The Hydra config folder: `lowlight/conf` in an installed wheel (the repository's
    top-level conf/, carried as package data), else conf/ beside the package in a source
    checkout or an editable install. Users add their own with `--config-dir DIR`."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no Hydra configs: neither {package / 'conf'} (an installed wheel) nor "
        f"{package.parent / 'conf'} (a source checkout) holds train.yaml; reinstall lowlight"
    )


_claimed: dict[str, str] = {}


def claim_run_dir(parent: str, resume_from: str | None = None) -> str:
    """A new folder `parent/<timestamp>` (`_1`, `_2`, ... when taken), created here so that
    no other process can have it; or, resuming from RUN/checkpoints/X.ckpt, RUN itself.

    Hydra's `${now:}` has one-second resolution, so two runs started in the same second
    shared a folder. `mkdir` is atomic: exactly one process creates each name. The answer
    is kept per process, as Hydra resolves the folder more than once.
    """
    if resume_from:
        run = run_of_checkpoint(Path(resume_from))
        if run is not None:
            _check_resumable(resume_from)  # before Hydra writes anything into RUN/.hydra
            return str(run)
    key = f"{parent}|{resume_from}"
    if key not in _claimed:
        root = Path(parent)
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime(STAMP)
        for n in itertools.count():
            path = root / (stamp if n == 0 else f"{stamp}_{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            _claimed[key] = str(path)
            break
    return _claimed[key]


_checked: set[str] = set()  # resume checkpoints already found loadable in this process


def _check_resumable(ckpt: str) -> None:
    """A checkpoint that cannot be loaded safely is refused while the run folder is being
    chosen, so that a refused resume changes nothing in the run it names (Hydra rewrites
    RUN/.hydra/ as soon as the folder is known)."""
    if ckpt not in _checked:
        resume_state(ckpt)
        _checked.add(ckpt)


def claim_sweep_dir(parent: str) -> str:
    """`claim_run_dir` for a sweep folder, the same in every process of the sweep.

    Launchers that run jobs in other processes (SLURM jobs through submitit, a requeued
    job, joblib workers that import this module) resolve `hydra.sweep.dir` again in each of
    them, where a new folder would be claimed; the claimed folder travels to them in the
    environment, which those processes inherit.
    """
    var = "LOWLIGHT_SWEEP_DIR_" + hashlib.sha1(parent.encode()).hexdigest()[:12]
    if var not in os.environ:
        os.environ[var] = claim_run_dir(parent)
    return os.environ[var]


OmegaConf.register_new_resolver("run_dir", claim_run_dir, replace=True)
OmegaConf.register_new_resolver("sweep_dir", claim_sweep_dir, replace=True)
OmegaConf.register_new_resolver("sqlite", sqlite_url, replace=True)
OmegaConf.register_new_resolver("trials_left", trials_left, replace=True)
OmegaConf.register_new_resolver("study_seed", study_seed, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)
OmegaConf.register_new_resolver("mandatory", mandatory, replace=True)


def train(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Fit, then test the best checkpoint; returns (and writes) the run's results (see
    `lowlight.training.train`). Lightning loads here, not at import: `--help` starts at once."""
    from lowlight.training import train as fit_and_test

    return fit_and_test(cfg, callbacks)


def objective(results: dict[str, Any], metric: str | None) -> float | None:
    """The value a sweeper optimizes: the best checkpoint's score when it monitors `metric`,
    else the last logged value of `metric`."""
    if not metric:
        return None
    if results.get("monitor") == metric and results.get("best_score") is not None:
        return results["best_score"]
    return results["val"].get(metric, results["test"].get(metric))


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a command line can get wrong (a value, a file, the data): told in one line."""
    from hydra.errors import InstantiationException

    from lowlight.config_check import ConfigError

    return (ConfigError, ValueError, OSError, FloatingPointError, InstantiationException)


def one_line(error: BaseException) -> str:
    """The error as one line: Hydra's instantiation wrapper gives way to its cause."""
    cause = error.__cause__ if type(error).__name__ == "InstantiationException" else None
    text = str(cause or error).strip() or type(error).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _remove_if_empty(run: Path) -> None:
    """A run folder that holds only what Hydra wrote before the run failed (.hydra/ and an
    empty train.log) goes: a refused command leaves no debris."""
    if not run.is_dir() or any(p.name not in (".hydra", "train.log") for p in run.iterdir()):
        return
    log_file = run / "train.log"
    if log_file.is_file() and log_file.stat().st_size > 0:
        return
    shutil.rmtree(run, ignore_errors=True)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        return objective(train(cfg), cfg.get("optimized_metric"))
    except _user_errors() as e:
        _remove_if_empty(Path(cfg.paths.output_dir))
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or multirun:
            raise  # the whole trace; a sweep reports its failed job and goes on as Hydra does
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
