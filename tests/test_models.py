"""Every generator and discriminator config builds, runs forward/backward, right shape, no NaN."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from conftest import CONF, compose_cfg
from lowlight.models.discriminators import DCGAN5, PatchGAN, VGGDiscriminator
from lowlight.models.generators import SRCNN, IlluminationAdaptiveNet, RRDBNet, SeedUNet, UNet
from lowlight.models.generators.iat import area_thumbnail, soft_knee
from lowlight.systems.base import EnhancementSystem

GENERATORS = sorted((CONF / "generator").glob("*.yaml"))
DISCRIMINATORS = sorted((CONF / "discriminator").glob("*.yaml"))


def _build(path):
    return instantiate(OmegaConf.load(path))


def _grads_ok(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None, f"no gradient reached {name}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in {name}"


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("path", GENERATORS, ids=lambda p: p.stem)
def test_generator_config_forward_backward(path, scale):
    """Every generator config, composed as training does (SR ones take data.scale)."""
    torch.manual_seed(0)
    cfg = compose_cfg([f"generator={path.stem}", "data=sr", f"data.scale={scale}"])
    if path.stem == "rrdbnet_paper":  # 23 blocks are slow on a CPU; its size has its own test
        cfg.system.generator.num_block = 1
    net = instantiate(cfg.system.generator)
    factor = getattr(net, "scale", 1)
    assert factor in (1, scale)
    system = EnhancementSystem(net)  # pads odd sizes for the network
    x = torch.rand(2, 3, 13, 15)
    y = system(x)
    assert y.shape == (2, 3, 13 * factor, 15 * factor)
    assert torch.isfinite(y).all()
    y.mean().backward()
    _grads_ok(net)


@pytest.mark.parametrize("path", DISCRIMINATORS, ids=lambda p: p.stem)
def test_discriminator_config_forward_backward(path):
    torch.manual_seed(0)
    net = _build(path)
    out = net(torch.rand(2, 3, 48, 40))
    assert out.shape[:2] == (2, 1)
    assert torch.isfinite(out).all()
    out.mean().backward()
    _grads_ok(net)


def test_seed_unet_is_the_brief_network():
    net = SeedUNet()
    convs = [m for m in net.modules() if type(m) is nn.Conv2d]
    tconvs = [m for m in net.modules() if type(m) is nn.ConvTranspose2d]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 64), (64, 128), (128, 256)]
    assert [(c.in_channels, c.out_channels) for c in tconvs] == [(256, 128), (128, 64), (64, 3)]
    sizes = []
    for m in convs + tconvs:
        m.register_forward_hook(lambda _m, _i, o: sizes.append(tuple(o.shape[-2:])))
    y = net(torch.rand(1, 3, 21, 17))
    assert set(sizes) == {(21, 17)}, "every layer works at full resolution"
    assert (y > 0).all() and (y < 1).all(), "sigmoid output"


def test_seed_unet_skips_are_additive():
    net = SeedUNet(widths=(4, 8, 16))
    with torch.no_grad():
        for m in (net.enc1, net.enc2, net.enc3, net.dec3, net.dec2):
            m.weight.zero_()
            m.bias.zero_()
        net.enc1.bias.fill_(
            1.0
        )  # e1 = 1; every later layer outputs 0, so d2 = e1 only via the skip
        net.dec1.weight.zero_()
        net.dec1.bias.zero_()
        net.dec1.weight[0, 0, 1, 1] = 1.0  # ConvTranspose weight is (in, out, k, k)
    y = net(torch.zeros(1, 3, 5, 5))
    assert torch.allclose(y[0, 0], torch.sigmoid(torch.tensor(1.0)).expand(5, 5))


def test_unet_downsamples_and_concatenates():
    net = UNet(channels=(4, 8, 16))
    assert net.size_multiple == 4
    seen = []
    for enc in net.encoders:
        enc.register_forward_hook(lambda _m, _i, o: seen.append(tuple(o.shape[-2:])))
    net(torch.rand(1, 3, 32, 24))
    assert seen == [(32, 24), (16, 12), (8, 6)]
    assert net.decoders[0][0].in_channels == 2 * 8  # upsampled + skip, concatenated


def test_unet_global_context_starts_as_the_plain_unet_and_sees_the_whole_image():
    torch.manual_seed(0)
    plain = UNet(channels=(4, 8, 16))
    net = UNet(channels=(4, 8, 16), global_context=True)
    assert net.init_optional == ("global_mlp.",) and plain.init_optional == ()
    missing = net.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("global_mlp.") for k in missing)
    x = torch.rand(1, 3, 64, 64)
    far = x.clone()
    far[..., 48:, 48:] = 1.0  # a change far outside the top-left pixels' receptive field
    with torch.no_grad():
        torch.testing.assert_close(net(x), plain(x))  # the branch starts as the identity
        assert torch.equal(plain(x)[..., :8, :8], plain(far)[..., :8, :8])
        net.global_mlp[-1].weight.normal_()  # a trained branch: the whole image counts
        assert not torch.equal(net(x)[..., :8, :8], net(far)[..., :8, :8])


def test_illumination_adaptive_net_is_local_but_for_its_whole_photo_colour_and_gamma():
    """The global branch starts as the identity (colour matrix I, gamma 1): the output is
    then the local x * mul + add, whose top-left pixels see only their neighbourhood. Once
    the branch is trained, a change far away moves them (one matrix and gamma per photo)."""
    torch.manual_seed(0)
    net = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, global_size=32)
    x = torch.rand(1, 3, 64, 64)
    far = x.clone()
    far[..., 40:, 40:] = 1.0  # outside the top-left pixels' 11 px neighbourhood
    with torch.no_grad():
        f = net.local(x)
        local = x * torch.nn.functional.softplus(net.mul_head(f)) + torch.tanh(net.add_head(f))
        torch.testing.assert_close(net(x), local.clamp(1e-8, 1.0))
        assert torch.equal(net(x)[..., :8, :8], net(far)[..., :8, :8])
        net.global_head[-1].weight.normal_(std=0.1)
        assert not torch.equal(net(x)[..., :8, :8], net(far)[..., :8, :8])
        summary = net.summarize(x)
        assert summary.shape == (1, 10)
        torch.testing.assert_close(net(far, context=summary)[..., :8, :8], net(x)[..., :8, :8])


def test_exposure_norm_makes_the_local_maps_blind_to_exposure_and_tells_the_head_the_level():
    """With `exposure_norm`, the photo over its mean level feeds both branches: at the
    identity start the output is the same for the photo at half the exposure (up to the
    level's 1e-3 guard), while without it the output follows the exposure; the summary
    ends with log(level), which the head reads."""
    torch.manual_seed(0)
    x = 0.05 + 0.9 * torch.rand(1, 3, 48, 48)  # mean level ~0.5: the guard is 0.2% of it
    normed = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, exposure_norm=True)
    plain = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8)
    with torch.no_grad():
        torch.testing.assert_close(normed(0.5 * x), normed(x), atol=5e-3, rtol=0)
        assert (plain(0.5 * x) - plain(x)).abs().max() > 0.05
        summary = normed.summarize(x)
        assert summary.shape == (1, 11)
        level = area_thumbnail(x, 128).mean()
        torch.testing.assert_close(summary[0, 10], torch.log(level + 1e-3))
        normed.global_head[-1].weight.normal_(std=0.3)  # a trained head: the level matters
        assert (normed(0.5 * x) - normed(x)).abs().max() > 0.01
    assert normed.global_head[0].in_features == plain.global_head[0].in_features + 1


def test_the_coarse_branch_widens_what_the_gain_and_offset_see():
    """With `coarse_blocks`, the gain and offset of a pixel follow the photo up to
    `receptive_radius` px away (here (2 * 1 + 4) * 4 = 24), beyond the full-resolution
    branch's 6 px; farther than that nothing moves them (the global branch is still the
    identity). Its features are the branch on the photo shrunk 4 times, enlarged back."""
    torch.manual_seed(0)
    net = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, global_size=32, coarse_blocks=1)
    assert net.receptive_radius == 24
    x = torch.rand(1, 3, 64, 64)
    near, far = x.clone(), x.clone()
    near[..., 12:20, 12:20] = 1.0  # 12 px away from the top-left 4 x 4 pixels
    far[..., 32:, 32:] = 1.0  # 29 px away
    with torch.no_grad():
        assert not torch.equal(net(x)[..., :4, :4], net(near)[..., :4, :4])
        assert torch.equal(net(x)[..., :4, :4], net(far)[..., :4, :4])
        small = torch.nn.functional.avg_pool2d(x, 4)
        expected = torch.nn.functional.interpolate(
            net.coarse(small), size=(64, 64), mode="bilinear", align_corners=False
        )
        torch.testing.assert_close(net._coarse_features(x), expected)
    with pytest.raises(ValueError, match="generator.coarse_scale"):
        IlluminationAdaptiveNet(coarse_blocks=1, coarse_scale=1)


def test_smoothed_maps_keep_the_photos_fine_detail():
    """With `map_scale`, the gain and offset are the maps averaged over s x s cells and
    enlarged (bilinear): where they are constant the output is exactly x * gain + offset,
    so a checkerboard keeps its full contrast times the gain; the unsmoothed maps of the
    same network (the same weights) change from pixel to pixel with it."""
    torch.manual_seed(0)
    plain = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, global_size=32)
    smooth = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, global_size=32, map_scale=4)
    with torch.no_grad():
        plain.add_head.bias.fill_(0.3)  # outputs inside (0, 1): nothing is clipped
    smooth.load_state_dict(plain.state_dict())
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2
    x = (0.1 + 0.05 * checker.float()).expand(1, 3, 32, 32).contiguous()
    with torch.no_grad():
        f = smooth.local(x)
        mul = torch.nn.functional.softplus(smooth.mul_head(f))
        add = torch.tanh(smooth.add_head(f))
        assert (mul[..., 8:24, 8:24].std() > 1e-3) and (plain(x) - smooth(x)).abs().max() > 1e-3
        cell = torch.nn.functional.avg_pool2d(mul, 4), torch.nn.functional.avg_pool2d(add, 4)
        inner = (slice(None), slice(None), slice(8, 24), slice(8, 24))
        # inside, every 4 x 4 cell averages the same checker pattern: constant maps
        g, a = (c[..., 2:6, 2:6].mean(dim=(-2, -1), keepdim=True) for c in cell)
        out = smooth(x)[inner]  # (convolutions round differently by position: 1e-4)
        torch.testing.assert_close(out, (x * g + a)[inner].clamp(1e-8, 1.0), atol=1e-4, rtol=0)
        contrast = out[..., 0, 1] - out[..., 0, 0]  # a bright minus a dark square
        torch.testing.assert_close(contrast, 0.05 * g[..., 0, 0], atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="generator.map_scale"):
        IlluminationAdaptiveNet(coarse_blocks=1, coarse_scale=4, map_scale=2)


def test_the_detail_restore_runs_on_the_enhanced_output_with_the_whole_photos_noise():
    """`detail_strength` adds the photo's noise std to `summarize` and puts the input's
    detail back into what the same weights give without it (lowlight.ops.detail)."""
    from lowlight.ops.detail import noise_std, restore_detail

    torch.manual_seed(0)
    kwargs = dict(dim=8, blocks=2, global_dim=8, global_size=32, exposure_norm=True)
    plain = IlluminationAdaptiveNet(**kwargs)
    net = IlluminationAdaptiveNet(**kwargs, detail_strength=2.0, detail_radius=4)
    net.load_state_dict(plain.state_dict())  # no parameters of its own
    rows, cols = torch.arange(40.0)[:, None], torch.arange(48.0)[None, :]
    texture = torch.sin(rows / 3) * torch.sin(cols / 4)  # clean: little for the noise estimate
    x = (0.15 + 0.1 * texture).expand(2, 3, 40, 48) * torch.tensor([1.0, 0.5])[:, None, None, None]
    summary = net.summarize(x)
    assert summary.shape == (2, 12) and torch.allclose(summary[:, -1], noise_std(x))
    with torch.no_grad():
        expected = restore_detail(x, plain(x), noise_std(x), 4, 2.0)
        assert torch.allclose(net(x), expected, atol=1e-6)
        assert (net(x) - plain(x)).abs().max() > 1e-3
    with pytest.raises(ValueError, match="generator.detail_strength"):
        IlluminationAdaptiveNet(detail_strength=0.0)


def _constant_gain(net: IlluminationAdaptiveNet, bias: float) -> None:
    """The local branch's gain becomes softplus(bias) at every pixel, its offset 0."""
    net.mul_head.weight.zero_()
    net.mul_head.bias.fill_(bias)
    net.add_head.weight.zero_()
    net.add_head.bias.zero_()


