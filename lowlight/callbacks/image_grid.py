"""Image grids of fixed validation images: input | output (its PSNR) | target, one row each,
labelled, every image at its own aspect ratio (lowlight.grids)."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image
from torchmetrics.functional.image import peak_signal_noise_ratio

from lowlight.grids import fit_height, grid_image, pil_to_tensor, to_pil


class ImageGridCallback(Callback):
    """Every `every_n_epochs` validation epochs, enhance the same `num_images` validation
    images, save the grid as `dirpath/val_epoch{E}.png` and send it to every logger that
    takes images (TensorBoard, W&B). After testing, the same for test images (`test.png`).
    """

    def __init__(
        self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1, max_side: int = 512
    ) -> None:
        if num_images < 1 or every_n_epochs < 1 or max_side < 16:
            raise ValueError(
                f"callbacks.image_grid.num_images and every_n_epochs must be >= 1 and max_side "
                f">= 16, got {num_images}, {every_n_epochs} and {max_side}"
            )
        self.max_side = max_side
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

    def _grid(self, module: LightningModule, samples: list[dict]) -> tuple[Image.Image, list]:
        """The grid, and each row's captions. Every tile keeps its aspect ratio; a row is
        shown at its output's size (an SR input enlarged to it, nearest neighbour), scaled
        down only when the output is higher than `max_side`."""
        rows, captions = [], []
        for s in samples:
            lq = s["lq"].unsqueeze(0).to(module.device)
            out = module.enhance(lq)[0].float().cpu().clamp(0, 1)
            row = [("input", s["lq"]), ("output", out)]
            if "gt" in s:
                gt = s["gt"].float()
                psnr = peak_signal_noise_ratio(out, gt, data_range=1.0).item()
                row = [row[0], (f"output {psnr:.2f} dB", out), ("target", gt)]
            height = min(out.shape[-2], self.max_side)
            rows.append([(label, fit_height(to_pil(t), height)) for label, t in row])
            captions.append([label for label, _ in row])
        return grid_image(rows), captions

    def _emit(self, trainer: Trainer, module: LightningModule, stage: str, filename: str) -> None:
        samples = self._samples(trainer, stage)
        if not samples:
            return
        was_training = module.training
        module.eval()
        with torch.no_grad():
            grid, _ = self._grid(module, samples)
        module.train(was_training)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        grid.save(self.dirpath / filename)
        key = f"{stage}/images"
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                image = pil_to_tensor(grid)
                logger.experiment.add_image(key, image, global_step=trainer.current_epoch)
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
