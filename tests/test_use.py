"""Using trained models: `lowlight.enhance`, `lowlight.evaluate`, `lowlight.export`."""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import SHARED_DATA, compose_cfg, fake_run, make_pairs, random_image, tiny
from lowlight import baselines
from lowlight.data.io import read_image, write_image
from lowlight.enhance import main as enhance_main
from lowlight.evaluate import main as evaluate_main
from lowlight.export import export
from lowlight.inference import (
    InferenceNet,
    _spans,
    enhance_image,
    receptive_radius,
    run_tiled,
    whole_image_context,
)
from lowlight.loading import LoadedModel, load_model
from lowlight.models.dce import DCENet
from lowlight.models.generators import IlluminationAdaptiveNet, UNet
from lowlight.ops.color import to_color_space
from lowlight.train import train

ZERO_DCE = SHARED_DATA / "weights" / "zero_dce_epoch99.pth"


@pytest.fixture(scope="module")
def lle_run(tmp_path_factory):
    """A real (1-epoch, tiny) lle_gan run folder, in YCrCb to exercise the conversion."""
    out = tmp_path_factory.mktemp("runs") / "lle"
    cfg = compose_cfg([*tiny("lle_gan"), "data.color_space=ycrcb"], out)
    train(cfg)
    return out


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sr"
    return fake_run(out, ["+experiment=esrgan_psnr", "data.scale=4"])[0]


def _photos(folder, n=3, size=(40, 56), ext=".png"):
    rng = np.random.default_rng(1)
    return [write_image(folder / f"p{i}{ext}", random_image(rng, *size) * 0.3) for i in range(n)]


# ---------------------------------------------------------------- loading runs


