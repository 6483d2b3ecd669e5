"""Lightning callbacks."""

from lowlight.callbacks.image_grid import ImageGridCallback
from lowlight.callbacks.progress import rich_progress_bar

__all__ = ["ImageGridCallback", "rich_progress_bar"]
