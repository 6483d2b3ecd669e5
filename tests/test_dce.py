"""DCE-Net, the zero-reference losses, the authors' weights, unpaired data and the proxies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from conftest import SHARED_DATA, compose_cfg, quiet_fit, random_image
from lowlight.data import UnpairedImageDataModule, write_image
from lowlight.data.io import list_images, read_image
from lowlight.loading import load_zero_dce
from lowlight.losses import (
    ColorConstancyLoss,
    ExposureControlLoss,
    IlluminationSmoothnessLoss,
    SpatialConsistencyLoss,
)
from lowlight.metrics import autocontrast, no_reference_stats
from lowlight.models.dce import DCENet, apply_curves, light_enhancement_curve
from lowlight.systems import ZeroDCESystem

WEIGHTS = SHARED_DATA / "weights" / "zero_dce_epoch99.pth"

# ---------------------------------------------------------------- the network


def test_parameter_count_at_the_defaults():
    assert sum(p.numel() for p in DCENet().parameters()) == 79_416


def test_curve_formula():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0])
    a = torch.tensor([1.0, -1.0, 0.5, 0.7])
    torch.testing.assert_close(light_enhancement_curve(x, a), x + a * (x**2 - x))
    # A = -1 brightens most, the ends stay fixed, and the result stays in [0, 1]
    assert light_enhancement_curve(torch.tensor(0.25), torch.tensor(-1.0)) == 0.4375
    grid = torch.linspace(0, 1, 101)
    for alpha in (-1.0, 1.0):
        out = light_enhancement_curve(grid, torch.tensor(alpha))
        assert out.min() >= 0 and out.max() <= 1
        assert out[0] == 0 and out[-1] == 1


def test_the_network_applies_its_curves_in_order():
    net = DCENet(num_iterations=3)
    x = torch.rand(1, 3, 8, 8)
    out, maps = net.curves(x)
    assert maps.shape == (1, 9, 8, 8) and maps.abs().max() <= 1
    expected = x
    for a in maps.split(3, dim=1):
        expected = expected + a * (expected**2 - expected)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    ("kwargs", "convs", "first_concat"),
    [({}, 7, 4), ({"depth": 9}, 9, 5), ({"concat": False}, 7, None), ({"width": 8}, 7, 4)],
)
def test_depth_width_and_concatenation(kwargs, convs, first_concat):
    net = DCENet(**kwargs)
    width = kwargs.get("width", 32)
    assert len(net.convs) == convs
    ins = [c.in_channels for c in net.convs]
    if first_concat is None:
        assert ins[1:] == [width] * (convs - 1)
    else:
        assert ins[first_concat:] == [2 * width] * (convs - first_concat)
    assert net(torch.rand(2, 3, 12, 10)).shape == (2, 3, 12, 10)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"depth": 6}, "generator.depth"),
        ({"num_iterations": 0}, "generator.num_iterations"),
        ({"width": 0}, "generator.width"),
        ({"scale_factor": 0}, "generator.scale_factor"),
    ],
)
def test_bad_dce_arguments(kwargs, key):
    with pytest.raises(ValueError, match=key):
        DCENet(**kwargs)


def _reference_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """The Zero-DCE forward pass written out from the paper, independently of DCENet."""

    def conv(name, h):
        return F.conv2d(h, state[f"{name}.weight"], state[f"{name}.bias"], padding=1)

    x1 = F.relu(conv("e_conv1", x))
    x2 = F.relu(conv("e_conv2", x1))
    x3 = F.relu(conv("e_conv3", x2))
    x4 = F.relu(conv("e_conv4", x3))
    x5 = F.relu(conv("e_conv5", torch.cat([x3, x4], 1)))
    x6 = F.relu(conv("e_conv6", torch.cat([x2, x5], 1)))
    r = torch.tanh(conv("e_conv7", torch.cat([x1, x6], 1)))
    for i in range(8):
        a = r[:, 3 * i : 3 * i + 3]
        x = x + a * (x * x - x)
    return x


def test_zero_dce_pp_network():
    """Zero-DCE++ (conf/generator/zero_dce_pp.yaml): the paper's 10,561 parameters,
    depthwise-separable layers, one 3-channel map applied 8 times, estimated on the input
    shrunk 12x when evaluated and at full size when trained."""
    cfg = compose_cfg(["+experiment=zero_dce_pp"])
    net = instantiate(cfg.system.generator)
    assert sum(p.numel() for p in net.parameters()) == 10_561
    assert net.convs[1][0].groups == 32  # depthwise
    seen = []
    net.convs[0].register_forward_hook(lambda _m, i, _o: seen.append(tuple(i[0].shape[-2:])))
    x = torch.rand(1, 3, 121, 250) * 0.4
    with torch.no_grad():
        out, maps = net.eval().curves(x)
    assert seen[-1] == (121 // 12 + 1, 250 // 12 + 1)  # padded to multiples of 12, shrunk
    assert maps.shape == (1, 3, 121, 250)
    expected = x
    for _ in range(8):
        expected = light_enhancement_curve(expected, maps)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    net.train().curves(x)
    assert seen[-1] == (121, 250)


def test_dce_net_scale_factor_acts_in_evaluation_only():
    """`system.generator.scale_factor` on DCE-Net (the shipped-model recipe uses 3): the
    training forward and gradients are those of factor 1, so a run's weights do not depend
    on it; evaluation estimates on the input shrunk 3x, which changes the output."""
    cfg = compose_cfg(["+experiment=dce_net", "system.generator.scale_factor=3"])
    shrunk = instantiate(cfg.system.generator)
    assert shrunk.scale_factor == 3
    torch.manual_seed(0)
    plain = DCENet()
    shrunk.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 40, 44) * 0.4
    outs = []
    for net in (plain.train(), shrunk.train()):
        out, maps = net.curves(x)
        (out.mean() + maps.pow(2).mean()).backward()
        outs.append((out, [p.grad.clone() for p in net.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=0, rtol=0)
    for a, b in zip(outs[0][1], outs[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    with torch.no_grad():
        assert (plain.eval()(x) - shrunk.eval()(x)).abs().max() > 1e-3


def test_in_place_curves_equal_the_autograd_ones():
    torch.manual_seed(0)
    x, maps = torch.rand(2, 3, 16, 16), torch.rand(2, 24, 16, 16) * 2 - 1
    with torch.no_grad():
        fast = apply_curves(x, maps, 8)
    slow = apply_curves(x.requires_grad_(), maps, 8)
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), atol=1e-6, rtol=0)
    assert not torch.equal(fast, x)


@pytest.mark.realdata
def test_authors_weights_match_a_plain_rederivation_on_lime():
    net = load_zero_dce(WEIGHTS).eval()
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    paths = list_images(SHARED_DATA / "lowlight" / "LIME")[:3]
    assert paths
    for p in net.parameters():  # subnormal weights are flushed (they made CPU inference 30x slower)
        assert not ((p != 0) & (p.abs() < torch.finfo(p.dtype).tiny)).any()
    for path in paths:
        x = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None]
        # the reference runs on the raw (subnormal) weights, slow on CPU: a 256 px crop each
        top, left = (x.shape[2] - 256) // 2, (x.shape[3] - 256) // 2
        x = x[:, :, top : top + 256, left : left + 256].contiguous()
        with torch.no_grad():
            ours, ref = net(x), _reference_forward(state, x)
        assert ours.shape == x.shape
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
        assert ours.mean() > x.mean() + 0.05, "the released model brightens LIME"


def test_load_zero_dce_refuses_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Zero-DCE weights"):
        load_zero_dce(tmp_path / "none.pth")
    torch.save({"convs.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a Zero-DCE state dict"):
        load_zero_dce(tmp_path / "other.pth")


# ---------------------------------------------------------------- the losses


def test_uniform_image_at_the_exposure_level_has_no_exposure_loss():
    loss = ExposureControlLoss(patch=16, level=0.6)
    assert loss(torch.full((2, 3, 32, 32), 0.6)).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(torch.full((2, 3, 32, 32), 0.4)).item() == pytest.approx(0.04, abs=1e-6)


def test_lift_only_exposure_loss_counts_only_the_regions_below_the_level():
    """Left half 0.4 (0.2 below 0.6), right half 0.9 (0.3 above), 16 px regions: Zero-DCE's
    loss averages 0.04 and 0.09; lift_only counts 0.04 on half the regions."""
    img = torch.full((1, 3, 32, 64), 0.4)
    img[..., 32:] = 0.9
    assert ExposureControlLoss(16, 0.6)(img).item() == pytest.approx(0.065, abs=1e-6)
    assert ExposureControlLoss(16, 0.6, lift_only=True)(img).item() == pytest.approx(0.02, abs=1e-6)


def test_dark_input_only_exposure_loss_counts_the_regions_dark_in_the_input_both_ways():
    """Input: left half 0.2 (dark), right half 0.8 (bright). Output 0.4 | 0.9: only the left
    half counts, 0.04 on half the regions. Output 0.9 | 0.9: the dark half overshot the level
    by 0.3 and counts (0.09 / 2), which lift_only would not; the bright half never counts."""
    inp = torch.full((1, 3, 32, 64), 0.2)
    inp[..., 32:] = 0.8
    out = torch.full((1, 3, 32, 64), 0.4)
    out[..., 32:] = 0.9
    loss = ExposureControlLoss(16, 0.6, dark_input_only=True)
    assert loss(out, inp).item() == pytest.approx(0.02, abs=1e-6)
    assert loss(torch.full_like(out, 0.9), inp).item() == pytest.approx(0.045, abs=1e-6)
    both = ExposureControlLoss(16, 0.6, lift_only=True, dark_input_only=True)
    assert both(torch.full_like(out, 0.9), inp).item() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="dark_input_only needs the input beside the output"):
        loss(out)


def test_grey_image_has_no_colour_loss_and_a_finite_gradient():
    loss = ColorConstancyLoss()
    grey = torch.full((2, 3, 8, 8), 0.3, requires_grad=True)
    assert loss(grey).item() == pytest.approx(0.0, abs=1e-7)
    loss(grey).backward()
    assert torch.isfinite(grey.grad).all()
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0  # channel means (1, 0, 0): D_rg = D_rb = 1, D_gb = 0 -> sqrt(2)
    assert loss(red).item() == pytest.approx(math.sqrt(2), rel=1e-6)


def test_spatial_consistency_is_zero_for_the_same_image_and_sees_flattening():
    loss = SpatialConsistencyLoss()
    x = torch.rand(1, 3, 16, 16)
    assert loss(x, x).item() == 0.0
    flat = torch.full_like(x, x.mean().item())
    assert loss(flat, x).item() > 0


def test_spatial_consistency_on_a_known_pattern():
    loss = SpatialConsistencyLoss(pool=1)
    original = torch.zeros(1, 1, 1, 3)
    original[..., 1] = 1.0  # 0 1 0
    enhanced = torch.zeros(1, 1, 1, 3)  # flat
    # squared differences to the 4 neighbours (zero beyond the border), summed per pixel:
    # pixel 0: right -1 -> 1; pixel 1: left, right, up, down all 1 -> 4; pixel 2: left -1 -> 1
    expected = (1 + 4 + 1) / 3
    assert loss(enhanced.expand(1, 3, 1, 3), original.expand(1, 3, 1, 3)).item() == pytest.approx(
        expected
    )


def test_smoothness_is_zero_for_flat_curves_and_counts_differences():
    loss = IlluminationSmoothnessLoss()
    assert loss(torch.ones(2, 24, 5, 5)).item() == 0.0
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 3, 4)  # horizontal steps of 1
    # h: 0; w: 3 rows x 3 steps of 1 over 3 x 3 pairs -> 1; times 2 -> 2
    assert loss(ramp).item() == pytest.approx(2.0)


# ---------------------------------------------------------------- unpaired data and proxies


def _low_light_folder(root, n=6, size=(40, 48)):
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(root / f"{i}.png", 0.2 * random_image(rng, *size))
    return root


def test_unpaired_data_yields_inputs_only(tmp_path):
    from lowlight.data import PairAugment

    root = _low_light_folder(tmp_path / "dark")
    dm = UnpairedImageDataModule(root=str(root), augment=PairAugment(crop_size=32), batch_size=2)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"lq", "name"} and batch["lq"].shape == (2, 3, 32, 32)
    assert [len(dm.paths[k]) for k in ("train", "val", "test")] == [4, 1, 1]
    with pytest.raises(ValueError, match="data.root"):
        UnpairedImageDataModule()


def test_proxies_on_known_images():
    grey = torch.full((1, 3, 32, 32), 0.6)
    stats = no_reference_stats(grey)
    assert stats["brightness"].item() == pytest.approx(0.6)
    assert stats["color_balance"].item() == pytest.approx(0.0, abs=1e-7)
    assert stats["exposure_error"].item() == pytest.approx(0.0, abs=1e-6)
    ramp = torch.linspace(0.2, 0.4, 64).view(1, 1, 1, 64).expand(1, 3, 8, 64).contiguous()
    stretched = autocontrast(ramp)
    assert stretched.min().item() == 0.0 and stretched.max().item() == 1.0


def test_zero_dce_system_trains_on_unpaired_data_and_logs_proxies(tmp_path):
    import lightning as L

    root = _low_light_folder(tmp_path / "dark")
    cfg = compose_cfg(
        ["+experiment=dce_net", "data=unpaired", f"data.root={root}", "data.augment.crop_size=32"]
    )
    system: ZeroDCESystem = instantiate(cfg.system)
    assert system.loss_weights == {
        "spatial": 1.0,
        "exposure": 10.0,
        "color": 5.0,
        "smoothness": 200.0,
    }
    dm = instantiate(cfg.data)
    dm.num_workers = 0
    before = [p.detach().clone() for p in system.generator.parameters()]
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=0.1,
    )
    trainer.fit(system, dm)
    logged = set(trainer.callback_metrics)
    assert {
        "train/loss",
        "train/spatial",
        "train/exposure",
        "train/color",
        "train/smoothness",
    } <= logged
    assert {"val/loss", "val/psnr_autocontrast", "val/brightness", "val/exposure_error"} <= logged
    after = list(system.generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    tested = trainer.test(system, dm)[0]
    assert {"test/psnr_autocontrast", "test/input_brightness"} <= set(tested)


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_zero_dce_trains_in_mixed_precision_with_the_papers_clip(precision, tmp_path):
    """Automatic optimization: Lightning unscales before its gradient clipping. The step
    clips the true gradient norm to 0.1 and moves the weights."""
    import lightning as L
    from lightning.pytorch.plugins.precision import MixedPrecision

    root = _low_light_folder(tmp_path / "dark")
    cfg = compose_cfg(
        ["+experiment=zero_dce_pp", "data=unpaired", f"data.root={root}"]
        + ["data.augment.crop_size=32", "data.batch_size=2"]
    )
    system: ZeroDCESystem = instantiate(cfg.system)
    dm = instantiate(cfg.data)
    dm.num_workers = 0
    norms = []

    class Spy(L.Callback):
        def on_before_optimizer_step(self, trainer, module, optimizer):
            grads = [p.grad.norm() for p in module.generator.parameters()]
            norms.append(torch.linalg.vector_norm(torch.stack(grads)).item())

    scaler = torch.amp.GradScaler("cpu") if precision == "16-mixed" else None
    before = [p.detach().clone() for p in system.generator.parameters()]
    trainer = quiet_fit(
        system,
        dm,
        batches=2,  # all of them: 4 training images, batch 2
        epochs=10,
        gradient_clip_val=0.1,
        plugins=[MixedPrecision(precision, "cpu", scaler=scaler)],
        callbacks=[Spy()],
    )
    # Unscaled when the hook runs: a scaled norm would be thousands of times larger. With
    # float16 the first steps overflow (inf/nan: measured 11 of them, the scale falling
    # from 65536 to 32) and GradScaler skips them; bf16 needs no scaling.
    finite = [n for n in norms if math.isfinite(n)]
    assert len(finite) >= (5 if scaler else len(norms))
    assert all(0 < n < 1e3 for n in finite)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    after = list(system.generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_zero_weight_removes_a_term():
    cfg = compose_cfg(["+experiment=dce_net", "+ablation=dce_no_color"])
    system = instantiate(cfg.system)
    lq = torch.rand(2, 3, 16, 16)
    terms = system._terms(lq, *system.generator.curves(lq))
    assert set(terms) == {"spatial", "exposure", "smoothness"}


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+system.loss_weights.perceptual=1", "system.loss_weights.perceptual"),
        ("generator=unet", "system.generator"),
    ],
)
def test_bad_zero_dce_config(override, key):
    cfg = compose_cfg(["+experiment=dce_net", override])
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        instantiate(cfg.system)


def test_the_authors_init_draws_conv_weights_from_n_0_002():
    torch.manual_seed(0)
    net = DCENet(init="zero_dce")
    weights = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    torch.manual_seed(0)
    default = torch.cat([c.weight.flatten() for c in DCENet().convs])
    assert default.std().item() > 0.03, "torch's default init is left alone"
    with pytest.raises(ValueError, match="generator.init"):
        DCENet(init="xavier")
