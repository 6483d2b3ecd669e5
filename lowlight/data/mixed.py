"""Training pairs drawn from several paired DataModules at once: real pairs beside
synthetic ones."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping

import torch
from torch.utils.data import Dataset

from lowlight.data.base import ImageDataModule
from lowlight.data.sampling import SampleKey, split_key
from lowlight.data.transforms import PairAugment, center_crop
from lowlight.data.unpaired import UnpairedImageDataModule

log = logging.getLogger(__name__)
SOURCE_STRIDE = 1_000_003  # seed offset between the sources of a mix (any large prime)


class ConcatPairs(Dataset):
    """The datasets one after another, as `torch.utils.data.ConcatDataset`, but passing a
    training `SampleKey` on to the dataset that holds the index (its own index inside it, and
    a seed of its own), which torch's version cannot: it compares the key with 0.

    `paired[i]` False: dataset i gives images without references. Then every item carries
    `paired` (a bool tensor, so a batch holds both kinds), and an unpaired item's `gt` is a
    copy of its `lq`, a placeholder that only keeps the batch's shape: the system must leave
    it out of every reference-based loss (GANSystem does, by `paired`)."""

    def __init__(self, datasets: list[Dataset], paired: list[bool] | None = None) -> None:
        self.datasets = datasets
        self.paired = None if paired is None or all(paired) else list(paired)
        if self.paired is not None and len(self.paired) != len(datasets):
            raise ValueError(f"{len(self.paired)} paired flags for {len(datasets)} datasets")
        self.ends: list[int] = []
        total = 0
        for d in datasets:
            total += len(d)  # type: ignore[arg-type]
            self.ends.append(total)

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, key: int | SampleKey) -> dict:
        index, sample = split_key(key)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside {len(self)} pairs")
        which = bisect.bisect_right(self.ends, index)
        local = index - (self.ends[which - 1] if which else 0)
        if sample is None:
            item = self.datasets[which][local]
        else:
            # each dataset draws from a stream of its own: item i of one and item i of
            # another must not share their random choices (crop, flips, degradation)
            item = self.datasets[which][
                SampleKey(sample.seed + which * SOURCE_STRIDE, sample.epoch, local)
            ]
        if self.paired is None:
            return item
        item = dict(item, paired=torch.tensor(self.paired[which]))
        if not self.paired[which]:
            item["gt"] = item["lq"].clone()
        return item


class EvaluationPairs(Dataset):
    """The first `limit` items of an evaluation dataset, centre-cropped to `crop` px
    (either None: as they are)."""

    def __init__(self, dataset: Dataset, crop: int | None, limit: int | None) -> None:
        self.dataset, self.crop = dataset, crop
        self.length = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} outside {self.length} pairs")
        item = dict(self.dataset[index])
        for key in ("lq", "gt"):  # (3, H, W) tensors; center_crop cuts (H, W, ...) arrays
            item[key] = center_crop(item[key].movedim(0, -1), self.crop).movedim(-1, 0)
        return item


class MixedPairsDataModule(ImageDataModule):
    """Training pairs from every DataModule in `sources` (each epoch: all of each source's
    training pairs, shuffled together), validation and test from `evaluate_on` alone.

    A source may be unpaired (`UnpairedImageDataModule`, e.g. real dark photos for a
    zero-reference term): its images come with `paired` False (see `ConcatPairs`), and
    `evaluate_on` must name a paired source.

    E.g. LOL's real pairs beside synthetic pairs from daylight photos (`data=lol_mixed`): the
    share of each is its training set's size (LOL's pairs, the synthetic module's
    `train_samples`). The sources' own batch sizes and loader settings are not used; their
    training crops must be equal, so that one batch can hold pairs of both: give one
    `augment` for all (as `data=lol_mixed` does, so `data.augment.crop_size` works as for
    any other data), or equal crops in each.

    Args:
        sources: name -> DataModule (PairedImageDataModule, SyntheticLowLightDataModule,
            UnpairedImageDataModule).
        evaluate_on: the name of the source whose validation and test pairs are used.
        augment: the training augmentation of every source, replacing their own; None
            keeps each source's own.
        eval_crop, val_samples, test_samples: as every DataModule's keys of these names,
            applied on top of `evaluate_on`'s own: centre crops of at most this size, at most
            this many validation / test pairs (None: as that source gives them).
    """

    def __init__(
        self,
        sources: Mapping[str, ImageDataModule],
        evaluate_on: str,
        augment: PairAugment | None = None,
        eval_crop: int | None = None,
        val_samples: int | None = None,
        test_samples: int | None = None,
        batch_size: int = 8,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        color_space: str = "rgb",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, color_space)
        if not sources:
            raise ValueError("data.sources is empty: name at least one paired DataModule")
        if evaluate_on not in sources:
            raise ValueError(
                f"data.evaluate_on={evaluate_on!r} is not one of data.sources "
                f"({', '.join(sources)})"
            )
        if _unpaired(sources[evaluate_on]):
            raise ValueError(
                f"data.evaluate_on={evaluate_on!r} names an unpaired source: validation and "
                "test need references, so name a paired one"
            )
        crops = {}
        for name, source in sources.items():
            if source.color_space != self.color_space:
                raise ValueError(
                    f"data.sources.{name}.color_space={source.color_space!r} differs from "
                    f"data.color_space={self.color_space!r}: give every source the same"
                )
            if augment is not None:
                if not hasattr(source, "augment"):
                    raise ValueError(
                        f"data.sources.{name} ({type(source).__name__}) takes no augmentation, "
                        "so data.augment cannot be given to it"
                    )
                source.augment = augment  # type: ignore[attr-defined]
            crops[name] = getattr(getattr(source, "augment", None), "crop_size", None)
        if None in crops.values() or len(set(crops.values())) > 1:
            raise ValueError(
                "every source needs the same training crop (data.augment.crop_size, or "
                "data.sources.NAME.augment.crop_size), so that one batch can hold pairs of "
                f"each; got {crops}"
            )
        for key, value in (
            ("eval_crop", eval_crop),
            ("val_samples", val_samples),
            ("test_samples", test_samples),
        ):
            if value is not None and value < 1:
                raise ValueError(f"data.{key} must be >= 1 or null, got {value}")
        self.sources = dict(sources)
        self.evaluate_on = evaluate_on
        self.eval_crop = eval_crop
        self.limits = {"val": val_samples, "test": test_samples}

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        for source in self.sources.values():
            source.setup(stage)
        self.train_set = ConcatPairs(
            [s.train_set for s in self.sources.values()],  # type: ignore[misc]
            paired=[not _unpaired(s) for s in self.sources.values()],
        )
        chosen = self.sources[self.evaluate_on]
        crop = self.eval_crop
        self.val_set = EvaluationPairs(chosen.val_set, crop, self.limits["val"])  # type: ignore[arg-type]
        self.test_set = EvaluationPairs(chosen.test_set, crop, self.limits["test"])  # type: ignore[arg-type]
        log.info(
            "mixed training pairs: %s; validation and test from %s",
            ", ".join(f"{len(s.train_set)} {n}" for n, s in self.sources.items()),  # type: ignore[arg-type]
            self.evaluate_on,
        )


def _unpaired(source: ImageDataModule) -> bool:
    return isinstance(source, UnpairedImageDataModule)
