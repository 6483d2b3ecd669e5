"""Lightning callbacks."""

from lowlight.callbacks.checkpoint import CrashCheckpoint, RunCheckpoint
from lowlight.callbacks.image_grid import ImageGridCallback
from lowlight.callbacks.progress import rich_progress_bar

__all__ = ["CrashCheckpoint", "ImageGridCallback", "RunCheckpoint", "rich_progress_bar"]
