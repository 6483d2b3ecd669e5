"""Config resolvers for sweeps that outlive one process: Optuna studies in SQLite, and a
sweep folder that every job process agrees on.

`hydra-optuna-sweeper` runs `n_trials` new trials each time it is started; with
`${trials_left:STORAGE,STUDY,N}` as `n_trials`, starting the same command again after a
crash runs only the trials still missing, so the study ends with N completed trials.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

# Trial states that count as done: a failed or interrupted (RUNNING forever) trial is
# replaced by a new one when the study is resumed.
_DONE = ("COMPLETE", "PRUNED")


def sqlite_url(path: str) -> str:
    """`sqlite:////abs/path.db`, its folder created (SQLite does not create folders)."""
    file = Path(path).expanduser().resolve()
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file}"


def _load(storage: str | None, study_name: str | None):
    """The study, or None when there is none yet (or it lives in memory)."""
    if not storage or not study_name:
        return None
    try:
        import optuna
    except ImportError as e:
        raise ImportError(
            "hydra/sweeper=optuna needs the sweep extra: pip install 'lowlight[sweep]'"
        ) from e
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None


def study_seed(seed: int, storage: str | None, study_name: str | None) -> int:
    """The sampler's seed: `seed` for a new study, `seed + trials so far` for a resumed one.

    A seeded sampler restarted with the same seed proposes the same first points again, so
    a resumed study would repeat the trials it already ran.
    """
    study = _load(storage, study_name)
    return int(seed) + (len(study.trials) if study is not None else 0)


def trials_left(storage: str | None, study_name: str | None, total: int) -> int:
    """How many of `total` trials the study `study_name` in `storage` still lacks."""
    total = int(total)
    if total < 1:
        raise ValueError(f"hydra.sweeper.n_trials: the study size must be >= 1, got {total}")
    study = _load(storage, study_name)
    if study is None:
        return total  # a new study (an in-memory one starts from nothing every time)
    done = sum(t.state.name in _DONE for t in study.trials)
    left = max(total - done, 0)
    log.info(
        "Optuna study %s (%s): %d of %d trials done, %d to run",
        study_name,
        storage,
        done,
        total,
        left,
    )
    return left
