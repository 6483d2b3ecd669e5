"""Files from other people are data, never code: safe checkpoint loading and an allow-list
for the configs of run folders.

A run folder's `config.yaml` names classes by `_target_`; instantiating it as is would let
a shared folder run anything (`_target_: os.system`, or `torch.load` with
`weights_only: false` on an attacker's pickle). `build_untrusted` builds only this
package's generators and torch.nn layers; everything else is refused with the key named.
Checkpoints are read with `torch.load(weights_only=True)`, which refuses pickled code.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

# Hydra keys a generator config may use besides its arguments.
_HYDRA_KEYS = {"_target_", "_recursive_", "_convert_", "_args_"}


class UnsafeConfigError(ValueError):
    """A config from an untrusted source asks for something outside the allow-list."""


def _what_is_wrong(path: Path, what: str, error: Exception) -> str:
    """One plain line on why `path` did not load with `weights_only=True`."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"{path}: cannot read the {what} ({e.strerror or e})"
    if not head:
        return f"{path}: not a {what}: the file is empty"
    if not head.startswith(b"PK") and head[:1] != b"\x80":
        return f"{path}: not a {what}: neither a PyTorch file (zip) nor a pickle"
    if "weights only load failed" in str(error).lower() and "global" in str(error).lower():
        # a real pickle that needs code to load: the safety refusal
        return (
            f"{path}: refused: this {what} holds pickled code and cannot be loaded safely "
            "(it needs weights_only=False; nothing in it was run)"
        )
    if head.startswith(b"PK"):
        return f"{path}: not a {what} that can be read: a damaged or truncated PyTorch file"
    return f"{path}: not a {what} that can be read: a damaged or truncated pickle"


def load_checkpoint(path: str | Path, what: str = "checkpoint") -> dict:
    """`torch.load(path, weights_only=True)` on the CPU; any failure (a truncated file, a
    pickle that holds code, not a checkpoint at all) becomes one clear ValueError line that
    says which of these it is."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError, ...
        raise ValueError(_what_is_wrong(Path(path), what, e)) from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a {what} (holds a {type(state).__name__}, not a dict)")
    return state


def allowed_targets() -> set[str]:
    """`_target_` strings a run folder may name: this package's generators (and DCE-Net)."""
    from lowlight.models import dce, generators

    names = set()
    for module in (generators, dce):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, nn.Module):
                names |= {f"{module.__name__}.{name}", f"{obj.__module__}.{obj.__qualname__}"}
    return names


def _is_torch_layer(target: str) -> bool:
    """`torch.nn.<Layer>`: a layer class of torch.nn itself (Conv2d, BatchNorm2d, ...)."""
    prefix, _, name = target.rpartition(".")
    obj = getattr(nn, name, None) if prefix == "torch.nn" else None
    return isinstance(obj, type) and issubclass(obj, nn.Module)


def check_untrusted(node: Any, key: str, source: str, allowed: set[str]) -> None:
    """Refuse any `_target_` outside `allowed` / torch.nn layers, any other Hydra special
    key and any interpolation (`${...}` may call resolvers), naming the key."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if target is not None and not (target in allowed or _is_torch_layer(str(target))):
            raise UnsafeConfigError(
                f"{source}: {key}._target_={target!r} is not allowed: a run folder may only "
                "name this package's generators and torch.nn layers (refused, nothing was run)"
            )
        for k, v in node.items():
            if str(k).startswith("_") and str(k).endswith("_") and k not in _HYDRA_KEYS:
                raise UnsafeConfigError(f"{source}: {key}.{k} is not allowed in a run folder")
            check_untrusted(v, f"{key}.{k}", source, allowed)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_untrusted(v, f"{key}[{i}]", source, allowed)
    elif isinstance(node, str) and "${" in node:
        raise UnsafeConfigError(
            f"{source}: {key}={node!r}: interpolations are not allowed in a run folder's config "
            "(train writes it resolved)"
        )


def _construct(node: Any) -> Any:
    """Build a checked config: every `_target_` called with its (built) arguments.

    Written here instead of calling `hydra.utils.instantiate`: loading a model (enhance, the
    API, export) must not import Hydra (seconds of start-up), and after `check_untrusted`
    only plain values and allow-listed classes are left to build."""
    if isinstance(node, list):
        return [_construct(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "_target_" not in node:
        return {k: _construct(v) for k, v in node.items()}
    module_name, _, name = str(node["_target_"]).rpartition(".")
    target = getattr(importlib.import_module(module_name), name)
    args = [_construct(v) for v in node.get("_args_", [])]
    kwargs = {k: _construct(v) for k, v in node.items() if k not in _HYDRA_KEYS}
    return target(*args, **kwargs)


def build_untrusted(node: Any, key: str, source: str) -> nn.Module:
    """Instantiate the config `node` (found at `key` of the file `source`) after
    `check_untrusted`: only allow-listed classes are ever called."""
    from omegaconf import DictConfig, OmegaConf

    plain = OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node
    if not isinstance(plain, dict) or "_target_" not in plain:
        raise UnsafeConfigError(f"{source}: {key} does not describe a network (_target_ missing)")
    check_untrusted(plain, key, source, allowed_targets())
    module = _construct(plain)
    if not isinstance(module, nn.Module):
        raise UnsafeConfigError(f"{source}: {key} did not build a network")
    return module
