"""DCE-Net: the curve-estimation network of Zero-DCE."""

from __future__ import annotations

import torch
from torch import nn

from lowlight.models.layers import through_shrunk


def light_enhancement_curve(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """One application of the quadratic light-enhancement curve LE(x) = x + A * (x^2 - x)."""
    return x + alpha * (x * x - x)


def apply_curves(
    x: torch.Tensor, maps: torch.Tensor, num_iterations: int, shared: bool | None = None
) -> torch.Tensor:
    """LE applied `num_iterations` times: with `shared` (default: `maps` has 3 channels),
    the same map every time (Zero-DCE++), else map i (channels 3i..3i+2) at iteration i
    (Zero-DCE).

    Without autograd (inference) the iterations update one buffer in place: one image-sized
    temporary at a time instead of three per iteration.
    """
    if shared is None:
        shared = maps.shape[1] == 3
    alphas = [maps] * num_iterations if shared else list(torch.split(maps, 3, dim=1))
    if torch.is_grad_enabled() and (x.requires_grad or maps.requires_grad):
        for alpha in alphas:
            x = light_enhancement_curve(x, alpha)
        return x
    out = x.clone()
    for alpha in alphas:
        out.addcmul_(alpha, out * out - out)
    return out


# Initial weights: torch's default (Kaiming uniform), or the Zero-DCE authors' weights_init
# (lowlight_train.py: every convolution's weight drawn from N(0, 0.02), biases as torch's).
INITS = ("torch", "zero_dce")


class SeparableConv2d(nn.Sequential):
    """A 3x3 depthwise convolution followed by a 1x1 pointwise one (Zero-DCE++'s layer)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin),
            nn.Conv2d(cin, cout, 1),
        )


class DCENet(nn.Module):
    """Deep Curve Estimation network (Guo et al., "Zero-Reference Deep Curve Estimation for
    Low-Light Image Enhancement", CVPR 2020), and Zero-DCE++ (Li, Guo and Loy, "Learning to
    Enhance Low-Light Image via Zero-Reference Deep Curve Estimation", TPAMI 2021).

    `depth` 3x3 convolutions of `width` kernels with ReLU; with `concat`, the second half
    mirrors the first (for depth 7: conv5 takes [x3, x4], conv6 [x2, x5], conv7 [x1, x6]).
    The last convolution gives 3 x `num_iterations` curve maps through tanh, and the image
    is enhanced by applying LE once per map. Calling the network returns the enhanced image;
    `curves` also returns the maps (for the illumination-smoothness loss). 79,416 parameters
    at the defaults.

    Zero-DCE++ options: `separable` (depthwise-separable convolutions), `shared_curve` (one
    3-channel map applied `num_iterations` times) and `scale_factor`: in evaluation mode
    (inference, validation, export) the maps are estimated on the input shrunk
    `scale_factor` times (bilinear) and enlarged back to full size, so the network's cost
    falls by scale_factor^2. Training estimates at full resolution, as the authors train;
    the same weights then serve any `scale_factor`. `init`: `torch` (PyTorch's default) or
    `zero_dce` (the authors' training script: convolution weights from N(0, 0.02)).
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
        separable: bool = False,
        shared_curve: bool = False,
        scale_factor: int = 1,
        init: str = "torch",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"generator.init must be one of {', '.join(INITS)}, got {init!r}")
        if num_iterations < 1:
            raise ValueError(f"generator.num_iterations must be >= 1, got {num_iterations}")
        if width < 1:
            raise ValueError(f"generator.width must be >= 1, got {width}")
        if depth < 3 or depth % 2 == 0:
            raise ValueError(f"generator.depth must be an odd number >= 3, got {depth}")
        if not isinstance(scale_factor, int) or scale_factor < 1:
            raise ValueError(f"generator.scale_factor must be an integer >= 1, got {scale_factor}")
        self.num_iterations = num_iterations
        self.concat = concat
        self.scale_factor = scale_factor
        self.shared_curve = shared_curve
        self.half = (depth + 1) // 2  # layers before the mirrored half (4 for depth 7)
        out_channels = 3 if shared_curve else 3 * num_iterations
        layer = SeparableConv2d if separable else (lambda i, o: nn.Conv2d(i, o, 3, padding=1))
        self.convs = nn.ModuleList()
        for i in range(depth):
            cin = in_channels if i == 0 else width
            if concat and i >= self.half:
                cin = 2 * width  # [mirrored encoder feature, previous feature]
            cout = out_channels if i == depth - 1 else width
            self.convs.append(layer(cin, cout))
        self.act = nn.ReLU(inplace=True)
        if init == "zero_dce":  # the authors' weights_init: conv weights ~ N(0, 0.02)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, 0.0, 0.02)
        # How far (in pixels) an output pixel sees: each 3x3 layer adds one, at the
        # estimate's scale; shrinking and enlarging add one coarse pixel each. Tiles that
        # carry this much halo, aligned to `tile_multiple`, give exactly the untiled output
        # (lowlight.inference).
        self.receptive_radius = depth if scale_factor == 1 else (depth + 2) * scale_factor
        self.tile_multiple = scale_factor

    def estimate(self, x: torch.Tensor) -> torch.Tensor:
        """The curve maps (N, 3 or 3 * num_iterations, H', W') of `x` at its own size.
        Each feature map is dropped after its last use (inference keeps no more alive than
        the concatenations need)."""
        feats: list[torch.Tensor | None] = []
        h = x
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if self.concat and i >= self.half:
                # conv i pairs with the encoder feature mirrored around the middle layer
                j = 2 * self.half - 2 - i
                h = torch.cat((feats[j], h), dim=1)
                feats[j] = None  # its last use
            h = conv(h)
            h = torch.tanh(h) if i == last else self.act(h)
            feats.append(h if self.concat and i < self.half - 1 else None)
        return h

    def curves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(enhanced image, full-size curve maps (N, 3 or 3 * num_iterations, H, W))."""
        s = self.scale_factor
        if s == 1 or self.training:
            maps = self.estimate(x)
        else:
            maps = through_shrunk(x, s, self.estimate, shrink="bilinear")
        return apply_curves(x, maps, self.num_iterations, self.shared_curve), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.curves(x)[0]


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
