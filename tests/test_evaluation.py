"""Evaluation that reports like papers: several datasets in one command, the SelfExSR layout,
8-bit vs float scoring labelled, the x8 self-ensemble, NIQE and LPIPS from local files."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pytest
import torch
import torchvision

from conftest import SHARED_DATA, make_pairs, random_image
from lowlight.data.io import read_image, write_image
from lowlight.data.sr import SRDataset
from lowlight.evaluate import _parser, resolve_dataset
from lowlight.evaluate import main as evaluate_main
from lowlight.inference import self_ensemble
from lowlight.metrics import sr_metrics
from lowlight.metrics.lpips import load_lpips, lpips
from lowlight.metrics.niqe import _aggd, load_niqe_model, niqe, niqe_of_y
from lowlight.ops import imresize

NIQE_MODEL = SHARED_DATA / "niqe" / "niqe_pris_params.npz"


def _rows(path):
    with path.open() as f:
        return {r["method"]: r for r in csv.DictReader(f)}


# ---------------------------------------------------------------- several datasets


def test_several_datasets_get_a_table_each_and_a_summary(tmp_path, capsys):
    make_pairs(tmp_path / "A", n=2, size=(32, 40), seed=0)
    make_pairs(tmp_path / "B", n=3, size=(32, 40), seed=1)
    out = tmp_path / "e"
    args = ["--data", str(tmp_path / "A"), str(tmp_path / "B"), "-o", str(out), "-q"]
    assert evaluate_main([*args, "--methods", "identity", "gamma"]) == 0
    a, b = _rows(out / "A" / "results.csv"), _rows(out / "B" / "results.csv")
    assert a["identity"]["images"] == "2" and b["identity"]["images"] == "3"
    summary = _rows(out / "summary.csv")
    assert set(summary) == {"identity", "gamma"}
    assert float(summary["gamma"]["A psnr"]) == pytest.approx(float(a["gamma"]["psnr"]))
    assert float(summary["gamma"]["B ssim"]) == pytest.approx(float(b["gamma"]["ssim"]))
    assert "| method | A psnr | A ssim | B psnr | B ssim |" in (out / "summary.md").read_text()
    # a second run refuses to replace them
    assert evaluate_main([*args, "--methods", "identity"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert evaluate_main([*args, "--methods", "identity", "--overwrite"]) == 0


def test_two_datasets_with_one_name_are_refused(tmp_path, capsys):
    make_pairs(tmp_path / "x" / "Set", n=1, size=(32, 40))
    make_pairs(tmp_path / "y" / "Set", n=1, size=(32, 40))
    data = ["--data", str(tmp_path / "x" / "Set"), str(tmp_path / "y" / "Set")]
    assert evaluate_main([*data, "-o", str(tmp_path / "e"), "-q"]) == 2
    assert "share a name" in capsys.readouterr().err


def _selfexsr(root, scale, n=2):
    """root/image_SRF_<scale>/img_00N_SRF_<scale>_{HR,LR}.png with MATLAB-bicubic LR."""
    rng = np.random.default_rng(0)
    folder = root / f"image_SRF_{scale}"
    for i in range(1, n + 1):
        hr = np.round(random_image(rng, 12 * scale, 16 * scale) * 255).astype(np.uint8)
        write_image(folder / f"img_{i:03d}_SRF_{scale}_HR.png", hr.astype(np.float32) / 255)
        write_image(folder / f"img_{i:03d}_SRF_{scale}_LR.png", imresize(hr, 1 / scale) / 255.0)
    return folder


def test_the_selfexsr_layout_is_read_and_scored_like_any_benchmark(tmp_path, capsys):
    folder = _selfexsr(tmp_path / "Set14", 2)
    out = tmp_path / "e"
    args = ["--data", str(tmp_path / "Set14"), "--scale", "2", "--methods", "bicubic"]
    assert evaluate_main([*args, "-o", str(out), "-q"]) == 0
    row = _rows(out / "results.csv")["bicubic"]
    assert row["images"] == "2"
    expected = []
    for i in (1, 2):
        lr = torch.from_numpy(read_image(folder / f"img_{i:03d}_SRF_2_LR.png")).permute(2, 0, 1)
        hr = read_image(folder / f"img_{i:03d}_SRF_2_HR.png")
        expected.append(sr_metrics(imresize(lr.double(), 2), hr, 2)["psnr_y"])
    assert float(row["psnr_y"]) == pytest.approx(np.mean(expected), abs=1e-6)
    names = {r["image"] for r in csv.DictReader((out / "per_image.csv").open())}
    assert names == {"img_001", "img_002"}
    (folder / "img_002_SRF_2_LR.png").unlink()  # a missing partner is named
    assert evaluate_main([*args, "-o", str(tmp_path / "e2"), "-q"]) == 2
    assert "img_002_SRF_2_HR.png has no LR partner" in capsys.readouterr().err


def test_evaluate_reads_through_the_datamodules_dataset(tmp_path, caplog):
    """evaluate loads SR images with SRDataset, the class of the SR DataModule's val and
    test sets: an LR file of the wrong size is left out naming it, the others are scored
    under their benchmark names, and the tensors equal the DataModule's."""
    folder = _selfexsr(tmp_path / "Set14", 2, n=3)
    write_image(folder / "img_002_SRF_2_LR.png", np.zeros((11, 16, 3)))
    out = tmp_path / "e"
    args = ["--data", str(tmp_path / "Set14"), "--scale", "2", "--methods", "bicubic"]
    with caplog.at_level("ERROR", logger="lowlight.evaluate"):
        assert (
            evaluate_main([*args, "-o", str(out), "-q"]) == 1
        )  # an image left out: exit 1, the tables still written
    names = {r["image"] for r in csv.DictReader((out / "per_image.csv").open())}
    assert names == {"img_001", "img_003"}
    errors = [r.getMessage() for r in caplog.records]
    assert any("img_002" in m and "img_002_SRF_2_LR.png is 11x16" in m for m in errors), errors

    dataset = resolve_dataset(_parser().parse_args(args), args[1])
    assert isinstance(dataset.source, SRDataset)
    pairs = [(folder / "img_001_SRF_2_LR.png", folder / "img_001_SRF_2_HR.png")]
    sample, item = dataset.load(0), SRDataset(pairs, 2)[0]
    assert sample.name == "img_001"
    torch.testing.assert_close(sample.lq, item["lq"])
    torch.testing.assert_close(sample.gt, item["gt"])