def test_highlight_knee_rolls_highlights_off_below_white_and_leaves_the_rest():
    """soft_knee: the identity up to the knee, slope 1 there, then tanh towards 1 (values
    worked by hand: knee 0.7, v = 1.0 gives 0.7 + 0.3 tanh(1) = 0.928478); an 8-bit output
    of 250 needs v >= 1.193. In the generator it replaces the cut at 1: the same network
    gives the same output below the knee and never a white pixel from a gain of 3 on
    mid-grey, where the plain one gives white."""
    v = torch.tensor([0.0, 0.5, 0.7, 1.0, 1.19, 1.2, 2.0], requires_grad=True)
    out = soft_knee(v, 0.7)
    torch.testing.assert_close(out[:3], v[:3].detach())
    torch.testing.assert_close(out[3], torch.tensor(0.928478), atol=1e-6, rtol=0)
    assert out[4] < 249.5 / 255 < out[5] < out[6] < 1.0
    out.sum().backward()
    assert torch.all(v.grad > 0) and abs(float(v.grad[2]) - 1.0) < 1e-6
    torch.manual_seed(0)
    plain = IlluminationAdaptiveNet(dim=8, blocks=2, global_dim=8, global_size=32)
    kneed = IlluminationAdaptiveNet(
        dim=8, blocks=2, global_dim=8, global_size=32, highlight_knee=0.7
    )
    kneed.load_state_dict(plain.state_dict())
    x = torch.full((1, 3, 16, 16), 0.35)  # x3: 1.04
    x[..., :8] = 0.05
    with torch.no_grad():
        for net in (plain, kneed):
            _constant_gain(net, 2.93)  # softplus: a gain of 3
        torch.testing.assert_close(kneed(x)[..., :8], plain(x)[..., :8])  # 0.15: below
        assert torch.all(plain(x)[..., 8:] == 1.0)
        assert torch.all(kneed(x)[..., 8:] < 249.5 / 255)
    with pytest.raises(ValueError, match="generator.highlight_knee"):
        IlluminationAdaptiveNet(highlight_knee=1.0)


