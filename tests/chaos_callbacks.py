"""Fault injection for the reliability tests: callbacks added to a real run from the command
line (`+callbacks.kill._target_=chaos_callbacks.KillAt ...`, with tests/ on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from lightning.pytorch import Callback


class KillAt(Callback):
    """`kill -9` this process after training batch `batch` of epoch `epoch` (0-based), or at
    the end of that epoch's validation when `batch` is None: no handler, no cleanup."""

    def __init__(self, epoch: int, batch: int | None = None) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_validation_end(self, trainer, pl_module) -> None:
        if (
            not trainer.sanity_checking
            and trainer.current_epoch == self.epoch
            and self.batch is None
        ):
            os.kill(os.getpid(), signal.SIGKILL)


class RecordNames(Callback):
    """Append the names of the training samples each rank sees to `path`.rank<R>.jsonl."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        out = Path(f"{self.path}.rank{trainer.global_rank}.jsonl")
        with out.open("a") as f:
            f.write(json.dumps({"epoch": trainer.current_epoch, "names": list(batch["name"])}))
            f.write("\n")


class PoisonAt(Callback):
    """Fill the generator's first weight with NaN before batch `batch` of epoch `epoch`."""

    def __init__(self, epoch: int, batch: int = 0) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            next(pl_module.generator.parameters()).data.fill_(float("nan"))