def test_a_loaded_run_computes_what_its_system_computes(lle_run):
    model = load_model(lle_run)
    assert model.name == "lle" and model.checkpoint.suffix == ".ckpt"
    cfg = OmegaConf.load(lle_run / "config.yaml")
    system = instantiate(cfg.system)
    state = torch.load(model.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    system.load_state_dict(state)
    x = torch.rand(1, 3, 37, 45)  # not a multiple of the U-Net's 8
    torch.testing.assert_close(model.net(x), system.eval().enhance(x))
    assert cfg.system.color_space == "ycrcb"


def test_ema_weights_are_preferred(tmp_path):
    folder, system = fake_run(tmp_path / "run", ["+experiment=esrgan_psnr", "data.scale=2"])
    state = system.state_dict()
    ema = {k: v for k, v in state.items() if k.startswith("generator.")}
    state.update({k.replace("generator.", "generator_ema.module.", 1): v for k, v in ema.items()})
    state["generator_ema.module.conv_first.weight"] = torch.zeros_like(
        ema["generator.conv_first.weight"]
    )
    torch.save({"state_dict": state}, folder / "checkpoints" / "last.ckpt")
    loaded = load_model(folder)
    assert loaded.net.generator.conv_first.weight.abs().sum() == 0


def test_bad_model_specs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model not found"):
        load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_model(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a run folder"):
        load_model(tmp_path / "x.txt")


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize("net", [InferenceNet(UNet(channels=(8, 16, 32)), "ycrcb")], ids=["unet"])
def test_tiled_matches_untiled_away_from_seams(net):
    """Networks that see the whole image: blended overlapping tiles."""
    torch.manual_seed(0)
    net.eval()
    x = torch.rand(1, 3, 300, 410)
    with torch.no_grad():
        whole = net(x)
    tiled = run_tiled(net, x, tile=128, overlap=32)
    assert tiled.shape == whole.shape
    diff = (tiled - whole).abs()[0].amax(0)

    def single(length):  # positions covered by exactly one tile: away from the seams
        count = torch.zeros(length)
        for a, b in _spans(length, 128, 32, net.size_multiple):
            count[a:b] += 1
        return count == 1

    interior = single(300)[:, None] & single(410)[None, :]
    assert interior.float().mean() > 0.3
    assert diff[interior].max() <= 1 / 255
    assert diff.max() < 0.05, "on the seams the blend stays close too"


def test_tiles_of_a_global_context_unet_share_the_whole_image_summary(monkeypatch):
    """Every tile is modulated by the whole image's summary, not by its own (each tile
    would guess its own brightness), and that summary is the untiled one."""
    torch.manual_seed(0)
    gen = UNet(channels=(8, 16, 32, 32), global_context=True)
    with torch.no_grad():
        gen.global_mlp[-1].weight.normal_()
    net = InferenceNet(gen, "ycrcb").eval()
    x = torch.rand(1, 3, 300, 410)
    x[..., :150, :] *= 0.2  # tiles that differ: a dark top, a bright bottom
    with torch.no_grad():
        whole = net(x)
        padded = torch.nn.functional.pad(to_color_space(x, "ycrcb"), (0, 6, 0, 4), mode="reflect")
        summary = gen.encode(padded)[-1].mean(dim=(2, 3))
    context = whole_image_context(net, x, tile=128)
    torch.testing.assert_close(context, summary, rtol=1e-5, atol=1e-7)
    seen = []
    forward = gen.forward
    monkeypatch.setattr(
        gen, "forward", lambda t, context=None: seen.append(context) or forward(t, context)
    )
    tiled = run_tiled(net, x, tile=128, overlap=32)
    assert len(seen) == 12 and all(torch.equal(c, context) for c in seen)
    assert (tiled - whole).abs().max() < 0.05


@pytest.mark.parametrize("exposure_norm", [False, True])
def test_tiles_of_a_summarizing_generator_share_the_whole_photos_summary(exposure_norm):
    """IlluminationAdaptiveNet: its summary (colour matrix, gamma) comes from the whole
    photo's thumbnail, once, for every tile; its local branch reads 8 px around a pixel,
    which each tile carries as its halo, so the tiled output equals the untiled one. Tiles
    that summarised themselves would each get their own colour and gamma (they differ);
    with `exposure_norm`, the summary also carries the photo's level that tiles divide by."""
    torch.manual_seed(0)
    gen = IlluminationAdaptiveNet(
        dim=8, blocks=3, global_dim=8, global_size=32, exposure_norm=exposure_norm
    )
    with torch.no_grad():
        gen.global_head[-1].weight.normal_(std=0.3)
    net = InferenceNet(gen).eval()
    x = torch.rand(1, 3, 300, 410)
    x[..., :150, :] *= 0.2  # tiles that differ: a dark top, a bright bottom
    with torch.no_grad():
        whole = net(x)
        own = net(x[..., :128, :128])  # a tile with its own summary
    assert net.global_context and receptive_radius(net) == 8
    tiled = run_tiled(net, x, tile=128)
    assert (tiled - whole).abs().max() < 1e-5
    assert (own - whole[..., :128, :128]).abs().max() > 1e-3


def test_halo_tiles_equal_untiled_exactly(monkeypatch):
    """DCE-Net reads 7 px around each pixel: disjoint tiles with a 7 px halo, cropped, give
    the untiled output; with less halo they would not (so the test can fail)."""
    torch.manual_seed(0)
    net = InferenceNet(DCENet(width=8)).eval()
    assert receptive_radius(net) == 7
    x = torch.rand(1, 3, 300, 410)
    with torch.no_grad():
        whole = net(x)
    sizes = []
    orig = net.forward
    monkeypatch.setattr(net, "forward", lambda t: sizes.append(t.shape[-2:]) or orig(t))
    tiled = run_tiled(net, x, tile=128)
    assert (tiled - whole).abs().max() <= 1e-6
    assert len(sizes) == 3 * 4 and max(max(s) for s in sizes) == 128 + 2 * 7
    monkeypatch.setattr(net.generator, "receptive_radius", 4)
    short = run_tiled(net, x, tile=128)
    assert (short - whole).abs().max() > 1e-4


def test_halo_tiles_of_the_coarse_branch_equal_untiled(monkeypatch):
    """IlluminationAdaptiveNet with a coarse branch (the photo shrunk 4 times, 2 blocks)
    reads (2 * 2 + 4) * 4 = 32 px around a pixel: tiles aligned to 4 with that halo equal
    the untiled output, also on sides that are not multiples of 4; with the full-resolution
    branch's 8 px of halo they would not."""
    torch.manual_seed(0)
    gen = IlluminationAdaptiveNet(dim=8, blocks=3, global_dim=8, global_size=32, coarse_blocks=2)
    net = InferenceNet(gen).eval()
    assert receptive_radius(net) == 32 and gen.tile_multiple == 4
    x = torch.rand(1, 3, 301, 410)
    with torch.no_grad():
        whole = net(x)
    assert (run_tiled(net, x, tile=100) - whole).abs().max() <= 1e-5
    monkeypatch.setattr(gen, "receptive_radius", 8)
    assert (run_tiled(net, x, tile=100) - whole).abs().max() > 1e-4


@pytest.mark.parametrize("coarse_blocks", [0, 1])
def test_halo_tiles_of_smoothed_maps_equal_untiled(coarse_blocks, monkeypatch):
    """With `map_scale` 4 the gain and offset are averaged over 4 x 4 cells and enlarged:
    a pixel reads its maps' 8 px, rounded up to whole cells, and the neighbouring cell that
    enlarging blends in (12 px; with a 1-block coarse branch on the same grid, its 24 px and
    a cell: 28). Tiles aligned to 4 with that halo equal the untiled output; without the
    neighbouring cell they would not."""
    torch.manual_seed(0)
    gen = IlluminationAdaptiveNet(
        dim=8, blocks=3, global_dim=8, global_size=32, coarse_blocks=coarse_blocks, map_scale=4
    )
    net = InferenceNet(gen).eval()
    assert receptive_radius(net) == (28 if coarse_blocks else 12) and gen.tile_multiple == 4
    x = torch.rand(1, 3, 301, 410)
    with torch.no_grad():
        whole = net(x)
    assert (run_tiled(net, x, tile=100) - whole).abs().max() <= 1e-5
    if not coarse_blocks:
        monkeypatch.setattr(gen, "receptive_radius", 8)
        assert (run_tiled(net, x, tile=100) - whole).abs().max() > 1e-5


@pytest.mark.parametrize("coarse_blocks", [0, 1])
def test_halo_tiles_with_the_detail_restored_equal_untiled(coarse_blocks, monkeypatch):
    """With `detail_strength`, a pixel also reads the gain's box and the box of the detail's
    energy (2 x 3 px here: 8 + 6 = 14; with a 1-block coarse branch, 24 + 6 rounded up to
    the grid of 4: 32), and every tile gets the whole photo's noise std: tiles with that
    halo equal the untiled output; without the boxes' halo they would not (shown without the
    coarse branch, whose bound of 24 px is loose enough to cover the boxes)."""
    torch.manual_seed(0)
    gen = IlluminationAdaptiveNet(
        dim=8,
        blocks=3,
        global_dim=8,
        global_size=32,
        coarse_blocks=coarse_blocks,
        detail_strength=4.0,
        detail_radius=3,
    )
    net = InferenceNet(gen).eval()
    assert receptive_radius(net) == (32 if coarse_blocks else 14)
    rows, cols = torch.arange(301.0)[:, None], torch.arange(410.0)[None, :]
    texture = torch.sin(rows / 3) * torch.sin(cols / 4) * torch.linspace(0.05, 0.2, 410)
    x = (0.3 + texture).expand(1, 3, 301, 410)  # clean texture: the detail is put back
    with torch.no_grad():
        whole = net(x)
    assert (run_tiled(net, x, tile=100) - whole).abs().max() <= 1e-5
    if not coarse_blocks:  # (the coarse branch's 24 px are a loose bound: 24 alone pass)
        monkeypatch.setattr(gen, "receptive_radius", 8)
        assert (run_tiled(net, x, tile=100) - whole).abs().max() > 1e-5


def test_halo_tiles_of_a_downscaled_estimate_equal_untiled(monkeypatch):
    """Zero-DCE++ estimates its curve on the image shrunk s times: tiles aligned to s with
    (depth + 2) * s px of halo equal the untiled output, also on sides that are not
    multiples of s."""
    torch.manual_seed(0)
    dce = DCENet(width=8, separable=True, shared_curve=True, scale_factor=4)
    net = InferenceNet(dce).eval()
    assert receptive_radius(net) == (7 + 2) * 4
    x = torch.rand(1, 3, 301, 410)
    with torch.no_grad():
        whole = net(x)
    assert (run_tiled(net, x, tile=102) - whole).abs().max() <= 1e-6  # tiles of 100
    monkeypatch.setattr(dce, "tile_multiple", 1)  # tiles off the grid of 4: not the same
    assert (run_tiled(net, x, tile=102) - whole).abs().max() > 1e-3


def test_bf16_inference_stays_close_to_float32():
    torch.manual_seed(0)
    model = type("M", (), {"net": InferenceNet(DCENet(width=8)).eval()})()
    x = torch.rand(3, 64, 80) * 0.3
    exact, fast = enhance_image([model], x), enhance_image([model], x, bf16=True)
    assert fast.dtype == torch.float32
    assert 0 < (fast - exact).abs().max() < 0.01  # bfloat16 ran, and stays close
    with pytest.raises(ValueError, match="exclude each other"):
        enhance_image([model], x, half=True, bf16=True, device="cuda")


def test_auto_tiling_kicks_in_for_large_images(monkeypatch):
    calls = []
    net = InferenceNet(DCENet(width=4)).eval()
    orig = net.forward
    monkeypatch.setattr(net, "forward", lambda x: calls.append(tuple(x.shape)) or orig(x))
    model = type("M", (), {"net": net})()
    enhance_image([model], torch.rand(3, 1100, 1000), tile=-1)
    assert max(c[-1] for c in calls) == 512 + 7 and len(calls) > 4  # a tile and its halo
    calls.clear()
    enhance_image([model], torch.rand(3, 100, 120), tile=-1)
    assert calls == [(1, 3, 100, 120)]
    calls.clear()  # exact halo tiles: used above 512 px already (same output, less memory)
    enhance_image([model], torch.rand(3, 700, 600), tile=-1)
    assert len(calls) == 4
    unet = InferenceNet(UNet(channels=(4, 8))).eval()
    seen = []
    unet.register_forward_hook(lambda _m, i, _o: seen.append(tuple(i[0].shape)))
    enhance_image([type("M", (), {"net": unet})()], torch.rand(3, 700, 600), tile=-1)
    assert seen == [(1, 3, 700, 600)]  # blended tiles only above 1 MP


# ---------------------------------------------------------------- enhance


def test_enhance_files_folders_and_globs(lle_run, tmp_path):
    photos = _photos(tmp_path / "in")
    extra = _photos(tmp_path / "more", n=2, ext=".jpg")
    out = tmp_path / "out"
    args = [str(photos[0]), str(tmp_path / "more"), str(tmp_path / "in" / "p[12].png")]
    assert enhance_main([*args, "-o", str(out), "--model", str(lle_run), "-q"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["p0.jpg", "p0.png", "p1.jpg", "p1.png", "p2.png"]
    for src in [*photos, *extra]:
        assert read_image(out / src.name).shape == read_image(src).shape
    # the same again: nothing overwritten without --overwrite
    before = (out / "p0.png").stat().st_mtime_ns
    assert enhance_main([str(photos[0]), "-o", str(out), "--model", str(lle_run), "-q"]) == 0
    assert (out / "p0.png").stat().st_mtime_ns == before
    assert (
        enhance_main([str(photos[0]), "-o", str(out), "-m", str(lle_run), "-q", "--overwrite"]) == 0
    )
    assert (out / "p0.png").stat().st_mtime_ns != before


def test_enhance_reports_progress_in_log_lines_when_not_in_a_terminal(lle_run, tmp_path, caplog):
    src = tmp_path / "in"
    rng = np.random.default_rng(2)
    for i in range(12):
        write_image(src / f"{i:02d}.png", random_image(rng, 24, 32) * 0.3)
    with caplog.at_level(logging.INFO, logger="lowlight.enhance"):
        assert enhance_main([str(src), "-o", str(tmp_path / "out"), "--model", str(lle_run)]) == 0
    lines = [r.getMessage().split(" (")[0] for r in caplog.records if "images (" in r.getMessage()]
    assert lines == ["enhance: 10/12 images", "enhance: 12/12 images"]


def test_enhance_reports_the_tiles_of_a_large_photo(lle_run, tmp_path, caplog):
    """A photo run in tiles is not silent: the last tile is always logged (and one line every
    10 s before it), as the progress bar shows `NAME: tile k/n` in a terminal."""
    write_image(tmp_path / "big.png", random_image(np.random.default_rng(3), 160, 200) * 0.3)
    args = [str(tmp_path / "big.png"), "-o", str(tmp_path / "out"), "--model", str(lle_run)]
    with caplog.at_level(logging.INFO, logger="lowlight.enhance"):
        assert enhance_main([*args, "--tile", "64"]) == 0
    tiles = [r.getMessage() for r in caplog.records if " tile " in r.getMessage()]
    assert tiles and re.search(r"enhance: big\.png tile (\d+)/\1, \d+ s$", tiles[-1]), tiles


def test_enhance_with_the_self_ensemble(lle_run, tmp_path):
    (photo,) = _photos(tmp_path / "in", n=1)
    out = tmp_path / "out"
    assert (
        enhance_main([str(photo), "-o", str(out), "-m", str(lle_run), "-q", "--self-ensemble"]) == 0
    )
    img = torch.from_numpy(read_image(photo)).permute(2, 0, 1)
    model = load_model(lle_run)
    expected = enhance_image([model], img, ensemble=True).permute(1, 2, 0).numpy()
    got = read_image(out / photo.name)
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6, "the x8 mean, saved in 8 bits"
    plain = enhance_image([model], img).permute(1, 2, 0).numpy()
    assert np.abs(got - plain).max() > 1 / 255, "not the plain output"


def test_enhance_a_broken_file_does_not_stop_the_others(lle_run, tmp_path, capsys):
    photos = _photos(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "out"
    code = enhance_main([str(tmp_path / "in"), "-o", str(out), "--model", str(lle_run), "-q"])
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in photos)
    assert "broken.png" in capsys.readouterr().err


def test_enhance_16_bit_in_and_out_and_exif(lle_run, tmp_path):
    import cv2
    from PIL import Image

    img16 = (random_image(np.random.default_rng(0), 32, 48) * 20000).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), img16)
    rotated = Image.fromarray(
        (random_image(np.random.default_rng(1), 24, 40) * 80).astype(np.uint8)
    )
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    rotated.save(tmp_path / "turned.jpg", exif=exif)
    out = tmp_path / "out"
    args = [str(tmp_path / "deep.png"), str(tmp_path / "turned.jpg"), "-o", str(out)]
    assert enhance_main([*args, "-m", str(lle_run), "--format", "png", "--bits", "16", "-q"]) == 0
    assert cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert read_image(out / "turned.png").shape[:2] == (40, 24), "EXIF orientation applied"


def test_chain_enhances_then_super_resolves(lle_run, sr_run, tmp_path):
    (photo,) = _photos(tmp_path / "in", n=1, size=(20, 26))
    out = tmp_path / "out"
    assert (
        enhance_main([str(photo), "-o", str(out), "--chain", str(lle_run), str(sr_run), "-q"]) == 0
    )
    assert read_image(out / "p0.png").shape == (80, 104, 3)


def test_enhance_refuses_bad_requests(lle_run, tmp_path, capsys):
    _photos(tmp_path / "a", n=1)
    _photos(tmp_path / "b", n=1)
    out = str(tmp_path / "out")
    assert (
        enhance_main([str(tmp_path / "a"), str(tmp_path / "b"), "-o", out, "-m", str(lle_run)]) == 2
    )
    assert "both be written" in capsys.readouterr().err
    assert enhance_main([str(tmp_path / "nope.png"), "-o", out, "-m", str(lle_run)]) == 2
    assert "input not found" in capsys.readouterr().err
    assert (
        enhance_main(
            [str(tmp_path / "a"), "-o", out, "-m", str(lle_run), "--half", "--device", "cpu"]
        )
        == 1
    )
    assert "--half needs a CUDA device" in capsys.readouterr().err


@pytest.mark.realdata
def test_enhance_with_the_authors_zero_dce_weights(tmp_path):
    src = SHARED_DATA / "lowlight" / "LIME" / "3.bmp"
    out = tmp_path / "out"
    assert (
        enhance_main(
            [str(src), "-o", str(out), "--model", str(ZERO_DCE), "--arch", "zero_dce", "-q"]
        )
        == 0
    )
    assert read_image(out / "3.bmp").mean() > read_image(src).mean() + 0.05


# ---------------------------------------------------------------- baselines and evaluate


def test_every_baseline_runs_and_stays_in_range():
    x = torch.rand(3, 24, 32) * 0.4
    for name, fn in baselines.LLE_BASELINES.items():
        y = fn(x)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, name
    torch.testing.assert_close(
        baselines.gamma(torch.full((3, 2, 2), 0.25), 2.0), torch.full((3, 2, 2), 0.5)
    )
    assert baselines.hist_eq(x)[2].max() > 0.9 > x.max(), "equalization stretches V to the top"
    for name, fn in baselines.SR_BASELINES.items():
        y = fn(x, 3)
        assert y.shape == (3, 72, 96) and y.min() >= 0 and y.max() <= 1, name


def _read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_evaluate_known_answers(tmp_path):
    """identity on low == high scores infinite PSNR; a uniform 0.2 offset scores 13.98 dB."""
    make_pairs(tmp_path / "same", n=2, size=(32, 40))
    for p in (tmp_path / "same" / "high").iterdir():  # low := high
        write_image(tmp_path / "same" / "low" / p.name, read_image(p))
    assert (
        evaluate_main(
            [
                "--data",
                str(tmp_path / "same"),
                "--methods",
                "identity",
                "-o",
                str(tmp_path / "e1"),
                "-q",
            ]
        )
        == 0
    )
    (row,) = _read_csv(tmp_path / "e1" / "results.csv")
    assert math.isinf(float(row["psnr"])) and float(row["ssim"]) == pytest.approx(1.0)

    rng = np.random.default_rng(0)
    for i in range(3):
        high = np.round(random_image(rng, 32, 40) * 0.7 * 255) / 255
        write_image(tmp_path / "off" / "high" / f"{i}.png", high)
        write_image(tmp_path / "off" / "low" / f"{i}.png", high + 51 / 255)
    out = tmp_path / "e2"
    code = evaluate_main(
        [
            "--low",
            str(tmp_path / "off" / "low"),
            "--high",
            str(tmp_path / "off" / "high"),
            "--methods",
            "identity",
            "gamma",
            "hist_eq",
            "clahe",
            "autocontrast",
            "-o",
            str(out),
            "--grid",
            "1",
            "--gt-mean",
            "-q",
        ]
    )
    assert code == 0
    rows = {r["method"]: r for r in _read_csv(out / "results.csv")}
    assert float(rows["identity"]["psnr"]) == pytest.approx(10 * math.log10(1 / 0.2**2), abs=1e-3)
    assert float(rows["identity"]["mae"]) == pytest.approx(0.2, abs=1e-4)
    assert "psnr (GT-mean)" in rows["identity"]
    assert set(rows) == {"identity", "gamma", "hist_eq", "clahe", "autocontrast"}
    assert len(_read_csv(out / "per_image.csv")) == 5 * 3
    assert (out / "grids" / "1.png").is_file() and not (out / "grids" / "0.png").exists()
    table = (out / "results.md").read_text()
    assert "| identity | 3 | 13.98 |" in table and "ms/MP" in table


def test_evaluate_reads_ahead_reports_progress_in_logs_and_scoring_time(tmp_path, caplog):
    """Output to a file: a progress line every 10 images (no bar); images read by worker
    processes, a broken one named and left out; float32 scores equal float64 ones to 1e-5;
    results.md says how long scoring took."""
    make_pairs(tmp_path / "d", n=12, size=(40, 48))
    (tmp_path / "d" / "low" / "05.png").write_bytes(b"not a png")
    runs = {}
    for dtype in ("float32", "float64"):
        out = tmp_path / dtype
        args = ["--data", str(tmp_path / "d"), "--methods", "identity", "gamma", "-o", str(out)]
        args += ["--workers", "2"] + (["--score-float64"] if dtype == "float64" else [])
        with caplog.at_level(logging.INFO, logger="lowlight.evaluate"):
            assert evaluate_main(args) == 1  # 05 left out
        runs[dtype] = {(r["image"], r["method"]): r for r in _read_csv(out / "per_image.csv")}
    lines = [r.getMessage() for r in caplog.records if "images (" in r.getMessage()]
    assert [line.split(" (")[0] for line in lines[:2]] == [
        "evaluate: 10/12 images",
        "evaluate: 12/12 images",
    ]
    assert any("05" in r.getMessage() and "left out" in r.getMessage() for r in caplog.records)
    assert len(runs["float32"]) == 2 * 11
    for key, row in runs["float32"].items():
        for metric in ("psnr", "ssim", "mae"):
            assert float(row[metric]) == pytest.approx(
                float(runs["float64"][key][metric]), abs=1e-5
            )
    table = (tmp_path / "float32" / "results.md").read_text()
    assert re.search(r"scoring took \d+\.\d s of \d+\.\d s \(\d+%\)", table)
    assert "PSNR/SSIM/MAE in float32" in table
    assert "float32" not in (tmp_path / "float64" / "results.md").read_text()


def test_evaluate_sr_with_a_run_and_baselines(sr_run, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(tmp_path / "hr" / f"{i}.png", random_image(rng, 48, 64))
    out = tmp_path / "e"
    code = evaluate_main(
        [
            "--hr",
            str(tmp_path / "hr"),
            "--scale",
            "4",
            "--methods",
            "bicubic",
            "nearest",
            f"mine={sr_run}",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    rows = {r["method"]: r for r in _read_csv(out / "results.csv")}
    assert {"psnr_y", "ssim_y", "psnr", "ssim", "mae"} <= set(rows["mine"])
    assert float(rows["bicubic"]["psnr_y"]) > float(rows["nearest"]["psnr_y"])
    assert int(rows["mine"]["params"]) > 0 and float(rows["mine"]["GMAC/MP"]) > 0
    assert rows["bicubic"]["params"] == "0"


def test_evaluate_save_images_writes_every_output_that_was_scored(lle_run, tmp_path, capsys):
    make_pairs(tmp_path / "pairs", n=3, size=(32, 40))
    out = tmp_path / "e"
    methods = ["identity", "gamma", f"mine (x)={lle_run}"]
    args = ["--data", str(tmp_path / "pairs"), "--methods", *methods, "-o", str(out), "-q"]
    assert evaluate_main([*args, "--save-images", "--grid"]) == 0
    assert "wrote 9 image(s) under" in capsys.readouterr().out
    folders = sorted(p.name for p in (out / "images").iterdir())
    assert folders == ["gamma", "identity", "mine_x"]
    for row in _read_csv(out / "per_image.csv"):
        folder = {"mine (x)": "mine_x"}.get(row["method"], row["method"])
        saved = read_image(out / "images" / folder / f"{row['image']}.png")
        high = read_image(tmp_path / "pairs" / "high" / f"{row['image']}.png")
        mse = np.mean((np.rint(saved * 255) - np.rint(high * 255)) ** 2)
        assert float(row["psnr"]) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-3)
    # --overwrite replaces them; without --save-images none are left behind
    assert evaluate_main([*args, "--overwrite", "--grid"]) == 0
    assert not (out / "images").exists() or not any((out / "images").rglob("*.png"))


def test_evaluate_same_size_sr_with_the_brief_degradation(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(tmp_path / "hr" / f"{i}.png", random_image(rng, 32, 48))
    folder, _ = fake_run(
        tmp_path / "srgan", ["+experiment=sr_gan", "system.generator.widths=[8,8]"]
    )
    out = tmp_path / "e"
    base = ["--hr", str(tmp_path / "hr"), "--scale", "2", "--degradation", "avgpool_upsample"]
    assert (
        evaluate_main([*base, "--methods", "identity", f"srgan={folder}", "-o", str(out), "-q"])
        == 0
    )
    rows = {r["method"]: r for r in _read_csv(out / "results.csv")}
    assert 15 < float(rows["identity"]["psnr_y"]) < 60 and "psnr_y" in rows["srgan"]
    assert evaluate_main([*base, "--methods", "bicubic", "-q"]) == 2, (
        "the input is HR-sized already"
    )


def test_evaluate_unpaired_reports_labelled_proxies(lle_run, tmp_path):
    _photos(tmp_path / "dark", n=2)
    out = tmp_path / "e"
    assert (
        evaluate_main(
            [
                "--data",
                str(tmp_path / "dark"),
                "--methods",
                "gamma",
                str(lle_run),
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    header = (out / "results.md").read_text()
    assert "psnr_autocontrast (proxy)" in header and "exposure_error (proxy)" in header
    assert "not fidelity" in header


def test_evaluate_errors_name_the_problem(tmp_path, capsys):
    make_pairs(tmp_path / "p", n=2)
    assert evaluate_main(["--data", str(tmp_path / "p"), "--methods", "bicubik", "-q"]) == 2
    assert "bicubik" in capsys.readouterr().err
    assert evaluate_main(["--data", str(tmp_path / "nowhere"), "-q"]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "sr" / "HR").mkdir(parents=True)
    assert evaluate_main(["--data", str(tmp_path / "sr"), "-q"]) == 2
    assert "pass --scale" in capsys.readouterr().err


# ---------------------------------------------------------------- export

GENERATORS = {
    "unet": ["+experiment=lle_gan", "system.generator.channels=[8,16,32]"],
    "unet_ycrcb": [
        "+experiment=lle_gan",
        "system.generator.channels=[8,16]",
        "data.color_space=ycrcb",
    ],
    "seed_unet": ["+experiment=lle_gan_seed", "system.generator.widths=[8,16,16]"],
    "srcnn": ["+experiment=sr_gan", "system.generator.widths=[8,8]"],
    "rrdbnet": [
        "+experiment=esrgan_psnr",
        "data.scale=2",
        "system.generator.num_feat=8",
        "system.generator.num_block=1",
        "system.generator.num_grow_ch=4",
    ],
    "dce_net": ["+experiment=dce_net", "system.generator.width=8"],
    "iat": [  # its whole-photo thumbnail must follow the input's size in the exported graph
        "+experiment=lol_iat",
        "data.root=LOL",
        "system.generator.dim=8",
        "system.generator.global_dim=8",
        "system.generator.global_size=16",
    ],
    "iat_detail": [  # and the detail restore: reflected boxes, the noise std in the summary
        "+experiment=lol_iat",
        "data.root=LOL",
        "system.generator.dim=8",
        "system.generator.global_dim=8",
        "system.generator.global_size=16",
        "system.generator.detail_strength=4.0",
        "system.generator.detail_radius=4",
    ],
    "zero_dce_pp": [
        "+experiment=zero_dce_pp",
        "system.generator.width=8",
        "system.generator.scale_factor=4",
    ],
}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_export_matches_pytorch_at_another_size(name, fmt, tmp_path):
    folder, _ = fake_run(tmp_path / name, GENERATORS[name])
    done = export(folder, fmt)
    assert done["path"].is_file() and done["path"].parent == folder / "export"
    assert done["max_abs_diff_vs_pytorch"] is not None and done["max_abs_diff_vs_pytorch"] < 1e-4
    # and independently here, at yet another size
    from lowlight.export import run_onnx, run_torchscript

    net = load_model(folder).net
    x = torch.rand(1, 3, 40, 57)
    run = run_onnx if fmt == "onnx" else run_torchscript
    with torch.no_grad():
        torch.testing.assert_close(run(done["path"], x), net(x), atol=1e-4, rtol=0)


def test_an_onnx_file_copied_alone_still_runs_and_the_cli_lists_every_file(
    tmp_path, monkeypatch, capsys
):
    import shutil

    from lowlight.export import main as export_main
    from lowlight.export import run_onnx

    folder, _ = fake_run(tmp_path / "run", GENERATORS["rrdbnet"])
    assert export_main([str(folder)]) == 0
    printed = capsys.readouterr().out
    done = json.loads((folder / "export" / "model.onnx.json").read_text())
    assert done["files"] == ["model.onnx", "model.onnx.json"], "weights inside the .onnx"
    listed = sorted(p.name for p in (folder / "export").iterdir())
    assert listed == ["model.onnx", "model.onnx.json"]
    for name in done["files"]:
        assert f"wrote {folder / 'export' / name}" in printed
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(folder / "export" / "model.onnx", alone / "model.onnx")
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        expected = load_model(folder).net(x)
    torch.testing.assert_close(run_onnx(alone / "model.onnx", x), expected, atol=1e-4, rtol=0)
    # a model that is not a run folder goes to export/ under the current folder
    monkeypatch.chdir(tmp_path)
    checkpoint = folder / "checkpoints" / "last.ckpt"
    from lowlight.export import default_output

    assert default_output(tmp_path / "weights.pth", "onnx") == Path("export") / "weights.onnx"
    assert default_output(checkpoint, "onnx") == folder / "export" / "last.onnx"


@pytest.mark.realdata
def test_export_the_authors_zero_dce(tmp_path):
    done = export(ZERO_DCE, "onnx", tmp_path / "zero_dce.onnx", arch="zero_dce")
    assert done["parameters"] == 79416 and done["max_abs_diff_vs_pytorch"] < 1e-4


def test_evaluate_reads_the_lol_layout(tmp_path):
    make_pairs(tmp_path / "LOL" / "our485", n=3)
    make_pairs(tmp_path / "LOL" / "eval15", n=2)
    out = tmp_path / "e"
    assert (
        evaluate_main(
            ["--data", str(tmp_path / "LOL"), "--methods", "identity", "-o", str(out), "-q"]
        )
        == 0
    )
    assert "eval15" in (out / "results.md").read_text()
    assert len(_read_csv(out / "per_image.csv")) == 2, "eval15 is scored, our485 is not"


@pytest.mark.realdata
def test_evaluate_set5_bicubic_matches_the_literature(tmp_path):
    out = tmp_path / "e"
    data = ["--data", str(SHARED_DATA / "sr" / "Set5"), "--scale", "4"]
    assert (
        evaluate_main([*data, "--methods", "bicubic", "bicubic_y", "-o", str(out), "-q", "--grid"])
        == 0
    )
    rows = {r["method"]: r for r in _read_csv(out / "results.csv")}
    # the published row's own protocol reproduces it to the printed digits
    assert float(rows["bicubic_y"]["psnr_y"]) == pytest.approx(28.42, abs=0.01)
    assert float(rows["bicubic_y"]["ssim_y"]) == pytest.approx(0.8104, abs=0.0005)
    assert rows["bicubic_y"]["psnr"] == "", "Y only: no RGB scores"
    # the LR files' bicubic upscale, what models are compared with
    assert float(rows["bicubic"]["psnr_y"]) == pytest.approx(28.42, abs=0.01)
    assert float(rows["bicubic"]["ssim_y"]) == pytest.approx(0.8104, abs=0.0005)
    assert not (out / "grids").exists(), "--grid with no names draws none"


def test_evaluate_self_ensemble_is_labelled_and_averages_eight_views(sr_run, tmp_path):
    from lowlight.inference import enhance_image
    from lowlight.metrics import sr_metrics

    rng = np.random.default_rng(0)
    hr = random_image(rng, 48, 64)
    write_image(tmp_path / "hr" / "0.png", hr)
    base = ["--hr", str(tmp_path / "hr"), "--scale", "4", "--methods", f"mine={sr_run}", "-q"]
    assert evaluate_main([*base, "-o", str(tmp_path / "one")]) == 0
    assert evaluate_main([*base, "--self-ensemble", "-o", str(tmp_path / "x8")]) == 0
    (one,) = _read_csv(tmp_path / "one" / "results.csv")
    (x8,) = _read_csv(tmp_path / "x8" / "results.csv")
    assert x8["method"] == "mine+x8" and one["method"] == "mine"
    assert float(x8["GMAC/MP"]) == pytest.approx(8 * float(one["GMAC/MP"]), rel=0.01)
    from lowlight.data import SRDegradation

    hr = read_image(tmp_path / "hr" / "0.png")  # the LR as evaluate makes it
    lr = torch.from_numpy(SRDegradation("bicubic", 4)(hr, np.random.default_rng(0)))
    lr = lr.permute(2, 0, 1).contiguous()
    model = load_model(sr_run)
    expected = sr_metrics(enhance_image([model], lr, ensemble=True), hr, 4)
    assert float(x8["psnr_y"]) == pytest.approx(expected["psnr_y"], abs=1e-3)
    assert float(x8["psnr_y"]) != pytest.approx(float(one["psnr_y"]), abs=1e-3)


@pytest.mark.realdata
def test_evaluate_the_authors_zero_dce_on_lime(tmp_path):
    out = tmp_path / "e"
    (tmp_path / "lime").mkdir()
    for name in ("4.bmp", "6.bmp"):  # the two smallest: seconds, not a minute
        (tmp_path / "lime" / name).symlink_to(SHARED_DATA / "lowlight" / "LIME" / name)
    args = ["--data", str(tmp_path / "lime"), "--methods", "identity", str(ZERO_DCE)]
    assert evaluate_main([*args, "-o", str(out), "-q", "--grid", "6"]) == 0
    rows = {r["method"]: r for r in _read_csv(out / "results.csv")}
    assert (
        float(rows["zero_dce"]["brightness (proxy)"])
        > float(rows["identity"]["brightness (proxy)"]) + 0.1
    )
    assert rows["zero_dce"]["params"] == "79416" and float(rows["zero_dce"]["GMAC/MP"]) > 70
    assert (out / "grids" / "6.png").is_file()


def test_progress_counts_the_tiles_of_a_large_image():
    """`progress(done, total)` after each tile (the API's callback; enhance's progress line)."""
    torch.manual_seed(0)
    net = InferenceNet(UNet(channels=[4, 8], global_context=True)).eval()
    model = LoadedModel("tiny", net, Path("tiny"))
    calls = []
    x = torch.rand(3, 200, 260)
    enhance_image([model], x, tile=96, progress=lambda done, total: calls.append((done, total)))
    total = calls[-1][1]
    assert calls == [(i, total) for i in range(1, total + 1)], calls
    assert total > 6  # 3 x 3 output tiles, and the whole-image summary's tiles before them
    calls.clear()
    enhance_image([model], x, tile=0, progress=lambda *a: calls.append(a))
    assert calls == [], "an untiled image reports no tiles"
