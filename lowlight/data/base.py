"""What every lowlight DataModule shares: loaders, batch sizes, colour-space declaration."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from lowlight.data.sampling import ResumableLoader, ShardSampler
from lowlight.ops.color import check_color_space


class ImageDataModule(LightningDataModule):
    """Base class: subclasses fill `train_set`, `val_set`, `test_set` in `setup`.

    Args:
        color_space: the space the networks work in (`rgb` or `ycrcb`). Batches are always
            RGB; the system converts on the way in and out, so metrics and saved images stay
            in RGB. Declared here because it is a property of how the data is modelled.
        eval_batch_size: batch size for validation and test (1 lets images differ in size).
        sample_seed: seeds the order and the random draws of training samples (see
            `lowlight.data.sampling`); None: the run's seed (`torch.initial_seed()`, which
            `lowlight.train` sets from `seed`).

    Loaders shard by rank when the trainer is distributed: training gives every rank the
    same number of distinct samples, validation and test give each image to exactly one
    rank (no padding), so scores count every image once whatever the world size.
    """

    def __init__(
        self,
        batch_size: int = 8,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        color_space: str = "rgb",
        sample_seed: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or eval_batch_size < 1:
            raise ValueError(
                f"data.batch_size and data.eval_batch_size must be >= 1, "
                f"got {batch_size} and {eval_batch_size}"
            )
        if num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.color_space = check_color_space(color_space, "data.color_space")
        self.sample_seed = sample_seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def _loader(self, dataset: Dataset | None, stage: str, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__} has no {stage} set; call setup() first")
        batch_size = self.batch_size if train else self.eval_batch_size
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        seed = self.sample_seed if self.sample_seed is not None else torch.initial_seed()
        sampler = ShardSampler(len(dataset), train, seed, world, rank)  # type: ignore[arg-type]
        common = {
            "batch_size": batch_size,
            "sampler": sampler,
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
            "pin_memory": torch.cuda.is_available(),
        }
        if not train:
            return DataLoader(dataset, **common)
        return ResumableLoader(
            dataset,
            drop_last=len(sampler) > batch_size,
            progress=(lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed)
            if trainer
            else None,
            **common,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "validation", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, "test", train=False)
