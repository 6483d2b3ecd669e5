"""The GAN LightningModule: what each optimizer step touches, options, bad config, NaN."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch.utils.data import DataLoader

from conftest import compose_cfg, quiet_fit
from lowlight.losses import AdversarialLoss, ExposureControlLoss
from lowlight.models.discriminators import PatchGAN
from lowlight.models.generators import UNet
from lowlight.systems import EnhancementSystem, GANSystem


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int = 4, size: int = 16) -> None:
        g = torch.Generator().manual_seed(0)
        self.gt = torch.rand(n, 3, size, size, generator=g)

    def __len__(self) -> int:
        return len(self.gt)

    def __getitem__(self, i: int) -> dict:
        return {"lq": self.gt[i] * 0.2, "gt": self.gt[i], "name": f"img{i}"}


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


class _Recorder(GANSystem):
    """Snapshots both networks around every optimizer step."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[dict] = []

    def _step(self, optimizer, batch_idx):
        which = "g" if optimizer.optimizer is self.optimizers()[0].optimizer else "d"
        before = {"g": _params(self.generator), "d": _params(self.discriminator)}
        d_grads = [p.grad for p in self.discriminator.parameters()]
        stepped = super()._step(optimizer, batch_idx)
        after = {"g": _params(self.generator), "d": _params(self.discriminator)}
        self.events.append(
            {"opt": which, "stepped": stepped, "before": before, "after": after, "d_grads": d_grads}
        )
        return stepped


def _system(cls=GANSystem, **kwargs) -> GANSystem:
    torch.manual_seed(0)
    args = {
        "generator": UNet(channels=(4, 8)),
        "discriminator": PatchGAN(base=4, num_layers=2),
        "pixel_loss": nn.L1Loss(),
        "adversarial": AdversarialLoss("bce"),
        "optimizer_g": partial(torch.optim.Adam, lr=1e-2),
        "optimizer_d": partial(torch.optim.Adam, lr=1e-2),
    }
    args.update(kwargs)
    return cls(**args)


def _fit(system: GANSystem, batches: int = 1, epochs: int = 1, batch_size: int = 2, **trainer_kw):
    loader = DataLoader(_Pairs(), batch_size=batch_size)
    return quiet_fit(system, loader, batches, epochs, **trainer_kw)


def test_one_step_changes_both_networks_and_the_generator_step_spares_d():
    system = _system(_Recorder)
    g0, d0 = _params(system.generator), _params(system.discriminator)
    _fit(system)
    d_event, g_event = system.events
    assert (d_event["opt"], g_event["opt"]) == ("d", "g")
    # the discriminator step moves D only
    assert not _same(d_event["before"]["d"], d_event["after"]["d"])
    assert _same(d_event["before"]["g"], d_event["after"]["g"])
    # the generator step moves G only, and its loss left no gradient in D
    assert not _same(g_event["before"]["g"], g_event["after"]["g"])
    assert _same(g_event["before"]["d"], g_event["after"]["d"])
    assert all(g is None for g in g_event["d_grads"])
    assert not _same(g0, _params(system.generator))
    assert not _same(d0, _params(system.discriminator))


def test_adv_weight_zero_never_touches_the_discriminator():
    system = _system(_Recorder, loss_weights={"adv": 0.0})
    d0 = _params(system.discriminator)
    _fit(system, batches=2)
    assert [e["opt"] for e in system.events] == ["g", "g"]
    assert _same(d0, _params(system.discriminator))


def test_warmup_epochs_train_the_generator_alone():
    system = _system(_Recorder, warmup_epochs=1)
    _fit(system, batches=1, epochs=2)
    assert [e["opt"] for e in system.events] == ["g", "d", "g"]


def test_gradient_accumulation_steps_every_n_batches():
    system = _system(_Recorder, accumulate_grad_batches=2)
    _fit(system, batches=2, batch_size=1)
    stepped = [(e["opt"], e["stepped"]) for e in system.events]
    assert stepped == [("d", False), ("g", False), ("d", True), ("g", True)]
    first_g = system.events[1]
    assert _same(first_g["before"]["g"], first_g["after"]["g"]), "no update mid-window"


def test_discriminator_update_rate():
    system = _system(_Recorder, d_update_every=2)
    _fit(system, batches=4, batch_size=1)
    assert [e["opt"] for e in system.events] == ["d", "g", "g", "d", "g", "g"]


