"""Small building blocks shared by several networks."""

from __future__ import annotations

import torch
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


class Scorer(nn.Module):
    """A convolutional stack ending in raw scores, or probabilities when `sigmoid` is set
    (the common tail of the discriminators; `sigmoid` tells the adversarial loss which)."""

    def __init__(self, layers: list[nn.Module], sigmoid: bool) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return torch.sigmoid(out) if self.sigmoid else out
