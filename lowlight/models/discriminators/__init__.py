"""Image discriminators. Each exposes `sigmoid`: whether it outputs probabilities."""

from lowlight.models.discriminators.dcgan5 import DCGAN5
from lowlight.models.discriminators.patchgan import PatchGAN
from lowlight.models.discriminators.vgg import VGGDiscriminator

__all__ = ["DCGAN5", "PatchGAN", "VGGDiscriminator"]
