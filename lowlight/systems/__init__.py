"""LightningModules: how each method trains and evaluates."""

from lowlight.systems.base import EnhancementSystem
from lowlight.systems.gan import GANSystem

__all__ = ["EnhancementSystem", "GANSystem"]
