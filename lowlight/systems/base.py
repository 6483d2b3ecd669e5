"""What every enhancement system shares: colour space, padding, evaluation and metrics."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import nn

from lowlight.metrics import image_metrics
from lowlight.ops.color import check_color_space, rgb_to_ycrcb, ycrcb_to_rgb
from lowlight.ops.padding import pad_to_multiple


class EnhancementSystem(LightningModule):
    """A LightningModule around an image-to-image `generator`.

    `forward` takes RGB in [0, 1] of any size and returns RGB: it converts to the
    network's colour space, pads to the generator's `size_multiple`, runs it, crops and
    converts back. Validation and test log `val/psnr`, `val/ssim`, `val/mae` (and `test/...`)
    against ground truth in RGB; the test also logs the same metrics for the unenhanced
    input (`test/input_psnr`, ...) so every result carries its baseline.
    """

    def __init__(self, generator: nn.Module, color_space: str = "rgb") -> None:
        super().__init__()
        self.generator = generator
        self.color_space = check_color_space(color_space, "system.color_space")
        self.size_multiple = int(getattr(generator, "size_multiple", 1))
        self.scale = int(getattr(generator, "scale", 1))
        self.val_metrics = image_metrics("val/")
        self.test_metrics = image_metrics("test/")
        self.input_metrics = image_metrics("test/input_")

    def to_net(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb_to_ycrcb(rgb) if self.color_space == "ycrcb" else rgb

    def from_net(self, x: torch.Tensor) -> torch.Tensor:
        return ycrcb_to_rgb(x) if self.color_space == "ycrcb" else x

    def generate(self, x: torch.Tensor) -> torch.Tensor:
        """Run the generator in network space on any size, padding for it and cropping back."""
        x, (h, w) = pad_to_multiple(x, self.size_multiple)
        return self.generator(x)[..., : h * self.scale, : w * self.scale]

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """RGB (N, 3, H, W) in [0, 1] -> enhanced RGB, not clamped."""
        return self.from_net(self.generate(self.to_net(lq)))

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor) -> torch.Tensor:
        """Inference: enhanced RGB clamped to [0, 1]."""
        return self(lq).clamp(0.0, 1.0)

    def _evaluate(self, batch: dict, stage: str) -> torch.Tensor:
        out = self.enhance(batch["lq"])
        if "gt" in batch:
            size = out.shape[0]
            metrics = self.val_metrics if stage == "val" else self.test_metrics
            metrics.update(out, batch["gt"])
            self.log_dict(metrics, on_epoch=True, prog_bar=stage == "val", batch_size=size)
            if stage == "test" and self.scale == 1:
                self.input_metrics.update(batch["lq"].clamp(0.0, 1.0), batch["gt"])
                self.log_dict(self.input_metrics, on_epoch=True, batch_size=size)
        return out

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.enhance(batch["lq"])