# ---------------------------------------------------------------- 8-bit vs float


def test_float_scoring_is_asked_for_and_labelled(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        high = np.round(random_image(rng, 32, 40) * 200) / 255
        write_image(tmp_path / "p" / "high" / f"{i}.png", high)
        write_image(tmp_path / "p" / "low" / f"{i}.png", high)
    base = ["--data", str(tmp_path / "p"), "--methods", "gamma", "-q"]
    assert evaluate_main([*base, "-o", str(tmp_path / "int")]) == 0
    assert evaluate_main([*base, "--float-scores", "-o", str(tmp_path / "flt")]) == 0
    eight, floats = _rows(tmp_path / "int" / "results.csv"), _rows(tmp_path / "flt" / "results.csv")
    assert "psnr" in eight["gamma"] and "psnr [float]" in floats["gamma"]
    assert "FLOAT outputs" in (tmp_path / "flt" / "results.md").read_text()
    assert "rounded to 8 bits" in (tmp_path / "int" / "results.md").read_text()
    # gamma's output falls between grey levels: rounding it changes the score
    assert float(eight["gamma"]["psnr"]) != pytest.approx(float(floats["gamma"]["psnr [float]"]))


# ---------------------------------------------------------------- self-ensemble


def test_self_ensemble_averages_the_eight_flips_and_turns():
    x = torch.rand(1, 3, 6, 6)
    torch.testing.assert_close(self_ensemble(lambda t: t * 2, x), x * 2)
    corner = torch.zeros(1, 3, 6, 6)
    corner[..., 0, 0] = 1.0  # a method that marks the top-left pixel of what it is given

    out = self_ensemble(lambda t: t + corner, x)
    # each of the 8 views puts the mark on one of the four corners, twice each
    expected = x.clone()
    for i, j in ((0, 0), (0, 5), (5, 0), (5, 5)):
        expected[..., i, j] += 0.25
    torch.testing.assert_close(out, expected)
    # a vertical flip seen through the 8 views is a vertical flip in 4 of them and a
    # horizontal one in the other 4 (turned images come back the right way round)
    wide = torch.rand(1, 3, 4, 7)
    expected = (wide.flip(-2) + wide.flip(-1)) / 2
    torch.testing.assert_close(self_ensemble(lambda t: t.flip(-2), wide), expected)


# ---------------------------------------------------------------- NIQE


@pytest.mark.realdata
def test_niqe_reproduces_matlab_on_baboon():
    rgb = torch.from_numpy(read_image(SHARED_DATA / "niqe" / "baboon.png")).permute(2, 0, 1)
    assert niqe(rgb, load_niqe_model(NIQE_MODEL)) == pytest.approx(5.72957338, abs=0.01)


@pytest.mark.parametrize(
    ("sampler", "shape", "scale"), [("normal", 2.0, math.sqrt(2)), ("laplace", 1.0, 1.0)]
)
def test_the_aggd_fit_recovers_known_distributions(sampler, shape, scale):
    """NIQE's distribution fit on samples of known shape: a Gaussian (shape 2, scale
    sigma * sqrt(2)) and a Laplacian (shape 1, scale b)."""
    x = getattr(np.random.default_rng(0), sampler)(0.0, 1.0, 400_000)
    got_shape, left, right = _aggd(x)
    assert got_shape == pytest.approx(shape, abs=0.02)
    assert left == pytest.approx(scale, rel=0.02) and right == pytest.approx(scale, rel=0.02)


def test_the_aggd_fit_of_a_one_sided_block_is_nan_on_the_empty_side():
    """MATLAB's `mean([])` is NaN: a side without values gets a NaN scale and the shape
    falls to the table's first (0.2), so the block drops out of the covariance."""
    shape, left, right = _aggd(np.array([0.5, 1.0, 2.0, 0.0]))
    assert shape == pytest.approx(0.2) and math.isnan(left) and right > 0
    shape, left, right = _aggd(np.zeros(16))
    assert shape == pytest.approx(0.2) and math.isnan(left) and math.isnan(right)


@pytest.mark.realdata
def test_niqe_leaves_flat_blocks_out_as_matlab_does():
    """DICM 53 has flat (clipped) blocks. BasicSR's port of MATLAB's algorithm (nanmean,
    nancov), run once on the same Y channel with the same MATLAB-style resize, gives
    5.60547; keeping the flat blocks in the covariance, as this module did until
    2026-12-05, gave 5.44. No warning reaches the user."""
    rgb = torch.from_numpy(read_image(SHARED_DATA / "lowlight" / "DICM" / "53.jpg"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = niqe(rgb.permute(2, 0, 1), load_niqe_model(NIQE_MODEL))
    assert got == pytest.approx(5.60547, abs=1e-4)


def test_niqe_without_its_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="niqe_pris_params.npz.*nothing is downloaded"):
        load_niqe_model(tmp_path / "niqe_pris_params.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="lacks cov_pris_param.*not a NIQE model"):
        load_niqe_model(tmp_path / "other.npz")
    model = {"gaussian_window": np.ones((7, 7)) / 49}
    with pytest.raises(ValueError, match="at least 96x96 pixels, got 100x50"):
        niqe_of_y(np.zeros((50, 100)), model)
    # two blocks, one of them flat: no covariance can be fitted
    y = np.zeros((96, 192))
    y[:, :96] = np.random.default_rng(0).uniform(0, 255, (96, 96))
    with pytest.raises(ValueError, match="undefined.*1 of its 2 96x96 blocks have texture"):
        niqe_of_y(y, model)


@pytest.mark.realdata
def test_evaluate_reports_niqe_as_a_labelled_no_reference_column(tmp_path, capsys):
    (tmp_path / "lime").mkdir()
    (tmp_path / "lime" / "4.bmp").symlink_to(SHARED_DATA / "lowlight" / "LIME" / "4.bmp")
    out = tmp_path / "e"
    args = ["--data", str(tmp_path / "lime"), "--methods", "identity", "-o", str(out), "-q"]
    assert evaluate_main([*args, "--niqe", str(NIQE_MODEL)]) == 0
    row = _rows(out / "results.csv")["identity"]
    img = torch.from_numpy(read_image(tmp_path / "lime" / "4.bmp")).permute(2, 0, 1)
    assert float(row["niqe (no-ref)"]) == pytest.approx(niqe(img, load_niqe_model(NIQE_MODEL)))
    assert "NIQE: no-reference, lower is better" in (out / "results.md").read_text()
    missing = ["--niqe", str(tmp_path / "none.npz"), "--overwrite"]
    assert evaluate_main([*args, *missing]) == 2
    assert "none.npz not found" in capsys.readouterr().err


# ---------------------------------------------------------------- LPIPS


@pytest.fixture
def alexnet_file(tmp_path):
    """A torchvision AlexNet state dict (random weights: the real one is a user's file)."""
    torch.manual_seed(0)
    path = tmp_path / "alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return path


def test_lpips_reads_its_backbone_from_a_local_file(alexnet_file, tmp_path):
    model = load_lpips(alexnet_file)
    state = torch.load(alexnet_file, weights_only=True)
    assert torch.equal(model.net.slice2[1].weight, state["features.3.weight"])
    x = torch.rand(2, 3, 64, 64)
    assert lpips(model, x, x).tolist() == [0.0, 0.0]
    assert (lpips(model, x, torch.rand(2, 3, 64, 64)) > 0).all()
    with pytest.raises(FileNotFoundError, match="alexnet weights on disk.*nothing is downloaded"):
        load_lpips(tmp_path / "none.pth")
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), tmp_path / "vgg.pth")
    with pytest.raises(ValueError, match="not a torchvision alexnet state dict"):
        load_lpips(tmp_path / "vgg.pth")


def test_evaluate_reports_lpips_against_the_reference(alexnet_file, tmp_path):
    make_pairs(tmp_path / "p", n=2, size=(64, 64))
    out = tmp_path / "e"
    args = ["--data", str(tmp_path / "p"), "--methods", "identity", "-o", str(out), "-q"]
    assert evaluate_main([*args, "--lpips", str(alexnet_file)]) == 0
    row = _rows(out / "results.csv")["identity"]
    model = load_lpips(alexnet_file)
    expected = []
    for i in range(2):
        low, high = (
            torch.from_numpy(read_image(tmp_path / "p" / d / f"{i:02d}.png")).permute(2, 0, 1)[None]
            for d in ("low", "high")
        )
        expected.append(lpips(model, low.double(), high.double()).item())
    assert float(row["lpips"]) == pytest.approx(np.mean(expected), abs=1e-5)


def test_unpaired_scores_count_the_pixels_a_method_drives_to_white(tmp_path):
    """A dark photo with 1/10 of its pixels at 200 and the rest at 20: autocontrast stretches
    200 to 255 and adds 10 percentage points of white. The same photo with 1/20 already at
    255: autocontrast keeps those (not counted: the input's own) and leaves 200 below white.
    The table keeps the worst photo."""
    folder = tmp_path / "dark"
    folder.mkdir()
    a = np.full((40, 50, 3), 20, np.uint8)
    a[:4] = 200
    b = a.copy()
    b[4:6] = 255
    write_image(folder / "a.png", a / 255.0)
    write_image(folder / "b.png", b / 255.0)
    out = tmp_path / "e"
    assert (
        evaluate_main(
            ["--data", str(folder), "--methods", "identity", "autocontrast", "-o", str(out), "-q"]
        )
        == 0
    )
    with (out / "per_image.csv").open() as f:
        per_image = {(r["method"], r["image"]): r for r in csv.DictReader(f)}
    key = "white_added_pp (proxy)"
    assert float(per_image["identity", "a"][key]) == 0 == float(per_image["identity", "b"][key])
    assert float(per_image["autocontrast", "a"][key]) == pytest.approx(10.0)
    assert float(per_image["autocontrast", "b"][key]) == 0
    rows = _rows(out / "results.csv")
    assert float(rows["autocontrast"][f"max {key}"]) == pytest.approx(10.0)
