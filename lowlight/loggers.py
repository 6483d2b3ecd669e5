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
