"""Perceptual (VGG19 feature) loss, from a local weights file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import vgg19

# Layer names of torchvision's vgg19().features, in order.
_VGG19_LAYERS = [
    f"{kind}{block}_{i}" if kind != "pool" else f"pool{block}"
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1)
    for kind, i in [(k, j) for j in range(1, convs + 1) for k in ("conv", "relu")] + [("pool", 0)]
]
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


class PerceptualLoss(nn.Module):
    """Distance between VGG19 features of output and target (Johnson et al., ECCV 2016;
    ESRGAN uses conv5_4 before its ReLU, with L1).

    Nothing is downloaded: `weights_path` must point to torchvision's ImageNet VGG19 state
    dict (`vgg19-dcbb9e9d.pth`, or just its `features.*` entries). The file is read by
    `load()`, which the GAN system calls only when the perceptual weight is positive, so a
    config with weight 0 needs no file. The network is frozen and never trained.

    Args:
        layers: feature layer name (e.g. `conv5_4`, `relu3_4`) -> weight.
        criterion: `l1` or `mse`.
    """

    def __init__(
        self,
        weights_path: str | None = None,
        layers: Mapping[str, float] | None = None,
        criterion: str = "l1",
    ) -> None:
        super().__init__()
        layers = dict(layers or {"conv5_4": 1.0})
        unknown = sorted(set(layers) - set(_VGG19_LAYERS))
        if unknown:
            raise ValueError(
                f"perceptual_loss.layers: unknown VGG19 layer(s) {unknown}; e.g. conv5_4, relu3_4"
            )
        if criterion not in ("l1", "mse"):
            raise ValueError(f"perceptual_loss.criterion must be 'l1' or 'mse', got {criterion!r}")
        self.weights_path = weights_path
        self.layers = layers
        self.criterion = F.l1_loss if criterion == "l1" else F.mse_loss
        last = max(_VGG19_LAYERS.index(name) for name in layers)
        self.features = vgg19(weights=None).features[: last + 1]
        self.features.requires_grad_(False)
        for m in self.features:
            if isinstance(m, nn.ReLU):
                m.inplace = False  # an in-place ReLU would overwrite features kept for the loss
        self.register_buffer(
            "mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.loaded = False

    def load(self) -> PerceptualLoss:
        """Read the VGG19 weights; a clear error when the file is not there."""
        path = Path(self.weights_path) if self.weights_path else None
        if path is None or not path.is_file():
            raise FileNotFoundError(
                f"the perceptual loss needs VGG19 ImageNet weights, and "
                f"perceptual_loss.weights_path={self.weights_path} is not a file. Nothing is "
                f"downloaded at run time: fetch {_VGG19_URL} on a machine with internet, "
                "then set system.perceptual_loss.weights_path=/path/to/vgg19-dcbb9e9d.pth "
                "(or drop the term: system.loss_weights.perceptual=0)"
            )
        from lowlight.safe import load_checkpoint

        state = load_checkpoint(path, "VGG19 weights file")
        state = {
            k.removeprefix("features."): v
            for k, v in state.items()
            if not k.startswith("classifier.")
        }
        wanted = self.features.state_dict().keys()
        missing = [k for k in wanted if k not in state]
        if missing:
            raise ValueError(f"{path} is not a VGG19 state dict (missing {missing[:3]})")
        self.features.load_state_dict({k: state[k] for k in wanted})
        self.loaded = True
        return self

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # frozen: no dropout/BN changes, whatever the system's mode
        return self

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not self.loaded:
            raise RuntimeError("PerceptualLoss.load() must be called before use")
        x = (output - self.mean) / self.std
        y = (target - self.mean) / self.std
        loss = output.new_zeros(())
        wanted = {_VGG19_LAYERS.index(n): w for n, w in self.layers.items()}
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y.detach())
            if i in wanted:
                loss = loss + wanted[i] * self.criterion(x, y)
        return loss
