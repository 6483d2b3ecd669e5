"""PSNR / SSIM / MAE as torchmetrics collections, per-image means with data_range=1."""

from __future__ import annotations

from torchmetrics import MeanAbsoluteError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure


def psnr_ssim() -> dict:
    """Fresh PSNR (per-image, reduced over C, H, W) and SSIM metrics with data_range=1."""
    return {
        "psnr": PeakSignalNoiseRatio(data_range=1.0, reduction="elementwise_mean", dim=(1, 2, 3)),
        "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
    }


def image_metrics(prefix: str = "") -> MetricCollection:
    """PSNR (dB), SSIM and MAE on images in [0, 1], each the mean of per-image values.

    PSNR reduces over (C, H, W) per image before averaging, so one easy image cannot hide
    several hard ones; SSIM is averaged per image by torchmetrics; MAE over equal-size
    images equals the mean of per-image MAEs.
    """
    return MetricCollection({**psnr_ssim(), "mae": MeanAbsoluteError()}, prefix=prefix)
