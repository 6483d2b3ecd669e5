"""How `lowlight-evaluate` scores one output: 8-bit PSNR / SSIM / MAE as papers compute them,
GT-mean (labelled), SR's Y channel, zero-reference proxies, NIQE and LPIPS."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lowlight.evaluate.datasets import Dataset, Sample
from lowlight.metrics.image import image_scores, to_8bit
from lowlight.metrics.lpips import lpips
from lowlight.metrics.niqe import niqe
from lowlight.metrics.noref import autocontrast, no_reference_stats, white_share
from lowlight.metrics.sr import shave, sr_metrics, y_channel


@dataclass
class Scoring:
    """How outputs are scored: 8-bit (as saved files) or float, and the optional extras."""

    eight_bit: bool = True
    gt_mean: bool = False
    niqe_model: dict | None = None  # NIQE's pristine model (--niqe)
    lpips_net: torch.nn.Module | None = None  # LPIPS with its local backbone (--lpips)
    # PSNR/SSIM/MAE arithmetic: float32 agrees with float64 to 1e-5 at 1/4 of the CPU time
    dtype: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")  # where PSNR/SSIM/MAE are computed
    seconds: tuple[float, float] | None = None  # (scoring, whole evaluation), once run

    @property
    def suffix(self) -> str:
        return "" if self.eight_bit else " [float]"


def _floats(scores: dict) -> dict[str, float]:
    return {
        k: float(v.mean()) if isinstance(v, torch.Tensor) else float(v) for k, v in scores.items()
    }


def score(out: torch.Tensor, sample: Sample, dataset: Dataset, how: Scoring) -> dict:
    """The scores of one output (3, H, W) in [0, 1] (or (1, H, W) Y for a from-HR method)."""
    border = dataset.scale if dataset.kind in ("sr", "sr_same") else 0
    dt, dev = how.dtype, how.device
    if out.shape[0] == 1:  # bicubic_y: Y only, against the reference's 8-bit Y
        ref = y_channel(sample.gt[None].double())
        views = shave(out[None].double(), border).to(dev), shave(ref, border).to(dev)
        scores = _floats(image_scores(*views, ("psnr", "ssim"), dt))
        return {f"{k}_y{how.suffix}": v for k, v in scores.items()}
    o = (to_8bit(out) if how.eight_bit else out.clamp(0, 1))[None].double()
    if dataset.kind in ("sr", "sr_same"):
        scores = sr_metrics(o.to(dev), sample.gt.to(dev), dataset.scale, how.eight_bit, dt)
    elif sample.gt is None:
        ref = autocontrast(sample.lq[None])
        proxy = _floats(image_scores(o.to(dev), ref.to(dev), ("psnr", "ssim"), dt))
        stats = {k: v.item() for k, v in no_reference_stats(o).items()}
        # percentage points of the photo the method drove to white beyond the input's own
        lq = to_8bit(sample.lq)[None].double()
        stats["white_added_pp"] = 100 * (white_share(o) - white_share(lq)).item()
        scores = {
            "psnr_autocontrast (proxy)": proxy["psnr"],
            "ssim_autocontrast (proxy)": proxy["ssim"],
            **{f"{k} (proxy)": v for k, v in stats.items()},
        }
    else:
        g = sample.gt[None].double()
        scores = _floats(image_scores(o.to(dev), g.to(dev), dtype=dt))
        if how.gt_mean:
            # GT-mean: scale the output so its mean grey level matches the reference's (used
            # by some LLE papers to factor out global brightness); reported apart, labelled.
            rescaled = (o * (g.mean() / o.mean().clamp_min(1e-8))).clamp(0, 1)
            rescaled = to_8bit(rescaled) if how.eight_bit else rescaled
            again = _floats(image_scores(rescaled.to(dev), g.to(dev), ("psnr", "ssim"), dt))
            scores["psnr (GT-mean)"] = again["psnr"]
            scores["ssim (GT-mean)"] = again["ssim"]
    if how.lpips_net is not None and sample.gt is not None:
        a, b = shave(o, border), shave(sample.gt[None].double(), border)
        scores["lpips"] = lpips(how.lpips_net, a, b).item()
    if how.niqe_model is not None:
        scores["niqe (no-ref)"] = niqe(o[0], how.niqe_model, border)
    return {f"{k}{how.suffix}": v for k, v in scores.items()}


def scoring_line(how: Scoring, dataset: Dataset) -> str:
    saved = (
        "outputs rounded to 8 bits, as saved files"
        if how.eight_bit
        else "FLOAT outputs (--float-scores; papers score 8-bit files): columns marked [float]"
    )
    what = f"Scored on {saved}; SSIM over the valid region (11x11 window inside the image)"
    if dataset.kind in ("sr", "sr_same"):
        what += f"; {dataset.scale} px shaved per border, Y = MATLAB rgb2ycbcr"
    if how.niqe_model is not None:
        what += "; NIQE: no-reference, lower is better"
    if how.lpips_net is not None:
        what += "; LPIPS: lower is better"
    if how.dtype != torch.float64:
        what += "; PSNR/SSIM/MAE in float32 (--score-float64: float64)"
    if how.seconds is not None:
        spent, total = how.seconds
        what += (
            f"; scoring took {spent:.1f} s of {total:.1f} s ({100 * spent / max(total, 1e-9):.0f}%)"
        )
    return what + "."
