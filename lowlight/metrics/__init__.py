"""Image-quality metrics (torchmetrics collections)."""

from lowlight.metrics.image import image_metrics

__all__ = ["image_metrics"]
