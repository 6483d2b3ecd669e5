"""lowlight: a PyTorch Lightning + Hydra suite for low-light enhancement and super-resolution.

import lowlight
out = lowlight.enhance_image(img)                  # the shipped `lle` model
big = lowlight.enhance_image(img, model="sr_x4")   # any shipped name, run folder, checkpoint
"""

__version__ = "0.1.0"
__all__ = ["enhance_image", "load_model", "shipped_models"]


def __getattr__(name: str):
    # Lazy: `import lowlight` (and every CLI's start) does not pay for torch until needed.
    if name == "enhance_image":
        from lowlight.api import enhance_image

        return enhance_image
    if name == "load_model":
        from lowlight.loading import load_model

        return load_model
    if name == "shipped_models":
        from lowlight.zoo import shipped_names

        return shipped_names
    raise AttributeError(f"module 'lowlight' has no attribute {name!r}")