def test_keep_highlights_gives_bright_pixels_back_what_the_model_took_from_them():
    """keep_highlights 0.6 on a net that halves every pixel: a pixel whose brightest channel
    is 0.9 gets back (0.9 - 0.6) / 0.4 = 0.75 of its loss in every channel, a white one all
    of it, a dark one (0.3) nothing; a net that brightens is left as it is."""
    torch.manual_seed(0)
    kw = {"dim": 8, "blocks": 2, "global_dim": 8, "global_size": 32}
    plain = IlluminationAdaptiveNet(**kw)
    kept = IlluminationAdaptiveNet(**kw, keep_highlights=0.6)
    kept.load_state_dict(plain.state_dict())
    x = torch.full((1, 3, 8, 8), 0.3)
    x[:, 0, :, 4:] = 0.9  # (0.9, 0.3, 0.3): reddish, bright in one channel
    x[..., :2, :] = 1.0  # white rows
    expected = 0.5 * x
    share = torch.where(
        x.amax(dim=1, keepdim=True) > 0.6, (x.amax(dim=1, keepdim=True) - 0.6) / 0.4, 0
    )
    expected = expected + share * (x - expected)
    with torch.no_grad():
        for net in (plain, kept):
            _constant_gain(net, math.log(math.expm1(0.5)))  # softplus: a gain of 0.5
        torch.testing.assert_close(plain(x), 0.5 * x)
        torch.testing.assert_close(kept(x), expected)
        assert float(kept(x)[0, 1, 4, 5]) == pytest.approx(0.15 + 0.75 * 0.15)
        for net in (plain, kept):
            _constant_gain(net, math.log(math.expm1(1.5)))
        torch.testing.assert_close(kept(x), plain(x))
    with pytest.raises(ValueError, match="generator.keep_highlights"):
        IlluminationAdaptiveNet(keep_highlights=0.0)


