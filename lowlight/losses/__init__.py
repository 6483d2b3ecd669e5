"""Loss terms. Pixel losses are torch's own (`torch.nn.L1Loss`, `torch.nn.MSELoss`) or
`L1SSIMLoss`."""

from lowlight.losses.adversarial import ADVERSARIAL_MODES, AdversarialLoss, RelativisticAverageLoss
from lowlight.losses.perceptual import PerceptualLoss
from lowlight.losses.pixel import L1SSIMLoss
from lowlight.losses.zero_reference import (
    ColorConstancyLoss,
    ExposureControlLoss,
    IlluminationSmoothnessLoss,
    SpatialConsistencyLoss,
)

__all__ = [
    "ADVERSARIAL_MODES",
    "AdversarialLoss",
    "ColorConstancyLoss",
    "ExposureControlLoss",
    "IlluminationSmoothnessLoss",
    "L1SSIMLoss",
    "PerceptualLoss",
    "RelativisticAverageLoss",
    "SpatialConsistencyLoss",
]
