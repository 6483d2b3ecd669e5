"""Logger factories for the Hydra `logger` group."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger

log = logging.getLogger(__name__)


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
