"""Zero-reference curve estimation (Zero-DCE)."""

from lowlight.models.dce.dce_net import DCENet, light_enhancement_curve

__all__ = ["DCENet", "light_enhancement_curve"]
