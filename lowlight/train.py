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
import json
import logging
import math
import os
import shutil
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf, open_dict

from lowlight.config_check import check_config
from lowlight.loggers import RunCSVLogger, run_name
from lowlight.safe import load_checkpoint
from lowlight.sweeps import sqlite_url, study_seed, trials_left

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


def run_of_checkpoint(ckpt: Path) -> Path | None:
    """RUN for RUN/checkpoints/NAME.ckpt written by `train` (RUN holds config.yaml)."""
    run = ckpt.resolve().parent.parent
    if ckpt.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None


OmegaConf.register_new_resolver("run_dir", claim_run_dir, replace=True)
OmegaConf.register_new_resolver("sweep_dir", claim_sweep_dir, replace=True)
OmegaConf.register_new_resolver("sqlite", sqlite_url, replace=True)
OmegaConf.register_new_resolver("trials_left", trials_left, replace=True)
OmegaConf.register_new_resolver("study_seed", study_seed, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)


def _silence_known_warnings() -> None:
    # `train` refuses a folder that already holds checkpoints unless ckpt_path is given, so
    # Lightning's implicit "resume from the last checkpoint" (triggered by the
    # OnExceptionCheckpoint callback) finds nothing, and the CSV logger's "previous log
    # files will be deleted" (it deletes only an old metrics.csv) cannot apply.
    for message in (
        r"`\.fit\(ckpt_path=None\)` was called without a model",
        r"\.fit\(ckpt_path=\"last\"\) is set, but there is no last checkpoint",
        r"Experiment logs directory .* exists and is not empty",
        # a resumed run continues in its folder (or one holding its carried best checkpoint)
        r"Checkpoint directory .* exists and is not empty",
    ):
        warnings.filterwarnings("ignore", message=message)


def instantiate_group(node: DictConfig | None) -> list[Any]:
    """Instantiate every `_target_` entry of a mapping (the `callbacks` / `logger` groups)."""
    if not node:
        return []
    return [instantiate(v) for v in node.values() if isinstance(v, DictConfig) and "_target_" in v]


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _checkpoint_state(path: str) -> dict:
    """The checkpoint as plain data, refusing pickled code before Lightning reads it (a
    checkpoint may come from someone else; Lightning's own load is not restricted)."""
    try:
        return load_checkpoint(path)
    except ValueError as e:
        raise ValueError(f"ckpt_path={e}") from None


def _carry_best(state: dict, ckpt: Path, out_dir: Path) -> None:
    """Resuming into another folder: copy the run's best checkpoint(s) beside the new ones,
    so that best-by-metric covers the epochs before the resume (`RunCheckpoint` takes over
    state whose files it finds in its folder)."""
    for key, cb in (state.get("callbacks") or {}).items():
        if not str(key).startswith(("RunCheckpoint", "ModelCheckpoint")):
            continue
        for path in (cb.get("best_k_models") or {}) if isinstance(cb, dict) else {}:
            src = ckpt.parent / Path(path).name
            dst = out_dir / "checkpoints" / src.name
            if src.is_file() and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


def _sync_batchnorm(cfg: DictConfig, system: torch.nn.Module) -> dict[str, Any]:
    """`trainer.sync_batchnorm` only where it applies: CUDA devices and BatchNorm layers."""
    if not cfg.trainer.get("sync_batchnorm"):
        return {}
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in system.modules())
    if gpu and has_bn:
        return {}
    why = "the accelerator is not a GPU" if not gpu else "the networks have no BatchNorm"
    log.info("trainer.sync_batchnorm=true left off: %s", why)
    return {"sync_batchnorm": False}


def _write_results(out_dir: Path, results: dict[str, Any]) -> None:
    if rank_zero_only.rank == 0:
        part = out_dir / "results.json.part"
        part.write_text(json.dumps(results, indent=2) + "\n")
        part.replace(out_dir / "results.json")


def requeued_slurm_job() -> bool:
    """Whether this process is a SLURM job that was requeued (preempted or out of time)."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0


def _resume_path(ckpt: str | None, out_dir: Path) -> str | None:
    """`ckpt_path` as given; for `auto` (or nothing, in a requeued SLURM job) the run
    folder's own last.ckpt when it has one, else None (a fresh start)."""
    if ckpt not in (None, "auto") or (ckpt is None and not requeued_slurm_job()):
        return ckpt
    last = out_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        log.info("resuming from %s (ckpt_path=%s)", last, ckpt or "auto, requeued SLURM job")
        return str(last)
    return None


