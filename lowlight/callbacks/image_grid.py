"""Image grids of fixed validation images: input | output | ground truth, one row each."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torchvision.utils import make_grid, save_image


class ImageGridCallback(Callback):
    """Every `every_n_epochs` validation epochs, enhance the same `num_images` validation
    images, save the grid as `dirpath/val_epoch{E}.png` and send it to every logger that
    takes images (TensorBoard, W&B). After testing, the same for test images (`test.png`).
    """

    def __init__(self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1) -> None:
        if num_images < 1 or every_n_epochs < 1:
            raise ValueError(
                f"callbacks.image_grid.num_images and every_n_epochs must be >= 1, "
                f"got {num_images} and {every_n_epochs}"
            )
        self.dirpath = Path(dirpath)
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self._fixed: dict[str, list[dict]] = {}

    def _samples(self, trainer: Trainer, stage: str) -> list[dict]:
        if stage not in self._fixed:
            dataset = (
                getattr(trainer.datamodule, f"{stage}_set", None) if trainer.datamodule else None
            )
            if not dataset:
                self._fixed[stage] = []
            else:
                n = len(dataset)
                picks = torch.linspace(0, n - 1, min(self.num_images, n)).round().long().unique()
                self._fixed[stage] = [dataset[int(i)] for i in picks]
        return self._fixed[stage]

    @staticmethod
    def _grid(module: LightningModule, samples: list[dict]) -> torch.Tensor:
        rows = []
        for s in samples:
            lq = s["lq"].unsqueeze(0).to(module.device)
            out = module.enhance(lq)[0].cpu()
            row = [s["lq"], out] + ([s["gt"]] if "gt" in s else [])
            rows.append(row)
        # Images may differ in size (SR output, whole val images): show each at the output size.
        h = min(r[1].shape[-2] for r in rows)
        w = min(r[1].shape[-1] for r in rows)
        tiles = [
            torch.nn.functional.interpolate(t[None], size=(h, w), mode="nearest")[0]
            if t.shape[-2:] != (h, w)
            else t
            for row in rows
            for t in row
        ]
        return make_grid(
            torch.stack(tiles).clamp(0, 1), nrow=len(rows[0]), padding=2, pad_value=1.0
        )

    def _emit(self, trainer: Trainer, module: LightningModule, stage: str, filename: str) -> None:
        samples = self._samples(trainer, stage)
        if not samples:
            return
        was_training = module.training
        module.eval()
        grid = self._grid(module, samples)
        module.train(was_training)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(grid, self.dirpath / filename)
        key = f"{stage}/images"
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(key, grid, global_step=trainer.current_epoch)
            elif isinstance(logger, WandbLogger):
                logger.log_image(key=key, images=[grid], caption=["input | output | target"])

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        last = epoch + 1 >= (trainer.max_epochs or 0)
        if (epoch + 1) % self.every_n_epochs == 0 or last:
            self._emit(trainer, pl_module, "val", f"val_epoch{epoch:03d}.png")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._emit(trainer, pl_module, "test", "test.png")
