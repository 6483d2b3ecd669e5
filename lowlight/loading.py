"""Every network a user points at, built in one place: a shipped name (`lowlight.zoo` says
where its files are), a run folder written by `lowlight.train`, one of its checkpoints, or
the Zero-DCE authors' weights file.

`load_model` rebuilds the generator from the description that came with the weights (a
run's `config.yaml`, a shipped `NAME.yaml`) through the allow-list of `lowlight.safe`, loads
the weights (the EMA copy when the run kept one) with `weights_only=True`, and wraps it in an
`InferenceNet` (`lowlight.inference`). Nothing here imports Lightning or Hydra.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from lowlight import zoo
from lowlight.inference import InferenceNet
from lowlight.models.dce import DCENet
from lowlight.models.dce.dce_net import flush_subnormal_
from lowlight.names import ARCHS
from lowlight.safe import build_untrusted, load_checkpoint

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A ready-to-run model and where it came from."""

    name: str
    net: InferenceNet
    source: Path
    checkpoint: Path | None = None
    config: dict | None = None

    @property
    def scale(self) -> int:
        return self.net.scale

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())


def generator_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights from a Lightning checkpoint (`weights_only=True`): the EMA
    copy (`generator_ema.module.*`) when the run kept one, else `generator.*`."""
    state = load_checkpoint(path)
    state = state.get("state_dict", state)
    ema = "generator_ema.module."
    prefix = ema if any(k.startswith(ema) for k in state) else "generator."
    weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise ValueError(f"{path} holds no generator weights (keys generator.* expected)")
    return weights


def _best_in_last(run: Path) -> Path | None:
    """The best checkpoint that last.ckpt's checkpoint callback recorded (a run that stopped
    before writing results.json), if that file is in the run folder."""
    try:
        state = load_checkpoint(run / "checkpoints" / "last.ckpt")
    except ValueError:
        return None
    for key, cb in (state.get("callbacks") or {}).items():
        best = cb.get("best_model_path") if isinstance(cb, dict) else None
        if str(key).startswith(("RunCheckpoint", "ModelCheckpoint")) and best:
            path = run / "checkpoints" / Path(best).name
            if path.is_file():
                return path
    return None


def choose_checkpoint(run: Path) -> Path:
    """The checkpoint to use from a run folder: the best one the run recorded (results.json,
    else last.ckpt's record), else checkpoints/last.ckpt. Only files inside the run's own
    checkpoints/ folder are ever chosen (a recorded path is taken by its name there: a copied
    run folder uses its own weights, an edited results.json cannot point elsewhere). Never
    `on_exception*.ckpt` (the state at a crash: random or exploded weights) nor a
    half-written `.part` file: those are used only when named explicitly."""
    results = run / "results.json"
    try:
        info = json.loads(results.read_text()) if results.is_file() else {}
    except ValueError as e:
        raise ValueError(f"{results}: not readable JSON ({e})") from None
    status = info.get("status", "finished" if info else "unknown")
    best = info.get("best_checkpoint")
    own = run / "checkpoints" / Path(best).name if best else None
    if own is not None and own.is_file() and not own.name.startswith("on_exception"):
        chosen: Path | None = own
    else:
        chosen = _best_in_last(run)
    if chosen is None and (run / "checkpoints" / "last.ckpt").is_file():
        chosen = run / "checkpoints" / "last.ckpt"
    if chosen is None:
        if not (run / "checkpoints").is_dir() and status != "failed":
            raise FileNotFoundError(f"{run} has no checkpoints/ folder: not a run of train")
        others = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))  # none if no folder
        only = f" Found only {', '.join(others)}: pass it explicitly to use it." if others else ""
        if own is not None and status == "finished":
            # a finished run whose folder was copied without the checkpoint it chose
            raise FileNotFoundError(
                f"{run}: the run finished, but its best checkpoint {own.name} (named in "
                f"{results.name}) is not in {own.parent}, nor is last.ckpt.{only}"
            )
        why = f" (it failed: {info['error']})" if info.get("error") else ""
        raise FileNotFoundError(
            f"{run} holds no trained checkpoint: the run stopped before finishing an epoch"
            f"{why}.{only}"
        )
    if status != "finished":
        log.warning("%s did not finish (status: %s); using %s", run, status, chosen.name)
    return chosen


def _is_zero_dce_file(path: Path) -> bool:
    if path.suffix not in (".pth", ".pt") or not path.is_file():
        return False
    with contextlib.suppress(Exception):
        state = torch.load(path, map_location="cpu", weights_only=True)
        return any(k.removeprefix("module.").startswith("e_conv1.") for k in state)
    return False


def build_net(
    generator_cfg,
    weights: dict[str, torch.Tensor],
    color_space,
    config: Path,
    weights_file: Path,
    prefix: str = "",
) -> InferenceNet:
    """An `InferenceNet` (CPU, eval mode) from a description that may come from anyone (a run
    folder's config.yaml, a shipped NAME.yaml): only allow-listed classes are built
    (lowlight.safe); `prefix` is where the keys sit in `config` (`system.` in a run's)."""
    generator = build_untrusted(generator_cfg, f"{prefix}generator", str(config))
    try:
        generator.load_state_dict(weights)
    except RuntimeError as e:
        raise ValueError(f"{weights_file} does not fit the generator in {config}: {e}") from e
    if not isinstance(color_space, str):
        raise ValueError(f"{config}: {prefix}color_space must be a string, got {color_space!r}")
    return InferenceNet(flush_subnormal_(generator), color_space).eval()


def load_model(spec: str | Path, arch: str = "auto", name: str | None = None) -> LoadedModel:
    """Load a shipped model by name (`python -m lowlight.zoo list`), a run folder, a
    checkpoint inside one, or (`arch="zero_dce"`, or detected from the keys) the Zero-DCE
    authors' weights file, ready for inference on CPU. An existing path wins over a name."""
    from omegaconf import OmegaConf  # slow to import; only needed here

    if arch not in ARCHS:
        raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    path = Path(spec)
    if not path.exists() and zoo.is_shipped(spec) and arch == "auto":
        model = load_shipped(str(spec))
        model.name = name or model.name
        return model
    if not path.exists():
        raise zoo.model_not_found(path)
    if arch == "zero_dce" or (arch == "auto" and _is_zero_dce_file(path)):
        net = InferenceNet(load_zero_dce(path)).eval()
        return LoadedModel(name or "zero_dce", net, path, checkpoint=path)
    if path.is_dir():
        run, checkpoint = path, choose_checkpoint(path)
    elif path.suffix == ".ckpt":
        run, checkpoint = path.parent.parent, path  # RUN/checkpoints/NAME.ckpt
    else:
        raise ValueError(
            f"{path}: not a run folder, a .ckpt or a Zero-DCE .pth (pass --arch zero_dce "
            "for the authors' weights)"
        )
    weights = generator_weights(checkpoint)  # an unreadable file: say that first
    config = run / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(
            f"{config} not found: a model must be a run folder written by lowlight.train "
            "(or a checkpoint inside its checkpoints/ folder)"
        )
    cfg = OmegaConf.load(config)
    system = cfg.get("system") or {}
    if "generator" not in system:
        raise ValueError(f"{config} has no system.generator: not a config written by train")
    net = build_net(
        system.generator, weights, system.get("color_space", "rgb"), config, checkpoint, "system."
    )
    return LoadedModel(
        name or run.name,
        net,
        path,
        checkpoint=checkpoint,
        config=OmegaConf.to_container(cfg, resolve=False),  # resolvers could run code
    )


def load_shipped(name: str, folder: Path | None = None) -> LoadedModel:
    """A shipped model (`lowlight.zoo`) as a `LoadedModel` (on the CPU, eval mode)."""
    from safetensors.torch import load_file

    info = zoo.describe(name, folder)
    yaml_path, weights_path = zoo.files(name, folder)
    weights = {k: v.float() for k, v in load_file(weights_path).items()}
    color_space = info.get("color_space", "rgb")
    net = build_net(info["generator"], weights, color_space, yaml_path, weights_path)
    return LoadedModel(name, net, weights_path, checkpoint=weights_path, config=info)


# the Zero-DCE authors' layer names -> DCENet's
_ZERO_DCE_KEYS = {
    f"e_conv{i}.{p}": f"convs.{i - 1}.{p}" for i in range(1, 8) for p in ("weight", "bias")
}


def load_zero_dce(path: str | Path) -> DCENet:
    """DCE-Net with the Zero-DCE authors' released weights (`Epoch99.pth`: keys
    `e_conv1..e_conv7.{weight,bias}`), read with `weights_only=True`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Zero-DCE weights not found: {path}")
    state = load_checkpoint(path, "Zero-DCE weights file")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel saves
    if set(state) != set(_ZERO_DCE_KEYS):
        raise ValueError(
            f"{path} is not a Zero-DCE state dict (expected keys e_conv1..e_conv7, got "
            f"{sorted(state)[:4]}...)"
        )
    net = DCENet()
    net.load_state_dict({_ZERO_DCE_KEYS[k]: v for k, v in state.items()})
    return flush_subnormal_(net)
