"""Small building blocks shared by several networks."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int, key: str = "norm") -> nn.Module:
    """A 2-D normalization layer by name (`batch`, `instance`, `none`)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"{key} must be one of {NORMS}, got {kind!r}")
