"""Adversarial objectives for the generator and the discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ADVERSARIAL_MODES = ("bce", "lsgan", "hinge")

# Probabilities are clamped away from 0 and 1 before the log when D ends in a sigmoid.
_EPS = 1e-6


class AdversarialLoss(nn.Module):
    """Non-saturating GAN losses in three forms.

    - `bce`: vanilla GAN (Goodfellow et al., 2014), non-saturating generator loss.
    - `lsgan`: least squares GAN (Mao et al., ICCV 2017), targets 1 (real) and 0 (fake).
    - `hinge`: hinge loss (Lim & Ye 2017; Miyato et al., ICLR 2018); needs logits.

    The discriminator loss is the real term plus the fake term.

    Args:
        from_logits: the discriminator outputs raw scores (True) or sigmoid
            probabilities (False, e.g. `dcgan5` with `sigmoid: true`).
    """

    #: the generator loss does not look at D(real); relativistic losses do.
    needs_real_for_generator = False

    def __init__(self, mode: str = "bce", from_logits: bool = True) -> None:
        super().__init__()
        if mode not in ADVERSARIAL_MODES:
            raise ValueError(f"adversarial.mode must be one of {ADVERSARIAL_MODES}, got {mode!r}")
        if mode == "hinge" and not from_logits:
            raise ValueError(
                "adversarial.mode=hinge needs raw discriminator scores: set "
                "adversarial.from_logits=true and discriminator.sigmoid=false"
            )
        self.mode = mode
        self.from_logits = from_logits

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, from_logits={self.from_logits}"

    def _bce(self, pred: torch.Tensor, target: float) -> torch.Tensor:
        labels = torch.full_like(pred, target)
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(pred, labels)
        return F.binary_cross_entropy(pred.clamp(_EPS, 1 - _EPS), labels)

    def generator_loss(
        self, fake_pred: torch.Tensor, real_pred: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Loss for the generator, from D's output on generated images."""
        if self.mode == "bce":
            return self._bce(fake_pred, 1.0)
        if self.mode == "lsgan":
            return F.mse_loss(fake_pred, torch.ones_like(fake_pred))
        return -fake_pred.mean()

    def discriminator_loss(self, real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
        """Loss for the discriminator: real term + fake term."""
        if self.mode == "bce":
            return self._bce(real_pred, 1.0) + self._bce(fake_pred, 0.0)
        if self.mode == "lsgan":
            return F.mse_loss(real_pred, torch.ones_like(real_pred)) + F.mse_loss(
                fake_pred, torch.zeros_like(fake_pred)
            )
        return F.relu(1.0 - real_pred).mean() + F.relu(1.0 + fake_pred).mean()


class RelativisticAverageLoss(nn.Module):
    """Relativistic average GAN loss (Jolicoeur-Martineau, ICLR 2019), as used by ESRGAN.

    D estimates how much more realistic a real image is than the average fake (and the
    reverse); the generator gets gradients from both real and fake images. Each loss is
    the mean of its real and fake terms, as in the ESRGAN reference implementation
    (BasicSR), so ESRGAN's published loss weight (5e-3) keeps its meaning.
    """

    mode = "ragan"
    needs_real_for_generator = True

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__()
        if not from_logits:
            raise ValueError(
                "adversarial ragan compares raw scores: set adversarial.from_logits=true "
                "and discriminator.sigmoid=false"
            )
        self.from_logits = True

    @staticmethod
    def _bce(pred: torch.Tensor, target: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, target))

    def generator_loss(
        self, fake_pred: torch.Tensor, real_pred: torch.Tensor | None = None
    ) -> torch.Tensor:
        if real_pred is None:
            raise ValueError("the relativistic generator loss needs D's scores on real images")
        real_pred = real_pred.detach()
        return 0.5 * (
            self._bce(real_pred - fake_pred.mean(), 0.0)
            + self._bce(fake_pred - real_pred.mean(), 1.0)
        )

    def discriminator_loss(self, real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
        return 0.5 * (
            self._bce(real_pred - fake_pred.mean(), 1.0)
            + self._bce(fake_pred - real_pred.mean(), 0.0)
        )
