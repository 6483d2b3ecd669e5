"""Loss terms: scalar, known values at known inputs, finite gradients."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import CONF
from lowlight.losses import ADVERSARIAL_MODES, AdversarialLoss, L1SSIMLoss


@pytest.mark.parametrize("path", sorted((CONF / "pixel_loss").glob("*.yaml")), ids=lambda p: p.stem)
def test_pixel_losses_zero_for_identical_and_positive_otherwise(path):
    loss = instantiate(OmegaConf.load(path))
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    assert loss(x, x.detach()).item() == 0.0
    value = loss(x, torch.zeros_like(x))
    assert value.dim() == 0 and value.item() > 0
    value.backward()
    assert torch.isfinite(x.grad).all()


def test_l1_ssim_is_l1_plus_the_weighted_ssim_gap_and_ranks_noise_below_an_offset():
    torch.manual_seed(0)
    ref = 0.3 + 0.4 * torch.rand(1, 3, 1, 32).expand(1, 3, 32, 32)  # vertical stripes
    offset = ref + 0.05  # a uniform brightness error
    noisy = ref + 0.05 * torch.randint(0, 2, ref.shape).mul(2).sub(1)  # +-0.05 per pixel
    l1 = torch.nn.L1Loss()
    assert l1(noisy, ref).item() == pytest.approx(l1(offset, ref).item())  # L1 cannot tell
    assert L1SSIMLoss(0.0)(noisy, ref).item() == pytest.approx(l1(noisy, ref).item())
    loss = L1SSIMLoss(0.5)
    # SSIM barely moves for an offset (luminance term ~0.99), falls for noise (structure)
    assert loss(offset, ref).item() - 0.05 < 0.01
    assert loss(noisy, ref).item() - 0.05 > 0.04
    with pytest.raises(ValueError, match="ssim_weight"):
        L1SSIMLoss(-1.0)


@pytest.mark.parametrize("mode", ADVERSARIAL_MODES)
def test_adversarial_losses_are_scalar_with_finite_gradients(mode):
    loss = AdversarialLoss(mode)
    real = torch.randn(4, 1, 5, 5, requires_grad=True)
    fake = torch.randn(4, 1, 5, 5, requires_grad=True)
    g = loss.generator_loss(fake)
    d = loss.discriminator_loss(real, fake)
    assert g.dim() == 0 and d.dim() == 0
    (g + d).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_bce_values_at_an_undecided_discriminator():
    loss = AdversarialLoss("bce")
    zero = torch.zeros(3, 1)
    assert math.isclose(loss.generator_loss(zero).item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(loss.discriminator_loss(zero, zero).item(), 2 * math.log(2), rel_tol=1e-6)


def test_bce_on_probabilities_matches_bce_on_logits():
    logits_real, logits_fake = torch.randn(6, 1), torch.randn(6, 1)
    on_logits = AdversarialLoss("bce", from_logits=True)
    on_probs = AdversarialLoss("bce", from_logits=False)
    assert torch.allclose(
        on_logits.discriminator_loss(logits_real, logits_fake),
        on_probs.discriminator_loss(torch.sigmoid(logits_real), torch.sigmoid(logits_fake)),
        atol=1e-5,
    )
    assert torch.allclose(
        on_logits.generator_loss(logits_fake),
        on_probs.generator_loss(torch.sigmoid(logits_fake)),
        atol=1e-5,
    )


def test_losses_vanish_for_a_perfect_discriminator_or_generator():
    real, fake = torch.ones(4, 1), torch.zeros(4, 1)
    assert AdversarialLoss("lsgan").discriminator_loss(real, fake).item() == 0.0
    assert AdversarialLoss("lsgan").generator_loss(real).item() == 0.0
    assert AdversarialLoss("hinge").discriminator_loss(real, -real).item() == 0.0
    assert AdversarialLoss("hinge").generator_loss(real).item() == -1.0


def test_generator_loss_falls_as_fakes_look_real():
    for mode in ADVERSARIAL_MODES:
        loss = AdversarialLoss(mode)
        assert loss.generator_loss(torch.full((4, 1), 0.9)) < loss.generator_loss(
            torch.full((4, 1), -0.9)
        ), mode


def test_bad_adversarial_arguments():
    with pytest.raises(ValueError, match="adversarial.mode"):
        AdversarialLoss("wgan")
    with pytest.raises(ValueError, match="from_logits"):
        AdversarialLoss("hinge", from_logits=False)
