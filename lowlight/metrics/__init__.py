"""Image-quality metrics (torchmetrics collections), the SR-paper convention, and the
zero-reference proxies for images without ground truth."""

from lowlight.metrics.image import image_metrics
from lowlight.metrics.noref import autocontrast, autocontrast_metrics, no_reference_stats
from lowlight.metrics.sr import shave, sr_metrics, sr_views, y_metrics

__all__ = [
    "autocontrast",
    "autocontrast_metrics",
    "image_metrics",
    "no_reference_stats",
    "shave",
    "sr_metrics",
    "sr_views",
    "y_metrics",
]
