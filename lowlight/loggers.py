"""Logger factories for the Hydra `logger` group."""

from __future__ import annotations

import csv
import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

log = logging.getLogger(__name__)


class _KeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that a resumed run keeps the rows it logged before."""

    def __init__(self, log_dir: str, resume: bool) -> None:
        self.resume = resume
        self._old: list[dict] | None = None
        self._old_keys: list[str] = []
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not self.resume or not self._fs.isfile(self.metrics_file_path):
            super()._check_log_dir_exists()  # a fresh run: Lightning's behaviour
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            reader = csv.DictReader(f)
            self._old = list(reader)
            self._old_keys = list(reader.fieldnames or [])

    def save(self) -> None:
        if self._old is None or not self.metrics:
            super().save()
            return
        # The first rows after the resume: the old rows from their step on were logged in
        # the part of an epoch that the resume replays, so they are dropped (the step
        # counter is restored with the checkpoint, so a replayed row has the same step).
        first = min(int(m["step"]) for m in self.metrics)
        old = [r for r in self._old if not r.get("step") or int(r["step"]) < first]
        self.metrics_keys = sorted(set(self._old_keys).union(*self.metrics))
        with self._fs.open(self.metrics_file_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(old)
            writer.writerows(self.metrics)
        self.metrics, self._old = [], None


class RunCSVLogger(CSVLogger):
    """`CSVLogger` whose metrics.csv survives a resume.

    Lightning's writer deletes an existing metrics.csv when it starts, so a run resumed in
    its own folder kept only what it logged after the resume. `lowlight.train` sets
    `resume` when it resumes: then the earlier rows are kept, except those the resume
    replays, and the new ones follow. Rows are written out whenever a checkpoint is, so a
    killed run's file holds at least what its last checkpoint has seen.
    """

    def __init__(self, *args, resume: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.resume = resume

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        self.save()

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(self.log_dir, self.resume)
        return self._experiment


def wandb_logged_in() -> bool:
    """Whether W&B credentials are configured, without touching the network.

    Looks where `wandb` itself looks: WANDB_API_KEY / WANDB_IDENTITY_TOKEN_FILE, then the
    netrc entry `wandb login` writes for the server host. (wandb has no stable public call
    for this check, and its own one may contact the server, hence this small re-statement.)
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def wandb_logger(offline: bool | None = None, **kwargs) -> WandbLogger:
    """A `WandbLogger` that runs offline unless the user is logged in (or says otherwise).

    Args:
        offline: True/False forces the mode; None (default) picks online only when W&B
            credentials exist and WANDB_MODE does not ask for offline.
    """
    if offline is None:
        mode = os.environ.get("WANDB_MODE", "")
        offline = mode in ("offline", "dryrun", "disabled") or not wandb_logged_in()
        log.info("W&B logging %s", "offline (wandb sync later to upload)" if offline else "online")
    Path(kwargs.get("save_dir") or ".").mkdir(parents=True, exist_ok=True)
    return WandbLogger(offline=offline, **kwargs)


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
