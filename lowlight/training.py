"""Training one run: fit, test the best checkpoint, write results.json (the heavy half of
`lowlight.train`, whose Hydra entry point imports this only once a run starts)."""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf, open_dict

from lowlight.config_check import ConfigError, check_config
from lowlight.loggers import RunCSVLogger
from lowlight.run_folder import resume_state, run_of_checkpoint

log = logging.getLogger("lowlight.train")


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


def _relative(path: str | None, run: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(run.resolve()).as_posix()
    except ValueError:  # outside the run folder (a checkpoint callback pointed elsewhere)
        return str(path)


def _write_results(out_dir: Path, results: dict[str, Any]) -> None:
    if rank_zero_only.rank == 0:
        part = out_dir / "results.json.part"
        part.write_text(json.dumps(results, indent=2) + "\n")
        part.replace(out_dir / "results.json")


def _command_overrides() -> list[str] | None:
    """The run's command-line overrides, kept in results.json too: Hydra rewrites its own
    copy (.hydra/overrides.yaml) before the run starts, even for a resume that is refused."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else None


def requeued_slurm_job() -> bool:
    """Whether this process is a SLURM job that was requeued (preempted or out of time)."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0


def _finished(out_dir: Path) -> dict[str, Any] | None:
    """The results of a run that finished in `out_dir`, else None."""
    try:
        results = json.loads((out_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) and results.get("status") == "finished" else None


def _resumes_own_folder(ckpt: str | None) -> bool:
    """Whether `ckpt_path` asks for the run folder's own last.ckpt: `auto`, or nothing in a
    requeued SLURM job."""
    return ckpt == "auto" or (ckpt is None and requeued_slurm_job())


def _resume_path(ckpt: str | None, out_dir: Path) -> str | None:
    """`ckpt_path` as given; for `auto` (or nothing, in a requeued SLURM job) the run
    folder's own last.ckpt when it has one, else None (a fresh start)."""
    if not _resumes_own_folder(ckpt):
        return ckpt
    last = out_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        log.info("resuming from %s (ckpt_path=%s)", last, ckpt or "auto, requeued SLURM job")
        return str(last)
    return None


# what makes two runs the same recipe: a folder resumed with ckpt_path=auto must have been
# trained with these (paths, logging and the epoch count may change between sessions)
RECIPE_KEYS = ("system", "seed", "data.batch_size", "data.augment", "data.color_space")


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _leaves(node: Any, prefix: str) -> dict[str, Any]:
    """{dotted key: value} of every leaf of a plain nested dict."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{prefix}.{key}"))
        return out
    return {prefix: node}


def _check_same_recipe(cfg: DictConfig, out_dir: Path) -> None:
    """Refuse to resume (or to return the results of) the run in `out_dir` with other
    settings than it was trained with: its checkpoint and results would be presented as
    the new configuration's. The epoch count may change. Keys that only one side has (a
    setting added to the configs since, with its old behaviour as default) are not
    compared."""
    saved_file = out_dir / "config.yaml"
    if not saved_file.is_file():
        return
    saved = OmegaConf.load(saved_file)
    # more epochs continue a run: compare as if with the saved epoch count, so that values
    # derived from it (the cosine schedule's T_max) do not count as a change
    cfg = copy.deepcopy(cfg)  # the run itself keeps its own epoch count
    with open_dict(cfg):
        cfg.trainer.max_epochs = OmegaConf.select(saved, "trainer.max_epochs")
    changed = []
    for key in RECIPE_KEYS:
        old, new = OmegaConf.select(saved, key), OmegaConf.select(cfg, key)
        old_leaves, new_leaves = _leaves(_plain(old), key), _leaves(_plain(new), key)
        changed += [
            f"{k}: {old_leaves[k]!r} there, {new_leaves[k]!r} now"
            for k in sorted(old_leaves.keys() & new_leaves.keys())
            if old_leaves[k] != new_leaves[k]
        ]
    if changed:
        raise ConfigError(
            f"ckpt_path=auto: {out_dir} holds a run with other settings ("
            + "; ".join(changed[:3])
            + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")
            + "): resume it with the settings it was trained with, or train into a new "
            "folder (hydra.run.dir / hydra.sweep.dir)"
        )


def train(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Fit, then test the best checkpoint; returns (and writes) the run's results.

    `callbacks` are added to those the config asks for (for use from Python).
    `results.json` says `status`: `running` while it runs, `finished`, or `failed` with the
    error and the last checkpoint that holds finished epochs (if any).
    """
    check_config(cfg)  # types and ranges, before anything is built or written
    out_dir = Path(cfg.paths.output_dir)
    if _resumes_own_folder(cfg.get("ckpt_path")):
        _check_same_recipe(cfg, out_dir)
    done = _finished(out_dir) if cfg.get("ckpt_path") == "auto" else None
    wanted = cfg.trainer.get("max_epochs")
    if done is not None and isinstance(wanted, int) and done.get("epochs", -1) >= wanted > 0:
        # nothing left to train: a sweep rerun to resume its unfinished jobs
        # (experiments/*/run.sh) leaves the finished ones alone; more epochs continue
        log.info("%s finished its %d epochs earlier: its results.json stands", out_dir, wanted)
        return done
    ckpt = _resume_path(cfg.get("ckpt_path"), out_dir)
    with open_dict(cfg):
        cfg.ckpt_path = ckpt
    state = None
    if ckpt:
        if not Path(ckpt).is_file():
            raise FileNotFoundError(f"ckpt_path={ckpt}: no such checkpoint file")
        state = resume_state(ckpt)
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
    if (overrides := _command_overrides()) is not None:
        results["overrides"] = overrides
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
                # relative to the run folder: a copied folder stays self-contained
                "last_checkpoint": "checkpoints/last.ckpt" if last.is_file() else None,
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
            # relative to the run folder, which enhance/evaluate/export never leave
            "best_checkpoint": _relative(best_path, out_dir),
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
