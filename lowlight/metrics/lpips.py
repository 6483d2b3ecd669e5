"""LPIPS (Zhang et al., 2018) through torchmetrics, with the backbone read from a local file.

torchmetrics ships LPIPS's linear calibration layers, but its public metric fetches the
ImageNet backbone (torchvision AlexNet / VGG16 / SqueezeNet) from the internet. Offline is
the normal case here, so the backbone starts random and its weights come from a torchvision
state dict the user has on disk (e.g. `alexnet-owt-7be5be79.pth`), read with
`weights_only=True`; a missing or wrong file is a clear error, never a download.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lowlight.safe import load_checkpoint

LPIPS_NETS = ("alex", "vgg", "squeeze")
_TORCHVISION = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}


def load_lpips(backbone: str | Path, net: str = "alex") -> nn.Module:
    """torchmetrics' LPIPS network (`net`: alex, vgg or squeeze) with its backbone's weights
    loaded from `backbone`, a torchvision state dict of that network."""
    # torchmetrics' own LPIPS module; its public metric cannot take a local backbone file
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    if net not in LPIPS_NETS:
        raise ValueError(f"LPIPS net must be one of {', '.join(LPIPS_NETS)}, got {net!r}")
    path = Path(backbone)
    if not path.is_file():
        raise FileNotFoundError(
            f"LPIPS backbone {path} not found: LPIPS-{net} needs torchvision's ImageNet "
            f"{_TORCHVISION[net]} weights on disk (torchvision.models.{_TORCHVISION[net]}"
            "(weights='DEFAULT').state_dict(), saved elsewhere); nothing is downloaded"
        )
    state = load_checkpoint(path, f"torchvision {_TORCHVISION[net]} state dict")
    model = _NoTrainLpips(net=net, pnet_rand=True)  # calibration layers: torchmetrics' file
    target = {}
    for slice_name, part in model.net.named_children():
        for index, layer in part.named_children():  # children keep torchvision's indices
            for param, value in layer.state_dict().items():
                key = f"features.{index}.{param}"
                if key not in state or state[key].shape != value.shape:
                    raise ValueError(
                        f"{path} is not a torchvision {_TORCHVISION[net]} state dict "
                        f"({key} missing or of another shape)"
                    )
                target[f"net.{slice_name}.{index}.{param}"] = state[key]
    model.load_state_dict(target, strict=False)
    return model.eval()


@torch.no_grad()
def lpips(model: nn.Module, out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(N,) LPIPS distances of (N, 3, H, W) images in [0, 1] (lower is closer)."""
    param = next(model.parameters())
    out, ref = (x.to(param.device, param.dtype) for x in (out, ref))
    return model(out, ref, normalize=True).flatten().to(torch.float64).cpu()
