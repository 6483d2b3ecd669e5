"""Checkpoints that mean what they say: last is the latest state, best is the best of the run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from weakref import proxy

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

LAST = "last"


class RunCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` with three guarantees Lightning 2.6 does not give.

    - `last.ckpt` is written at the end of every completed epoch (and every
      `every_n_train_steps` optimizer steps, mid-epoch, when set), whether or not the
      epoch improved the monitored metric. Lightning writes it only when a top-k save
      happens at the same step, so after a non-improving epoch `last.ckpt` is an old state.
    - Every file is written to `NAME.part` and renamed into place, so a process killed
      while saving never leaves a truncated checkpoint under a real name.
    - The best-so-far (score, path, top-k) survives a resume even when the run folder was
      moved: state whose files sit in this callback's folder is taken over (Lightning drops
      it whenever the stored absolute folder path differs).

    Mid-epoch saves write only `last.ckpt`: the monitored metric is a validation metric,
    which does not exist mid-epoch. With manual optimization (the GANs) a step is an
    optimizer step, two per batch.
    """

    CHECKPOINT_NAME_LAST = LAST

    def __init__(self, *args: Any, every_n_train_steps: int | None = None, **kwargs: Any) -> None:
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(
                "callbacks.model_checkpoint.every_n_train_steps must be a positive number of "
                f"optimizer steps or null, got {every_n_train_steps}"
            )
        kwargs.setdefault("save_last", True)
        kwargs.setdefault("enable_version_counter", False)
        # Lightning would make top-k saves step-wise too; here steps refresh last.ckpt only
        super().__init__(*args, **kwargs)
        self.step_interval = every_n_train_steps or 0
        self._last_written: tuple[int, int] | None = None

    # ------------------------------------------------------------------ writing

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        part = f"{filepath}.part"
        trainer.save_checkpoint(part, self.save_weights_only)
        if trainer.is_global_zero:
            os.replace(part, filepath)  # atomic on POSIX and Windows
        trainer.strategy.barrier("RunCheckpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def _save_last_checkpoint(self, trainer, monitor_candidates: dict) -> None:
        if not self.save_last:
            return
        filepath = self.format_checkpoint_name(monitor_candidates, self.CHECKPOINT_NAME_LAST)
        self.last_model_path = filepath  # part of the saved state: set before saving
        saved = self._last_global_step_saved, self._last_checkpoint_saved
        self._save_checkpoint(trainer, filepath)
        # last.ckpt is not a top-k save: it must not stop one at the same step
        self._last_global_step_saved, self._last_checkpoint_saved = saved
        self._last_written = (trainer.current_epoch, trainer.global_step)

    def _idle(self, trainer) -> bool:
        return (
            bool(trainer.fast_dev_run)
            or trainer.state.fn != TrainerFn.FITTING
            or trainer.sanity_checking
        )

    def _write_last(self, trainer) -> None:
        fresh = self._last_written != (trainer.current_epoch, trainer.global_step)
        if self.save_last and fresh and not self._idle(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # ------------------------------------------------------------------ when

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        n = self.step_interval
        if n >= 1 and trainer.global_step % n == 0 and not self._idle(trainer):
            self._write_last(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)  # top-k (and Lightning's last)
        if not self._should_save_on_train_epoch_end(trainer):
            self._write_last(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._write_last(trainer)  # also on epochs without validation

    def on_train_end(self, trainer, pl_module) -> None:
        # Lightning writes last again here when no top-k save happened in this fit, with the
        # epoch counter already past the end; only a stop mid-epoch (max_steps) needs it.
        stepped = (self._last_written or (None, None))[1] != trainer.global_step
        if self.save_last and stepped and not self._idle(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # ------------------------------------------------------------------ resuming

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        stored = state.get("dirpath")
        if stored and self.dirpath and stored != self.dirpath:
            here = Path(self.dirpath)

            def moved(path: str | None) -> str | None:
                return str(here / Path(path).name) if path else path

            best = state.get("best_k_models") or {}
            if all((here / Path(p).name).is_file() for p in best):
                # the same run, its folder moved (or resumed from a copy): keep its best
                state["best_k_models"] = {moved(p): v for p, v in best.items()}
                for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                    state[key] = moved(state.get(key))
                state["dirpath"] = self.dirpath
        super().load_state_dict(state)


def last_good_state(trainer) -> str:
    """Where the last finite weights of this run are, in words, for an error message."""
    callback = getattr(trainer, "checkpoint_callback", None)
    written = getattr(callback, "_last_written", None)
    path = getattr(callback, "last_model_path", "")
    if written is not None and path and Path(path).is_file():
        return f"the last good state is {path} (end of epoch {written[0]})"
    return (
        "no checkpoint holds trained weights yet (the run failed before finishing its first "
        "epoch); checkpoints/on_exception.ckpt, if written, holds the state at the failure, "
        "for debugging only"
    )


class CrashCheckpoint(OnExceptionCheckpoint):
    """Lightning's `OnExceptionCheckpoint` (the state at a crash, for debugging), written only
    once a training step has changed the weights: a run that fails on bad data or a bad
    setting before its first step leaves no checkpoint of untrained weights behind."""

    def on_exception(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.global_step > 0:
            super().on_exception(trainer, *args, **kwargs)
