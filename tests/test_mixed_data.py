"""Training on real and synthetic pairs at once: data=lol_mixed (MixedPairsDataModule)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from conftest import SHARED_DATA, compose_cfg, make_pairs, random_image, tiny_lol
from lowlight.data import (
    LowLightDegradation,
    MixedPairsDataModule,
    PairAugment,
    PairedImageDataModule,
    SyntheticLowLightDataModule,
    write_image,
)
from lowlight.data.mixed import SOURCE_STRIDE, ConcatPairs
from lowlight.data.sampling import SampleKey


def _photos(folder, n=5):
    rng = np.random.default_rng(3)
    for i in range(n):
        write_image(folder / f"p{i}.png", random_image(rng, 48, 48))
    return folder


def _sources(tmp_path, crop=32, synthetic_crop=None):
    paired = PairedImageDataModule(
        root=str(make_pairs(tmp_path / "pairs")), augment=PairAugment(crop_size=crop)
    )
    synthetic = SyntheticLowLightDataModule(
        LowLightDegradation(exposure=(0.5, 0.5)),  # a cut unlike the pairs' 0.2
        PairAugment(crop_size=synthetic_crop or crop),
        source_dir=str(_photos(tmp_path / "photos")),
        eval_crop=crop,
        train_samples=6,
        split_by="photos",
    )
    return {"real": paired, "synthetic": synthetic}


def test_an_epoch_holds_every_real_pair_and_the_synthetic_samples_and_evaluates_on_one(tmp_path):
    sources = _sources(tmp_path)
    dm = MixedPairsDataModule(sources, evaluate_on="real", batch_size=13)
    dm.setup()
    assert len(dm.train_set) == 7 + 6  # 70% of the 10 real pairs, then 6 synthetic
    assert len(dm.val_set) == 2 and len(dm.test_set) == 1  # the real pairs' 20% and 10%
    assert dm.val_set[1]["name"] == sources["real"].val_set[1]["name"]
    torch.testing.assert_close(dm.test_set[0]["gt"], sources["real"].test_set[0]["gt"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["gt"].shape == (13, 3, 32, 32)
    # the real pairs' inputs are 0.2 x their targets, the synthetic ones about 0.5 in linear
    # light (0.73 in sRGB): tell the two apart by the brightness ratio
    ratio = batch["lq"].mean(dim=(1, 2, 3)) / batch["gt"].mean(dim=(1, 2, 3))
    real = ratio < 0.35
    assert int(real.sum()) == 7 and bool((ratio[~real] > 0.5).all())
    names = sorted(n for n, r in zip(batch["name"], real.tolist(), strict=True) if r)
    assert names == sorted(lq.stem for lq, _ in sources["real"].pairs["train"])


def test_evaluation_pairs_are_cut_to_eval_crop_and_counted_by_val_and_test_samples(tmp_path):
    sources = _sources(tmp_path)
    dm = MixedPairsDataModule(sources, "real", eval_crop=16, val_samples=1, test_samples=5)
    dm.setup()
    assert len(dm.val_set) == 1 and len(dm.test_set) == 1  # 5 asked, 1 there
    whole = sources["real"].val_set[0]["gt"]  # 48 high, 40 wide (make_pairs)
    torch.testing.assert_close(dm.val_set[0]["gt"], whole[:, 16:32, 12:28])
    with pytest.raises(IndexError, match="index 1 outside 1 pairs"):
        dm.val_set[1]


def test_a_training_key_reaches_the_dataset_that_holds_it_with_its_own_index(tmp_path):
    sources = _sources(tmp_path)
    for s in sources.values():
        s.setup()
    concat = ConcatPairs([sources["real"].train_set, sources["synthetic"].train_set])
    key = SampleKey(seed=4, epoch=2, index=9)  # the synthetic set's index 2, its own seed
    own = SampleKey(4 + SOURCE_STRIDE, 2, 2)
    torch.testing.assert_close(concat[key]["lq"], sources["synthetic"].train_set[own]["lq"])
    real = concat[SampleKey(4, 2, 2)]  # the real set's index 2 keeps the run's seed
    torch.testing.assert_close(real["lq"], sources["real"].train_set[SampleKey(4, 2, 2)]["lq"])
    torch.testing.assert_close(concat[key]["lq"], concat[key]["lq"])  # same key, same pair
    assert not torch.equal(concat[key]["lq"], concat[key._replace(epoch=3)]["lq"])
    assert concat[3]["name"] == sources["real"].train_set[3]["name"]
    with pytest.raises(IndexError, match="index 13 outside 13 pairs"):
        concat[13]


def test_bad_mixes_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="data.sources is empty"):
        MixedPairsDataModule({}, evaluate_on="real")
    with pytest.raises(ValueError, match=r"data.evaluate_on='lol' is not one of data.sources"):
        MixedPairsDataModule(_sources(tmp_path), evaluate_on="lol")
    with pytest.raises(ValueError, match=r"crop_size.*'real': 32, 'synthetic': 48"):
        MixedPairsDataModule(_sources(tmp_path, synthetic_crop=48), evaluate_on="real")
    with pytest.raises(ValueError, match="data.val_samples must be >= 1 or null, got 0"):
        MixedPairsDataModule(_sources(tmp_path), evaluate_on="real", val_samples=0)
    shared = PairAugment(crop_size=24)
    dm = MixedPairsDataModule(_sources(tmp_path, synthetic_crop=48), "real", augment=shared)
    assert all(s.augment is shared for s in dm.sources.values())
    with pytest.raises(ValueError, match="data.sources.real.color_space='rgb' differs"):
        MixedPairsDataModule(_sources(tmp_path), evaluate_on="real", color_space="ycrcb")


def test_data_lol_mixed_composes_and_asks_for_its_photo_folder(tmp_path):
    lol = tiny_lol()
    base = ["+experiment=lol_iat", "data=lol_mixed", f"data.sources.lol.root={lol}"]
    base += ["data.sources.lol.block_size=1", "data.sources.synthetic.train_samples=3"]
    cfg = compose_cfg([*base, "data.augment.crop_size=32"], tmp_path / "run")
    with pytest.raises(Exception, match="data.sources.synthetic.source_dir"):
        instantiate(cfg.data)
    photos = f"data.sources.synthetic.source_dir={_photos(tmp_path / 'photos')}"
    over = [*base, "data.augment.crop_size=32", photos, "data.sources.synthetic.eval_crop=32"]
    over += ["data.eval_crop=24"]
    dm = instantiate(compose_cfg(over, tmp_path / "run").data)
    assert dm.sources["synthetic"].augment is dm.sources["lol"].augment  # data.augment
    assert dm.sources["lol"].augment.crop_size == 32
    dm.setup()
    assert len(dm.train_set) == 5 + 3 and len(dm.val_set) == 1  # tiny LOL: 6 pairs
    assert dm.val_set[0]["gt"].shape[-2:] == (24, 24)


@pytest.mark.realdata
def test_data_lol_mixed_on_the_shared_copies(tmp_path):
    over = [
        "+experiment=lol_iat",
        "data=lol_mixed",
        f"data.sources.lol.root={SHARED_DATA / 'lowlight' / 'LOL'}",
        f"data.sources.synthetic.source_dir={SHARED_DATA / 'sr' / 'SunHays80_HR'}",
        "data.sources.lol.cache=false",
    ]
    dm = instantiate(compose_cfg(over, tmp_path / "run").data)
    dm.setup()
    photos = dm.sources["synthetic"].photos
    assert [len(photos[s]) for s in ("train", "val", "test")] == [56, 12, 12]
    assert len(dm.train_set) == 194 + 194 and len(dm.val_set) == 49 and len(dm.test_set) == 15


def _dark(tmp_path, train_samples=5):
    from lowlight.data import UnpairedImageDataModule

    return UnpairedImageDataModule(
        root=str(_photos(tmp_path / "dark", n=10)),
        augment=PairAugment(crop_size=32),
        split=(0.8, 0.2, 0.0),
        train_samples=train_samples,
    )


def test_an_unpaired_source_adds_its_images_marked_unpaired(tmp_path):
    """An unpaired source (real dark photos for a zero-reference term): `train_samples` of
    its training photos per epoch, drawn anew each epoch, with `paired` False and the input
    as a placeholder reference; the pairs say `paired` True. It cannot be evaluated on."""
    sources = {**_sources(tmp_path), "dark": _dark(tmp_path)}
    dm = MixedPairsDataModule(sources, evaluate_on="real", batch_size=18)
    dm.setup()
    assert len(dm.train_set) == 7 + 6 + 5
    batch = next(iter(dm.train_dataloader()))
    unpaired = ~batch["paired"]
    assert int(unpaired.sum()) == 5
    torch.testing.assert_close(batch["gt"][unpaired], batch["lq"][unpaired])
    assert not torch.equal(batch["gt"][~unpaired], batch["lq"][~unpaired])
    dark_names = {p.stem for p in sources["dark"].paths["train"]}
    assert {n for n, u in zip(batch["name"], unpaired.tolist(), strict=True) if u} <= dark_names
    # photos drawn per (seed, epoch, index): the same key, the same photo; over epochs, all
    first = SampleKey(0, 0, 13)
    assert dm.train_set[first]["name"] == dm.train_set[first]["name"]
    seen = {dm.train_set[SampleKey(0, e, i)]["name"] for e in range(20) for i in range(13, 18)}
    assert seen == dark_names
    assert "paired" not in ConcatPairs([sources["real"].train_set])[0]  # all paired: no flag
    with pytest.raises(ValueError, match="data.evaluate_on='dark' names an unpaired source"):
        MixedPairsDataModule(sources, evaluate_on="dark")
    with pytest.raises(ValueError, match="data.train_samples must be >= 1 or null, got 0"):
        _dark(tmp_path, train_samples=0)


def test_the_documented_unpaired_source_trains(tmp_path):
    """docs/data.md's command, tiny: LOL pairs, synthetic pairs and unpaired dark photos in
    one batch, the exposure term on the unpaired ones alone."""
    import lightning as L

    from conftest import tiny
    from lowlight.train import train

    dark = _photos(tmp_path / "dark", n=6)
    over = [*tiny("lle_iat"), "data.batch_size=16", "+trainer.fast_dev_run=true"]
    over += ["+data@data.sources.dark=unpaired", f"data.sources.dark.root={dark}"]
    over += ["data.sources.dark.train_samples=3", "data.sources.dark.num_workers=0"]
    over += ["+system.loss_weights.exposure=4", "system.exposure_on=unpaired"]
    cfg = compose_cfg(over, tmp_path / "run")
    dm = instantiate(cfg.data)
    dm.setup()
    assert len(dm.train_set) == 5 + 2 + 3  # tiny LOL's training pairs, synthetic, dark
    assert dm.sources["dark"].augment is dm.sources["lol"].augment
    seen: dict = {}

    class Capture(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            seen.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    train(cfg, callbacks=[Capture()])
    assert seen["train/exposure"] > 0
