"""What a run folder of `lowlight.train` is: RUN/config.yaml, RUN/checkpoints/*.ckpt,
RUN/results.json. Light to import (the Hydra entry point and the trainer both need it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_of_checkpoint(ckpt: Path) -> Path | None:
    """RUN for RUN/checkpoints/NAME.ckpt written by `train` (RUN holds config.yaml)."""
    run = ckpt.resolve().parent.parent
    if ckpt.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None


def resume_state(path: str) -> dict[str, Any]:
    """The checkpoint named by `ckpt_path` as plain data, refusing pickled code before
    Lightning reads it (a checkpoint may come from someone else; Lightning's own load is not
    restricted). torch loads only here, when a run resumes."""
    from lowlight.safe import load_checkpoint

    try:
        return load_checkpoint(path)
    except ValueError as e:
        raise ValueError(f"ckpt_path={e}") from None
