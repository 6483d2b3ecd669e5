"""Which samples a process sees, and in what order: a function of (seed, epoch, index, rank).

Every random choice a training sample makes (photo, crop, flips, degradation) is drawn from
`sample_rng(key)` for its `SampleKey(seed, epoch, index)`, never from a stream that runs on
from the start of the process. Ranks see disjoint indices (`ShardSampler`), so a resumed run,
a run with more DataLoader workers and every rank of a distributed run draw exactly the
samples an uninterrupted single-process run would.

Written here rather than taken from torch: `DistributedSampler` pads evaluation sets (a
duplicated image changes the mean score), cannot skip the part of an epoch that a resumed
run already trained on, and hands the dataset a bare index without the epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import DataLoader, DistributedSampler


class SampleKey(NamedTuple):
    """What a dataset item is drawn from: the run's data seed, the epoch and the index."""

    seed: int
    epoch: int
    index: int


def split_key(key: int | SampleKey) -> tuple[int, SampleKey | None]:
    """(index, key): a plain integer (evaluation, direct indexing) has no key."""
    if isinstance(key, tuple):
        key = SampleKey(*key)
        return key.index, key
    return int(key), None


def sample_rng(key: SampleKey) -> np.random.Generator:
    """The generator for one sample: the same key gives the same draws in any process."""
    return np.random.default_rng([key.seed, key.epoch, key.index])


class ShardSampler(DistributedSampler):
    """Indices for one rank of `num_replicas`, as `SampleKey`s (training) or ints (evaluation).

    Training (`shuffle=True`): a permutation of (seed, epoch), cut so that every rank gets
    the same number of samples (DDP steps in lockstep): the tail that does not divide
    evenly is dropped, as `DistributedSampler(drop_last=True)` does. Evaluation
    (`shuffle=False`): rank r gets indices r, r + R, ... with no padding, so every image is
    scored exactly once whatever the world size.

    Subclasses `DistributedSampler` only so that Lightning keeps it instead of wrapping it
    in its own (which would shard the shard again).
    """

    def __init__(
        self,
        length: int,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside a world of {num_replicas}")
        # No super().__init__: it needs a dataset and an initialized process group.
        self.length = int(length)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        # (epoch, n): on resume, the first n samples of that epoch are already trained on
        self.resume: tuple[int, int] | None = None
        if shuffle:
            self.num_samples = self.length // num_replicas
        else:
            self.num_samples = len(range(rank, self.length, num_replicas))
        self.total_size = self.num_samples * num_replicas

    def indices(self) -> list[int]:
        """This rank's dataset indices for the current epoch."""
        if not self.shuffle:
            return list(range(self.rank, self.length, self.num_replicas))
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        return order[: self.total_size][self.rank :: self.num_replicas].tolist()

    def __iter__(self) -> Iterator[Any]:
        # Decided here, not when the DataLoader makes its iterator: on a restart Lightning
        # makes that before it sets the epoch, and only iterates the sampler after.
        skip = 0
        if self.resume is not None and self.epoch >= self.resume[0]:
            skip = self.resume[1] if self.epoch == self.resume[0] else 0
            self.resume = None
        indices = self.indices()[skip:]
        if not self.shuffle:
            return iter(indices)
        return iter(SampleKey(self.seed, self.epoch, i) for i in indices)

    def __len__(self) -> int:
        return self.num_samples


class ResumableLoader(DataLoader):
    """A DataLoader whose position in the epoch travels in Lightning's checkpoints.

    Lightning stores `state_dict()` of every training loader that has one and hands it back
    on resume; a checkpoint written mid-epoch then continues with the next unseen batch
    instead of restarting the epoch. `progress` reports how many batches of the current
    epoch the trainer has finished (set by the DataModule).
    """

    def __init__(self, *args: Any, progress=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    @property
    def shard(self) -> ShardSampler:
        sampler = self.sampler
        assert isinstance(sampler, ShardSampler), "ResumableLoader needs a ShardSampler"
        return sampler

    def state_dict(self) -> dict[str, int]:
        done = self.progress() if self.progress is not None else 0
        return {"epoch": self.shard.epoch, "batches": int(done), "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("batch_size") != self.batch_size:
            raise ValueError(
                f"the checkpoint was trained with data.batch_size={state.get('batch_size')}, "
                f"this run has {self.batch_size}: resume with the same batch size"
            )
        self.shard.resume = (int(state["epoch"]), int(state["batches"]) * int(self.batch_size or 1))
