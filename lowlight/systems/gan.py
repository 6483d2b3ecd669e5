"""The GAN system: one LightningModule for every generator/discriminator/loss combination."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from lowlight.callbacks.checkpoint import last_good_state
from lowlight.loading import generator_weights
from lowlight.losses.adversarial import AdversarialLoss
from lowlight.systems.base import EnhancementSystem, check_loss_weights

log = logging.getLogger(__name__)

LOSS_TERMS = ("pixel", "adv", "perceptual", "exposure")
_PERCEPTUAL = "perceptual_loss."
OptimizerFactory = Callable[..., Optimizer]


def ema_with_warmup(decay: float) -> Callable:
    """EMA update for `AveragedModel` whose decay ramps up as min(decay, (1 + n) / (10 + n))
    after n updates (TensorFlow's ExponentialMovingAverage with num_updates).

    torch's `get_ema_multi_avg_fn` keeps the decay fixed, so after a few thousand steps at
    0.999 the EMA still holds several percent of the random initial weights: on a short
    CPU run that made the evaluated generator far worse than the trained one.
    """

    @torch.no_grad()
    def update(ema_params: list, params: list, num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        if torch.is_floating_point(ema_params[0]):
            torch._foreach_lerp_(ema_params, params, 1.0 - d)
        else:
            for e, p in zip(ema_params, params, strict=True):
                e.copy_(e * d + p * (1.0 - d))

    return update


class GANSystem(EnhancementSystem):
    """Paired image-to-image GAN (pix2pix-style training, Isola et al., CVPR 2017).

    Generator loss: `pixel * pixel_loss(G(x), y) + perceptual * perceptual_loss(G(x), y)
    + adv * adversarial(D(G(x))) + exposure * exposure_loss(G(x), x)`; discriminator loss: the
    adversarial loss's real and fake terms. A weight of 0 removes its term (adv=0 also skips
    the discriminator entirely).
    Manual optimization, one generator and one discriminator step per batch by default.
    The same system serves LLE and SR: the generator may keep the size or upscale, and the
    discriminator always sees target-sized images.

    Args:
        optimizer_g, optimizer_d: optimizer factories (`functools.partial`) taking params.
        scheduler_g, scheduler_d: optional LR-scheduler factories taking an optimizer,
            epoch-wise (see `EnhancementSystem.on_train_epoch_start`).
        loss_weights: `pixel`, `adv`, `perceptual` and `exposure` weights.
        perceptual_loss: e.g. `PerceptualLoss`; needed (and its weights read) only when the
            `perceptual` weight is positive. Computed on RGB.
        exposure_loss: e.g. Zero-DCE's `ExposureControlLoss` (16 px regions towards a
            level), a zero-reference regulariser, called as `exposure_loss(output, input)`
            (the input matters only to options such as `dark_input_only`); used only when
            the `exposure` weight is positive. Computed on RGB.
        exposure_min_input: the exposure term judges only the outputs whose input has at
            least this mean level (0 = all). Paired dark inputs (LOL's, mean 0.01-0.1) then
            keep their references' brightness while moderately lit ones are pulled towards
            the exposure level: the brightness depends on the photo.
        exposure_on: which outputs the exposure term judges: `all`, or `unpaired` (only the
            images of an unpaired data source, e.g. real dark photos beside paired ones in
            `MixedPairsDataModule`, so the term never pulls against a reference). Images
            without a reference (`batch["paired"]` False) never enter the pixel or
            perceptual loss; such batches need the exposure term and no adversarial one.
        accumulate_grad_batches: sum gradients over this many batches per optimizer step.
        warmup_epochs: generator-only (pixel loss) epochs before the adversarial game starts.
        d_update_every: update the discriminator on every k-th optimizer step only.
        grad_clip: clip each network's gradient norm to this value (None = no clipping).
        ema_decay: keep an exponential moving average of the generator (e.g. 0.999, as
            ESRGAN; the decay warms up, see `ema_with_warmup`) and evaluate/infer with it.
        init_checkpoint: start the generator (and its EMA) from the generator weights of a
            checkpoint, e.g. ESRGAN's PSNR-pretrained stage; its EMA weights when it has them.
        sr_scale, score_8bit, channels_last, compile: see `EnhancementSystem`.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        pixel_loss: nn.Module,
        adversarial: AdversarialLoss,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        loss_weights: Mapping[str, float] | None = None,
        scheduler_g: Callable | None = None,
        scheduler_d: Callable | None = None,
        accumulate_grad_batches: int = 1,
        warmup_epochs: int = 0,
        d_update_every: int = 1,
        grad_clip: float | None = None,
        perceptual_loss: nn.Module | None = None,
        exposure_loss: nn.Module | None = None,
        exposure_min_input: float = 0.0,
        exposure_on: str = "all",
        ema_decay: float | None = None,
        init_checkpoint: str | None = None,
        color_space: str = "rgb",
        sr_scale: int | None = None,
        score_8bit: bool = True,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__(generator, color_space, sr_scale, score_8bit, channels_last, compile)
        self.automatic_optimization = False
        defaults = {"pixel": 1.0, "adv": 0.01, "perceptual": 0.0, "exposure": 0.0}
        weights = check_loss_weights(defaults, loss_weights, LOSS_TERMS, "GANSystem")
        for key, value in (
            ("accumulate_grad_batches", accumulate_grad_batches),
            ("d_update_every", d_update_every),
        ):
            if value < 1:
                raise ValueError(f"system.{key} must be >= 1, got {value}")
        if warmup_epochs < 0:
            raise ValueError(f"system.warmup_epochs must be >= 0, got {warmup_epochs}")
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"system.grad_clip must be positive or null, got {grad_clip}")
        if not 0.0 <= exposure_min_input < 1.0:
            raise ValueError(
                f"system.exposure_min_input must be in [0, 1), got {exposure_min_input}"
            )
        if exposure_on not in ("all", "unpaired"):
            raise ValueError(f"system.exposure_on must be all or unpaired, got {exposure_on!r}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"system.ema_decay must be in (0, 1) or null, got {ema_decay}")
        if weights["perceptual"] > 0:
            if perceptual_loss is None:
                raise ValueError(
                    "system.loss_weights.perceptual > 0 needs system.perceptual_loss "
                    "(e.g. perceptual_loss=vgg19)"
                )
            perceptual_loss.load()  # reads the weights file; a clear error if it is missing
        else:
            perceptual_loss = None  # weight 0 removes the term: no VGG, no weights file
        if weights["exposure"] > 0:
            if exposure_loss is None:
                raise ValueError(
                    "system.loss_weights.exposure > 0 needs system.exposure_loss "
                    "(e.g. _target_: lowlight.losses.ExposureControlLoss)"
                )
        else:
            exposure_loss = None  # weight 0 removes the term
        d_sigmoid = bool(getattr(discriminator, "sigmoid", False))
        if d_sigmoid == adversarial.from_logits:
            raise ValueError(
                f"discriminator.sigmoid={d_sigmoid} does not match adversarial.from_logits="
                f"{adversarial.from_logits}: a discriminator with a sigmoid output needs "
                "from_logits=false, one with raw scores needs from_logits=true"
            )
        # Plain values only (no DictConfig), so checkpoints load with weights_only=True; the
        # full recipe is the run's config.yaml.
        self.save_hyperparameters(
            {
                "loss_weights": {k: float(v) for k, v in weights.items()},
                "accumulate_grad_batches": accumulate_grad_batches,
                "warmup_epochs": warmup_epochs,
                "d_update_every": d_update_every,
                "grad_clip": grad_clip,
                "exposure_min_input": exposure_min_input,
                "exposure_on": exposure_on,
                "color_space": self.color_space,
                "ema_decay": ema_decay,
                "sr_scale": sr_scale,
                "score_8bit": self.score_8bit,
            }
        )
        self.discriminator = discriminator
        self.pixel_loss = pixel_loss
        self.adversarial = adversarial
        self.loss_weights = weights
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.scheduler_g, self.scheduler_d = scheduler_g, scheduler_d
        self.accumulate = accumulate_grad_batches
        self.warmup_epochs = warmup_epochs
        self.d_update_every = d_update_every
        self.grad_clip = grad_clip
        self.perceptual_loss = perceptual_loss
        self.exposure_loss = exposure_loss
        self.exposure_min_input = exposure_min_input
        self.exposure_on = exposure_on
        self.generator_ema: AveragedModel | None = None
        if ema_decay is not None:
            self.generator_ema = AveragedModel(
                generator, multi_avg_fn=ema_with_warmup(ema_decay), use_buffers=True
            )
            self.generator_ema.requires_grad_(False)
        if init_checkpoint:
            self._init_generator(init_checkpoint)

    @property
    def eval_generator(self) -> nn.Module:
        return self.generator_ema.module if self.generator_ema is not None else self.generator

    def _init_generator(self, path: str) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"system.init_checkpoint={path}: no such checkpoint (for esrgan, train "
                "esrgan_psnr first and pass its checkpoints/last.ckpt)"
            )
        try:
            weights = generator_weights(path)  # its EMA weights when it kept them
        except ValueError as e:
            raise ValueError(f"system.init_checkpoint={path}: {e}") from e
        # A generator may add a branch that starts as the identity (UNet's global_context):
        # a checkpoint without it initialises the rest, and the branch trains from its start.
        optional = tuple(getattr(self.generator, "init_optional", ()))
        try:
            result = self.generator.load_state_dict(weights, strict=False)
        except RuntimeError as e:  # a size mismatch
            raise ValueError(
                f"system.init_checkpoint={path} does not fit this generator "
                f"(same architecture and size options needed): {e}"
            ) from e
        fresh = [k for k in result.missing_keys if optional and k.startswith(optional)]
        wrong = [k for k in result.missing_keys if k not in fresh] + result.unexpected_keys
        if wrong:
            raise ValueError(
                f"system.init_checkpoint={path} does not fit this generator (same architecture "
                f"and size options needed): missing or unexpected keys {', '.join(wrong[:5])}"
            )
        if fresh:
            log.info("system.init_checkpoint: %d new generator weights start fresh", len(fresh))
        if self.generator_ema is not None:
            self.generator_ema.module.load_state_dict(self.generator.state_dict())

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The frozen VGG comes from its own weights file: no need to store 80 MB per checkpoint.
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(_PERCEPTUAL)]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        state.update({k: v for k, v in self.state_dict().items() if k.startswith(_PERCEPTUAL)})

    def configure_optimizers(self):
        opt_g = self.optimizer_g(self.generator.parameters())
        opt_d = self.optimizer_d(self.discriminator.parameters())
        schedulers = [
            factory(opt)
            for factory, opt in ((self.scheduler_g, opt_g), (self.scheduler_d, opt_d))
            if factory is not None
        ]
        return [opt_g, opt_d], schedulers

    def _adversarial_on(self) -> bool:
        return self.loss_weights["adv"] > 0 and self.current_epoch >= self.warmup_epochs

    def _check_finite(self, name: str, value: torch.Tensor, batch: dict, batch_idx: int) -> None:
        if torch.isfinite(value).all():
            return
        names = ", ".join(map(str, batch.get("name", [])[:4]))
        raise FloatingPointError(
            f"train/{name} is {value.item()} at epoch {self.current_epoch}, batch {batch_idx} "
            f"(images: {names}). No weights were updated with it; "
            f"{last_good_state(self.trainer)}. Try a lower learning rate "
            "(system.optimizer_g.lr, system.optimizer_d.lr), system.grad_clip, or check these "
            "images."
        )

    def on_before_optimizer_step(self, optimizer) -> None:
        # Lightning calls this after a mixed-precision (16-mixed) grad scaler unscaled the
        # gradients: clipping here sees true gradients. Clipping before `optimizer.step()`
        # would clip the scaled ones (thousands of times larger) and so cut every step.
        if self.grad_clip is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm"
            )

    def _step(self, optimizer, batch_idx: int) -> bool:
        """Step and zero `optimizer` when an accumulation window closes (clipping happens in
        `on_before_optimizer_step`)."""
        if (batch_idx + 1) % self.accumulate and not self.trainer.is_last_batch:
            return False
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return True

    def _log_train(self, size: int, prog_bar: bool = False, **values: torch.Tensor) -> None:
        # sync_dist: at epoch end, a batch-weighted mean over ranks (exact for uneven shards)
        self.log_dict(
            {f"train/{k}": v.detach() for k, v in values.items()},
            prog_bar=prog_bar,
            on_epoch=True,
            batch_size=size,
            sync_dist=True,
        )

    def _exposure(
        self, output_rgb: torch.Tensor, input_rgb: torch.Tensor, paired: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The exposure term over the batch, counting only the outputs whose input's mean
        level is at least `exposure_min_input` and, with `exposure_on` unpaired, only those
        without a reference."""
        judged = input_rgb.mean(dim=(1, 2, 3)) >= self.exposure_min_input
        if self.exposure_on == "unpaired":
            if paired is None:
                raise ValueError(
                    "system.exposure_on=unpaired, but the data gives no unpaired images: add "
                    "an unpaired source (data.sources.NAME: UnpairedImageDataModule)"
                )
            judged = judged & ~paired
        return _masked_mean(self.exposure_loss, judged, output_rgb, input_rgb)

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real = self.nhwc(self.to_net(batch["gt"]))
        fake = self.generate(self.to_net(batch["lq"]))
        if fake.shape != real.shape:
            raise ValueError(
                f"generator output {tuple(fake.shape[-2:])} differs from the target "
                f"{tuple(real.shape[-2:])}: the generator scales by {self.scale}, so the data "
                "must give inputs that many times smaller (or same-size inputs for scale 1)"
            )
        size = real.shape[0]
        adversarial_on = self._adversarial_on()
        paired = batch.get("paired")  # present when any data source is unpaired
        if paired is not None:  # checked on the first batch, whatever it holds
            if self.loss_weights["adv"] > 0:  # also in warm-up: it would fail once it ends
                raise ValueError(
                    "the data gives unpaired images, which the discriminator cannot judge "
                    "as real: set system.loss_weights.adv=0"
                )
            if self.exposure_loss is None:
                raise ValueError(
                    "the data gives unpaired images but no term learns from them: set "
                    "system.loss_weights.exposure > 0"
                )

        # D takes part in every k-th accumulation window, so it always completes its steps.
        d_turn = (batch_idx // self.accumulate) % self.d_update_every == 0
        if adversarial_on and d_turn:
            with self.toggled_optimizer(opt_d):
                real_pred = self.discriminator(real)
                fake_pred = self.discriminator(fake.detach())
                d_loss = self.adversarial.discriminator_loss(real_pred, fake_pred)
                self._check_finite("d_loss", d_loss, batch, batch_idx)
                self.manual_backward(d_loss / self.accumulate)
                self._step(opt_d, batch_idx)
            self._log_train(size, prog_bar=True, d_loss=d_loss)
            self._log_train(size, d_real=real_pred.mean(), d_fake=fake_pred.mean())

        with self.toggled_optimizer(opt_g):
            pixel = _masked_mean(self.pixel_loss, paired, fake, real)
            g_loss = self.loss_weights["pixel"] * pixel
            if self.perceptual_loss is not None or self.exposure_loss is not None:
                fake_rgb = self.from_net(fake)  # both terms judge RGB
            if self.perceptual_loss is not None:
                perceptual = _masked_mean(self.perceptual_loss, paired, fake_rgb, batch["gt"])
                g_loss = g_loss + self.loss_weights["perceptual"] * perceptual
                self._log_train(size, perceptual=perceptual)
            if self.exposure_loss is not None:
                exposure = self._exposure(fake_rgb, batch["lq"], paired)
                g_loss = g_loss + self.loss_weights["exposure"] * exposure
                self._log_train(size, exposure=exposure)
            if adversarial_on:
                real_pred = (
                    self.discriminator(real).detach()
                    if self.adversarial.needs_real_for_generator
                    else None
                )
                adv = self.adversarial.generator_loss(self.discriminator(fake), real_pred)
                g_loss = g_loss + self.loss_weights["adv"] * adv
                self._log_train(size, adv=adv)
            self._check_finite("g_loss", g_loss, batch, batch_idx)
            self.manual_backward(g_loss / self.accumulate)
            if self._step(opt_g, batch_idx) and self.generator_ema is not None:
                self.generator_ema.update_parameters(self.generator)
        self._log_train(size, prog_bar=True, g_loss=g_loss)
        self._log_train(size, pixel=pixel)


def _masked_mean(loss: Callable, mask: torch.Tensor | None, *images: torch.Tensor) -> torch.Tensor:
    """`loss(*images)` over the batch items where `mask` is True (None: all of them), times
    their share of the batch, so that each counted item weighs what it would in a batch of
    only such items; 0 (with a graph) where none is."""
    if mask is None or mask.all():
        return loss(*images)
    if not mask.any():
        return images[0].sum() * 0.0  # keeps the graph (and the logged value) well defined
    return loss(*(x[mask] for x in images)) * mask.float().mean()
