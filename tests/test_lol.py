"""LOL-v1: the block split of numbered pairs, data=lol / data=lol_pooled on the real data,
and the published Zero-DCE row reproduced from the authors' weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from conftest import SHARED_DATA, compose_cfg, tiny_lol
from lowlight.data.io import read_image, write_image
from lowlight.data.pairs import number_blocks, split_blocks

LOL = SHARED_DATA / "lowlight" / "LOL"


def _numbered_pairs(root: Path, numbers, suffix: str = ".png") -> Path:
    rng = np.random.default_rng(0)
    for n in numbers:
        high = rng.random((24, 32, 3), dtype=np.float32)
        write_image(root / "high" / f"{n}{suffix}", high)
        write_image(root / "low" / f"{n}{suffix}", 0.1 * high)
    return root


def _blocks_of(pairs, size: int = 20) -> set[int]:
    return {int(lq.stem) // size for lq, _ in pairs}


# ---------------------------------------------------------------- the block split


def test_split_blocks_keeps_every_block_in_one_part_and_meets_the_shares():
    items = list(range(500))
    blocks = [i // 20 for i in items]  # 25 blocks of 20
    train, val, test = split_blocks(items, blocks, (0.7, 0.2, 0.1), seed=3)
    assert sorted(train + val + test) == items
    owner = {}
    for part, chosen in (("train", train), ("val", val), ("test", test)):
        for i in chosen:
            assert owner.setdefault(i // 20, part) == part, f"block {i // 20} split in two"
    assert (len(val), len(test)) == (100, 60)  # whole blocks: at least the share, < 1 block over
    assert split_blocks(items, blocks, (0.7, 0.2, 0.1), seed=3) == (train, val, test)
    assert split_blocks(items, blocks, (0.7, 0.2, 0.1), seed=4) != (train, val, test)


def test_block_split_needs_numbered_names(tmp_path):
    pairs = [(tmp_path / "low" / "a.png", tmp_path / "high" / "a.png")]
    with pytest.raises(ValueError, match=r"split_by=blocks needs numbered file names.*a\.png"):
        number_blocks(pairs, 20)


def test_a_users_own_png_lol_with_all_485_numbers_splits_by_blocks(tmp_path):
    """A full LOL download (PNG, our485 + eval15) with data=lol as it stands."""
    numbers = np.random.default_rng(1).choice(np.arange(1, 790), size=60, replace=False)
    _numbered_pairs(tmp_path / "LOL" / "our485", numbers[:50])
    _numbered_pairs(tmp_path / "LOL" / "eval15", numbers[50:])
    overrides = [
        "+experiment=lol_gan",
        f"data.root={tmp_path / 'LOL'}",
        "data.augment.crop_size=16",
    ]
    dm = instantiate(compose_cfg(overrides, tmp_path / "run").data)
    dm.setup()
    assert {p.parent.parent.name for p, _ in dm.pairs["test"]} == {"eval15"}
    assert len(dm.pairs["test"]) == 10
    assert not _blocks_of(dm.pairs["train"]) & _blocks_of(dm.pairs["val"])
    assert len(dm.pairs["train"]) + len(dm.pairs["val"]) == 50


def test_the_whole_photo_budget_trains_on_uncropped_photos_of_one_shape(tmp_path):
    """budget=lol_whole (the study's `whole` stage): every training sample is the whole
    photo, never turned a quarter (a batch of 600x400 and 400x600 photos cannot stack)."""
    root = tiny_lol()
    overrides = [
        "+experiment=lol_gan",
        "budget=lol_whole",
        f"data.root={root}",
        "data.block_size=1",
    ]
    cfg = compose_cfg(overrides, tmp_path / "run")
    assert cfg.data.augment.crop_size is None and cfg.data.augment.rot90 == 0
    dm = instantiate(cfg.data)
    dm.setup()
    h, w = read_image(dm.pairs["train"][0][0]).shape[:2]
    assert h != w  # a quarter turn would show
    for _ in range(3):  # the augmentation is random: a few epochs' worth of batches
        for batch in dm.train_dataloader():
            assert batch["lq"].shape == batch["gt"].shape == (cfg.data.batch_size, 3, h, w)


def test_lol_needs_its_root(tmp_path):
    cfg = compose_cfg(["+experiment=lol_gan"], tmp_path / "run")
    with pytest.raises(Exception, match="data.root"):
        instantiate(cfg.data)


# ---------------------------------------------------------------- the real LOL


@pytest.mark.realdata
def test_data_lol_on_the_shared_copy_pairs_sizes_and_disjoint_blocks(tmp_path):
    cfg = compose_cfg(["+experiment=lol_gan_seed", f"data.root={LOL}"], tmp_path / "run")
    dm = instantiate(cfg.data, cache=False)  # headers only: the cache is not under test
    pairs = dm.resolve_pairs()
    assert len(pairs["train"]) + len(pairs["val"]) == 243  # every second our485 pair
    assert len(pairs["test"]) == 15
    assert all(lq.parent.parent.name == "eval15" for lq, _ in pairs["test"])
    assert 0.17 < len(pairs["val"]) / 243 < 0.25
    train_blocks, val_blocks = _blocks_of(pairs["train"]), _blocks_of(pairs["val"])
    assert not train_blocks & val_blocks, "a block of numbers (one scene) in train and val"
    for lq, gt in pairs["train"] + pairs["val"] + pairs["test"]:
        assert lq.name == gt.name and lq.parent.name == "low" and gt.parent.name == "high"
    dm.setup()
    batch = dm.val_set[0]
    assert batch["lq"].shape == batch["gt"].shape == (3, 400, 600)
    lq = read_image(pairs["val"][0][0])
    assert np.allclose(batch["lq"].numpy().transpose(1, 2, 0), lq)
    assert float(batch["lq"].mean()) < 0.25 < float(batch["gt"].mean())  # low is darker


@pytest.mark.realdata
def test_data_lol_pooled_is_the_original_70_20_10_of_all_pairs(tmp_path):
    cfg = compose_cfg(["+experiment=lol_gan", "data=lol_pooled", f"data.root={LOL}"], tmp_path)
    pairs = instantiate(cfg.data, cache=False).resolve_pairs()
    total = sum(len(p) for p in pairs.values())
    assert total == 243 + 15
    shares = [len(pairs[s]) / total for s in ("train", "val", "test")]
    assert shares == pytest.approx([0.7, 0.2, 0.1], abs=0.05)
    parts = [_blocks_of(pairs[s]) for s in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    sources = {lq.parent.parent.name for s in pairs.values() for lq, _ in s}
    assert sources == {"our485", "eval15"}


@pytest.mark.realdata
def test_the_published_zero_dce_row_is_reproduced_from_the_authors_weights(tmp_path):
    """LOL-v1 eval15, 8-bit outputs, no GT-mean: Zero-DCE 14.86 dB in the published table."""
    from lowlight.evaluate import main

    weights = SHARED_DATA / "weights" / "zero_dce_epoch99.pth"
    out = tmp_path / "eval"
    args = ["--data", str(LOL), "--methods", f"zero_dce={weights}", "-o", str(out), "-q"]
    assert main([*args, "--grid"]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert row[0] == "zero_dce" and int(row[1]) == 15
    assert float(row[header.index("psnr")]) == pytest.approx(14.86, abs=0.02)
    table = (out / "results.md").read_text()
    assert "| Zero-DCE (published) | 14.86 | 0.562 |" in table  # cited beside ours
    assert "| KinD (published) | 20.86 | 0.790 |" in table


BEST = Path(__file__).resolve().parents[1] / "experiments" / "lol_study" / "best"


@pytest.mark.realdata
def test_the_studys_best_model_reproduces_its_eval15_figure_through_lowlight_enhance(tmp_path):
    """The issue's command, `lowlight-enhance LOL/eval15/low -o out --model
    experiments/lol_study/best`: its saved files against eval15/high give the PSNR / SSIM
    its run measured (results.json) and the study's README states."""
    import json

    from lowlight.enhance import main as enhance
    from lowlight.metrics.image import image_scores

    def to_tensor(img):
        return torch.from_numpy(img).permute(2, 0, 1)

    out = tmp_path / "out"
    assert enhance([str(LOL / "eval15" / "low"), "-o", str(out), "--model", str(BEST), "-q"]) == 0
    psnrs, ssims = [], []
    for gt_path in sorted((LOL / "eval15" / "high").glob("*.png")):
        o = to_tensor(read_image(out / gt_path.name))[None].double()
        g = to_tensor(read_image(gt_path))[None].double()
        scores = image_scores(o, g, ("psnr", "ssim"))
        psnrs.append(float(scores["psnr"]))
        ssims.append(float(scores["ssim"]))
    assert len(psnrs) == 15
    measured = json.loads((BEST / "results.json").read_text())["test"]
    assert np.mean(psnrs) == pytest.approx(measured["test/psnr"], abs=0.02)
    assert np.mean(ssims) == pytest.approx(measured["test/ssim"], abs=0.002)
    readme = (BEST.parent / "README.md").read_text()
    assert f"{measured['test/psnr']:.2f}" in readme


def _without_added_settings(ours, theirs, where: str):
    """`ours` without the keys `theirs` lacks, each checked to sit at the default of its
    `_target_` (a setting added to a class since `theirs` was written, at the behaviour it
    had then)."""
    import inspect

    from hydra.utils import get_object

    if not (isinstance(ours, dict) and isinstance(theirs, dict)):
        return ours
    target = ours.get("_target_")
    defaults = inspect.signature(get_object(target)).parameters if target else {}
    kept = {}
    for key, value in ours.items():
        if key in theirs:
            kept[key] = _without_added_settings(value, theirs[key], f"{where}.{key}")
        else:
            assert key in defaults and defaults[key].default == value, f"{where}.{key}"
    return kept


def test_lol_iat_best_is_the_recipe_of_the_studys_model():
    """`+experiment=lol_iat_best` (the README's command for the study's recipe) composes the
    generator, losses, optimiser, EMA, schedule, augmentation, batch and seed that `best/`
    was trained with; only the epochs (100, choosing on validation, against the refit's 70)
    and the data folders (training blocks, against all of our485) differ. Settings added to
    the classes since `best/` was trained must sit at their defaults, then are left out."""
    from omegaconf import OmegaConf

    recipe = compose_cfg(["+experiment=lol_iat_best", f"data.root={LOL}"])
    model = OmegaConf.load(BEST / "config.yaml")
    for key in ("system", "data.augment", "data.batch_size", "data.color_space", "seed"):
        ours, theirs = OmegaConf.select(recipe, key), OmegaConf.select(model, key)
        if OmegaConf.is_config(ours):
            ours = OmegaConf.to_container(ours, resolve=True)
            theirs = OmegaConf.to_container(theirs, resolve=True)
        assert _without_added_settings(ours, theirs, key) == theirs, key
    assert recipe.trainer.max_epochs == 100 and model.trainer.max_epochs == 70
    assert recipe.system.pixel_loss.ssim_weight == 8.0
