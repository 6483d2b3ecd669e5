"""Image-to-image generators. Each exposes `size_multiple` (input sides must divide by it;
the systems pad for it) and `scale` (output size / input size)."""

from lowlight.models.generators.iat import IlluminationAdaptiveNet
from lowlight.models.generators.rrdbnet import RRDBNet
from lowlight.models.generators.seed_unet import SeedUNet
from lowlight.models.generators.srcnn import SRCNN
from lowlight.models.generators.unet import UNet

__all__ = ["IlluminationAdaptiveNet", "RRDBNet", "SRCNN", "SeedUNet", "UNet"]
