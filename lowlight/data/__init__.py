"""Data: readers, pairing, augmentation, low-light synthesis and LightningDataModules.

Names load on first use (PEP 562): `lowlight.data.io` (reading images, for enhance and the
API) must not import Lightning, which the DataModules need.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ImageDataModule": "base",
    "PairedImageDataset": "datasets",
    "SyntheticPairDataset": "datasets",
    "LowLightDegradation": "degrade",
    "ImageReadError": "io",
    "read_image": "io",
    "write_image": "io",
    "MixedPairsDataModule": "mixed",
    "PairedImageDataModule": "paired",
    "SRDataModule": "sr",
    "SRDataset": "sr",
    "SRDegradation": "sr",
    "SyntheticLowLightDataModule": "synthetic",
    "PairAugment": "transforms",
    "ImageFolderDataset": "unpaired",
    "UnpairedImageDataModule": "unpaired",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'lowlight.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lowlight.data.{_WHERE[name]}"), name)