@pytest.mark.parametrize("shape", [(1, 3, 400, 600), (2, 3, 13, 15), (1, 3, 1001, 777)])
def test_area_thumbnail_is_torchs_area_interpolation(shape):
    """The ONNX-friendly thumbnail equals F.interpolate(mode="area") (adaptive average
    pooling), also where the bins overlap (sizes not multiples of the thumbnail's)."""
    torch.manual_seed(0)
    x = torch.rand(shape)
    expected = torch.nn.functional.interpolate(x, size=(32, 32), mode="area")
    torch.testing.assert_close(area_thumbnail(x, 32), expected, atol=1e-6, rtol=0)


def test_dcgan5_layout():
    net = DCGAN5()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(4, 4)] * 5
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3
    assert net(torch.rand(3, 3, 100, 70)).shape == (3, 1, 1, 1)
    assert (DCGAN5(sigmoid=True)(torch.rand(2, 3, 64, 64)).abs() <= 1).all()


def test_patchgan_scores_patches():
    out = PatchGAN(base=8)(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 1, 6, 6)


def test_rrdbnet_paper_size():
    assert sum(p.numel() for p in RRDBNet().parameters()) == 16_697_987  # ESRGAN's 16.7 M


@pytest.mark.parametrize("upsampler", ["nearest", "pixelshuffle"])
def test_rrdbnet_upsamplers(upsampler):
    net = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4, upsampler=upsampler)
    assert net(torch.rand(1, 3, 6, 7)).shape == (1, 3, 24, 28)
    shuffles = [m for m in net.up_convs if m.out_channels == 8 * 4]
    assert len(shuffles) == (2 if upsampler == "pixelshuffle" else 0)


