"""DCE-Net: the curve-estimation network of Zero-DCE."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def light_enhancement_curve(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """One application of the quadratic light-enhancement curve LE(x) = x + A * (x^2 - x)."""
    return x + alpha * (x * x - x)


class DCENet(nn.Module):
    """Deep Curve Estimation network (Guo et al., "Zero-Reference Deep Curve Estimation for
    Low-Light Image Enhancement", CVPR 2020).

    `depth` 3x3 convolutions of `width` kernels with ReLU; with `concat`, the second half
    mirrors the first (for depth 7: conv5 takes [x3, x4], conv6 [x2, x5], conv7 [x1, x6]).
    The last convolution gives 3 x `num_iterations` curve maps through tanh, and the image
    is enhanced by applying LE once per map. Calling the network returns the enhanced image;
    `curves` also returns the maps (for the illumination-smoothness loss). 79,416 parameters
    at the defaults.
    """

    size_multiple = 1
    scale = 1

    def __init__(
        self,
        num_iterations: int = 8,
        width: int = 32,
        depth: int = 7,
        concat: bool = True,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if num_iterations < 1:
            raise ValueError(f"generator.num_iterations must be >= 1, got {num_iterations}")
        if width < 1:
            raise ValueError(f"generator.width must be >= 1, got {width}")
        if depth < 3 or depth % 2 == 0:
            raise ValueError(f"generator.depth must be an odd number >= 3, got {depth}")
        self.num_iterations = num_iterations
        self.concat = concat
        self.half = (depth + 1) // 2  # layers before the mirrored half (4 for depth 7)
        out_channels = 3 * num_iterations
        self.convs = nn.ModuleList()
        for i in range(depth):
            cin = in_channels if i == 0 else width
            if concat and i >= self.half:
                cin = 2 * width  # [mirrored encoder feature, previous feature]
            cout = out_channels if i == depth - 1 else width
            self.convs.append(nn.Conv2d(cin, cout, 3, padding=1))
        self.act = nn.ReLU(inplace=True)

    def curves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(enhanced image, curve maps of shape (N, 3 * num_iterations, H, W))."""
        feats: list[torch.Tensor] = []
        h = x
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if self.concat and i >= self.half:
                # conv i pairs with the encoder feature mirrored around the middle layer
                h = torch.cat((feats[2 * self.half - 2 - i], h), dim=1)
            h = conv(h)
            h = torch.tanh(h) if i == last else self.act(h)
            feats.append(h)
        out = x
        # (N, 3n, H, W) -> n x (N, 3, H, W)
        for alpha in torch.split(h, 3, dim=1):
            out = light_enhancement_curve(out, alpha)
        return out, h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.curves(x)[0]

    @classmethod
    def from_zero_dce(cls, path: str | Path) -> DCENet:
        """DCE-Net with the Zero-DCE authors' released weights (`Epoch99.pth`: keys
        `e_conv1..e_conv7.{weight,bias}`), read with `weights_only=True`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Zero-DCE weights not found: {path}")
        from lowlight.safe import load_checkpoint

        state = load_checkpoint(path, "Zero-DCE weights file")
        state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel saves
        # the authors' layer names -> ours
        rename = {
            f"e_conv{i}.{p}": f"convs.{i - 1}.{p}" for i in range(1, 8) for p in ("weight", "bias")
        }
        if set(state) != set(rename):
            raise ValueError(
                f"{path} is not a Zero-DCE state dict (expected keys e_conv1..e_conv7, got "
                f"{sorted(state)[:4]}...)"
            )
        net = cls()
        net.load_state_dict({rename[k]: v for k, v in state.items()})
        return flush_subnormal_(net)


def flush_subnormal_(module: nn.Module) -> nn.Module:
    """Set subnormal parameters (|w| < float32 tiny, ~1e-38) to zero, in place.

    Weight decay leaves many weights of a trained network subnormal (the released Zero-DCE
    file has them in every layer), and x86 CPUs compute with subnormals some 50x slower:
    a 0.5 MP photo took 28 s instead of 0.5 s. Their contribution to any output is below
    1e-38, so zeroing them changes nothing measurable. `torch.set_flush_denormal` does not
    reach the oneDNN convolution threads, hence this.
    """
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point():
                tiny = torch.finfo(p.dtype).tiny
                p.masked_fill_(p.abs() < tiny, 0.0)
    return module