class _ClipRecorder(GANSystem):
    def clip_gradients(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        def norm():
            grads = [
                p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None
            ]
            return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()

        before = norm()
        super().clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        self.norms = getattr(self, "norms", []) + [(before, norm())]


def test_gradient_clipping_bounds_the_gradient_norm():
    system = _system(_ClipRecorder, grad_clip=1e-3)
    _fit(system)
    assert len(system.norms) == 2, "both networks are clipped"
    for before, after in system.norms:
        assert before > 1e-3
        assert after == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_clips_the_true_gradients(precision):
    """16-mixed scales the loss (by 65536 at first) to keep float16 gradients from
    underflowing: clipping must see the unscaled gradients, or every step is cut to a
    tiny fraction. The norms seen at clipping match those of a float32 run."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    ref = _system(_ClipRecorder, grad_clip=1e-3)
    _fit(ref)
    mixed = _system(_ClipRecorder, grad_clip=1e-3)
    # Lightning turns 16-mixed into bf16-mixed on a CPU: the plugin, as on a GPU
    scaler = torch.amp.GradScaler("cpu") if precision == "16-mixed" else None
    plugin = MixedPrecision(precision, "cpu", scaler=scaler)
    trainer = _fit(mixed, plugins=[plugin])
    assert trainer.precision == precision
    if scaler is not None:
        assert scaler.get_scale() >= 2.0**15  # the loss really was scaled
    assert len(mixed.norms) == len(ref.norms) == 2
    for (before, after), (ref_before, _) in zip(mixed.norms, ref.norms, strict=True):
        assert before == pytest.approx(ref_before, rel=0.1)
        assert after == pytest.approx(1e-3, rel=1e-2)


@pytest.mark.slow
def test_compiled_generator_trains_and_keeps_its_checkpoint_keys(tmp_path):
    """system.compile: the generator runs through torch.compile in training (a minute of
    compiling on a small CPU), evaluation runs it plain, and the state dict is unchanged."""
    system = _system(compile=True)
    keys = set(system.state_dict())
    g0 = _params(system.generator)
    _fit(system, batches=2)
    assert set(system._compiled) == {"forward"}
    assert set(system.state_dict()) == keys
    assert not _same(g0, _params(system.generator))
    assert all(torch.isfinite(p).all() for p in system.generator.parameters())


class _Gain(nn.Module):
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x * self.w


class _NaNGenerator(_Gain):
    def forward(self, x):
        return super().forward(x) * float("nan")


def test_nan_loss_stops_with_a_clear_error_before_any_update():
    system = _system(generator=_NaNGenerator(), loss_weights={"adv": 0.0})
    with pytest.raises(FloatingPointError, match=r"train/g_loss is nan at epoch 0, batch 0.*img0"):
        _fit(system)
    assert system.generator.w.item() == 1.0


@pytest.mark.parametrize(("level", "brighter"), [(0.6, True), (0.01, False)])
def test_the_exposure_term_alone_moves_the_output_towards_its_level(level, brighter):
    """loss_weights.exposure: Zero-DCE's exposure control on the output. With the pixel
    and adversarial terms off, a gain on inputs of mean ~0.1 grows towards level 0.6 and
    shrinks towards 0.01; without the module the weight is refused by name."""
    system = _system(
        generator=_Gain(),
        loss_weights={"pixel": 0.0, "adv": 0.0, "exposure": 1.0},
        exposure_loss=ExposureControlLoss(patch=4, level=level),
    )
    _fit(system, batches=2)
    assert (system.generator.w.item() > 1.0) == brighter
    assert system.generator.w.item() != 1.0
    with pytest.raises(ValueError, match="system.exposure_loss"):
        _system(loss_weights={"exposure": 1.0})


def test_exposure_min_input_judges_only_the_brighter_inputs():
    """system.exposure_min_input: a photo whose input is darker than the threshold adds
    nothing; the others count as in a whole batch (the loss of the judged one over 2). In
    training, a threshold above every input (mean ~0.1) leaves the gain untouched."""
    loss = ExposureControlLoss(patch=4, level=0.6)
    kw = {"loss_weights": {"pixel": 0.0, "adv": 0.0, "exposure": 1.0}, "exposure_loss": loss}
    dark, lit = torch.full((1, 3, 8, 8), 0.05), torch.full((1, 3, 8, 8), 0.3)
    out = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    gated = _system(**kw, exposure_min_input=0.1)._exposure(out, torch.cat([dark, lit]))
    assert gated.item() == pytest.approx(loss(out[1:]).item() / 2, rel=1e-6)
    assert gated.item() != pytest.approx(loss(out).item(), rel=1e-3)
    assert _system(**kw)._exposure(out, torch.cat([dark, lit])).item() == pytest.approx(
        loss(out).item(), rel=1e-6
    )
    system = _system(generator=_Gain(), **kw, exposure_min_input=0.5)
    _fit(system, batches=2)
    assert system.generator.w.item() == 1.0


def test_the_exposure_term_sees_the_input_it_enhances():
    """exposure_loss.dark_input_only judges regions by the input: the system passes each
    judged output's own input (a dark photo counts, a bright one adds 0 to the batch)."""
    loss = ExposureControlLoss(patch=4, level=0.6, dark_input_only=True)
    kw = {"loss_weights": {"pixel": 0.0, "adv": 0.0, "exposure": 1.0}, "exposure_loss": loss}
    dark, bright = torch.full((1, 3, 8, 8), 0.2), torch.full((1, 3, 8, 8), 0.8)
    out = torch.full((2, 3, 8, 8), 0.4)
    value = _system(**kw)._exposure(out, torch.cat([dark, bright]))
    assert value.item() == pytest.approx(0.04 / 2, rel=1e-6)
    # a dimmer photo (0.05) below exposure_min_input: 0 of the 3 plus the dark one's 0.04 / 2
    dim = torch.full((1, 3, 8, 8), 0.05)
    gated = _system(**kw, exposure_min_input=0.1)._exposure(
        torch.full((3, 3, 8, 8), 0.4), torch.cat([dim, dark, bright])
    )
    assert gated.item() == pytest.approx(0.04 / 2 * 2 / 3, rel=1e-6)
    with pytest.raises(ValueError, match="system.exposure_min_input"):
        _system(**kw, exposure_min_input=1.0)


class _Mixed(torch.utils.data.Dataset):
    """Item 0 a pair, item 1 an unpaired image whose `gt` is `placeholder` (as
    `ConcatPairs` fills it, a copy of its input) unless `flags` says it is paired too."""

    def __init__(self, placeholder: str = "copy", flags: tuple[bool, bool] = (True, False)):
        g = torch.Generator().manual_seed(0)
        self.lq = torch.rand(2, 3, 8, 8, generator=g) * 0.3
        self.gt = torch.rand(2, 3, 8, 8, generator=g)
        if placeholder == "copy":
            self.gt[1] = self.lq[1]
        self.flags = flags

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> dict:
        paired = torch.tensor(self.flags[i])
        return {"lq": self.lq[i], "gt": self.gt[i], "name": f"img{i}", "paired": paired}


def _mixed_step(data: _Mixed, **kwargs) -> float:
    """The gain after one SGD step (lr 0.1) of pixel L1 + exposure on `data`'s one batch."""
    loss = ExposureControlLoss(patch=4, level=0.6)
    weights = {"pixel": 1.0, "adv": 0.0, "exposure": 1.0}
    system = _system(
        generator=_Gain(),
        loss_weights=weights,
        exposure_loss=loss,
        optimizer_g=partial(torch.optim.SGD, lr=0.1),
        **kwargs,
    )
    quiet_fit(system, DataLoader(data, batch_size=2), batches=1)
    return system.generator.w.item()


def test_unpaired_images_train_only_the_exposure_term():
    """A batch of a pair and an unpaired image (data.sources with an unpaired source): the
    pixel loss sees the pair alone and the exposure term (exposure_on=unpaired) the unpaired
    image alone, each weighed as in a whole batch (x 1/2); the placeholder reference of the
    unpaired image changes nothing."""
    data = _Mixed()
    w = torch.ones(1, requires_grad=True)
    expected = (
        nn.functional.l1_loss(w * data.lq[:1], data.gt[:1]) / 2
        + ExposureControlLoss(patch=4, level=0.6)(w * data.lq[1:]) / 2
    )
    expected.backward()
    got = _mixed_step(data, exposure_on="unpaired")
    assert got == pytest.approx(1.0 - 0.1 * w.grad.item(), rel=1e-5)
    assert _mixed_step(_Mixed(placeholder="noise"), exposure_on="unpaired") == got
    # exposure_on=all judges the pair too; both paired: the pixel loss sees both
    assert _mixed_step(data) != pytest.approx(got, rel=1e-4)
    assert _mixed_step(_Mixed(flags=(True, True)), exposure_on="all") != pytest.approx(
        got, rel=1e-4
    )


def test_unpaired_images_need_a_term_that_can_use_them():
    """Unpaired images with no exposure term, or with the discriminator on, and
    exposure_on=unpaired without unpaired data, each stop with the key to change."""
    loader = DataLoader(_Mixed(), batch_size=1)  # the first batch holds the pair alone
    with pytest.raises(ValueError, match="loss_weights.exposure > 0"):
        quiet_fit(_system(loss_weights={"adv": 0.0}), loader)
    loss = ExposureControlLoss(patch=4, level=0.6)
    with pytest.raises(ValueError, match="loss_weights.adv=0"):
        quiet_fit(_system(loss_weights={"exposure": 1.0}, exposure_loss=loss), loader)
    system = _system(
        loss_weights={"adv": 0.0, "exposure": 1.0}, exposure_loss=loss, exposure_on="unpaired"
    )
    with pytest.raises(ValueError, match="gives no unpaired images"):
        _fit(system)
    with pytest.raises(ValueError, match="system.exposure_on"):
        _system(exposure_on="dark")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss_weights": {"color": 1.0}}, "system.loss_weights.color"),
        ({"loss_weights": {"perceptual": 1.0}}, "system.perceptual_loss"),
        ({"loss_weights": {"adv": -1.0}}, "system.loss_weights.adv"),
        ({"accumulate_grad_batches": 0}, "system.accumulate_grad_batches"),
        ({"d_update_every": 0}, "system.d_update_every"),
        ({"warmup_epochs": -1}, "system.warmup_epochs"),
        ({"color_space": "hsv"}, "system.color_space"),
        ({"adversarial": AdversarialLoss("bce", from_logits=False)}, "from_logits"),
    ],
)
def test_bad_system_arguments_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _system(**kwargs)


