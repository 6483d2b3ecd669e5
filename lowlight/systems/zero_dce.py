"""Zero-reference training of a curve-estimation network (Zero-DCE)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from lowlight.callbacks.checkpoint import last_good_state
from lowlight.systems.base import EnhancementSystem, check_loss_weights

ZERO_REFERENCE_TERMS = ("spatial", "exposure", "color", "smoothness")
DEFAULT_WEIGHTS = {"spatial": 1.0, "exposure": 10.0, "color": 5.0, "smoothness": 200.0}


class ZeroDCESystem(EnhancementSystem):
    """Zero-DCE (Guo et al., CVPR 2020): no ground truth, four zero-reference losses.

    loss = spatial * L_spa(enhanced, input) + exposure * L_exp(enhanced)
         + color * L_col(enhanced) + smoothness * L_tv(curve maps)
    (the paper's weights 1, 10, 5, 200; weight 0 removes a term). Automatic optimization;
    the paper's gradient-norm clip of 0.1 is the trainer's `gradient_clip_val`. Every term
    and the total are logged for train and val; with paired data validation and test also
    score PSNR/SSIM/MAE against ground truth, without it the zero-reference proxies.

    Args:
        generator: a curve-estimation network with `curves(x) -> (enhanced, maps)` (DCENet).
        optimizer: optimizer factory taking params (the paper: Adam 1e-4, weight decay 1e-4).
        score_8bit, channels_last, compile: see `EnhancementSystem`.
    """

    def __init__(
        self,
        generator: nn.Module,
        optimizer: Callable,
        spatial_loss: nn.Module,
        exposure_loss: nn.Module,
        color_loss: nn.Module,
        smoothness_loss: nn.Module,
        loss_weights: Mapping[str, float] | None = None,
        scheduler: Callable | None = None,
        color_space: str = "rgb",
        score_8bit: bool = True,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__(
            generator,
            color_space,
            score_8bit=score_8bit,
            channels_last=channels_last,
            compile=compile,
        )
        if color_space != "rgb":
            raise ValueError("system.color_space must be rgb for Zero-DCE (its losses are RGB)")
        if not callable(getattr(generator, "curves", None)):
            raise ValueError(
                f"system.generator must estimate curves (a DCENet), got {type(generator).__name__}"
            )
        weights = check_loss_weights(
            DEFAULT_WEIGHTS, loss_weights, ZERO_REFERENCE_TERMS, "ZeroDCESystem (Zero-DCE)"
        )
        self.save_hyperparameters(
            {
                "loss_weights": {k: float(v) for k, v in weights.items()},
                "score_8bit": self.score_8bit,
            }
        )
        self.loss_weights = weights
        self.losses = nn.ModuleDict(
            {
                "spatial": spatial_loss,
                "exposure": exposure_loss,
                "color": color_loss,
                "smoothness": smoothness_loss,
            }
        )
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.generator.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}

    def _terms(
        self, lq: torch.Tensor, enhanced: torch.Tensor, curves: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        inputs = {
            "spatial": (enhanced, lq),
            "exposure": (enhanced, lq),  # the input matters only with dark_input_only
            "color": (enhanced,),
            "smoothness": (curves,),
        }
        return {
            k: self.losses[k](*inputs[k]) for k in ZERO_REFERENCE_TERMS if self.loss_weights[k] > 0
        }

    def _loss(
        self, batch: dict, stage: str, generator: nn.Module
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lq = batch["lq"]
        enhanced, curves = self.run_generator(generator, "curves")(self.nhwc(lq))
        terms = self._terms(lq, enhanced, curves)
        total = sum((self.loss_weights[k] * v for k, v in terms.items()), lq.new_zeros(()))
        if not torch.isfinite(total):
            names = ", ".join(map(str, batch.get("name", [])[:4]))
            raise FloatingPointError(
                f"{stage}/loss is {total.item()} at epoch {self.current_epoch} (images: {names}); "
                f"{last_good_state(self.trainer)}. Try a lower system.optimizer.lr or check "
                "these images."
            )
        size = lq.shape[0]
        self.log_dict(
            {f"{stage}/{k}": v.detach() for k, v in terms.items()},
            on_epoch=True,
            batch_size=size,
            sync_dist=True,  # a batch-weighted mean over ranks (exact with uneven shards)
        )
        self.log(
            f"{stage}/loss",
            total.detach(),
            prog_bar=True,
            on_epoch=True,
            batch_size=size,
            sync_dist=True,
        )
        return total, enhanced

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._loss(batch, "train", self.generator)[0]

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        _, enhanced = self._loss(batch, "val", self.generator)
        return self._evaluate(batch, "val", out=enhanced)
