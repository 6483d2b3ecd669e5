"""lowlight: a PyTorch Lightning + Hydra suite for low-light enhancement and super-resolution."""

__version__ = "0.1.0"
