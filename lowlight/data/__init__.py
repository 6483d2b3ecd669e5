"""Data: readers, pairing, augmentation, low-light synthesis and LightningDataModules."""

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import PairedImageDataset, SyntheticPairDataset
from lowlight.data.degrade import LowLightDegradation
from lowlight.data.io import ImageReadError, read_image, write_image
from lowlight.data.paired import PairedImageDataModule
from lowlight.data.sr import SRDataModule, SRDataset, SRDegradation
from lowlight.data.synthetic import SyntheticLowLightDataModule
from lowlight.data.transforms import PairAugment
from lowlight.data.unpaired import ImageFolderDataset, UnpairedImageDataModule

__all__ = [
    "ImageDataModule",
    "ImageFolderDataset",
    "ImageReadError",
    "LowLightDegradation",
    "PairAugment",
    "PairedImageDataModule",
    "PairedImageDataset",
    "SRDataModule",
    "SRDataset",
    "SRDegradation",
    "SyntheticLowLightDataModule",
    "SyntheticPairDataset",
    "UnpairedImageDataModule",
    "read_image",
    "write_image",
]
