"""Loss terms. Pixel losses are torch's own (`torch.nn.L1Loss`, `torch.nn.MSELoss`)."""

from lowlight.losses.adversarial import ADVERSARIAL_MODES, AdversarialLoss

__all__ = ["ADVERSARIAL_MODES", "AdversarialLoss"]