def test_rrdb_has_no_batch_norm_and_scaled_residuals():
    net = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    block = net.body[0]
    with torch.no_grad():
        for p in block.parameters():
            p.zero_()
    x = torch.rand(1, 8, 5, 5)
    # zeroed branches: each dense block is the identity, so the RRDB gives x + 0.2 * x
    torch.testing.assert_close(block(x), 1.2 * x)


def test_srcnn_keeps_the_size():
    assert SRCNN()(torch.rand(1, 3, 17, 19)).shape == (1, 3, 17, 19)


def test_vgg_discriminator_takes_any_hr_size():
    d = VGGDiscriminator(num_feat=8)
    assert d(torch.rand(2, 3, 128, 128)).shape == (2, 1)
    assert d(torch.rand(2, 3, 64, 80)).shape == (2, 1)


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: UNet(channels=(8,)), "generator.channels"),
        (lambda: UNet(norm="group"), "generator.norm"),
        (lambda: UNet(out_activation="tanh"), "generator.out_activation"),
        (lambda: SeedUNet(widths=(8, 8)), "generator.widths"),
        (lambda: PatchGAN(norm="layer"), "discriminator.norm"),
        (lambda: DCGAN5(pool_size=32), "discriminator.pool_size"),
        (lambda: RRDBNet(scale=5), "generator.scale"),
        (lambda: RRDBNet(upsampler="deconv"), "generator.upsampler"),
        (lambda: SRCNN(kernels=(9, 4, 5)), "generator.kernels"),
        (lambda: IlluminationAdaptiveNet(dim=0), "generator.dim"),
        (lambda: IlluminationAdaptiveNet(global_size=4), "generator.global_size"),
        (lambda: VGGDiscriminator(num_stages=0), "discriminator.num_stages"),
    ],
)
def test_bad_model_arguments_name_the_key(build, key):
    with pytest.raises(ValueError, match=key):
        build()


def test_the_committed_candidate_with_keep_highlights_is_the_measured_one_on_dark_pixels():
    """experiments/shipped/lle_iat_gate_exp4_keep60 links the measured candidate's checkpoint
    and sets keep_highlights 0.6 in a copy of its config: the same output where every channel
    is at most 0.6; above, never darker than the measured output nor brighter than the
    brighter of it and the input."""
    from conftest import ROOT
    from lowlight.loading import load_model

    name = "checkpoints/epoch009-psnr20.08.ckpt"
    measured = load_model(ROOT / "experiments/shipped/lle_iat_gate_exp4" / name)
    kept = load_model(ROOT / "experiments/shipped/lle_iat_gate_exp4_keep60" / name)
    assert kept.checkpoint.resolve() == measured.checkpoint.resolve()
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0)) * 0.5
    x[..., :16, :] = 0.7 + 0.3 * torch.rand(
        1, 3, 16, 64, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        a, b = measured.net(x), kept.net(x)
    dark = x.amax(dim=1, keepdim=True).expand_as(x) <= 0.6
    torch.testing.assert_close(b[dark], a[dark])
    bright = ~dark
    assert torch.all(b[bright] >= a[bright] - 1e-6)
    assert torch.all(b[bright] <= torch.maximum(x[bright], a[bright]) + 1e-6)
    assert torch.any(b[bright] > a[bright] + 1e-3), "keep_highlights changed nothing"
