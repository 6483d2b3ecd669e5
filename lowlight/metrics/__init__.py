"""Image-quality metrics (per-image functions and torchmetrics collections of per-image
means), the SR-paper convention, NIQE, and zero-reference proxies for images without ground
truth."""

from lowlight.metrics.image import (
    METRICS,
    PerImageMean,
    image_metrics,
    image_scores,
    mae,
    psnr,
    ssim,
    to_8bit,
)
from lowlight.metrics.noref import autocontrast, autocontrast_metrics, no_reference_stats
from lowlight.metrics.sr import shave, sr_metrics, sr_views, y_channel, y_metrics

__all__ = [
    "METRICS",
    "PerImageMean",
    "autocontrast",
    "autocontrast_metrics",
    "image_metrics",
    "image_scores",
    "mae",
    "no_reference_stats",
    "psnr",
    "shave",
    "sr_metrics",
    "sr_views",
    "ssim",
    "to_8bit",
    "y_channel",
    "y_metrics",
]
