"""Pairing, splitting, augmentation, synthesis and bad input."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

from conftest import make_pairs, random_image
from lowlight.data import (
    ImageReadError,
    LowLightDegradation,
    PairAugment,
    PairedImageDataModule,
    SyntheticLowLightDataModule,
    write_image,
)
from lowlight.data.pairs import find_pairs, split_items
from lowlight.ops.color import rgb_to_ycrcb, srgb_to_linear, ycrcb_to_rgb

# ---------------------------------------------------------------- pairing and splitting


def test_pairs_match_by_stem_across_extensions(tmp_path):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "low" / "a.png", random_image(rng, 8, 8))
    write_image(tmp_path / "high" / "a.jpg", random_image(rng, 8, 8))
    write_image(tmp_path / "low" / "b.png", random_image(rng, 8, 8))
    write_image(tmp_path / "high" / "b.png", random_image(rng, 8, 8))
    pairs = find_pairs(tmp_path / "low", tmp_path / "high")
    assert [(p.name, q.name) for p, q in pairs] == [("a.png", "a.jpg"), ("b.png", "b.png")]


def test_missing_partner_is_named(pair_dir, caplog):
    (pair_dir / "high" / "03.png").unlink()
    with pytest.raises(ValueError, match=r"low/03\.png"):
        find_pairs(pair_dir / "low", pair_dir / "high")
    with caplog.at_level(logging.WARNING):
        pairs = find_pairs(pair_dir / "low", pair_dir / "high", skip_unpaired=True)
    assert len(pairs) == 9 and "03.png" in caplog.text


def test_split_is_deterministic_and_follows_the_ratios():
    items = list(range(10))
    a = split_items(items, (0.7, 0.2, 0.1), seed=3)
    assert a == split_items(items, (0.7, 0.2, 0.1), seed=3)
    assert [len(p) for p in a] == [7, 2, 1]
    assert sorted(a[0] + a[1] + a[2]) == items
    assert a != split_items(items, (0.7, 0.2, 0.1), seed=4)


@pytest.mark.parametrize("ratios", [(0.5, 0.2, 0.1), (0.7, 0.4, -0.1), (0.0, 0.5, 0.5), (1.0, 0.0)])
def test_bad_split_ratios_name_the_key(ratios):
    with pytest.raises(ValueError, match="data.split"):
        split_items(list(range(10)), ratios, seed=0)


def test_datamodule_splits_one_folder_70_20_10(pair_dir):
    dm = PairedImageDataModule(root=str(pair_dir), augment=PairAugment(crop_size=16))
    dm.setup()
    sizes = {k: len(v) for k, v in dm.pairs.items()}
    assert sizes == {"train": 7, "val": 2, "test": 1}
    again = PairedImageDataModule(root=str(pair_dir), augment=PairAugment(crop_size=16))
    again.setup()
    assert again.pairs == dm.pairs, "the same split on every run"


def test_lol_layout_uses_eval15_for_test(tmp_path):
    make_pairs(tmp_path / "LOL" / "our485", n=9)
    make_pairs(tmp_path / "LOL" / "eval15", n=3, seed=1)
    dm = PairedImageDataModule(root=str(tmp_path / "LOL"))
    dm.setup()
    assert all("eval15" in str(p) for p, _ in dm.pairs["test"])
    assert len(dm.pairs["test"]) == 3
    assert len(dm.pairs["train"]) + len(dm.pairs["val"]) == 9
    assert len(dm.pairs["val"]) == 2  # 0.2 / (0.7 + 0.2) of 9
    batch = next(iter(dm.test_dataloader()))
    assert set(batch) == {"lq", "gt", "name"} and batch["lq"].shape == (1, 3, 48, 40)


def test_root_without_a_known_layout(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(FileNotFoundError, match="low/"):
        PairedImageDataModule(root=str(tmp_path / "photos")).setup()
    with pytest.raises(ValueError, match="data.root"):
        PairedImageDataModule()


# ---------------------------------------------------------------- augmentation


def test_augmentation_is_identical_for_both_images():
    rng = np.random.default_rng(0)
    gt = random_image(rng, 64, 64)
    lq = 0.25 * gt  # different pixels; any joint geometric transform keeps lq == gt / 4
    aug = PairAugment(crop_size=32, affine_p=1.0, rotate=20, hflip=0.5, vflip=0.5, rot90=0.5)
    aug.set_seed(1)
    changed = 0
    for _ in range(10):
        a, b = aug(lq, gt)
        assert a.shape == b.shape == (32, 32, 3)
        np.testing.assert_allclose(a, 0.25 * b, atol=1e-5)
        changed += not np.allclose(b, gt[:32, :32])
    assert changed > 0, "the augmentation did something"


def test_input_only_jitter_leaves_the_target_alone():
    rng = np.random.default_rng(0)
    gt = random_image(rng, 32, 32)
    plain = PairAugment(crop_size=None, affine_p=0, hflip=0, vflip=0, rot90=0)
    jitter = PairAugment(crop_size=None, affine_p=0, hflip=0, vflip=0, rot90=0, jitter_p=1.0)
    jitter.set_seed(0)
    lq, out_gt = jitter(gt.copy(), gt.copy())
    np.testing.assert_array_equal(out_gt, gt)
    assert not np.allclose(lq, gt)
    assert np.array_equal(plain(gt, gt)[0], gt)


def test_augmentation_is_reproducible_with_a_seed():
    gt = random_image(np.random.default_rng(0), 64, 64)
    a, b = PairAugment(crop_size=24, affine_p=1.0), PairAugment(crop_size=24, affine_p=1.0)
    a.set_seed(7)
    b.set_seed(7)
    np.testing.assert_array_equal(a(gt, gt)[1], b(gt, gt)[1])


def test_bad_augment_values_name_the_key():
    with pytest.raises(ValueError, match="augment.hflip"):
        PairAugment(hflip=1.5)
    with pytest.raises(ValueError, match="augment.scale"):
        PairAugment(scale=(1.2, 0.8))


def test_training_batches_from_folders(pair_dir):
    dm = PairedImageDataModule(root=str(pair_dir), augment=PairAugment(crop_size=16), batch_size=3)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["lq"].shape == batch["gt"].shape == (3, 3, 16, 16)
    assert batch["lq"].dtype == torch.float32 and 0 <= batch["lq"].min() <= batch["lq"].max() <= 1
    # low = 0.2 * high on disk survives augmentation (up to 8-bit rounding of both files)
    torch.testing.assert_close(batch["lq"], 0.2 * batch["gt"], atol=2 / 255, rtol=0)


# ---------------------------------------------------------------- bad input


def test_corrupt_image_is_named_at_setup(pair_dir):
    (pair_dir / "low" / "04.png").write_bytes(b"garbage")
    dm = PairedImageDataModule(root=str(pair_dir))
    with pytest.raises(ImageReadError, match=r"04\.png"):
        dm.setup()
    skipping = PairedImageDataModule(root=str(pair_dir), skip_invalid=True)
    skipping.setup()
    assert sum(len(v) for v in skipping.pairs.values()) == 9


def test_corrupt_pixels_found_in_a_worker_name_the_file(pair_dir):
    (pair_dir / "high" / "05.png").unlink()
    path = write_image(pair_dir / "high" / "05.jpg", random_image(np.random.default_rng(5), 48, 40))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header (size) still reads; the pixels do not
    dm = PairedImageDataModule(
        train_dir=str(pair_dir), val_dir=str(pair_dir), num_workers=1, batch_size=10
    )
    dm.setup()
    with pytest.raises(ImageReadError, match=r"05\.jpg"):
        next(iter(dm.train_dataloader()))


def test_image_smaller_than_the_crop(pair_dir):
    write_image(pair_dir / "low" / "00.png", np.zeros((12, 12, 3)))
    write_image(pair_dir / "high" / "00.png", np.zeros((12, 12, 3)))
    dirs = {"train_dir": str(pair_dir), "val_dir": str(pair_dir)}  # 00 is a training pair
    dm = PairedImageDataModule(**dirs, augment=PairAugment(crop_size=32))
    with pytest.raises(
        ImageReadError, match=r"00\.png.*smaller than the crop size 32.*pad_if_smaller"
    ):
        dm.setup()
    padded = PairedImageDataModule(
        **dirs, augment=PairAugment(crop_size=32, pad_if_smaller=True), batch_size=10
    )
    padded.setup()
    assert next(iter(padded.train_dataloader()))["lq"].shape[-2:] == (32, 32)


def test_pair_of_different_sizes(pair_dir):
    write_image(pair_dir / "high" / "02.png", np.zeros((30, 30, 3)))
    with pytest.raises(ImageReadError, match=r"pair sizes differ.*02\.png"):
        PairedImageDataModule(root=str(pair_dir)).setup()


def test_grayscale_rgba_and_16bit_files_train_like_rgb(pair_dir):
    gray = (np.random.default_rng(1).random((48, 40)) * 255).astype(np.uint8)
    cv2.imwrite(str(pair_dir / "low" / "01.png"), gray)
    cv2.imwrite(str(pair_dir / "high" / "01.png"), np.dstack([gray] * 3 + [gray]))  # BGRA
    cv2.imwrite(str(pair_dir / "low" / "02.png"), np.full((48, 40, 3), 4000, dtype=np.uint16))
    dm = PairedImageDataModule(train_dir=str(pair_dir), val_dir=str(pair_dir), batch_size=10)
    dm.setup()
    names = [b["name"] for b in dm.val_set]
    item = dm.val_set[names.index("01")]
    assert item["lq"].shape == item["gt"].shape == (3, 48, 40)
    torch.testing.assert_close(item["lq"], item["gt"])
    deep = dm.val_set[names.index("02")]["lq"]
    assert deep.max().item() == pytest.approx(4000 / 65535, abs=1e-6)


# ---------------------------------------------------------------- synthetic pairs


def test_degradation_is_darker_noisy_and_seeded():
    img = random_image(np.random.default_rng(0), 32, 32) * 0.8 + 0.1
    deg = LowLightDegradation()
    a = deg(img, np.random.default_rng(1))
    b = deg(img, np.random.default_rng(1))
    c = deg(img, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.mean() < 0.6 * img.mean()
    assert np.allclose(a * 255, np.round(a * 255), atol=1e-3), "quantized to 8 bits"
    flat = deg(np.full((64, 64, 3), 0.5, np.float32), np.random.default_rng(3))
    assert flat.std() > 0, "shot/read noise present"


def test_degradation_without_noise_is_an_exposure_cut():
    img = np.full((4, 4, 3), 0.5, np.float32)
    deg = LowLightDegradation(exposure=(0.25, 0.25), photons=(1e9, 1e9), read_noise=(0, 0))
    out = deg(img, np.random.default_rng(0))
    # sRGB 0.5 -> linear 0.2140 -> x0.25 = 0.0535 -> sRGB 0.2551 (quantized)
    assert out[0, 0, 0] == pytest.approx(round(0.2551 * 255) / 255, abs=1 / 255)


def test_uneven_illumination_is_a_smooth_field_from_the_full_cut_to_the_drawn_drop():
    """`illumination`: a flat grey photo, noise-free, comes out lit unevenly: its brightest
    part gets exactly the plain exposure cut (the field reaches 1), its darkest at most
    exp(-illumination) of that in linear light, smoothly in between (no step between
    neighbours larger than a few levels), and the field differs from image to image."""
    img = np.full((96, 128, 3), 0.5, np.float32)
    kw = {"exposure": (0.5, 0.5), "photons": (1e9, 1e9), "read_noise": (0, 0)}
    plain = LowLightDegradation(**kw)(img, np.random.default_rng(0))
    uneven = LowLightDegradation(**kw, illumination=2.3)
    a = uneven(img, np.random.default_rng(0))
    b = uneven(img, np.random.default_rng(1))
    assert a.max() == pytest.approx(plain.max(), abs=1 / 255)
    lin = srgb_to_linear(a.astype(np.float64))
    assert lin.min() >= srgb_to_linear(np.float64(plain.max())) * np.exp(-2.3) - 2e-3
    assert a.max() - a.min() > 0.05  # uneven
    assert np.abs(np.diff(a, axis=0)).max() < 4 / 255 and np.abs(np.diff(a, axis=1)).max() < 4 / 255
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="degradation.illumination"):
        LowLightDegradation(illumination=-1)


def test_bad_degradation_values_name_the_key():
    with pytest.raises(ValueError, match="degradation.exposure"):
        LowLightDegradation(exposure=(0.5, 0.1))
    with pytest.raises(ValueError, match="degradation.bits"):
        LowLightDegradation(bits=12)


def _synthetic(crop: int, **kwargs) -> SyntheticLowLightDataModule:
    """Synthetic pairs with `crop`-sized training and evaluation crops."""
    return SyntheticLowLightDataModule(
        LowLightDegradation(), PairAugment(crop_size=crop), eval_crop=crop, **kwargs
    )


def _find_crop(image: np.ndarray, crop: np.ndarray) -> tuple[int, int] | None:
    """Where `crop` lies in `image` (exactly), or None."""
    c = crop.shape[0]
    rows = np.lib.stride_tricks.sliding_window_view(image, (c, 3), axis=(1, 2))[..., 0, :, :]
    for y, x in zip(*np.nonzero((rows == crop[0]).all(axis=(-1, -2))), strict=True):
        if y + c <= image.shape[0] and np.array_equal(image[y : y + c, x : x + c], crop):
            return int(y), int(x)
    return None


def test_bundled_photos_hold_out_a_region_of_every_photo():
    from lowlight.data.io import read_image
    from lowlight.data.synthetic import bundled_photos

    dm = _synthetic(
        24, train_samples=6, val_samples=5, test_samples=10, batch_size=3, eval_batch_size=3
    )
    dm.setup()
    photos = bundled_photos()
    assert not any("ihc" in p.name for p in photos), "no microscopy slide among the photos"
    assert [r.path for r in dm.photos["test"]] == photos, "every photo has a test region"
    for train, val, test in zip(*(dm.photos[k] for k in ("train", "val", "test")), strict=True):
        # bands side by side along the longer side: train | val | test, no overlap
        assert train.path == val.path == test.path
        assert (
            train.right <= val.left
            and val.right <= test.left
            or (train.bottom <= val.top and val.bottom <= test.top)
        )
    for i in range(10):  # each test pair is cut from its photo's test band, photos in turn
        region = dm.photos["test"][i % len(photos)]
        band = read_image(region.path)[region.top : region.bottom, region.left : region.right]
        gt = dm.test_set[i]["gt"].permute(1, 2, 0).numpy()
        assert _find_crop(band, gt) is not None, f"test pair {i} is not inside {region}"
    batch = next(iter(dm.train_dataloader()))
    assert batch["lq"].shape == (3, 3, 24, 24)
    assert (batch["lq"].mean(dim=(1, 2, 3)) < batch["gt"].mean(dim=(1, 2, 3))).all()
    other = _synthetic(24, test_samples=3)
    other.setup()
    for i in range(3):
        torch.testing.assert_close(dm.test_set[i]["lq"], other.test_set[i]["lq"])


def test_bundled_photos_split_by_photo_hold_out_whole_photos():
    dm = _synthetic(24, split_by="photos", train_samples=4, batch_size=2)
    dm.setup()
    train, val, test = (set(dm.photos[k]) for k in ("train", "val", "test"))
    assert train and val and test and not (train & test) and not (train & val)
    with pytest.raises(ValueError, match="data.split_by must be one of"):
        _synthetic(24, split_by="pixels")


def test_synthetic_data_from_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        write_image(tmp_path / "photos" / f"p{i}.jpg", random_image(rng, 40, 50))
    write_image(tmp_path / "photos" / "tiny.png", random_image(rng, 10, 10))
    kwargs = {"source_dir": str(tmp_path / "photos"), "train_samples": 4, "batch_size": 2}
    with pytest.raises(ImageReadError, match=r"p0\.jpg is 40x50: too small.*split_by=photos"):
        _synthetic(32, skip_invalid=True, split_by="regions", **kwargs).setup()
    auto = _synthetic(32, skip_invalid=True, **kwargs)  # too small for bands: whole photos
    auto.setup()
    assert [len(auto.photos[k]) for k in ("train", "val", "test")] == [3, 1, 1]
    kwargs["split_by"] = "photos"
    with pytest.raises(ImageReadError, match=r"tiny\.png.*skip_invalid"):
        _synthetic(32, **kwargs).setup()
    dm = _synthetic(32, skip_invalid=True, **kwargs)
    dm.setup()
    assert sum(len(v) for v in dm.photos.values()) == 5
    assert next(iter(dm.train_dataloader()))["gt"].shape == (2, 3, 32, 32)


def test_training_pairs_repeat_with_the_seed_and_vary_by_epoch():
    def first_batches(seed):
        torch.manual_seed(seed)
        dm = _synthetic(16, train_samples=4, batch_size=4)
        dm.setup()
        loader = dm.train_dataloader()
        batches = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)  # as Lightning does at every epoch start
            batches.append(next(iter(loader))["lq"])
        return batches

    a, b = first_batches(0), first_batches(0)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    assert not torch.equal(a[0], a[1]), "a new epoch draws new pairs"
    assert not torch.equal(first_batches(1)[0], a[0]), "another run seed draws other pairs"


@pytest.mark.realdata
def test_synthetic_pairs_from_sice(tmp_path):
    from conftest import SHARED_DATA

    dm = SyntheticLowLightDataModule(
        LowLightDegradation(),
        PairAugment(crop_size=64),
        source_dir=str(SHARED_DATA / "lowlight" / "SICE_train_512"),
        max_photos=20,
        eval_crop=64,
        train_samples=4,
        batch_size=4,
    )
    dm.setup()
    assert [len(dm.photos[k]) for k in ("train", "val", "test")] == [14, 4, 2]
    assert next(iter(dm.train_dataloader()))["lq"].shape == (4, 3, 64, 64)


# ---------------------------------------------------------------- colour space


def test_ycrcb_matches_opencv_and_round_trips():
    rgb = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    ours = rgb_to_ycrcb(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    # JFIF (ITU-T T.871) full-range matrix, rows Y, Cr, Cb
    jfif = np.array(
        [[0.299, 0.587, 0.114], [0.5, -0.418688, -0.081312], [-0.168736, -0.331264, 0.5]]
    )
    np.testing.assert_allclose(ours, rgb @ jfif.T + [0, 0.5, 0.5], atol=1e-5)
    # OpenCV rounds the chroma factors to 0.713 / 0.564
    np.testing.assert_allclose(ours, cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb), atol=5e-4)
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(ycrcb_to_rgb(rgb_to_ycrcb(x)), x, atol=1e-5, rtol=0)


def test_resize_gives_whole_images_at_one_size_like_the_zero_dce_loader():
    aug = PairAugment(crop_size=None, resize=32, affine_p=0.0)
    img = np.random.default_rng(0).random((64, 48, 3)).astype(np.float32)
    out, _ = aug.geometric(img)
    assert out.shape == (32, 32, 3) and aug.min_side is None
    flat = np.full((64, 48, 3), 0.25, np.float32)
    assert np.allclose(aug.geometric(flat)[0], 0.25, atol=1e-6), "area resampling keeps levels"
    assert PairAugment(crop_size=16, resize=32).min_side is None
    with pytest.raises(ValueError, match="augment.crop_size 64 is larger than augment.resize"):
        PairAugment(crop_size=64, resize=32)
    with pytest.raises(ValueError, match="augment.resize"):
        PairAugment(resize=0)
