"""Image-quality metrics (torchmetrics collections) and the SR-paper convention."""

from lowlight.metrics.image import image_metrics
from lowlight.metrics.sr import shave, sr_metrics, sr_views, y_metrics

__all__ = ["image_metrics", "shave", "sr_metrics", "sr_views", "y_metrics"]
