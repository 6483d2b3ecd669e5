"""What a run folder of `lowlight.train` is: RUN/config.yaml, RUN/checkpoints/*.ckpt,
RUN/results.json. Light to import (the Hydra entry point and the trainer both need it)."""

from __future__ import annotations

from pathlib import Path


def run_of_checkpoint(ckpt: Path) -> Path | None:
    """RUN for RUN/checkpoints/NAME.ckpt written by `train` (RUN holds config.yaml)."""
    run = ckpt.resolve().parent.parent
    if ckpt.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None