def test_ycrcb_system_speaks_rgb_outside():
    class Identity(nn.Module):
        def forward(self, x):
            return x

    x = torch.rand(2, 3, 8, 8)
    system = EnhancementSystem(Identity(), color_space="ycrcb")
    seen = []
    system.generator.register_forward_hook(lambda _m, i, _o: seen.append(i[0]))
    torch.testing.assert_close(system(x), x, atol=1e-5, rtol=0)
    assert not torch.allclose(seen[0], x), "the network saw YCrCb, not RGB"


def test_evaluation_logs_metrics_and_the_input_baseline():
    system = _system()
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    out = trainer.test(system, DataLoader(_Pairs(), batch_size=2))[0]
    assert {"test/psnr", "test/ssim", "test/mae", "test/input_psnr"} <= set(out)
    expected = -10 * torch.log10(((0.8 * _Pairs().gt) ** 2).mean(dim=(1, 2, 3))).mean()
    assert out["test/input_psnr"] == pytest.approx(expected.item(), rel=1e-4)


def test_init_checkpoint_of_a_plain_unet_starts_a_global_context_unet(tmp_path):
    plain = instantiate(compose_cfg(["+experiment=lle_gan"]).system)
    path = tmp_path / "plain.ckpt"
    torch.save({"state_dict": plain.state_dict()}, path)
    overrides = ["+experiment=lle_gan", f"system.init_checkpoint={path}"]
    system = instantiate(
        compose_cfg(
            [*overrides, "system.generator.global_context=true", "system.ema_decay=0.9"]
        ).system
    )
    for name, value in plain.generator.state_dict().items():
        torch.testing.assert_close(system.generator.state_dict()[name], value)
        torch.testing.assert_close(system.generator_ema.module.state_dict()[name], value)
    assert not system.generator.global_mlp[-1].weight.any()  # the new branch: the identity
    # keys the generator does not declare optional still have to be there
    state = {k: v for k, v in plain.state_dict().items() if "head" not in k}
    torch.save({"state_dict": state}, path)
    with pytest.raises(Exception, match=r"init_checkpoint=.*missing or unexpected keys .*head"):
        instantiate(compose_cfg(overrides).system)
