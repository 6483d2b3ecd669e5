"""PSNR / SSIM / MAE the way papers compute them, as per-image functions and as torchmetrics
metrics that average per-image values.

Three conventions, shared by training, `evaluate` and `sr_metrics`:

- **Per image.** Every metric is computed per image and then averaged over images, so one
  large or easy image cannot outweigh the others (MAE included: not pixel-weighted).
- **Valid-region SSIM.** The Gaussian 11x11, sigma 1.5 SSIM of Wang et al. (2004), averaged
  only where the window lies fully inside the image, as Wang's MATLAB `ssim_index` and
  BasicSR's `calculate_ssim` do. torchmetrics reflect-pads and averages the whole padded
  map, which counts windows reaching into the padding (0.001-0.003 off on SR benchmarks).
- **8-bit outputs.** Papers score the saved image: outputs are rounded to 8 bits before
  scoring unless float scoring is asked for (`eight_bit=False`), which tables label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.functional.image import peak_signal_noise_ratio

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 taps, the window of Wang et al. (and torchmetrics' for sigma 1.5)


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """`x` clipped to [0, 1] and rounded to the nearest of the 256 levels an 8-bit file holds
    (halves rounded up, as MATLAB's uint8 conversion does)."""
    return torch.floor(x.clamp(0.0, 1.0) * 255.0 + 0.5) / 255.0


def psnr(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(N,) PSNR in dB of each image in (N, C, H, W) batches, data range 1."""
    return peak_signal_noise_ratio(out, ref, data_range=1.0, reduction="none", dim=(1, 2, 3))


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(2 * SSIM_RADIUS + 1, dtype=dtype, device=device) - SSIM_RADIUS
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(N,) valid-region SSIM of each image (Gaussian 11x11, sigma 1.5, K = 0.01 / 0.03,
    data range 1), the mean over channels and over the windows inside the image.

    The arithmetic is torchmetrics' (its `return_full_image` map cropped by 5 px is the same
    number to 1e-12, see the tests), written out because torchmetrics filters with the full
    11x11 kernel after padding: in float64 on a CPU that is ~10 s per megapixel, and the
    Gaussian's two 11-tap passes over the valid region are 5-13x faster (`make bench`).
    """
    h, w = out.shape[-2:]
    if min(h, w) <= 2 * SSIM_RADIUS:
        raise ValueError(
            f"SSIM needs images larger than {2 * SSIM_RADIUS}x{2 * SSIM_RADIUS} pixels (after "
            f"any border shave) for its 11x11 window, got {w}x{h}"
        )
    n, c = out.shape[:2]
    g = _gaussian_taps(out.dtype, out.device).expand(5 * c, -1)  # one filter per channel
    stack = torch.cat([out, ref, out * out, ref * ref, out * ref], dim=1)  # (N, 5C, H, W)
    if out.dtype == torch.float32 and out.device.type == "cpu":
        # oneDNN's grouped float32 convolution is ~5x faster on NHWC memory (float64 is not)
        stack = stack.contiguous(memory_format=torch.channels_last)
    local = F.conv2d(stack, g[:, None, :, None], groups=5 * c)  # 'valid': no padding
    local = F.conv2d(local, g[:, None, None, :], groups=5 * c).contiguous()
    mu_o, mu_r, oo, rr, o_r = local.reshape(n, 5, c, *local.shape[-2:]).unbind(dim=1)
    c1, c2 = 0.01**2, 0.03**2
    # num = (2 mu_o mu_r + c1)(2 cov + c2), den = (mu_o^2 + mu_r^2 + c1)(var_o + var_r + c2),
    # computed in place in `local` (the same operations in the same order: same values)
    mu_or = mu_o * mu_r
    cov2 = o_r.sub_(mu_or).mul_(2).add_(c2)
    num = mu_or.mul_(2).add_(c1).mul_(cov2)
    mu_o.square_()
    mu_r.square_()
    var_o = oo.sub_(mu_o).clamp_min_(0.0)  # as torchmetrics: no negative rounding noise
    var_r = rr.sub_(mu_r).clamp_min_(0.0)
    den = mu_o.add_(mu_r).add_(c1).mul_(var_o.add_(var_r).add_(c2))
    return num.div_(den).mean(dim=(1, 2, 3))


def mae(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(N,) mean absolute error of each image."""
    return (out - ref).abs().flatten(1).mean(dim=1)


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "psnr": psnr,
    "ssim": ssim,
    "mae": mae,
}


def image_scores(
    out: torch.Tensor,
    ref: torch.Tensor,
    names: Sequence[str] = tuple(METRICS),
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """{name: (N,) per-image values} of (N, C, H, W) batches, computed in `dtype`.

    float32 gives the float64 values to within 1e-5 (SSIM, PSNR in dB) on 8-bit images
    (measured on Set5 and LIME, tests/test_metrics.py) at about 1/4 of the CPU time, and
    runs fast on GPUs.
    """
    out, ref = out.to(dtype).contiguous(), ref.to(dtype).contiguous()
    return {name: METRICS[name](out, ref) for name in names}


class PerImageMean(MeanMetric):
    """The mean over images of a per-image score: `update(out, ref)` adds one value per image
    of the batch; `compute` averages them (summed across processes under DDP)."""

    def __init__(self, score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        # a NaN score must show as NaN, not be dropped from the mean (torchmetrics' default)
        super().__init__(nan_strategy="disable")
        self.score = score

    def update(self, out: torch.Tensor, ref: torch.Tensor) -> None:  # type: ignore[override]
        with torch.no_grad():
            super().update(self.score(out.detach(), ref.detach()))


def image_metrics(
    prefix: str = "", postfix: str = "", names: Sequence[str] = tuple(METRICS)
) -> MetricCollection:
    """PSNR (dB), SSIM and MAE on images in [0, 1], each the mean of per-image values,
    logged as `<prefix>psnr<postfix>`, ..."""
    return MetricCollection(
        {name: PerImageMean(METRICS[name]) for name in names},
        prefix=prefix,
        postfix=postfix,
        compute_groups=False,  # same state names, different scores: never merge them
    )
