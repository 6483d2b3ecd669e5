"""What every enhancement system shares: colour space, padding, evaluation and metrics."""

from __future__ import annotations

import warnings

import torch
from lightning.pytorch import LightningModule
from torch import nn

from lowlight.metrics import (
    autocontrast,
    autocontrast_metrics,
    image_metrics,
    no_reference_stats,
    sr_views,
    to_8bit,
    y_metrics,
)
from lowlight.ops.color import check_color_space, from_color_space, to_color_space
from lowlight.ops.imresize import imresize
from lowlight.ops.padding import extend_to, run_padded


def check_loss_weights(
    defaults: dict[str, float], given, terms: tuple[str, ...], system: str
) -> dict[str, float]:
    """`defaults` updated with `given` (system.loss_weights); unknown terms and negative
    weights are errors naming the key."""
    weights = {**defaults, **dict(given or {})}
    for key, value in weights.items():
        if key not in terms:
            raise ValueError(
                f"system.loss_weights.{key} is not a loss term of {system}; "
                f"allowed: {', '.join(terms)}"
            )
        if value < 0:
            raise ValueError(f"system.loss_weights.{key} must be >= 0, got {value}")
    return weights


class EnhancementSystem(LightningModule):
    """A LightningModule around an image-to-image `generator`.

    `forward` takes RGB in [0, 1] of any size and returns RGB: it converts to the
    network's colour space, pads to the generator's `size_multiple`, runs it, crops and
    converts back. Validation and test log `val/psnr`, `val/ssim`, `val/mae` (and `test/...`)
    against ground truth in RGB. The test also scores the baseline with the same metrics
    (`test/input_psnr`, ...): the unenhanced input, or for an upscaling generator the
    MATLAB-bicubic upscale of it. Batches without ground truth get the zero-reference
    proxies instead: PSNR/SSIM against PIL's autocontrast of the input
    (`val/psnr_autocontrast`, `val/ssim_autocontrast`) and `brightness`, `color_balance`,
    `exposure_error` (see `lowlight.metrics.noref`): labelled as proxies, not fidelity.
    Every metric is the mean of per-image values with valid-region SSIM, scored on the
    output rounded to 8 bits as a saved image would be (`lowlight.metrics.image`).

    Args:
        score_8bit: round outputs (and the baseline) to 8 bits before scoring, as papers
            score saved images; False scores the float outputs.
        sr_scale: for super-resolution, the factor whose border is shaved before scoring;
            validation and test then also log `psnr_y` / `ssim_y` on the BT.601 Y channel,
            the way SR papers report.
        channels_last: keep the networks' weights and the image batches in channels-last
            (NHWC) memory: faster convolutions on most CPUs and on tensor-core GPUs
            (`make bench` and `make bench-gpu` measure it). Same numbers up to float
            rounding.
        compile: train with `torch.compile` of the generator (the module and its
            checkpoint keys stay as they are; evaluation runs the plain generator).
    """

    def __init__(
        self,
        generator: nn.Module,
        color_space: str = "rgb",
        sr_scale: int | None = None,
        score_8bit: bool = True,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.channels_last = bool(channels_last)
        self.compile_generator = bool(compile)
        self._compiled: dict[str, object] = {}  # not a submodule: state_dict keys unchanged
        self.color_space = check_color_space(color_space, "system.color_space")
        self.size_multiple = int(getattr(generator, "size_multiple", 1))
        self.scale = int(getattr(generator, "scale", 1))
        if sr_scale is not None and sr_scale < 1:
            raise ValueError(f"system.sr_scale must be >= 1 or null, got {sr_scale}")
        self.sr_scale = sr_scale
        self.score_8bit = bool(score_8bit)
        self.val_metrics = image_metrics("val/")
        self.test_metrics = image_metrics("test/")
        self.input_metrics = image_metrics("test/input_")
        self.val_proxy = autocontrast_metrics("val/")
        self.test_proxy = autocontrast_metrics("test/")
        self.input_proxy = autocontrast_metrics("test/input_")
        if sr_scale:
            self.val_y = y_metrics("val/")
            self.test_y = y_metrics("test/")
            self.input_y = y_metrics("test/input_")

    def on_train_epoch_start(self) -> None:
        # Epoch-wise LR schedules follow the epoch counter rather than an end-of-epoch hook:
        # depending on where a checkpoint was written, Lightning's resume skips or replays
        # `on_train_epoch_end`, and a scheduler stepped there would end one step off.
        # Catching up here gives the uninterrupted run's learning rate after any resume.
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                continue  # metric-driven: Lightning steps it with the metric
            with warnings.catch_warnings():
                # after a resume the optimizer has not stepped yet in this process
                warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
                while scheduler.last_epoch < self.current_epoch:
                    scheduler.step()

    def configure_model(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def nhwc(self, x: torch.Tensor) -> torch.Tensor:
        """`x` in channels-last memory when the system uses it (same values)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def run_generator(self, generator: nn.Module, method: str = "forward"):
        """`generator.method`, through `torch.compile` when training with `compile`."""
        fn = generator if method == "forward" else getattr(generator, method)
        if not (self.compile_generator and self.training and generator is self.generator):
            return fn
        if method not in self._compiled:
            self._compiled[method] = torch.compile(fn)
        return self._compiled[method]

    @property
    def eval_generator(self) -> nn.Module:
        """The network used for evaluation and inference (subclasses may keep an EMA copy)."""
        return self.generator

    def to_net(self, rgb: torch.Tensor) -> torch.Tensor:
        return to_color_space(rgb, self.color_space)

    def from_net(self, x: torch.Tensor) -> torch.Tensor:
        return from_color_space(x, self.color_space)

    def generate(self, x: torch.Tensor, generator: nn.Module | None = None) -> torch.Tensor:
        """Run a generator in network space on any size, padding for it and cropping back
        (`run_padded`, the path `lowlight.inference.InferenceNet` runs too)."""
        h, w = x.shape[-2:]
        net = self.run_generator(generator or self.generator)
        x = extend_to(x, self.size_multiple)
        out = run_padded(lambda t: net(self.nhwc(t)), x, self.size_multiple, self.scale)
        return out[..., : h * self.scale, : w * self.scale]

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """RGB (N, 3, H, W) in [0, 1] -> enhanced RGB, not clamped."""
        return self.from_net(self.generate(self.to_net(lq), self.eval_generator))

    @torch.no_grad()
    def enhance(self, lq: torch.Tensor) -> torch.Tensor:
        """Inference: enhanced RGB clamped to [0, 1]."""
        return self(lq).clamp(0.0, 1.0)

    def baseline(self, lq: torch.Tensor) -> torch.Tensor:
        """What the method is compared against: the input, bicubic-upscaled if need be."""
        return lq if self.scale == 1 else imresize(lq, self.scale).clamp(0.0, 1.0)

    def _score(self, out: torch.Tensor, gt: torch.Tensor, rgb, y, prog_bar: bool = False) -> None:
        if out.shape != gt.shape:
            raise ValueError(
                f"output {tuple(out.shape[-2:])} and target {tuple(gt.shape[-2:])} differ in "
                f"size: the generator scales by {self.scale}; does the data's LR->HR factor match?"
            )
        if self.sr_scale:
            out, gt, out_y, gt_y = sr_views(out, gt, self.sr_scale, self.score_8bit)
            y.update(out_y, gt_y)
            self.log_dict(y, on_epoch=True, prog_bar=prog_bar, batch_size=out.shape[0])
        rgb.update(out, gt)
        self.log_dict(rgb, on_epoch=True, prog_bar=prog_bar, batch_size=out.shape[0])

    def _proxies(self, lq: torch.Tensor, out: torch.Tensor, metrics, prefix: str) -> None:
        """Zero-reference proxies of `out` for an input `lq` that has no ground truth."""
        metrics.update(out, autocontrast(lq))
        self.log_dict(metrics, on_epoch=True, batch_size=out.shape[0])
        stats = {f"{prefix}{k}": v.mean() for k, v in no_reference_stats(out).items()}
        self.log_dict(stats, on_epoch=True, batch_size=out.shape[0], sync_dist=True)

    def scored(self, out: torch.Tensor) -> torch.Tensor:
        """What is scored of an output: clipped, and rounded to 8 bits unless `score_8bit`
        is off."""
        return to_8bit(out) if self.score_8bit else out.clamp(0.0, 1.0)

    def _evaluate(self, batch: dict, stage: str, out: torch.Tensor | None = None) -> torch.Tensor:
        """Score `out` (default: the enhanced `batch["lq"]`) and log it under `stage/`."""
        lq = batch["lq"]
        out = self.enhance(lq) if out is None else out.clamp(0.0, 1.0)
        scored = self.scored(out)
        gt = batch.get("gt")
        test = stage == "test"
        if gt is None:
            self._proxies(lq, scored, self.test_proxy if test else self.val_proxy, f"{stage}/")
            if test:
                base = self.scored(self.baseline(lq.clamp(0.0, 1.0)))
                self._proxies(lq, base, self.input_proxy, "test/input_")
        elif not test:
            self._score(scored, gt, self.val_metrics, getattr(self, "val_y", None), prog_bar=True)
        else:
            self._score(scored, gt, self.test_metrics, getattr(self, "test_y", None))
            base = self.scored(self.baseline(lq.clamp(0.0, 1.0)))
            self._score(base, gt, self.input_metrics, getattr(self, "input_y", None))
        return out

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.enhance(batch["lq"])
