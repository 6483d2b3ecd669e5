"""LightningModules: how each method trains and evaluates."""

from lowlight.systems.base import EnhancementSystem
from lowlight.systems.gan import GANSystem
from lowlight.systems.zero_dce import ZeroDCESystem

__all__ = ["EnhancementSystem", "GANSystem", "ZeroDCESystem"]
