"""Super-resolution: MATLAB bicubic, SR metrics, SR data, RaGAN, EMA, two stages, VGG loss."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from conftest import SHARED_DATA, compose_cfg, perceptual_overrides, quiet_fit, random_image
from lowlight.data import SRDataModule, SRDegradation, write_image
from lowlight.data.io import list_images, read_image
from lowlight.losses import PerceptualLoss, RelativisticAverageLoss
from lowlight.metrics import sr_metrics
from lowlight.models.discriminators import VGGDiscriminator
from lowlight.models.generators import RRDBNet
from lowlight.ops import imresize, rgb_to_y
from lowlight.ops.imresize import resize_matrix
from lowlight.systems import GANSystem

SET5 = SHARED_DATA / "sr" / "Set5"

# ---------------------------------------------------------------- MATLAB bicubic

# Keys' cubic (a = -0.5) at distances 0.25, 0.75, 1.25, 1.75, worked out by hand:
# 1.5|x|^3 - 2.5|x|^2 + 1 for |x| <= 1, -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 for 1 < |x| <= 2.
C025, C075, C125, C175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def test_x2_upscale_weights_are_the_cubic_kernel():
    m = resize_matrix(8, 16, 2.0)
    # output pixel 8 (1-based) sits at input coordinate 8/2 + 0.25 = 4.25: distances 1.25,
    # 0.25, 0.75, 1.75 to input pixels 3, 4, 5, 6
    np.testing.assert_allclose(m[7, 2:6], [C125, C025, C075, C175], atol=1e-12)
    assert np.count_nonzero(m[7]) == 4


def test_x2_downscale_weights_are_the_widened_kernel():
    m = resize_matrix(20, 10, 0.5)
    # antialiasing: the kernel is stretched x2 and halved; output 4 sits at input 7.5
    expected = 0.5 * np.array([C175, C125, C075, C025, C025, C075, C125, C175])
    np.testing.assert_allclose(m[3, 3:11], expected, atol=1e-12)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_borders_mirror_and_constants_survive():
    m = resize_matrix(8, 16, 2.0)
    # output 1 sits at input 0.75: taps at inputs -1, 0, 1, 2 (distances 1.75, 0.75, 0.25,
    # 1.25); mirrored, -1 -> 2 and 0 -> 1
    np.testing.assert_allclose(m[0, :2], [C075 + C025, C175 + C125], atol=1e-12)
    flat = np.full((7, 9, 3), 0.3)
    for scale in (0.25, 1 / 3, 2, 3):
        np.testing.assert_allclose(imresize(flat, scale), 0.3, atol=1e-12)


def test_output_size_is_ceil_and_inputs_of_every_kind_agree():
    img = np.random.default_rng(0).random((10, 13, 3))
    assert imresize(img, 0.25).shape == (3, 4, 3)
    assert imresize(img, 3).shape == (30, 39, 3)
    assert imresize(img[:, :, 0], 0.5).shape == (5, 7)
    tensor = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    np.testing.assert_allclose(
        imresize(tensor, 0.5)[0].permute(1, 2, 0).numpy(), imresize(img, 0.5), atol=1e-6
    )
    u8 = (img * 255).round().astype(np.uint8)
    assert imresize(u8, 0.5).dtype == np.uint8
    with pytest.raises(ValueError, match="scale"):
        imresize(img, 0)


@pytest.mark.realdata
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_reproduces_the_matlab_made_set5_lr_files(scale):
    worst = 0
    for hr_path in list_images(SET5 / "HR"):
        lr = (read_image(SET5 / f"LR_x{scale}" / hr_path.name) * 255).round()
        hr = (read_image(hr_path) * 255).round().astype(np.uint8)
        hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        worst = max(worst, np.abs(imresize(hr, 1 / scale).astype(float) - lr).max())
    assert worst == 0, f"{worst} grey levels off MATLAB"


# ---------------------------------------------------------------- SR metrics


def test_y_is_matlab_rgb2ycbcr_luma():
    colors = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(3, 3, 1, 1)
    y = rgb_to_y(colors).flatten() * 255
    torch.testing.assert_close(y, torch.tensor([235.0, 16.0, 16 + 65.481]), atol=1e-3, rtol=0)


def test_border_of_scale_pixels_is_not_scored():
    hr = np.round(np.random.default_rng(0).random((24, 24, 3)) * 255) / 255  # an 8-bit image
    sr = hr.copy()
    sr[:3] = 0.0  # damage inside the x3 border only
    assert math.isinf(sr_metrics(sr, hr, 3)["psnr_y"])
    assert sr_metrics(sr, hr, 2)["psnr_y"] < 40
    out = sr_metrics(
        torch.from_numpy(sr).permute(2, 0, 1), torch.from_numpy(hr).permute(2, 0, 1), 2
    )
    assert set(out) == {"psnr_y", "ssim_y", "psnr", "ssim", "mae"}


def test_known_error_gives_known_psnr_in_float_and_in_8_bits():
    hr = np.full((24, 24, 3), 0.5)
    sr = hr + 0.1  # RGB error 0.1 -> PSNR 20 dB; Y error 0.1 * 219 / 255
    m = sr_metrics(sr, hr, 2, eight_bit=False)
    assert m["psnr"] == pytest.approx(20.0, abs=1e-6)
    assert m["psnr_y"] == pytest.approx(-20 * math.log10(0.1 * 219 / 255), abs=1e-6)
    assert m["mae"] == pytest.approx(0.1)
    # 8 bits: an output of 153.4 levels is saved as 153, 25 levels from an 8-bit 128
    hr8, sr8 = np.full((24, 24, 3), 128 / 255), np.full((24, 24, 3), 153.4 / 255)
    m = sr_metrics(sr8, hr8, 2)
    assert m["psnr"] == pytest.approx(20 * math.log10(255 / 25), abs=1e-6)
    # Y as MATLAB rgb2ycbcr rounds it: 16 + 219 * 128/255 = 125.93 -> 126, 16 + 219 * 153/255
    # = 147.4 -> 147
    assert m["psnr_y"] == pytest.approx(20 * math.log10(255 / 21), abs=1e-6)


# ---------------------------------------------------------------- SR data


def _hr_folder(root, n=6, size=(64, 72), seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_image(root / "HR" / f"{i}.png", random_image(rng, *size))
    return root


def test_lr_and_hr_crops_match_after_flips(tmp_path):
    root = _hr_folder(tmp_path)
    for p in list_images(root / "HR"):  # LR files: exact 2x2 block means, stored as 8-bit
        hr = read_image(p)
        write_image(root / "LR" / p.name, hr.reshape(32, 2, 36, 2, 3).mean(axis=(1, 3)))
    dm = SRDataModule(
        scale=2,
        hr_dir=str(root / "HR"),
        lr_dir=str(root / "LR"),
        crop_size=16,
        train_samples=12,
        batch_size=12,
        split=(0.5, 0.5, 0.0),
    )
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["lq"].shape == (12, 3, 8, 8) and batch["gt"].shape == (12, 3, 16, 16)
    pooled = torch.nn.functional.avg_pool2d(batch["gt"], 2)
    torch.testing.assert_close(batch["lq"], pooled, atol=1 / 255, rtol=0)


def test_lr_of_the_wrong_size_is_named(tmp_path):
    root = _hr_folder(tmp_path, n=3)
    for p in list_images(root / "HR"):
        write_image(root / "LR" / p.name, np.zeros((32, 30, 3)))
    dm = SRDataModule(scale=2, hr_dir=str(root / "HR"), lr_dir=str(root / "LR"), crop_size=16)
    with pytest.raises(ValueError, match=r"do not match scale 2: .*LR/\d\.png is 32x30"):
        dm.setup()


def test_hr_only_mode_makes_lr_on_the_fly(tmp_path):
    root = _hr_folder(tmp_path, size=(66, 70))  # not multiples of 4: HR is cropped (modcrop)
    deg = SRDegradation("bicubic", scale=4)
    dm = SRDataModule(scale=4, hr_dir=str(root / "HR"), degradation=deg, crop_size=32, batch_size=2)
    dm.setup()
    item = dm.val_set[0]
    assert item["gt"].shape == (3, 64, 68) and item["lq"].shape == (3, 16, 17)
    hr = item["gt"].permute(1, 2, 0).numpy()
    expected = imresize((hr * 255).round().astype(np.uint8), 0.25) / 255
    np.testing.assert_allclose(item["lq"].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    assert next(iter(dm.train_dataloader()))["lq"].shape == (2, 3, 8, 8)


def test_avgpool_upsample_keeps_the_size():
    hr = random_image(np.random.default_rng(0), 32, 40)
    lr = SRDegradation("avgpool_upsample", scale=4)(hr, np.random.default_rng(0))
    assert lr.shape == hr.shape
    assert np.abs(lr - hr).mean() > 0.001
    # a 4x4-constant image survives pooling and bilinear upsampling almost untouched
    blocks = np.kron(np.random.default_rng(1).random((8, 10, 1)), np.ones((4, 4, 1))).repeat(3, 2)
    inner = SRDegradation("avgpool_upsample", scale=4)(blocks, np.random.default_rng(0))
    assert np.abs(inner - blocks)[4:-4, 4:-4].max() < 0.5


def test_degradation_is_deterministic_with_a_seed():
    hr = random_image(np.random.default_rng(0), 48, 48)
    deg = SRDegradation(
        "bicubic", 4, blur_sigma=(0.5, 2), noise_sigma=(0.01, 0.05), jpeg_quality=(40, 90)
    )
    a = deg(hr, np.random.default_rng(7))
    np.testing.assert_array_equal(a, deg(hr, np.random.default_rng(7)))
    assert not np.array_equal(a, deg(hr, np.random.default_rng(8)))
    assert a.shape == (12, 12, 3)


def test_benchmark_layout_uses_its_lr_files_for_plain_bicubic(tmp_path):
    bench = _hr_folder(tmp_path / "Set", n=2, size=(16, 16))
    for p in list_images(bench / "HR"):
        write_image(bench / "LR_x4" / p.name, np.full((4, 4, 3), 0.5))
    train = _hr_folder(tmp_path / "train", n=4)
    kwargs = {"scale": 4, "hr_dir": str(train / "HR"), "test_dir": str(bench), "crop_size": 16}
    plain = SRDataModule(degradation=SRDegradation("bicubic", 4), **kwargs)
    plain.setup()
    # the file's pixels (0.5 stored as 128/255), not LR made from HR
    assert plain.test_set[0]["lq"].unique().tolist() == [pytest.approx(128 / 255)]
    noisy = SRDataModule(degradation=SRDegradation("bicubic", 4, noise_sigma=(0.1, 0.1)), **kwargs)
    noisy.setup()
    assert len(noisy.test_set[0]["lq"].unique()) > 1


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        (
            {"scale": 4, "crop_size": 30, "degradation": SRDegradation("bicubic", 4)},
            "data.crop_size",
        ),
        ({"scale": 5, "lr_dir": "LR"}, "data.scale"),
        ({"scale": 2, "degradation": SRDegradation("bicubic", 4)}, "data.degradation.scale"),
        ({"scale": 2}, "data.lr_dir"),
    ],
)
def test_bad_sr_data_values_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        SRDataModule(**kwargs)


# ---------------------------------------------------------------- losses, EMA, two stages


def test_relativistic_average_loss_values():
    loss = RelativisticAverageLoss()
    zero = torch.zeros(4, 1)
    assert loss.discriminator_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert loss.generator_loss(zero, zero).item() == pytest.approx(math.log(2))
    real, fake = torch.full((4, 1), 5.0), torch.full((4, 1), -5.0)
    assert loss.discriminator_loss(real, fake).item() < 1e-4  # D sure and right
    assert loss.generator_loss(fake, real).item() > 5  # G caught
    # the generator learns from the real scores too (relativistic), but never moves them
    real = torch.randn(4, 1, requires_grad=True)
    fake = torch.randn(4, 1, requires_grad=True)
    loss.generator_loss(fake, real).backward()
    assert fake.grad.abs().sum() > 0 and real.grad is None
    with pytest.raises(ValueError, match="real"):
        loss.generator_loss(fake)
    with pytest.raises(ValueError, match="from_logits"):
        RelativisticAverageLoss(from_logits=False)


class _Pairs(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        hr = torch.rand(3, 16, 16, generator=g)
        return {"lq": torch.nn.functional.avg_pool2d(hr[None], 2)[0], "gt": hr, "name": str(i)}


def _sr_system(**kwargs) -> GANSystem:
    torch.manual_seed(0)
    args = {
        "generator": RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4),
        "discriminator": VGGDiscriminator(num_feat=4, num_stages=2),
        "pixel_loss": nn.L1Loss(),
        "adversarial": RelativisticAverageLoss(),
        "optimizer_g": partial(torch.optim.Adam, lr=1e-2),
        "optimizer_d": partial(torch.optim.Adam, lr=1e-2),
        "sr_scale": 2,
    }
    return GANSystem(**{**args, **kwargs})


def _fit(system, batches):
    quiet_fit(system, torch.utils.data.DataLoader(_Pairs(), batch_size=2), batches)


def test_ema_follows_the_generator_with_its_warmed_up_decay():
    system = _sr_system(ema_decay=0.999)
    snapshots = []
    original = system.generator_ema.update_parameters

    def record(model):
        snapshots.append([p.detach().clone() for p in model.parameters()])
        original(model)

    system.generator_ema.update_parameters = record
    _fit(system, batches=2)
    first, second = snapshots
    ema = list(system.generator_ema.module.parameters())
    d = min(0.999, (1 + 1) / (10 + 1))  # after one update the decay is still warming up
    for e, a, b in zip(ema, first, second, strict=True):
        torch.testing.assert_close(e, d * a + (1 - d) * b)  # the first update copies
    assert system.eval_generator is system.generator_ema.module


def test_ema_decay_warms_up_to_its_value():
    from lowlight.systems.gan import ema_with_warmup

    update = ema_with_warmup(0.999)
    for n, decay in [(0, 0.1), (90, 0.91), (100_000, 0.999)]:
        ema, new = [torch.zeros(3)], [torch.ones(3)]
        update(ema, new, torch.tensor(n))
        torch.testing.assert_close(ema[0], torch.full((3,), 1 - decay))


def test_sr_system_scores_y_and_the_bicubic_baseline():
    import lightning as L

    system = _sr_system()
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    out = trainer.test(system, torch.utils.data.DataLoader(_Pairs(), batch_size=2))[0]
    assert {"test/psnr_y", "test/ssim_y", "test/input_psnr_y"} <= set(out)


def test_generator_of_the_wrong_scale_is_a_clear_error():
    system = _sr_system(generator=RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4))
    with pytest.raises(ValueError, match="scales by 4"):
        _fit(system, batches=1)


def test_esrgan_starts_from_the_psnr_stage(psnr_checkpoint, tiny_vgg, tmp_path):
    state = torch.load(psnr_checkpoint, weights_only=True)["state_dict"]
    ema_key = "generator_ema.module.conv_first.weight"
    state[ema_key] = state[ema_key] + 1.0  # make the EMA copy distinguishable
    torch.save({"state_dict": state}, psnr_checkpoint)
    cfg = compose_cfg(
        [
            "+experiment=esrgan",
            f"system.init_checkpoint={psnr_checkpoint}",
            *perceptual_overrides(tiny_vgg),
        ]
    )
    system = instantiate(cfg.system)
    torch.testing.assert_close(system.generator.conv_first.weight, state[ema_key])
    torch.testing.assert_close(system.generator_ema.module.conv_first.weight, state[ema_key])
    assert system.loss_weights == {"pixel": 0.01, "adv": 0.005, "perceptual": 1.0, "exposure": 0.0}
    # the wrong architecture or a missing file: errors naming the key
    wrong = compose_cfg(
        [
            "+experiment=esrgan",
            f"system.init_checkpoint={psnr_checkpoint}",
            "system.generator.num_feat=16",
            "system.loss_weights.perceptual=0",
        ]
    )
    with pytest.raises(Exception, match="system.init_checkpoint"):
        instantiate(wrong.system)
    missing = compose_cfg(
        [
            "+experiment=esrgan",
            f"system.init_checkpoint={tmp_path / 'no.ckpt'}",
            "system.loss_weights.perceptual=0",
        ]
    )
    with pytest.raises(Exception, match="no such checkpoint"):
        instantiate(missing.system)


def test_perceptual_loss_needs_a_local_weights_file(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"weights_path=.*vgg19-dcbb9e9d\.pth.*perceptual=0"
    ):
        PerceptualLoss(str(tmp_path / "absent.pth")).load()
    with pytest.raises(FileNotFoundError, match="weights_path=None"):
        PerceptualLoss(None).load()
    cfg = compose_cfg(["+experiment=esrgan", "system.init_checkpoint=null"])
    with pytest.raises(Exception, match="VGG19"):
        instantiate(cfg.system)
    no_vgg = compose_cfg(
        ["+experiment=esrgan", "system.init_checkpoint=null", "system.loss_weights.perceptual=0"]
    )
    assert instantiate(no_vgg.system).perceptual_loss is None, "weight 0 removes the term"


def test_perceptual_loss_compares_features(tiny_vgg):
    loss = PerceptualLoss(str(tiny_vgg), layers={"conv1_2": 1.0}).load()
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    assert loss(x, x.detach()).item() == 0.0
    value = loss(x, torch.rand(2, 3, 16, 16))
    assert value.item() > 0
    value.backward()
    assert torch.isfinite(x.grad).all()
    assert all(p.grad is None for p in loss.parameters()), "VGG stays frozen"
    with pytest.raises(ValueError, match="perceptual_loss.layers"):
        PerceptualLoss(str(tiny_vgg), layers={"conv9_9": 1.0})


def test_checkpoints_leave_the_vgg_out_and_load_back(tiny_vgg, tmp_path):
    system = _sr_system(
        perceptual_loss=PerceptualLoss(str(tiny_vgg), layers={"conv1_2": 1.0}),
        loss_weights={"perceptual": 1.0},
    )
    checkpoint = {"state_dict": system.state_dict()}
    system.on_save_checkpoint(checkpoint)
    assert not any(k.startswith("perceptual_loss.") for k in checkpoint["state_dict"])
    system.on_load_checkpoint(checkpoint)
    system.load_state_dict(checkpoint["state_dict"])  # strict: nothing missing
