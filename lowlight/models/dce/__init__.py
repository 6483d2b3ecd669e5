"""Zero-reference curve estimation (Zero-DCE)."""

from lowlight.models.dce.dce_net import DCENet, apply_curves, light_enhancement_curve

__all__ = ["DCENet", "apply_curves", "light_enhancement_curve"]