def train(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Fit, then test the best checkpoint; returns (and writes) the run's results.

    `callbacks` are added to those the config asks for (for use from Python).
    `results.json` says `status`: `running` while it runs, `finished`, or `failed` with the
    error and the last checkpoint that holds finished epochs (if any).
    """
    check_config(cfg)  # types and ranges, before anything is built or written
    out_dir = Path(cfg.paths.output_dir)
    ckpt = _resume_path(cfg.get("ckpt_path"), out_dir)
    with open_dict(cfg):
        cfg.ckpt_path = ckpt
    state = None
    if ckpt:
        if not Path(ckpt).is_file():
            raise FileNotFoundError(f"ckpt_path={ckpt}: no such checkpoint file")
        state = _checkpoint_state(ckpt)
    old = sorted((out_dir / "checkpoints").glob("*.ckpt"))
    if old and not ckpt:
        # Never overwrite a finished run; and Lightning would silently resume from these.
        raise FileExistsError(
            f"{out_dir} already holds checkpoints ({old[0].name}, ...): pass "
            f"ckpt_path={out_dir / 'checkpoints' / 'last.ckpt'} to continue that run, "
            "or train into a new folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    _silence_known_warnings()
    if rank_zero_only.rank == 0:
        OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
        if state is not None and run_of_checkpoint(Path(ckpt)) != out_dir.resolve():
            _carry_best(state, Path(ckpt), out_dir)
    L.seed_everything(cfg.seed, workers=True)
    results: dict[str, Any] = {"task_name": cfg.task_name, "output_dir": str(out_dir)}
    _write_results(out_dir, {**results, "status": "running"})
    try:
        return _fit_and_test(cfg, out_dir, list(callbacks or []), results, state is not None)
    except BaseException as e:
        last = out_dir / "checkpoints" / "last.ckpt"
        _write_results(
            out_dir,
            {
                **results,
                "status": "failed",
                "error": f"{type(e).__name__}: {e}",
                "last_checkpoint": str(last) if last.is_file() else None,
            },
        )
        raise


def _fit_and_test(
    cfg: DictConfig,
    out_dir: Path,
    extra_callbacks: list,
    results: dict[str, Any],
    resumed: bool = False,
) -> dict[str, Any]:
    datamodule = instantiate(cfg.data)
    system = instantiate(cfg.system)
    loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        if isinstance(logger, RunCSVLogger):
            logger.resume = resumed  # keep metrics.csv's earlier rows
    callbacks = instantiate_group(cfg.get("callbacks")) + extra_callbacks
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        **_sync_batchnorm(cfg, system),
    )
    hparams = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(hparams)

    started = time.perf_counter()
    trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    fit_seconds = time.perf_counter() - started

    checkpoint = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    best_path = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
    results.update(
        {
            "status": "finished",
            "epochs": trainer.current_epoch,
            "fit_seconds": round(fit_seconds, 1),
            "best_checkpoint": best_path,
            "best_score": _number(checkpoint.best_model_score) if checkpoint else None,
            "monitor": checkpoint.monitor if checkpoint else None,
            # how val/test were scored (papers score saved 8-bit files, SSIM's valid region)
            "scoring": "8-bit outputs" if getattr(system, "score_8bit", True) else "float outputs",
            "val": {
                k: _number(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")
            },
            "test": {},
        }
    )
    if cfg.get("test") and datamodule.test_set is not None and len(datamodule.test_set) > 0:
        started = time.perf_counter()
        tested = trainer.test(system, datamodule=datamodule, ckpt_path=best_path)
        results["test_seconds"] = round(time.perf_counter() - started, 1)
        results["test"] = {k: _number(v) for k, v in (tested[0] if tested else {}).items()}
        for name in ("psnr", "psnr_y"):
            ours, base = (
                results["test"].get(f"test/{name}"),
                results["test"].get(f"test/input_{name}"),
            )
            if ours is not None and base is not None:
                results["test"][f"{name}_gain_over_input"] = round(ours - base, 3)
    _write_results(out_dir, results)
    log.info("results: %s", json.dumps(results["test"] or results["val"]))
    log.info("run folder: %s", out_dir)
    return results


def objective(results: dict[str, Any], metric: str | None) -> float | None:
    """The value a sweeper optimizes: the best checkpoint's score when it monitors `metric`,
    else the last logged value of `metric`."""
    if not metric:
        return None
    if results.get("monitor") == metric and results.get("best_score") is not None:
        return results["best_score"]
    return results["val"].get(metric, results["test"].get(metric))


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    return objective(train(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
