"""Train, validate and test a system from the Hydra config.

    python -m lowlight.train +experiment=lle_gan
    python -m lowlight.train +experiment=lle_gan system.loss_weights.adv=0 trainer.max_epochs=5
    python -m lowlight.train -m +experiment=lle_gan system.loss_weights.adv=0,0.01,0.1

Everything a run writes lands in one folder (`logs/<task_name>/<timestamp>/`): the composed
config, checkpoints, metrics, image grids and `results.json`.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def _silence_known_warnings() -> None:
    # `train` refuses a folder that already holds checkpoints unless ckpt_path is given, so
    # Lightning's implicit "resume from the last checkpoint" (triggered by the
    # OnExceptionCheckpoint callback) finds nothing, and the CSV logger's "previous log
    # files will be deleted" (it deletes only an old metrics.csv) cannot apply.
    for message in (
        r"`\.fit\(ckpt_path=None\)` was called without a model",
        r"\.fit\(ckpt_path=\"last\"\) is set, but there is no last checkpoint",
        r"Experiment logs directory .* exists and is not empty",
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


def train(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Fit, then test the best checkpoint; returns (and writes) the run's results.

    `callbacks` are added to those the config asks for (for use from Python).
    """
    out_dir = Path(cfg.paths.output_dir)
    if cfg.get("ckpt_path") and not Path(cfg.ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file")
    old = sorted((out_dir / "checkpoints").glob("*.ckpt"))
    if old and not cfg.get("ckpt_path"):
        # Never overwrite a finished run; and Lightning would silently resume from these.
        raise FileExistsError(
            f"{out_dir} already holds checkpoints ({old[0].name}, ...): pass "
            f"ckpt_path={out_dir / 'checkpoints' / 'last.ckpt'} to continue that run, "
            "or train into a new folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    _silence_known_warnings()
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    system = instantiate(cfg.system)
    loggers = instantiate_group(cfg.get("logger"))
    callbacks = instantiate_group(cfg.get("callbacks")) + list(callbacks or [])
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    hparams = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(hparams)

    started = time.perf_counter()
    trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    fit_seconds = time.perf_counter() - started

    checkpoint = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    best_path = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
    results: dict[str, Any] = {
        "task_name": cfg.task_name,
        "output_dir": str(out_dir),
        "epochs": trainer.current_epoch,
        "fit_seconds": round(fit_seconds, 1),
        "best_checkpoint": best_path,
        "best_score": _number(checkpoint.best_model_score) if checkpoint else None,
        "monitor": checkpoint.monitor if checkpoint else None,
        "val": {k: _number(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
        "test": {},
    }
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
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
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


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return objective(train(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
