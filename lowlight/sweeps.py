"""Config resolvers for sweeps: Optuna studies in SQLite that outlive one process, and the
name of a sweep's job (`${run_name:...}`, W&B run names). Light to import: `lowlight-train
--help` registers them before anything heavy loads.

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


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def sweep_run_name(
    task_name: str,
    job_overrides: list[str],
    swept_keys: set[str],
    job_num: int | None,
) -> str:
    """`task_name` followed by the job's values of the swept keys (`dce_net
    +ablation=dce_no_color`); the job number when none is known."""
    swept = {k.lstrip("+~") for k in swept_keys}
    chosen = [o for o in job_overrides if _key(o) in swept]
    if chosen:
        return f"{task_name} {' '.join(chosen)}"
    return task_name if job_num is None else f"{task_name} #{job_num}"


def _cli_sweep_keys(argv: list[str]) -> set[str]:
    """Keys the command line sweeps (`a=1,2`, `b=range(3)`), parsed as Hydra parses them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [a for a in argv if "=" in a and not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception:  # not our command line (a launcher's worker): no keys from it
        return set()
    return {o.get_key_element() for o in overrides if o.is_sweep_override()}


def run_name(task_name: str) -> str:
    """The `${run_name:...}` resolver (W&B run names): `task_name` for a single run; in a
    multirun, `task_name` and the job's swept values, so runs of a sweep or an Optuna study
    are told apart in the W&B dashboard. Swept keys come from `hydra.sweeper.params` (sweep
    files, Optuna search spaces) and from the command line (`a=1,2`)."""
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return task_name
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return task_name
    swept = set((hc.sweeper.get("params") or {}).keys()) | _cli_sweep_keys(sys.argv[1:])
    return sweep_run_name(task_name, list(hc.overrides.task), swept, hc.job.get("num"))
